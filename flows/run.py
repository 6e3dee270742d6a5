"""The whole job as one flow: collect → validate → consolidate → render (SPEC §4.5)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from pydantic import BaseModel, Field

from tonghop import pipeline
from tonghop.collect import CollectResult, SourceFile
from tonghop.periods import PeriodRange
from tonghop.render import render_report
from tonghop.settings import load_settings
from tonghop.validate import Finding


class RunParameters(BaseModel):
    """Parameters of a run, as `tonghop run` takes them."""

    source: str = Field(description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị")
    registry: Path = Field(description="Tệp CSV danh mục đơn vị (SPEC §4.1)")
    period: str = Field(description="Kỳ báo cáo (2024) hoặc khoảng kỳ (2020-H2..2023-H1)")
    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    out: Path = Field(description="Thư mục kết quả: findings.json, rejected.json, bao-cao.*")
    settings: Path | None = Field(default=None, description="Tệp YAML thiết lập văn bản")
    show_progress: bool = Field(default=False, description="In tiến độ nhận tệp ra màn hình")


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
def collect(workspace: Path, files: list[SourceFile], show_progress: bool) -> CollectResult:
    """Archive every received file, parse and load the new ones (one transaction per file)."""
    progress = _print_progress if show_progress else None
    result = pipeline.collect_files(workspace, files, progress=progress)
    get_run_logger().info(
        "Đã nhận %d tệp: %d tệp mới được nạp, %d tệp đã có, %d tệp không đọc được",
        result.seen,
        len(result.loaded),
        len(result.skipped),
        len(result.rejected),
    )
    return result


@task(cache_policy=NONE)
def validate(workspace: Path, period: str, batch_id: str, run_id: str) -> list[Finding]:
    """Run every rule through Great Expectations (one finding per failing unit and rule)."""
    findings = pipeline.validate_scope(
        workspace, pipeline.load_catalog(), PeriodRange.parse(period), batch_id, run_id
    )
    errors = sum(f.severity == "error" for f in findings)
    get_run_logger().info("Kiểm tra: %d lỗi, %d cảnh báo", errors, len(findings) - errors)
    return findings


@task(cache_policy=NONE)
def consolidate(workspace: Path, period: str) -> dict:
    """Run the SQL models; return the report's figures (bloc, sectors, coverage)."""
    return pipeline.consolidate(workspace, pipeline.load_catalog(), PeriodRange.parse(period))


@task(cache_policy=NONE)
def render(context: dict, settings: Path | None, out: Path) -> dict[str, Path]:
    """Render the draft as Markdown, HTML and Word."""
    return render_report(context, load_settings(settings), out)


@flow(name="tonghop-run", timeout_seconds=3600, log_prints=True)
def run(params: RunParameters) -> pipeline.RunSummary:
    """Collect, validate, consolidate and render one period or range."""
    PeriodRange.parse(params.period)
    run_id = pipeline.new_run_id()
    load_registry(params.workspace, params.registry)
    files = read_source(params.source)
    collected = collect(params.workspace, files, params.show_progress)
    findings = validate(params.workspace, params.period, collected.batch_id, run_id)
    context = consolidate(params.workspace, params.period)
    context["coverage"]["rejected_files"] = len(collected.rejected)
    outputs = pipeline.write_findings(params.out, findings, collected.rejected)
    outputs |= render(context, params.settings, params.out)
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
