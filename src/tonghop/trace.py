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
from tonghop.catalog import Catalog, load_catalog
from tonghop.db import state_row, transaction
from tonghop.figure_ids import ExplainError, FigureRef, parse_figure_id
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
    """Every figure of a draft context explained: `{"figures": [...], "skipped": [...]}`.

    The same explanations as `tonghop.explain.explain_all`, in a few statements whatever the
    number of figures: every figure's value read from the marts at once (`_mart_values`), not
    one query per figure, and their contributions in one statement for all the figures
    (`tonghop.contributions`). Figures that cannot be explained are skipped, as there."""
    catalog = load_catalog()
    ids = build_figures(context).mart_ids()
    parsed = {figure: ref for figure in ids if (ref := _parsed(figure)) is not None}
    values = _mart_values(con, list(parsed.values()))
    checked = [
        (ref, values.get(ref.id))
        for ref in parsed.values()
        if _explainable(ref, values.get(ref.id), catalog)
    ]
    explanations = explain._explain(con, checked, catalog, TRACE_UNITS_SHOWN)
    explained = {ref.id for ref, _ in checked}
    return {
        "figures": [explain.as_dict(e) for e in explanations],
        "skipped": [f for f in ids if f not in parsed or parsed[f].id not in explained],
    }


def _parsed(figure: str) -> FigureRef | None:
    try:
        return parse_figure_id(figure)
    except ExplainError:
        return None


def _mart_values(con: duckdb.DuckDBPyConnection, refs: list[FigureRef]) -> dict[str, float | None]:
    """By figure id, the figure as the marts hold it (`tonghop.explain.figure_value` for each):
    the unit counts from `rpt_term__units`' few rows, the indicators' figures in one join."""
    found: dict[str, float | None] = {}
    units = [r for r in refs if r.is_unit_count]
    if units:
        cursor = con.execute("select * from rpt_term__units")
        names = [d[0] for d in cursor.description]
        rows = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        for ref in units:
            value = rows.get(ref.measure, {}).get(ref.name)
            found[ref.id] = None if value is None else float(value)
    figures = [r for r in refs if not r.is_unit_count]
    if figures:
        columns = [
            [getattr(r, name) for r in figures]
            for name in ("id", "measure", "name", "group_type", "group_value")
        ]
        rows = con.execute(
            "select f.figure, i.value from (select unnest(?::varchar[]) as figure, "
            "unnest(?::varchar[]) as measure, unnest(?::varchar[]) as code, "
            "unnest(?::varchar[]) as group_type, unnest(?::varchar[]) as group_value) as f "
            "left join rpt_term__indicators as i on i.measure = f.measure "
            "and i.indicator_code = f.code and i.group_type = f.group_type "
            "and i.group_value = f.group_value",
            columns,
        ).fetchall()
        for figure, value in rows:
            found[figure] = None if value is None else float(value)
    return found


def _explainable(ref: FigureRef, value: float | None, catalog: Catalog) -> bool:
    """Whether `tonghop.explain` explains the figure (its `_checked` says why not, one by one): a
    unit count at the range's start or end; an indicator of the catalog the mart holds a value
    for, a distribution's at one level."""
    if ref.is_unit_count:
        return ref.measure != "term"
    code, _, level = ref.name.partition("__")
    if code not in catalog or value is None:
        return False
    return catalog[code].unit_aggregation != "distribution" or level.isdigit()


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
