"""The whole job as one flow: collect → validate → consolidate → render (SPEC §4.5)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NONE
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from tonghop import deliver as delivery
from tonghop import pipeline
from tonghop.collect import CollectResult, Outcome, Received, SourceFile, read_chunk
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import PeriodRange
from tonghop.report.draft import OUTPUT_NAMES, render_report
from tonghop.runners import chunk_parser
from tonghop.settings import SettingsPath, load_settings
from tonghop.validate import Finding, import_gx_meanwhile


class RunParameters(BaseModel):
    """Parameters of a run, as `tonghop run` takes them."""

    source: str = Field(description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị")
    registry: Path = Field(description="Tệp CSV danh mục đơn vị (SPEC §4.1)")
    period: str = Field(description="Kỳ báo cáo (2024) hoặc khoảng kỳ (2020-H2..2023-H1)")
    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    out: Path = Field(description="Thư mục kết quả: findings.json, rejected.json, bao-cao.*")
    settings: SettingsPath = Field(default=None, description="Tệp YAML thiết lập văn bản")
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


@task(cache_policy=NONE)
def load_registry(workspace: Path, registry: Path) -> int:
    """Store the unit registry in the workspace (one row per unit)."""
    return pipeline.load_registry(workspace, registry)


# Retries only here: the source may be a network share or a bucket.
@task(cache_policy=NONE, retries=3, retry_delay_seconds=[2, 10, 30])
def read_source(source: str) -> list[SourceFile]:
    """List and read every file at the source (one item per file)."""
    return pipeline.read_source(source)


@task(cache_policy=NONE)
def parse_chunk(items: list[Received]) -> list[Outcome]:
    """Parse a chunk of new files (one outcome per file) wherever the task runner puts it."""
    return read_chunk(items)


def collect(
    workspace: Path, files: list[SourceFile], show_progress: bool, settings: Path | None = None
) -> CollectResult:
    """Archive every received file and load the new ones, parsed in chunks here or on the task
    runner of the settings (`collect:`); the writes stay here, one transaction for whole chunks."""
    config = load_settings(settings).collect
    progress = _print_progress if show_progress else None
    with chunk_parser(config, parse_chunk) as parse:
        result = pipeline.collect_files(
            workspace,
            files,
            progress=progress,
            parse=parse,
            chunk_files=config.chunk_files,
            # Only a cluster has cores to spare: else the archive process reads the forms.
            parse_forms=config.task_runner == "dask",
        )
    get_run_logger().info(
        "Đã nhận %d tệp: %d tệp mới được nạp, %d tệp đã có, %d tệp không đọc được",
        result.seen,
        len(result.loaded),
        len(result.skipped),
        len(result.rejected),
    )
    for problem in result.archive:
        get_run_logger().error(
            "Kho lưu trữ: %s (%s, sha256 %s)", problem["reason"], problem["file"], problem["sha256"]
        )
    return result


def _log_mode(state: dict, none: str, some: str, full: str) -> None:
    """Say how a stage ran (its state row: mode, units): on no unit, on some (`%d`), on all."""
    if state.get("mode") != "incremental":
        get_run_logger().info(full)
    elif not state["units"]:
        get_run_logger().info(none)
    else:
        get_run_logger().info(some, state["units"])


@task(cache_policy=NONE)
def validate(
    workspace: Path, period: str, batch_id: str, run_id: str, out: Path | None = None
) -> list[Finding]:
    """Run every rule through Great Expectations (one finding per failing unit and rule)."""
    docs = out / pipeline.DATA_DOCS_DIR if out is not None else None
    findings = pipeline.validate_scope(
        workspace, pipeline.load_catalog(), PeriodRange.parse(period), batch_id, run_id, docs
    )
    errors = sum(f.severity == "error" for f in findings)
    logger = get_run_logger()
    _log_mode(
        pipeline.last_validation(workspace),
        none="Không đơn vị nào có báo cáo mới: giữ kết quả kiểm tra lần trước",
        some="Kiểm tra lại %d đơn vị có báo cáo mới; các đơn vị khác giữ kết quả kiểm tra trước",
        full="Kiểm tra toàn bộ các đơn vị (lần đầu, hoặc quy tắc, danh mục chỉ tiêu, danh sách "
        "đơn vị hay kỳ báo cáo đã thay đổi)",
    )
    logger.info("Kiểm tra: %d lỗi, %d cảnh báo", errors, len(findings) - errors)
    return findings


@task(cache_policy=NONE)
def consolidate(workspace: Path, period: str) -> dict:
    """Run the SQL models; return the report's figures (bloc, sectors, coverage)."""
    context = pipeline.consolidate(workspace, pipeline.load_catalog(), PeriodRange.parse(period))
    _log_mode(
        pipeline.last_consolidation(workspace),
        none="Không đơn vị nào thay đổi: giữ nguyên số liệu tổng hợp lần trước",
        some="Tổng hợp lại số liệu của %d đơn vị có thay đổi (báo cáo mới, kết quả kiểm tra, "
        "quyết định xem xét); số liệu các đơn vị khác giữ nguyên",
        full="Tổng hợp toàn bộ (lần đầu, hoặc mô hình, danh mục chỉ tiêu, danh sách đơn vị hay kỳ "
        "báo cáo đã thay đổi)",
    )
    return context


