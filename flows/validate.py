"""Validate what was collected; started by the `validate` deployment's trigger on new data."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from pydantic import BaseModel, Field

from tonghop import pipeline
from tonghop.flows.tasks import period_for_today, validate_and_publish
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.settings import SettingsPath, load_settings, settings_path


class ValidateParameters(BaseModel):
    """Which workspace and periods to validate."""

    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    period: str = Field(description="Kỳ (2024) hoặc khoảng kỳ (2020-H2..2023-H1)")
    batch_id: str | None = Field(
        default=None, description="Lượt nhận cần kiểm tra trùng; mặc định lượt nhận gần nhất"
    )
    # Read by the failure hook (notify:); the trigger passes the collect run's own.
    settings: SettingsPath = Field(
        default=None,
        description="Tệp YAML thiết lập (notify: nơi nhận báo lỗi); trống: tệp mà biến môi "
        "trường TONGHOP_SETTINGS của worker chỉ tới",
    )


@flow(
    name="tonghop-validate",
    timeout_seconds=1800,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def validate_submissions(params: ValidateParameters) -> dict[str, int]:
    """Run every rule on the current submissions; publish the findings for the stewards."""
    settings = load_settings(settings_path(params.settings))
    params = params.model_copy(update={"period": period_for_today(params.period, settings)})
    run_id = pipeline.new_run_id()
    ensure_writer_limit()
    with writer_slot(params.workspace):
        batch_id = params.batch_id or pipeline.latest_batch_id(params.workspace)
        findings = validate_and_publish(params.workspace, params.period, batch_id, run_id)
    errors = sum(f.severity == "error" for f in findings)
    return {"findings_error": errors, "findings_warning": len(findings) - errors}
