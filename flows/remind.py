"""Remind units that have not submitted, on the days around the due date the settings name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from pydantic import BaseModel, Field

from tonghop import pipeline
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import Period


class RemindParameters(BaseModel):
    """Which period to remind about, and the settings holding its due date and the mail server."""

    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB")
    period: str = Field(description="Kỳ báo cáo, ví dụ 2023-H1")
    settings: Path = Field(description="Tệp YAML thiết lập: schedule (hạn nộp), notify (SMTP)")
    today: dt.date | None = Field(default=None, description="Ngày nhắc; mặc định hôm nay")


# No retries: each send is recorded as it is made, so the next scheduled run sends the rest.
@task(cache_policy=NONE)
def send_reminders(workspace: Path, period: str, settings: Path, today: dt.date) -> int:
    """Email each unit still missing or rejected (one message per unit and reason a day)."""
    sent, no_address = pipeline.send_reminders(workspace, period, settings, today)
    logger = get_run_logger()
    logger.info("Đã gửi %d thư nhắc nộp báo cáo kỳ %s", len(sent), period)
    if no_address:
        logger.warning(
            "Chưa có email (contact_email) của %d đơn vị cần nhắc: %s",
            len(no_address),
            ", ".join(r.unit_code for r in no_address),
        )
    return len(sent)


@flow(name="tonghop-remind", timeout_seconds=900, on_failure=[notify_failure])
def remind(params: RemindParameters) -> int:
    """Send the reminders today calls for."""
    code = Period.parse(params.period).code
    ensure_writer_limit()
    with writer_slot():
        return send_reminders(
            params.workspace, code, params.settings, params.today or dt.date.today()
        )
