"""The steps of one run as plain functions over a workspace; flows/run.py orchestrates them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from tonghop.catalog import Catalog, load_catalog
from tonghop.collect import CollectResult, SourceFile, collect, read_source
from tonghop.consolidate import report_context, run_models
from tonghop.db import open_db
from tonghop.periods import PeriodRange
from tonghop.registry import read_registry, store_registry
from tonghop.validate import Finding, validate


@dataclass(frozen=True)
class RunSummary:
    """What a run produced, for the terminal and the flow's return value."""

    out: str
    files_seen: int
    files_loaded: int
    files_skipped: int
    files_rejected: int
    findings_error: int
    findings_warning: int
    units_included: int
    units_expected: int
    outputs: dict[str, str]


def load_registry(workspace: Path, registry: Path) -> int:
    """Replace the workspace's registry with the given CSV; return the number of units."""
    units = read_registry(registry)
    with open_db(workspace) as con:
        store_registry(con, units)
    return len(units)


def collect_files(
    workspace: Path,
    files: list[SourceFile],
    progress=None,  # noqa: ANN001
) -> CollectResult:
    """Archive and load the files received in this batch."""
    with open_db(workspace) as con:
        return collect(con, workspace, files, progress=progress)


def validate_scope(
    workspace: Path, catalog: Catalog, period_range: PeriodRange, batch_id: str, run_id: str
) -> list[Finding]:
    """Validate the range's periods (every active unit expected) and its baseline."""
    return validate(
        workspace, catalog, period_range.periods, [period_range.baseline], batch_id, run_id
    )


def consolidate(workspace: Path, catalog: Catalog, period_range: PeriodRange) -> dict:
    """Run the SQL models and return the report's figures."""
    with open_db(workspace) as con:
        run_models(con, catalog, period_range)
        return report_context(con, period_range)


def write_findings(out: Path, findings: list[Finding], rejected: list[dict]) -> dict[str, Path]:
    """`findings.json` and `rejected.json` (SPEC §4.5)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"findings": out / "findings.json", "rejected": out / "rejected.json"}
    paths["findings"].write_text(
        json.dumps([f.to_json() for f in findings], ensure_ascii=False, indent=2, default=str),
        encoding="utf-8",
    )
    paths["rejected"].write_text(
        json.dumps(rejected, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return paths


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


__all__ = [
    "RunSummary",
    "load_catalog",
    "load_registry",
    "read_source",
    "collect_files",
    "validate_scope",
    "consolidate",
    "write_findings",
    "new_run_id",
]
