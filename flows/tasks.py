"""The Prefect tasks every flow is made of, and the steps several flows share.

Each task is a thin wrapper over `tonghop.pipeline` (or a module it names) that logs in
Vietnamese and publishes artifacts; the flow files only orchestrate them. A flow reads its
settings file once (`load_settings`) and passes the settings down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import TypeVar

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NONE
from prefect.events import emit_event
from prefect.utilities.annotations import quote
from pydantic import BaseModel

from tonghop import deliver as delivery
from tonghop import pipeline
from tonghop.collect import CollectResult, Outcome, Received, SourceFile, read_chunk
from tonghop.periods import PeriodRange
from tonghop.report.draft import OUTPUT_NAMES, render_report
from tonghop.runners import chunk_parser
from tonghop.settings import (
    IntakeSettings,
    ReportSettings,
    SettingsError,
    load_settings,
    required_settings_path,
    settings_path,
)
from tonghop.status import status_table, summary_lines
from tonghop.validate import Finding

LOADED_EVENT = "tonghop.collect.loaded"


# The parameters a run may leave out, taken from the settings' `paths:` block.
PATH_PARAMETERS = ("source", "registry", "workspace", "out")


Params = TypeVar("Params", bound=BaseModel)


def run_settings(
    params: Params, today: dt.date | None = None, required: str | None = None
) -> tuple[Params, ReportSettings]:
    """The run's settings (its `settings` parameter, else the Prefect Variable
    `tonghop_settings`, else `TONGHOP_SETTINGS`) and its parameters completed from them: a path
    left out from `paths:` (a relative one from the settings file's folder), the period's words
    resolved for today. `required` names what needs a settings file (remind), refused in
    Vietnamese without one."""
    path = (
        required_settings_path(params.settings, required)
        if required
        else settings_path(params.settings)
    )
    settings = load_settings(path)
    filled = {"settings": path}
    for name in PATH_PARAMETERS:
        if name in type(params).model_fields and getattr(params, name) is None:
            filled[name] = getattr(settings.paths, name)
            if isinstance(filled[name], Path) and path is not None:
                filled[name] = path.parent / filled[name]  # an absolute one stays as it is
            if filled[name] is None:
                raise SettingsError(
                    f"Chưa biết '{name}' của lần chạy: đặt tham số {name} hoặc paths.{name} "
                    f"trong tệp thiết lập ({path or 'chưa có tệp thiết lập nào'}; "
                    "docs/operations.md, Thiết lập)"
                )
    filled["period"] = period_for_today(params.period, settings, today)
    return params.model_copy(update=filled), settings


def period_for_today(text: str, settings: ReportSettings, today: dt.date | None = None) -> str:
    """The run's period or range, `current`/`previous` … resolved from today and the settings'
    cadence (schedule.cadence); refused in Vietnamese when it is not a period."""
    day = today or dt.date.today()
    resolved = settings.schedule.resolve(text, day)
    PeriodRange.parse(resolved)
    if resolved != text:
        get_run_logger().info(
            "Kỳ báo cáo '%s' ngày %s (chu kỳ %s): %s",
            text,
            day.strftime("%d/%m/%Y"),
            settings.schedule.cadence,
            resolved,
        )
    return resolved


@task(cache_policy=NONE)
def load_registry(workspace: Path, registry: Path) -> int:
    """Store the unit registry in the workspace (one row per unit)."""
    return pipeline.load_registry(workspace, registry)


# Retries only here: the source may be a network share or a bucket.
@task(cache_policy=NONE, retries=3, retry_delay_seconds=[2, 10, 30])
def read_source(source: str, limits: IntakeSettings | None = None) -> list[SourceFile]:
    """List and read every file at the source (one item per file), within the intake limits."""
    return pipeline.read_source(source, limits or IntakeSettings())


@task(cache_policy=NONE)
def parse_chunk(items: list[Received]) -> list[Outcome]:
    """Parse a chunk of new files (one outcome per file) wherever the task runner puts it."""
    return read_chunk(items)


def collect(
    workspace: Path, files: list[SourceFile], settings: ReportSettings, show_progress: bool = False
) -> CollectResult:
    """Archive every received file and load the new ones, parsed in chunks here or on the task
    runner of the settings (`collect:`); the writes stay here, one transaction for whole chunks."""
    config = settings.collect
    if config.task_runner == "dask" and find_spec("prefect_dask") is None:
        raise RuntimeError(
            "collect.task_runner: dask cần gói Dask tùy chọn, chưa được cài trên máy này: "
            "pip install 'tonghop[dask]' (hoặc đặt collect.task_runner: flow)"
        )
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
    publish_rejected(result)
    for problem in result.archive:
        get_run_logger().error(
            "Kho lưu trữ: %s (%s, sha256 %s)", problem["reason"], problem["file"], problem["sha256"]
        )
    return result


# The unreadable files named one by one in the log; the rest only in the table artifact.
LOGGED_REJECTED = 20


def publish_rejected(result: CollectResult) -> None:
    """Log counts that add up to the files seen, each unreadable file with its reason, and
    publish them as the table artifact `tonghop-tep-khong-doc-duoc`."""
    logger = get_run_logger()
    unreadable = {r["file"] for r in result.rejected}
    had = sum(name not in unreadable for name in result.skipped)  # a known rejected is skipped
    other = result.seen - len(result.loaded) - had - len(result.rejected)
    logger.info(
        "Đã nhận %d tệp = %d tệp mới được nạp + %d tệp đã có + %d tệp không đọc được%s",
        result.seen,
        len(result.loaded),
        had,
        len(result.rejected),
        f" + {other} tệp khác" if other else "",
    )
    for r in result.rejected[:LOGGED_REJECTED]:
        logger.warning("Tệp không đọc được: %s: %s", r["file"], r["reason"])
    if len(result.rejected) > LOGGED_REJECTED:
        logger.warning(
            "… và %d tệp không đọc được khác (bảng tonghop-tep-khong-doc-duoc)",
            len(result.rejected) - LOGGED_REJECTED,
        )
    create_table_artifact(
        key="tonghop-tep-khong-doc-duoc",
        table=[
            {
                "tệp": r["file"],
                "lý do": r["reason"],
                "lưu kho": r["archived_as"],
                "sha256": r["sha256"],
            }
            for r in result.rejected
        ]
        or [{"tệp": "", "lý do": "Không có tệp nào không đọc được"}],
        description=f"Tệp không đọc được ({len(result.rejected)} trên {result.seen} tệp đã nhận)",
    )


@task(cache_policy=NONE)
def publish_status(workspace: Path, period: str, due: dt.date | None) -> dict[str, int]:
    """Publish each active unit's standing for the period as a table artifact (one row per unit)."""
    statuses = pipeline.period_status(workspace, period, due)
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


def announce_loaded(
    workspace: Path, period: str, batch_id: str, loaded: int, settings: Path | None = None
) -> None:
    """Emit the event the `validate` deployment is triggered by (only when files were loaded);
    it carries the collect run's settings file, so validate reports its failures the same way."""
    folder = str(workspace.resolve())
    emit_event(
        event=LOADED_EVENT,
        resource={
            "prefect.resource.id": "tonghop.workspace."
            + hashlib.sha256(folder.encode()).hexdigest()[:16],
            "prefect.resource.name": folder,
        },
        payload={
            "workspace": folder,
            "period": period,
            "batch_id": batch_id,
            "files_loaded": loaded,
            "settings": str(settings.resolve()) if settings else "",
        },
    )


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
    workspace: Path, period: str, batch_id: str | None, run_id: str, out: Path | None = None
) -> list[Finding]:
    """Run every rule through Great Expectations (one finding per failing unit and rule)."""
    docs = out / pipeline.DATA_DOCS_DIR if out is not None else None
    findings = pipeline.validate_scope(
        workspace, pipeline.load_catalog(), PeriodRange.parse(period), batch_id, run_id, docs
    )
    errors = sum(f.severity == "error" for f in findings)
    _log_mode(
        pipeline.last_validation(workspace),
        none="Không đơn vị nào có báo cáo mới: giữ kết quả kiểm tra lần trước",
        some="Kiểm tra lại %d đơn vị có báo cáo mới; các đơn vị khác giữ kết quả kiểm tra trước",
        full="Kiểm tra toàn bộ các đơn vị (lần đầu, hoặc quy tắc, danh mục chỉ tiêu, danh sách "
        "đơn vị hay kỳ báo cáo đã thay đổi)",
    )
    get_run_logger().info("Kiểm tra: %d lỗi, %d cảnh báo", errors, len(findings) - errors)
    return findings


