"""Consolidate and render the draft: at each period's deadline (cron), and on demand."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from flows.run import (
    check_consolidated,
    consolidate,
    explain_figures,
    mark_pending,
    publish_findings,
    render,
    send_draft,
    sync_reviews,
    to_outbox,
    trace,
    validate,
    write_review,
)
from tonghop import pipeline
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.notify import notify_failure
from tonghop.periods import PeriodRange
from tonghop.settings import SettingsPath


class ConsolidateParameters(BaseModel):
    """What to consolidate and where the draft goes."""

    workspace: Path = Field(description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận")
    period: str = Field(description="Kỳ (2024) hoặc khoảng kỳ (2020-H2..2023-H1)")
    out: Path = Field(description="Thư mục kết quả: findings.json, rejected.json, bao-cao.*")
    settings: SettingsPath = Field(default=None, description="Tệp YAML thiết lập văn bản")


@flow(name="tonghop-consolidate-render", timeout_seconds=1800, on_failure=[notify_failure])
def consolidate_and_render(params: ConsolidateParameters) -> dict[str, str]:
    """Validate once more (steward decisions since), consolidate, render and deliver the draft."""
    period_range = PeriodRange.parse(params.period)
    run_id = pipeline.new_run_id()
    ensure_writer_limit()
    with writer_slot():
        batch_id = pipeline.latest_batch_id(params.workspace)
        sync_reviews(params.workspace)
        findings = validate(params.workspace, params.period, batch_id, run_id, params.out)
        sync_reviews(params.workspace)
        publish_findings(params.workspace, params.period, run_id)
        mark_pending(params.workspace, [])
        context = consolidate(params.workspace, params.period)
        findings = findings + check_consolidated(params.workspace, run_id, params.out)
        rejected = pipeline.rejected_files(params.workspace)
        context["coverage"]["rejected_files"] = len(rejected)
        context["coverage"] |= pipeline.review_coverage(params.workspace, period_range)
        outputs = pipeline.write_findings(params.out, findings, rejected)
        context["trace"] = explain_figures(params.workspace, context)
        # quote(): the context carries every unit's contribution; Prefect need not walk it.
        outputs |= render(quote(context), params.settings, params.out)
        outputs |= write_review(params.workspace, params.out, run_id, params.settings)
        outputs |= trace(params.workspace, quote(context), params.out)
    delivered = to_outbox(outputs, params.settings, params.out, params.period)
    outputs["outbox"] = delivered.outbox
    send_draft(delivered, params.settings, params.period, context["coverage"])
    return {k: str(v) for k, v in outputs.items()}