@task(cache_policy=NONE)
def check_consolidated(workspace: Path, run_id: str, out: Path) -> list[Finding]:
    """Check the marts: sectors and forms add up to the bloc, unit counts match the registry."""
    findings = pipeline.check_consolidated(
        workspace, pipeline.load_catalog(), run_id, out / pipeline.CONSOLIDATED_DOCS_DIR
    )
    if findings:
        get_run_logger().error("Kiểm tra số liệu tổng hợp: %d lỗi", len(findings))
    return findings


@task(cache_policy=NONE)
def render(context: dict, settings: Path | None, out: Path) -> dict[str, Path]:
    """Render the draft as Markdown, HTML and Word."""
    return render_report(context, load_settings(settings), out)


@task(cache_policy=NONE)
def explain_figures(workspace: Path, context: dict) -> dict:
    """Each figure of the draft with every unit's contribution (the HTML draft's appendix)."""
    from tonghop.db import open_db
    from tonghop.trace import trace_context

    with open_db(workspace) as con:
        return trace_context(con, context, keep=True)  # reused while nothing was rebuilt


@task(cache_policy=NONE)
def trace(workspace: Path, context: dict, out: Path) -> dict[str, Path]:
    """Write truy-vet.html: each figure of the draft with every unit's contribution."""
    from tonghop.db import open_db
    from tonghop.trace import write_trace_page

    if context.get("trace"):
        return {"trace": write_trace_page(None, context, out)}
    with open_db(workspace) as con:
        return {"trace": write_trace_page(con, context, out)}


@task(cache_policy=NONE)
def to_outbox(
    outputs: dict[str, Path], settings: Path | None, out: Path, period: str
) -> delivery.Delivery:
    """Copy the draft (md, html, docx) into this run's own outbox folder."""
    drafts = [outputs[fmt] for fmt in OUTPUT_NAMES if fmt in outputs]
    return delivery.deliver(drafts, load_settings(settings), out, period, email=False)


# Retries: the mail server may be briefly unreachable.
@task(cache_policy=NONE, retries=2, retry_delay_seconds=[5, 30])
def email_draft(
    delivered: delivery.Delivery, settings: Path | None, period: str, coverage: dict
) -> list[str]:
    """Email the outbox's draft to the report owners of the settings (one message)."""
    return delivery.send_draft(delivered, load_settings(settings), period, coverage)


@task(cache_policy=NONE)
def link_draft(delivered: delivery.Delivery, period: str) -> None:
    """Link the delivered draft as Prefect artifacts (a summary and the .docx)."""
    create_markdown_artifact(
        key="tonghop-du-thao",
        markdown=delivery.artifact_markdown(delivered, period),
        description=f"Dự thảo báo cáo kỳ {period}",
    )
    docx = next((p for p in delivered.files if p.suffix == ".docx"), None)
    if docx is not None:
        create_link_artifact(
            key="tonghop-du-thao-docx", link=docx.resolve().as_uri(), link_text=docx.name
        )


def send_draft(
    delivered: delivery.Delivery, settings: Path | None, period: str, coverage: dict
) -> None:
    """Email the draft when the settings say so, then link it; a mail failure is logged."""
    if load_settings(settings).delivery.email_enabled:
        state = email_draft(delivered, settings, period, coverage, return_state=True)
        if state.is_failed():
            get_run_logger().error(
                "Không gửi được email dự thảo (vẫn có trong %s): %s",
                delivered.outbox,
                state.message,
            )
        else:
            delivered.emailed_to = state.result()
    link_draft(delivered, period)


@task(cache_policy=NONE)
def sync_reviews(workspace: Path) -> int:
    """Record what resubmissions did to the review queue (one action per finding)."""
    return pipeline.sync_reviews(workspace)