@task(cache_policy=NONE)
def sync_reviews(workspace: Path) -> int:
    """Record what resubmissions did to the review queue (one action per finding)."""
    return pipeline.sync_reviews(workspace)


# The findings table artifact's rows at most, errors first: the server stores and sends the
# table whole, and its cost grows with every row, for a table nobody reads past a few pages;
# every finding is in kiem-tra.html, kiem-tra.csv and findings.json.
ARTIFACT_FINDINGS = 1000


@task(cache_policy=NONE)
def publish_findings(workspace: Path, period: str, run_id: str) -> list[dict]:
    """Publish the findings with their review state as Prefect artifacts (table, summary)."""
    queue = pipeline.review_queue(workspace)
    shown = pipeline.errors_first(queue, ARTIFACT_FINDINGS)
    description = f"Phát hiện khi kiểm tra số liệu kỳ {period}"
    if len(shown) < len(queue):
        description += (
            f": {len(shown)} trên {len(queue)} phát hiện, lỗi trước; đủ cả trong kiem-tra.html, "
            "kiem-tra.csv và findings.json của thư mục kết quả"
        )
    create_table_artifact(
        key="tonghop-findings",
        table=pipeline.findings_table(shown) or [{"mã": "", "nội dung": "Không có phát hiện"}],
        description=description,
    )
    create_markdown_artifact(
        key="tonghop-review-summary",
        markdown=pipeline.review_summary_markdown(queue, run_id, period),
        description="Tóm tắt kết quả kiểm tra",
    )
    return queue


