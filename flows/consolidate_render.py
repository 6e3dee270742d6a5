"""Consolidate and render the draft: at each period's deadline (cron), and on demand."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel

from tonghop import pipeline
from tonghop.flows.parameters import ROLLING_PERIODS, Out, Periods, Settings, Workspace
from tonghop.flows.tasks import (
    deliver_draft,
    draft,
    mark_pending,
    run_settings,
    validate_and_publish,
)
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure


class ConsolidateParameters(BaseModel):
    """What to consolidate and where the draft goes."""

    workspace: Workspace = None
    period: Periods = ROLLING_PERIODS
    out: Out = None
    settings: Settings = None


DEFAULT = ConsolidateParameters()


@flow(
    name="tonghop-consolidate-render",
    timeout_seconds=1800,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def consolidate_and_render(params: ConsolidateParameters = DEFAULT) -> dict[str, str]:
    """Validate once more (steward decisions since), consolidate, render and deliver the draft."""
    params, settings = run_settings(params)
    run_id = pipeline.new_run_id()
    ensure_writer_limit()
    with writer_slot(params.workspace, notify=settings.notify):
        batch_id = pipeline.latest_batch_id(params.workspace)
        findings = validate_and_publish(
            params.workspace, params.period, batch_id, run_id, params.out
        )
        mark_pending(params.workspace, [])
        outputs, context, _ = draft(
            params.workspace, params.period, batch_id, run_id, findings, settings, params.out
        )
    deliver_draft(outputs, settings, params.out, params.period, context["coverage"])
    return {k: str(v) for k, v in outputs.items()}
