"""A validation from end to end: frames, GX, findings worded, localized and stored, state kept."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

from tonghop.catalog import Catalog
from tonghop.db import detach_frames, open_db
from tonghop.periods import Period, PeriodError
from tonghop.rules import compile_rules, load_rules
from tonghop.validation.findings import Finding
from tonghop.validation.frames import prepare_frames
from tonghop.validation.held import held_findings
from tonghop.validation.messages import build_findings
from tonghop.validation.places import attach_places
from tonghop.validation.state import (
    last_validation,
    record_validation,
    touched_units,
    validation_fingerprint,
)
from tonghop.validation.store import load_findings, store_findings
from tonghop.validation.suites import run_expectations
from tonghop.validation.suspects import localize_findings


def validate(
    workspace: Path,
    catalog: Catalog,
    expected_periods: list[Period],
    extra_periods: list[Period],
    batch_id: str | None,
    run_id: str,
    docs_dir: Path | None = None,
    incremental: bool = True,
) -> list[Finding]:
    """Validate the current submissions of the periods in scope; store and return findings.

    Incremental where it can be (`incremental`, and the last validation had the same rules,
    catalog, registry and periods: `validation_state`): only the units the batch touched are
    validated again (`touched_units`) and only their findings replaced; the return value is
    every stored finding of the scope either way. Files held for review and old files put back
    are findings too (`tonghop.validation.held`). With `docs_dir`, GX also writes its Data Docs
    for the suites there (of the units validated)."""
    ruleset = load_rules()
    rules = compile_rules(catalog, ruleset)
    periods = expected_periods + extra_periods
    with open_db(workspace) as con:
        fingerprint = validation_fingerprint(con, rules, catalog, periods)
        (max_seq,) = con.execute("select max(seq) from submissions").fetchone()
        last = last_validation(con)
        units = None
        if incremental and batch_id and last and last["fingerprint"] == fingerprint:
            units = touched_units(con, batch_id, rules, last["max_seq"])
        try:
            import_gx_meanwhile()
            prepare_frames(
                con, catalog, expected_periods, extra_periods, batch_id, units, ruleset.min_history
            )
            unit_names = dict(con.execute("select unit_code, name from registry_units").fetchall())
            # GX's connection joins this one's DuckDB instance, where the frames are, so this
            # connection stays open while the expectations run
            failing = run_expectations(workspace, rules, docs_dir, catalog)
            findings = build_findings(rules, failing, catalog, unit_names)
            attach_places(con, findings)
            localize_findings(con, findings, catalog, ruleset)
            findings += held_findings(con, periods, units, unit_names)
            store_findings(con, findings, run_id, periods, units)
        finally:
            detach_frames(con)
        record_validation(con, fingerprint, run_id, units, max_seq)
        if units is None:
            return findings
        return load_findings(con, periods)


def import_gx_meanwhile() -> None:
    """Import Great Expectations in a thread of its own while this one goes on.

    The first import in a process (a flow run on a worker) takes seconds of Python. `validate`
    starts it while it builds the frames (DuckDB's work, which runs without holding the
    interpreter lock); the run flow starts it earlier, once it has read the source, so that it
    overlaps collect, which often waits for its archive process. Python's import locks
    make `run_expectations` wait for the import to end, or report its error itself; a call
    after the import has begun starts nothing.
    """
    if "great_expectations" not in sys.modules:
        threading.Thread(target=_import_gx, name="tonghop-import-gx", daemon=True).start()


def _import_gx() -> None:
    with contextlib.suppress(Exception):  # the import in run_expectations raises it again
        import tonghop.validation.gx_adapter  # noqa: F401 - and with it Great Expectations


def parse_periods(codes: list[str]) -> list[Period]:
    """The periods of these codes that parse, in order; the malformed ones left out."""
    out = []
    for code in codes:
        try:
            out.append(Period.parse(code))
        except PeriodError:
            continue
    return out
