"""Collect on a schedule: read the source, archive and load new submissions, publish who has
submitted; announce new data so the `validate` deployment's trigger starts a validation."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from pydantic import BaseModel, Field

from tonghop.flows.tasks import (
    announce_loaded,
    collect,
    load_registry,
    period_for_today,
    publish_status,
    read_source,
)
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import PeriodRange
from tonghop.settings import SettingsPath, load_settings


class CollectParameters(BaseModel):
    """Where submissions come from and where they go."""

    source: str = Field(description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị")
    registry: Path = Field(description="Tệp CSV danh mục đơn vị (SPEC §4.1)")
    period: str = Field(
        description="Kỳ (2024) hoặc khoảng kỳ; tình hình nộp của kỳ cuối; current-5..current: "
        "sáu kỳ tới kỳ hiện tại (schedule.cadence)"
    )
    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    settings: SettingsPath = Field(
        default=None, description="Tệp YAML thiết lập (hạn nộp, nơi đọc tệp: collect.task_runner)"
    )


@flow(
    name="tonghop-collect",
    timeout_seconds=1800,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def collect_submissions(params: CollectParameters) -> dict[str, int]:
    """Read the source, archive and load what is new, publish the period's submission status."""
    settings = load_settings(params.settings)
    params = params.model_copy(update={"period": period_for_today(params.period, settings)})
    last_period = PeriodRange.parse(params.period).periods[-1].code
    files = read_source(params.source, settings.intake)
    ensure_writer_limit()
    with writer_slot(params.workspace):
        load_registry(params.workspace, params.registry)
        collected = collect(params.workspace, files, settings)
        counts = publish_status(params.workspace, last_period, settings.schedule.due(last_period))
    if collected.loaded:
        announce_loaded(
            params.workspace,
            params.period,
            collected.batch_id,
            len(collected.loaded),
            params.settings,
        )
    return {
        "files_seen": collected.seen,
        "files_loaded": len(collected.loaded),
        "files_skipped": len(collected.skipped),
        "files_rejected": len(collected.rejected),
    } | counts
