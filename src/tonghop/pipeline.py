"""The steps of one run as plain functions over a workspace; the flows (tonghop.flows) call them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tonghop.catalog import Catalog, load_catalog
from tonghop.collect import (
    CHUNK_FILES,
    CollectResult,
    ParseChunks,
    SourceFile,
    collect,
    read_source,
)
from tonghop.consolidate import report_context, run_models
from tonghop.db import open_db
from tonghop.dbt_runner import NodeResult
from tonghop.periods import PeriodRange
from tonghop.registry import load_registry_file, registry_key
from tonghop.settings import ReportSettings
from tonghop.validate import Finding, validate

# GX Data Docs of a run, in OUT: the unit-level suites at the top, the consolidated level's in
# its own site below (a GX site built by a second context would drop the first one's pages).
DATA_DOCS_DIR = "data-docs"
CONSOLIDATED_DOCS_DIR = "data-docs/consolidated"


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
    """Replace the workspace's registry with the given CSV; return the number of units.

    Nothing is read again when it is the file stored last (`registry.load_registry_file`); a
    missing file is refused before the workspace is opened."""
    key = registry_key(registry)
    with open_db(workspace) as con:
        return load_registry_file(con, registry, key)


def collect_files(
    workspace: Path,
    files: list[SourceFile],
    progress=None,  # noqa: ANN001
    parse: ParseChunks | None = None,
    chunk_files: int = CHUNK_FILES,
    parse_forms: bool = False,
) -> CollectResult:
    """Archive and load the files received in this batch (`parse`: parsed on a task runner;
    `parse_forms`: the forms too, else the archiver reads them)."""
    with open_db(workspace) as con:
        return collect(
            con,
            workspace,
            files,
            progress=progress,
            parse=parse,
            chunk_files=chunk_files,
            parse_forms=parse_forms,
        )


def validate_scope(
    workspace: Path,
    catalog: Catalog,
    period_range: PeriodRange,
    batch_id: str,
    run_id: str,
    docs_dir: Path | None = None,
    incremental: bool = True,
) -> list[Finding]:
    """Validate the range's periods (every active unit expected) and its baseline.

    Only the units touched since the last validation when nothing else changed (`incremental`,
    tonghop.validate.validate). With `docs_dir`, GX writes the Data Docs of the suites there
    (`DATA_DOCS_DIR` of OUT)."""
    return validate(
        workspace,
        catalog,
        period_range.periods,
        [period_range.baseline],
        batch_id,
        run_id,
        docs_dir,
        incremental,
    )


def last_validation(workspace: Path) -> dict:
    """How the last validation ran: mode (full, incremental), units validated, run id."""
    from tonghop.validate import last_validation as read_state

    with open_db(workspace) as con:
        return read_state(con)


def last_consolidation(workspace: Path) -> dict:
    """How the last consolidation ran: mode (full, incremental), units rebuilt, time."""
    from tonghop.consolidate import last_consolidation as read_state

    with open_db(workspace) as con:
        return read_state(con)


def consolidate(
    workspace: Path,
    catalog: Catalog,
    period_range: PeriodRange,
    on_model: Callable[[NodeResult], None] | None = None,
) -> dict:
    """Run the SQL models (the dbt project; `on_model` hears of each model as it is built) and
    return the report's figures."""
    with open_db(workspace) as con:
        run_models(con, catalog, period_range, on_model=on_model)
        return report_context(con, period_range)


def check_consolidated(
    workspace: Path,
    catalog: Catalog,
    run_id: str,
    docs_dir: Path | None = None,
) -> list[Finding]:
    """Run the consolidated level's rules on the marts (after `consolidate`); their findings.

    They replace the previous consolidated findings only; unit-level findings stay as they are.
    With `docs_dir`, GX writes the Data Docs of their suites there.
    """
    from tonghop.consolidated import check

    return check(workspace, catalog, run_id, docs_dir)


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
    "check_consolidated",
    "write_findings",
    "new_run_id",
]


def sync_reviews(workspace: Path) -> int:
    """Record in the review audit what resubmissions did (moot, reopened); the actions added."""
    from tonghop.review import sync_resubmissions

    with open_db(workspace) as con:
        return len(sync_resubmissions(con))


def open_error_findings(workspace: Path) -> list[dict]:
    """Error findings no steward has decided yet: those that keep a submission out."""
    from tonghop.review import open_errors

    with open_db(workspace) as con:
        return open_errors(con)


def apply_review_decisions(workspace: Path, decisions: list, actor: str) -> int:
    """Apply the steward's accept/reject decisions from the run's review form."""
    from tonghop.review import apply_decisions

    with open_db(workspace) as con:
        return len(apply_decisions(con, decisions, actor))


def mark_pending(workspace: Path, findings: list[dict]) -> int:
    """Mark these findings' submissions pending review for this run's draft (none: clear)."""
    from tonghop.review import set_pending

    with open_db(workspace) as con:
        return set_pending(con, findings)


