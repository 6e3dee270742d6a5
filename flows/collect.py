"""Collect on a schedule: read the source, archive and load new submissions, publish who has
submitted; announce new data so the `validate` deployment's trigger starts a validation."""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.events import emit_event
from pydantic import BaseModel, Field

from flows.run import collect, load_registry, read_source
from tonghop import pipeline
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import PeriodRange
from tonghop.settings import SettingsPath, load_settings
from tonghop.status import status_table, summary_lines

LOADED_EVENT = "tonghop.collect.loaded"


class CollectParameters(BaseModel):
    """Where submissions come from and where they go."""

    source: str = Field(description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị")
    registry: Path = Field(description="Tệp CSV danh mục đơn vị (SPEC §4.1)")
    period: str = Field(description="Kỳ (2024) hoặc khoảng kỳ; tình hình nộp của kỳ cuối")
    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    settings: SettingsPath = Field(
        default=None, description="Tệp YAML thiết lập (hạn nộp, nơi đọc tệp: collect.task_runner)"
    )


@task(cache_policy=NONE)
def publish_status(workspace: Path, period: str, settings: Path | None) -> dict[str, int]:
    """Publish each active unit's standing for the period as a table artifact (one row per unit)."""
    statuses = pipeline.period_status(workspace, period, settings)
    due = load_settings(settings).schedule.due(period)
    lines = summary_lines(statuses, period, due)
    create_table_artifact(
        key="tonghop-tinh-hinh-nop",
        table=status_table(statuses),
        description="\n".join(lines),
    )
    get_run_logger().info("\n".join(lines))
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.status] = counts.get(s.status, 0) + 1
    return counts


def announce_loaded(params: CollectParameters, batch_id: str, loaded: int) -> None:
    """Emit the event the `validate` deployment is triggered by (only when files were loaded)."""
    workspace = str(params.workspace.resolve())
    emit_event(
        event=LOADED_EVENT,
        resource={
            "prefect.resource.id": "tonghop.workspace."
            + hashlib.sha256(workspace.encode()).hexdigest()[:16],
            "prefect.resource.name": workspace,
        },
        payload={
            "workspace": workspace,
            "period": params.period,
            "batch_id": batch_id,
            "files_loaded": loaded,
        },
    )


@flow(name="tonghop-collect", timeout_seconds=1800, on_failure=[notify_failure])
def collect_submissions(params: CollectParameters) -> dict[str, int]:
    """Read the source, archive and load what is new, publish the period's submission status."""
    last_period = PeriodRange.parse(params.period).periods[-1].code
    files = read_source(params.source)
    ensure_writer_limit()
    with writer_slot():
        load_registry(params.workspace, params.registry)
        collected = collect(params.workspace, files, False, params.settings)
        counts = publish_status(params.workspace, last_period, params.settings)
    if collected.loaded:
        announce_loaded(params, collected.batch_id, len(collected.loaded))
    return {
        "files_seen": collected.seen,
        "files_loaded": len(collected.loaded),
        "files_skipped": len(collected.skipped),
        "files_rejected": len(collected.rejected),
    } | counts
