"""Remind units that have not submitted, on the days around the due date the settings name."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from pydantic import BaseModel, Field

from tonghop.flows.parameters import Settings, Workspace
from tonghop.flows.tasks import run_settings, send_reminders
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import Period


class RemindParameters(BaseModel):
    """Which period to remind about, and the settings holding its due date and the mail server."""

    workspace: Workspace = None
    period: str = Field(
        default="current",
        description="Kỳ báo cáo, ví dụ 2023-H1; current (mặc định), previous: tính theo ngày nhắc "
        "và schedule.cadence",
    )
    settings: Settings = None
    today: dt.date | None = Field(default=None, description="Ngày nhắc; mặc định hôm nay")


DEFAULT = RemindParameters()


@flow(
    name="tonghop-remind",
    timeout_seconds=900,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def remind(params: RemindParameters = DEFAULT) -> int:
    """Send the reminders today calls for."""
    today = params.today or dt.date.today()
    params, settings = run_settings(params, today, required="nhắc nộp báo cáo (remind)")
    code = Period.parse(params.period).code
    ensure_writer_limit()
    with writer_slot(params.workspace, notify=settings.notify):
        return send_reminders(params.workspace, code, settings, today)
