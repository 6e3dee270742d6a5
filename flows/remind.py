"""Remind units that have not submitted, on the days around the due date the settings name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow
from pydantic import BaseModel, Field

from tonghop.flows.tasks import period_for_today, send_reminders
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import Period
from tonghop.settings import SettingsPath, load_settings, required_settings_path


class RemindParameters(BaseModel):
    """Which period to remind about, and the settings holding its due date and the mail server."""

    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB")
    period: str = Field(
        default="current",
        description="Kỳ báo cáo, ví dụ 2023-H1; current (mặc định), previous: tính theo ngày nhắc "
        "và schedule.cadence",
    )
    settings: SettingsPath = Field(
        default=None,
        description="Tệp YAML thiết lập: schedule (hạn nộp), notify (SMTP); trống: tệp mà biến "
        "môi trường TONGHOP_SETTINGS của worker chỉ tới",
    )
    today: dt.date | None = Field(default=None, description="Ngày nhắc; mặc định hôm nay")


@flow(
    name="tonghop-remind",
    timeout_seconds=900,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def remind(params: RemindParameters) -> int:
    """Send the reminders today calls for."""
    settings = load_settings(required_settings_path(params.settings, "nhắc nộp báo cáo (remind)"))
    today = params.today or dt.date.today()
    code = Period.parse(period_for_today(params.period, settings, today)).code
    ensure_writer_limit()
    with writer_slot(params.workspace):
        return send_reminders(params.workspace, code, settings, today)
