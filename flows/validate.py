"""Validate what was collected; started by the `validate` deployment's trigger on new data."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, Field

from tonghop import pipeline
from tonghop.flows.parameters import ROLLING_PERIODS, Periods, Settings, Workspace
from tonghop.flows.tasks import run_settings, validate_and_publish
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure


class ValidateParameters(BaseModel):
    """Which workspace and periods to validate."""

    workspace: Workspace = None
    period: Periods = ROLLING_PERIODS
    batch_id: str | None = Field(
        default=None, description="Lượt nhận cần kiểm tra trùng; mặc định lượt nhận gần nhất"
    )
    # Read by the failure hook (notify:) too; the trigger passes the collect run's own.
    settings: Settings = None


DEFAULT = ValidateParameters()


@flow(
    name="tonghop-validate",
    timeout_seconds=1800,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def validate_submissions(params: ValidateParameters = DEFAULT) -> dict[str, int]:
    """Run every rule on the current submissions; publish the findings for the stewards."""
    params, settings = run_settings(params)
    run_id = pipeline.new_run_id()
    ensure_writer_limit()
    with writer_slot(params.workspace, notify=settings.notify):
        batch_id = params.batch_id or pipeline.latest_batch_id(params.workspace)
        findings = validate_and_publish(params.workspace, params.period, batch_id, run_id)
    errors = sum(f.severity == "error" for f in findings)
    return {"findings_error": errors, "findings_warning": len(findings) - errors}