def validate_and_publish(
    workspace: Path, period: str, batch_id: str | None, run_id: str, out: Path | None = None
) -> list[Finding]:
    """Validate between two syncs of the review queue, then publish the findings."""
    sync_reviews(workspace)  # while `findings` still holds superseded submissions'
    findings = validate(workspace, period, batch_id, run_id, out)
    sync_reviews(workspace)
    publish_findings(workspace, period, run_id)
    return findings


@task(cache_policy=NONE)
def apply_review(workspace: Path, decisions: list, actor: str) -> int:
    """Apply a steward's decisions (tonghop.review.Decision) on findings, one action each."""
    return pipeline.apply_review_decisions(workspace, decisions, actor)


@task(cache_policy=NONE)
def mark_pending(workspace: Path, findings: list[dict]) -> int:
    """Mark the submissions still waiting for a decision pending (an empty list clears)."""
    return pipeline.mark_pending(workspace, findings)


@task(cache_policy=NONE)
def consolidate(workspace: Path, period: str) -> dict:
    """Run the SQL models (dbt), one log line per model; return the report's figures."""
    logger = get_run_logger()
    context = pipeline.consolidate(
        workspace,
        pipeline.load_catalog(),
        PeriodRange.parse(period),
        on_model=lambda m: logger.info("Mô hình %s: %s (%.2f giây)", m.name, m.status, m.seconds),
    )
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
def render(context: dict, settings: ReportSettings, out: Path) -> dict[str, Path]:
    """Render the draft as Markdown, HTML and Word."""
    return render_report(context, settings, out)


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
def write_review(workspace: Path, out: Path, run_id: str, settings: ReportSettings) -> dict:
    """Write the review page and the letters to units with something to fix."""
    return pipeline.write_review_outputs(workspace, out, run_id, settings)


def draft(
    workspace: Path,
    period: str,
    batch_id: str | None,
    run_id: str,
    findings: list[Finding],
    settings: ReportSettings,
    out: Path,
) -> tuple[dict[str, Path], dict, list[Finding]]:
    """Consolidate and write the draft and its companions into OUT, inside the writer's slot:
    (outputs, the report's figures, every finding with the consolidated level's).

    `rejected.json` and the draft's count of unreadable files are the batch's (the source as
    collect last read it)."""
    context = consolidate(workspace, period)
    kept = None
    # The trace's queries (DuckDB, which leaves the interpreter lock free; on a thread of the
    # flow's task runner) from here to the render: beside the consolidated level's rules, then
    # the review page and the letters (Python, on another thread). The trace reads the marts
    # and the draft's figures, none of what the steps between change.
    explained = explain_figures.submit(workspace, quote(context))
    review = None
    try:
        findings = findings + check_consolidated(workspace, run_id, out)
        coverage, rejected = pipeline.draft_inputs(workspace, PeriodRange.parse(period), batch_id)
        context["coverage"] |= coverage
        outputs = pipeline.write_findings(out, findings, rejected)
        review = write_review.submit(workspace, out, run_id, settings)
        context["trace"] = explained.result()
        # The draft and its trace page as the last run wrote them when nothing they are
        # written from changed (figures, trace, coverage, settings, day, code, templates).
        key = pipeline.draft_key(context, settings)
        kept = pipeline.kept_draft(out, key)
        if kept is None:
            # quote(): the context carries every unit's contribution; Prefect need not walk it.
            drafted = render(quote(context), settings, out)
    finally:
        # both write the workspace: never left running past the writer's slot
        explained.wait()
        if review is not None:
            review.wait()
    outputs |= review.result()
    if kept is None:
        drafted |= trace(workspace, quote(context), out)
        pipeline.remember_draft(out, key, drafted)
    else:
        get_run_logger().info(
            "Số liệu, thiết lập và mẫu không đổi từ lần viết trước: giữ nguyên dự thảo và trang "
            "truy vết (%s)",
            ", ".join(sorted(p.name for p in kept.values())),
        )
        drafted = kept
    return outputs | drafted, context, findings


