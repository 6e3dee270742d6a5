"""The whole job as one flow: collect → validate → consolidate → render (SPEC §4.5)."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from tonghop import pipeline
from tonghop.db import db_path
from tonghop.dbt_runner import start_in_background as start_dbt_meanwhile
from tonghop.flows.parameters import (
    ROLLING_PERIODS,
    Out,
    Periods,
    Registry,
    Settings,
    Source,
    Workspace,
)
from tonghop.flows.tasks import (
    apply_review,
    collect,
    deliver_draft,
    draft,
    load_registry,
    mark_pending,
    read_source,
    run_settings,
    validate_and_publish,
)
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.review import Decision
from tonghop.validate import import_gx_meanwhile


class RunParameters(BaseModel):
    """Parameters of a run, as `tonghop run` takes them."""

    source: Source = None
    registry: Registry = None
    period: Periods = ROLLING_PERIODS
    workspace: Workspace = None
    out: Out = None
    settings: Settings = None
    show_progress: bool = Field(default=False, description="In tiến độ nhận tệp ra màn hình")
    review_pause: bool = Field(
        default=False,
        description="Tạm dừng chờ cán bộ xem xét các lỗi chưa xử lý (trên giao diện Prefect)",
    )
    review_timeout_seconds: int = Field(
        default=3600, ge=1, description="Chờ xem xét tối đa (giây); quá hạn: đơn vị 'chờ xem xét'"
    )


class FindingDecision(BaseModel):
    """A steward's decision on one finding in the run's review form."""

    finding_key: str = Field(description="Mã phát hiện")
    unit_code: str | None = Field(default=None, description="Đơn vị (để đọc, không đổi)")
    message: str = Field(default="", description="Nội dung (để đọc, không đổi)")
    decision: Literal["open", "accept", "reject"] = Field(
        default="open",
        description="open: để sau; accept: chấp nhận số liệu; reject: yêu cầu đơn vị nộp lại",
    )
    note: str = Field(default="", description="Ghi chú của cán bộ xem xét")


class ReviewDecision(RunInput):
    """The review form shown in Prefect's UI when a run pauses for a steward."""

    actor: str = Field(default="prefect-ui", description="Người xem xét")
    decisions: list[FindingDecision] = Field(default_factory=list)


DEFAULT = RunParameters()


def review_pause(params: RunParameters) -> list[dict]:
    """Pause for a steward's decisions on open errors; return the findings left pending."""
    from prefect.exceptions import FlowPauseTimeout

    waiting = pipeline.open_error_findings(params.workspace)
    if not waiting:
        return []
    form = ReviewDecision.with_initial_data(
        description=f"{len(waiting)} lỗi chưa xử lý: chọn accept hoặc reject cho từng phát hiện.",
        decisions=[
            FindingDecision(
                finding_key=f["finding_key"], unit_code=f["unit_code"], message=f["message"]
            )
            for f in waiting
        ],
    )
    try:
        decision = pause_flow_run(
            wait_for_input=form, timeout=params.review_timeout_seconds, poll_interval=2
        )
    except FlowPauseTimeout:
        get_run_logger().warning(
            "Hết thời gian chờ xem xét: %d phát hiện, đơn vị ghi là chờ xem xét", len(waiting)
        )
        _resume_after_timeout()
        return waiting
    apply_review(
        params.workspace,
        [Decision(d.finding_key, d.decision, d.note) for d in decision.decisions],
        decision.actor,
    )
    return pipeline.open_error_findings(params.workspace)


def _resume_after_timeout() -> None:
    # After a pause times out the run goes on to render the draft; without this the API would
    # record it as failed ("never resumed") although it finished.
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(get_run_context().flow_run.id, Running(), force=True)


@flow(
    name="tonghop-run",
    timeout_seconds=3600,
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def run(params: RunParameters = DEFAULT) -> pipeline.RunSummary:
    """Collect, validate, consolidate and render one period or range."""
    params, settings = run_settings(params)
    run_id = pipeline.new_run_id()
    files = read_source(params.source, settings.intake)
    # Validate needs GX: its import (Python) overlaps collect, which often waits for its
    # archive process; beside read_source (Python too) it would only slow it down.
    import_gx_meanwhile()
    ensure_writer_limit()
    # one run at a time opens the workspace's DuckDB file
    with writer_slot(params.workspace, notify=settings.notify):
        # dbt imported and its parse loaded in a thread while collect and validate work
        # (consolidate finds both ready); inside the slot: it reads the workspace's dbt/ folder
        start_dbt_meanwhile(db_path(params.workspace), params.workspace / "dbt")
        load_registry(params.workspace, params.registry)
        collected = collect(params.workspace, files, settings, params.show_progress)
        findings = validate_and_publish(
            params.workspace, params.period, collected.batch_id, run_id, params.out
        )
        pending = review_pause(params) if params.review_pause else []
        mark_pending(params.workspace, pending)
        outputs, context, findings = draft(
            params.workspace,
            params.period,
            collected.batch_id,
            run_id,
            findings,
            settings,
            params.out,
        )
    deliver_draft(outputs, settings, params.out, params.period, context["coverage"])
    errors = sum(f.severity == "error" for f in findings)
    return pipeline.RunSummary(
        out=str(params.out),
        files_seen=collected.seen,
        files_loaded=len(collected.loaded),
        files_skipped=len(collected.skipped),
        files_rejected=len(collected.rejected),
        findings_error=errors,
        findings_warning=len(findings) - errors,
        units_included=context["coverage"]["units_included"],
        units_expected=context["coverage"]["units_expected"],
        outputs={k: str(v) for k, v in outputs.items()},
    )