def draft_inputs(
    workspace: Path, period_range: PeriodRange, batch_id: str | None
) -> tuple[dict, list[dict]]:
    """What the draft's coverage adds to the marts' (units corrected or pending review, the
    counts of unreadable files and of files held for review) and the batch's rejected files,
    in one opening of the workspace."""
    with open_db(workspace) as con:
        rejected = rejected_files(con, batch_id)
        unreadable = sum(r["status"] == "unreadable" for r in rejected)
        counts = {"rejected_files": unreadable, "held_files": len(rejected) - unreadable}
        return counts | review_coverage(con, period_range), rejected


def review_coverage(
    con: duckdb.DuckDBPyConnection, period_range: PeriodRange
) -> dict[str, list[dict]]:
    """Units of the range whose included values a steward corrected, and units pending review."""
    rows = con.execute(
        "select unit_code, name, period, corrected, corrected_indicators, pending "
        "from rpt_coverage__units where corrected or pending order by unit_code, ordinal"
    ).fetchall()
    out: dict[str, dict[str, dict]] = {"corrected": {}, "pending": {}}
    for code, name, period, corrected, indicators, pending in rows:
        for key, flag in (("corrected", corrected), ("pending", pending)):
            if flag:
                entry = out[key].setdefault(
                    code, {"unit_code": code, "name": name, "periods": [], "indicators": []}
                )
                entry["periods"].append(period)
                entry["indicators"] = sorted(set(entry["indicators"]) | set(indicators or []))
    return {key: list(units.values()) for key, units in out.items()}


def write_review_outputs(
    workspace: Path, out: Path, run_id: str, settings: ReportSettings
) -> dict[str, Path]:
    """The steward's page (`kiem-tra.html`, `kiem-tra.csv`) and the letters to units."""
    from tonghop.letters import LETTERS_DIR, write_letters
    from tonghop.review_page import page_inputs, write_review_page

    catalog = load_catalog()
    with open_db(workspace) as con:
        inputs = page_inputs(con)  # the review queue read once: the page's rows and the letters'
        paths = write_review_page(con, out, run_id, catalog, inputs=inputs)
        letters_queue = [r for r in inputs[0] if not r["gone"]]
        write_letters(con, out, settings, catalog, rows=letters_queue)
    paths["letters"] = out / LETTERS_DIR
    return paths


def review_summary_markdown(findings: list[dict], run_id: str, period: str) -> str:
    """The run's findings in a few Vietnamese lines, for the Prefect UI."""
    from tonghop.review import STATE_LABELS

    errors = [f for f in findings if f["severity"] == "error"]
    by_state: dict[str, int] = {}
    for f in findings:
        by_state[f["state"]] = by_state.get(f["state"], 0) + 1
    units = sorted({f["unit_code"] for f in errors if f["state"] == "open" and f["unit_code"]})
    lines = [
        f"# Kiểm tra số liệu kỳ {period} (lần chạy {run_id})",
        "",
        f"- Phát hiện: {len(findings)} ({len(errors)} lỗi, {len(findings) - len(errors)} cảnh báo)",
    ]
    lines += [f"- {STATE_LABELS[s]}: {n}" for s, n in sorted(by_state.items())]
    if units:
        lines.append(f"- Đơn vị còn lỗi chưa xử lý: {', '.join(units)}")
    lines += ["", "Xem `kiem-tra.html` trong thư mục kết quả; xử lý bằng `tonghop review`."]
    return "\n".join(lines) + "\n"


def errors_first(findings: list[dict], limit: int) -> list[dict]:
    """At most `limit` findings, the errors before the warnings, each in its order.

    >>> [f["k"] for f in errors_first(
    ...     [{"k": 1, "severity": "warning"}, {"k": 2, "severity": "error"},
    ...      {"k": 3, "severity": "warning"}], 2)]
    [2, 1]
    """
    return sorted(findings, key=lambda f: f["severity"] != "error")[:limit]


def findings_table(findings: list[dict]) -> list[dict]:
    """The run's findings as rows of a Prefect table artifact."""
    from tonghop.review import SEVERITY_LABELS, STATE_LABELS

    return [
        {
            "mã": f["finding_key"],
            "đơn vị": f["unit_code"] or "",
            "kỳ": f["period"] or "",
            "quy tắc": f["rule_id"],
            "mức độ": SEVERITY_LABELS.get(f["severity"], f["severity"]),
            "nội dung": f["message"],
            "nghi sai": f["suspect"] or "",
            "trạng thái": STATE_LABELS[f["state"]],
        }
        for f in findings
    ]


def review_queue(workspace: Path) -> list[dict]:
    """Every finding of the latest validation with its review state."""
    from tonghop.review import queue

    with open_db(workspace) as con:
        return queue(con)