@task(cache_policy=NONE)
def to_outbox(
    outputs: dict[str, Path], settings: ReportSettings, out: Path, period: str
) -> delivery.Delivery:
    """Copy the draft (md, html, docx) into a new outbox folder, unless it is the draft
    delivered last time (then nothing is copied)."""
    drafts = [outputs[fmt] for fmt in OUTPUT_NAMES if fmt in outputs]
    return delivery.deliver(drafts, settings, out, period, email=False)


# Retries: the mail server may be briefly unreachable.
@task(cache_policy=NONE, retries=2, retry_delay_seconds=[5, 30])
def email_draft(
    delivered: delivery.Delivery, settings: ReportSettings, period: str, coverage: dict
) -> list[str]:
    """Email the outbox's draft to the report owners of the settings (one message)."""
    return delivery.send_draft(delivered, settings, period, coverage)


@task(cache_policy=NONE)
def link_draft(
    delivered: delivery.Delivery, period: str, out: Path, settings: ReportSettings
) -> None:
    """Name the delivered draft in Prefect artifacts: a summary, and a link to the .docx when
    OUT is published at `delivery.base_url` (a worker's file:// path opens nowhere else)."""
    base_url = settings.delivery.base_url
    create_markdown_artifact(
        key="tonghop-du-thao",
        markdown=delivery.artifact_markdown(delivered, period, out, base_url),
        description=f"Dự thảo báo cáo kỳ {period}",
    )
    docx = next((p for p in delivered.files if p.suffix == ".docx"), None)
    url = delivery.published_url(docx, out, base_url) if docx is not None else None
    if url is not None:
        create_link_artifact(key="tonghop-du-thao-docx", link=url, link_text=docx.name)


def deliver_draft(
    outputs: dict[str, Path], settings: ReportSettings, out: Path, period: str, coverage: dict
) -> None:
    """Copy the draft into the outbox (`outputs["outbox"]`) and email it when the settings say
    so, once per changed draft; then name it in artifacts. A mail failure is logged, the draft
    stays in the outbox and the next run sends it."""
    delivered = to_outbox(outputs, settings, out, period)
    outputs["outbox"] = delivered.outbox
    logger = get_run_logger()
    unsent = delivery.needs_email(delivered, settings.delivery)
    if delivered.repeated:
        logger.info(
            "Dự thảo không đổi so với lần gửi %s (%s): không sao chép, %s",
            delivered.delivered_at,
            delivered.outbox,
            "gửi email lần trước chưa gửi được" if unsent else "không gửi lại",
        )
    if unsent:
        state = email_draft(delivered, settings, period, coverage, return_state=True)
        if state.is_failed():
            logger.error(
                "Không gửi được email dự thảo (vẫn có trong %s): %s",
                delivered.outbox,
                state.message,
            )
        else:
            delivered.emailed_to = state.result()
            delivery.remember(delivered, out)
    link_draft(delivered, period, out, settings)


# No retries: each send is recorded as it is made, so the next scheduled run sends the rest.
@task(cache_policy=NONE)
def send_reminders(workspace: Path, period: str, settings: ReportSettings, today: dt.date) -> int:
    """Email each unit still missing or rejected (one message per unit and reason a day)."""
    sent, no_address = pipeline.send_reminders(workspace, period, settings, today)
    logger = get_run_logger()
    if sent:
        logger.info("Đã gửi %d thư nhắc nộp báo cáo kỳ %s", len(sent), period)
    else:
        from tonghop.db import open_db
        from tonghop.remind import quiet_reason

        with open_db(workspace) as con:
            reason = quiet_reason(con, settings, period, today)
        log = logger.info if settings.notify.smtp_host else logger.warning
        log("Đã gửi 0 thư nhắc nộp báo cáo kỳ %s: %s", period, reason)
    if no_address:
        logger.warning(
            "Chưa có email (contact_email) của %d đơn vị cần nhắc: %s",
            len(no_address),
            ", ".join(r.unit_code for r in no_address),
        )
    return len(sent)


def _print_progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        end = "\n" if done == total else ""
        print(f"\rĐã nhận {done}/{total} tệp", end=end, file=sys.stderr, flush=True)
