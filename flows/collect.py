"""Collect on a schedule: read the source, archive and load new submissions, publish who has
submitted; announce new data so the `validate` deployment's trigger starts a validation."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel

from tonghop.flows.parameters import ROLLING_PERIODS, Periods, Registry, Settings, Source, Workspace
from tonghop.flows.tasks import (
    announce_loaded,
    collect,
    load_registry,
    publish_status,
    read_source,
    run_settings,
)
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import PeriodRange


class CollectParameters(BaseModel):
    """Where submissions come from and where they go; the status table is of the last period."""

    source: Source = None
    registry: Registry = None
    period: Periods = ROLLING_PERIODS
    workspace: Workspace = None
    settings: Settings = None


DEFAULT = CollectParameters()


@flow(
    name="tonghop-collect",
    timeout_seconds=1800,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def collect_submissions(params: CollectParameters = DEFAULT) -> dict[str, int]:
    """Read the source, archive and load what is new, publish the period's submission status."""
    params, settings = run_settings(params)
    last_period = PeriodRange.parse(params.period).periods[-1].code
    files = read_source(params.source, settings.intake)
    ensure_writer_limit()
    with writer_slot(params.workspace, notify=settings.notify):
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
