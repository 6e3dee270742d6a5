"""The run's trace: every figure of the draft explained, at most `TRACE_UNITS_SHOWN`
contributions each, kept in the workspace (`trace_state`) and reused while it would be the
same. Its HTML is `tonghop.report.trace_page`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from tonghop import contributions, explain, figure_ids
from tonghop.db import state_row, transaction
from tonghop.figure_ids import ExplainError
from tonghop.paths import source_hash
from tonghop.report import figure_registry
from tonghop.report.figure_registry import build_figures
from tonghop.report.templates import make_environment
from tonghop.report.trace_page import trace_html, write_trace_html

# Contributions shown per figure in the trace (a bloc's ~120-180 units all fit; at 60,000
# units the page would hold 5 million rows): the rest are counted, and `tonghop explain` lists
# every one.
TRACE_UNITS_SHOWN = 200


def compute_trace(con: duckdb.DuckDBPyConnection, context: dict) -> dict[str, Any]:
    """Every figure of a draft context explained: `{"figures": [...], "skipped": [...]}`."""
    explanations, skipped = explain.explain_all(con, context, limit=TRACE_UNITS_SHOWN)
    return {"figures": [explain.as_dict(e) for e in explanations], "skipped": skipped}


def trace_context(
    con: duckdb.DuckDBPyConnection,
    context: dict,
    template_dirs: Sequence[Path] | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """The `trace` entry of a draft context: the HTML draft's appendix "Nguồn gốc số liệu".

    `{"figures": [explanation as a dict, ...], "skipped": [figure id, ...], "html": ...}`, `html`
    being the figures rendered once (`tonghop.report.trace_page.trace_html`, with the same
    `template_dirs`); pass it as `context["trace"]` to `tonghop.report.draft.render_report` and
    to `write_trace_page`, which both embed that HTML.

    With `keep` (a connection that may write), the explanations are stored in the workspace
    (`trace_state`) and reused by the next call while they would be the same: the consolidation
    has rebuilt no row since (`tonghop.consolidate.run_models` empties the table when it does)
    and the draft has the same figures. A run with nothing new then skips the trace's queries;
    only the HTML is rendered again.
    """
    basis = _trace_basis(con, context) if keep else None
    trace = _kept_trace(con, basis) if basis else None
    if trace is None:
        trace = compute_trace(con, context)
        if basis:
            _keep_trace(con, basis, trace)
    return trace | {"html": trace_html(trace, make_environment(template_dirs))}


def _trace_basis(con: duckdb.DuckDBPyConnection, context: dict) -> str | None:
    """What a kept trace must have been computed from to be reused: the last consolidation's
    fingerprint (models, catalog, periods, registry), the draft's figures, the cap, and the code
    that explains (an upgrade may explain otherwise). None before any consolidation."""
    last = state_row(con, "consolidation_state")
    if not last:
        return None
    basis = [
        last["fingerprint"],
        build_figures(context).mart_ids(),
        TRACE_UNITS_SHOWN,
        [source_hash(m.__file__) for m in (figure_ids, figure_registry, contributions, explain)],
        source_hash(__file__),
    ]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


def _kept_trace(con: duckdb.DuckDBPyConnection, basis: str) -> dict[str, Any] | None:
    row = con.execute("select figures from trace_state where basis = ?", [basis]).fetchone()
    return json.loads(row[0]) if row else None


def _keep_trace(con: duckdb.DuckDBPyConnection, basis: str, trace: dict[str, Any]) -> None:
    """Store the trace as JSON, or nothing when it holds a value JSON has no form for (a date,
    a Decimal: refused here). Tuples would come back as lists and non-str keys as str: the
    explanations (`as_dict`) hold neither, and tests/unit/test_explain.py compares a trace read
    back with one computed."""

    def refuse(value: object) -> None:
        raise TypeError(type(value).__name__)

    try:
        text = json.dumps(trace, default=refuse, ensure_ascii=False)
    except TypeError:
        return
    with transaction(con):
        con.execute("delete from trace_state")
        con.execute("insert into trace_state values (?, ?)", [basis, text])


def write_trace_page(
    con: duckdb.DuckDBPyConnection | None,
    context: dict,
    out_dir: Path,
    template_dirs: Sequence[Path] | None = None,
) -> Path:
    """Write `truy-vet.html`: every figure of the draft context with its contributions.

    When the context already carries `trace` (see `trace_context`), it is used as is, its HTML
    included, and `con` is not read. An office may override `truy-vet.html.j2`.
    """
    if context.get("trace"):
        trace = context["trace"]
    elif con is None:
        raise ExplainError("Cần kết nối tới cơ sở dữ liệu hoặc context['trace']")
    else:
        trace = compute_trace(con, context)
    return write_trace_html(trace, out_dir, template_dirs)