@task(cache_policy=NONE)
def publish_findings(workspace: Path, period: str, run_id: str) -> list[dict]:
    """Publish the findings with their review state as Prefect artifacts (table, summary)."""
    queue = pipeline.review_queue(workspace)
    create_table_artifact(
        key="tonghop-findings",
        table=pipeline.findings_table(queue) or [{"mã": "", "nội dung": "Không có phát hiện"}],
        description=f"Phát hiện khi kiểm tra số liệu kỳ {period}",
    )
    create_markdown_artifact(
        key="tonghop-review-summary",
        markdown=pipeline.review_summary_markdown(queue, run_id, period),
        description="Tóm tắt kết quả kiểm tra",
    )
    return queue


@task(cache_policy=NONE)
def apply_review(workspace: Path, decision: ReviewDecision) -> int:
    """Apply the steward's decisions from the review form (one action per decided finding)."""
    from tonghop.review import Decision

    return pipeline.apply_review_decisions(
        workspace,
        [Decision(d.finding_key, d.decision, d.note) for d in decision.decisions],
        decision.actor,
    )


@task(cache_policy=NONE)
def mark_pending(workspace: Path, findings: list[dict]) -> int:
    """Mark the submissions still waiting for a decision pending (an empty list clears)."""
    return pipeline.mark_pending(workspace, findings)


@task(cache_policy=NONE)
def write_review(workspace: Path, out: Path, run_id: str, settings: Path | None) -> dict:
    """Write the review page and the letters to units with something to fix."""
    return pipeline.write_review_outputs(workspace, out, run_id, settings)


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
    apply_review(params.workspace, decision)
    return pipeline.open_error_findings(params.workspace)


def _resume_after_timeout() -> None:
    # After a pause times out the run goes on to render the draft; without this the API would
    # record it as failed ("never resumed") although it finished.
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(get_run_context().flow_run.id, Running(), force=True)


@flow(name="tonghop-run", timeout_seconds=3600, log_prints=True, on_failure=[notify_failure])
def run(params: RunParameters) -> pipeline.RunSummary:
    """Collect, validate, consolidate and render one period or range."""
    PeriodRange.parse(params.period)
    run_id = pipeline.new_run_id()
    files = read_source(params.source)
    # Validate needs GX: its import (Python, 2-4 s) overlaps collect, which often waits for its
    # archive process; beside read_source (Python too) it would only slow it down.
    import_gx_meanwhile()
    ensure_writer_limit()
    with writer_slot():  # one run at a time opens the workspace's DuckDB file
        load_registry(params.workspace, params.registry)
        collected = collect(params.workspace, files, params.show_progress, params.settings)
        sync_reviews(params.workspace)  # while `findings` still holds superseded submissions'
        findings = validate(params.workspace, params.period, collected.batch_id, run_id, params.out)
        sync_reviews(params.workspace)
        publish_findings(params.workspace, params.period, run_id)
        pending = review_pause(params) if params.review_pause else []
        mark_pending(params.workspace, pending)
        context = consolidate(params.workspace, params.period)
        # The trace's queries (DuckDB, which leaves the interpreter lock free; on a thread of
        # the flow's task runner) from here to the render: beside the consolidated level's
        # rules, then the review page and the letters (Python, on another thread). The trace
        # reads the marts and the draft's figures, none of what the steps between change.
        explained = explain_figures.submit(params.workspace, quote(context))
        review = None
        try:
            findings = findings + check_consolidated(params.workspace, run_id, params.out)
            context["coverage"]["rejected_files"] = len(collected.rejected)
            context["coverage"] |= pipeline.review_coverage(
                params.workspace, PeriodRange.parse(params.period)
            )
            outputs = pipeline.write_findings(params.out, findings, collected.rejected)
            review = write_review.submit(params.workspace, params.out, run_id, params.settings)
            context["trace"] = explained.result()
            # quote(): the context carries every unit's contribution; Prefect need not walk it.
            outputs |= render(quote(context), params.settings, params.out)
        finally:
            # both write the workspace: never left running past the writer's slot
            explained.wait()
            if review is not None:
                review.wait()
        outputs |= review.result()
        outputs |= trace(params.workspace, quote(context), params.out)
    delivered = to_outbox(outputs, params.settings, params.out, params.period)
    outputs["outbox"] = delivered.outbox
    send_draft(delivered, params.settings, params.period, context["coverage"])
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


def _print_progress(done: int, total: int) -> None:
    import sys

    if done == total or done % 50 == 0:
        end = "\n" if done == total else ""
        print(f"\rĐã nhận {done}/{total} tệp", end=end, file=sys.stderr, flush=True)