def latest_batch_id(workspace: Path) -> str | None:
    """The batch of the latest collect (duplicates within one batch are errors), if any."""
    with open_db(workspace) as con:
        row = con.execute("select arg_max(batch_id, seen_at) from file_sightings").fetchone()
    return row[0] if row else None


def rejected_files(con: duckdb.DuckDBPyConnection, batch_id: str | None) -> list[dict]:
    """The files of a collect batch that could not be read or were not used, as `rejected.json`
    lists them (one per file seen at the source, a file rejected before included; an old file
    put back, `file_notices`); none without a batch. `status` says which: `unreadable`, `held`
    for review (`held_files`) or `restored` (an old file put back)."""
    rows = con.execute(
        "select source_name, archive_path, sha256, reason, status from ("
        "select s.seen_at, s.source_name, r.archive_path, r.sha256, "
        # the reason names the file as first received: this sighting's name instead
        "replace(r.reason, chr(39) || r.original_name || chr(39), "
        "chr(39) || s.source_name || chr(39)) as reason, "
        "case when exists (select 1 from held_files h where h.sha256 = r.sha256) then 'held' "
        "else 'unreadable' end as status "
        "from file_sightings s join received_files r using (sha256) "
        "where s.batch_id = $batch and r.status = 'rejected' union all "
        "select n.seen_at, n.source_name, r.archive_path, n.sha256, n.reason, 'restored' "
        "from file_notices n join received_files r using (sha256) where n.batch_id = $batch) "
        "order by seen_at, source_name",
        {"batch": batch_id},
    ).fetchall()
    return [
        {"file": name, "archived_as": archived, "sha256": sha, "reason": reason, "status": status}
        for name, archived, sha, reason, status in rows
    ]


def period_status(workspace: Path, period: str, due: dt.date | None) -> list:
    """Each active unit's standing for the period (tonghop.status), against its due date."""
    from tonghop.status import unit_status

    with open_db(workspace) as con:
        return unit_status(con, period, due)


def send_reminders(
    workspace: Path, period: str, settings: ReportSettings, today: dt.date
) -> tuple[list, list]:
    """Send today's reminders for the period; return (sent, units without an address)."""
    from tonghop.remind import send_reminders as send

    with open_db(workspace) as con:
        return send(con, settings, period, today)


# In OUT: the key of the draft last written there and its files' sizes and times.
DRAFT_KEY_FILE = ".tonghop-draft-key.json"


def draft_key(context: dict, settings: ReportSettings, today: dt.date | None = None) -> str | None:
    """What the draft is written from, as one sha256: the report's figures (the coverage
    included), their trace as the draft prints it (the trace's HTML, which the draft and
    `truy-vet.html` render from the same figures with the same templates; the whole trace when
    it has none), the settings, the day, and the code and templates that write it (each file's
    name, size and time). The same key writes the same draft. None when the figures cannot be
    keyed (then the draft is written)."""
    import hashlib

    from tonghop import formatting, report
    from tonghop.paths import TEMPLATES_DIR

    code = [Path(formatting.__file__), *Path(report.__file__).parent.glob("*.py")]
    code += [p for p in TEMPLATES_DIR.rglob("*") if p.is_file()]
    stats = sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in code)
    day = (today or dt.date.today()).isoformat()
    trace = context.get("trace") or {}
    if isinstance(trace.get("html"), str):  # hashed alone: the figures' JSON would cost more
        shown = hashlib.sha256(trace["html"].encode("utf-8")).hexdigest()
        trace = {k: v for k, v in trace.items() if k not in ("html", "figures")} | {"html": shown}
    figures = {k: v for k, v in context.items() if k != "trace"}
    try:
        text = json.dumps(
            [stats, settings.model_dump(mode="json"), day, figures, trace],
            sort_keys=True,
            default=str,
        )
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kept_draft(out: Path, key: str | None) -> dict[str, Path] | None:
    """The draft's files in OUT when they were written from `key` and nobody has changed them
    since (each file's size and time as written), else None."""
    if key is None:
        return None
    try:
        kept = json.loads((out / DRAFT_KEY_FILE).read_text(encoding="utf-8"))
        if kept["key"] != key:
            return None
        paths = {}
        for name, (path, size, mtime) in kept["files"].items():
            stat = Path(path).stat()
            if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
                return None
            paths[name] = Path(path)
        return paths
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_draft(out: Path, key: str | None, paths: dict[str, Path]) -> None:
    """Record that the draft's files in OUT were written from `key` (none: forget)."""
    record = out / DRAFT_KEY_FILE
    if key is None:
        record.unlink(missing_ok=True)
        return
    files = {name: [str(p), p.stat().st_size, p.stat().st_mtime_ns] for name, p in paths.items()}
    record.write_text(json.dumps({"key": key, "files": files}), encoding="utf-8")
