"""Where a figure of the draft comes from: its mart, and each unit's contribution to it.

A figure id is `measure.name`, optionally `@group_type:group_value` (default the whole bloc):
`cutoff.members_total`, `term.members_admitted`, `start.branches_total`, `cutoff.units`,
`cutoff.members_total@sector:soe`. `measure` is `start`, `cutoff` or `term`; `name` is an
indicator code (read from `rpt_term__indicators`) or a count of units of `rpt_term__units`.
The contributions are read from the same intermediate models the mart aggregates, so their
total is the figure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import duckdb

from tonghop.catalog import SECTORS, Catalog, load_catalog
from tonghop.db import state_row, transaction
from tonghop.paths import source_hash
from tonghop.render import make_environment, trace_html

MEASURES = ("start", "cutoff", "term")
UNIT_COLUMNS = ("units", "dang_bo", "chi_bo", *SECTORS)
# The draft context's short names (tonghop.consolidate.report_context) for two indicators.
ALIASES = {"members": "members_total", "branches": "branches_total"}
TRACE_PAGE = "truy-vet.html"
TRACE_TEMPLATE = "truy-vet.html.j2"
# Contributions shown per figure in the trace (a bloc's ~120-180 units all fit; at 60,000
# units the page would hold 5 million rows): the rest are counted, and `tonghop explain` lists
# every one.
TRACE_UNITS_SHOWN = 200

_ID_RE = re.compile(r"^(?P<measure>[a-z]+)\.(?P<name>[a-z0-9_]+)(?:@(?P<gt>[a-z]+):(?P<gv>\w+))?$")


class ExplainError(ValueError):
    """A figure id that cannot be explained (Vietnamese message)."""


@dataclass(frozen=True)
class FigureRef:
    """A parsed figure id."""

    measure: str
    name: str
    group_type: str = "bloc"
    group_value: str = "bloc"

    @property
    def id(self) -> str:
        group = "" if self.group_type == "bloc" else f"@{self.group_type}:{self.group_value}"
        return f"{self.measure}.{self.name}{group}"

    @property
    def is_unit_count(self) -> bool:
        return self.name in UNIT_COLUMNS


def parse_figure_id(text: str) -> FigureRef:
    """Parse `measure.name[@group_type:group_value]`.

    >>> parse_figure_id("cutoff.members").id, parse_figure_id("term.revenue_bn_vnd@sector:soe").id
    ('cutoff.members_total', 'term.revenue_bn_vnd@sector:soe')
    """
    match = _ID_RE.match(text.strip())
    if not match or match["measure"] not in MEASURES:
        raise ExplainError(
            f"Mã số liệu '{text}' không hợp lệ: cần dạng <start|cutoff|term>.<chỉ tiêu>, "
            "ví dụ cutoff.members_total, term.members_admitted, cutoff.units"
        )
    name = ALIASES.get(match["name"], match["name"])
    if match["gt"] and name in UNIT_COLUMNS:
        raise ExplainError(f"Số đơn vị '{name}' chỉ có cho toàn Đảng bộ, không theo nhóm")
    return FigureRef(match["measure"], name, match["gt"] or "bloc", match["gv"] or "bloc")


@dataclass
class Explanation:
    """A figure, the model it came from, and each unit's contribution."""

    figure: str
    label: str
    model: str
    column: str
    filters: str
    value: float | None
    total: float | None
    method: str
    decimals: int
    contributions: list[dict[str, Any]] = field(default_factory=list)
    # every contributing row, of which `contributions` holds the first (all, unless capped)
    contribution_count: int = 0

    @property
    def matches(self) -> bool:
        if self.value is None or self.total is None:
            return self.value is None and self.total is None
        return abs(float(self.value) - float(self.total)) <= 1e-6 * max(1.0, abs(self.value))


def figure_value(con: duckdb.DuckDBPyConnection, ref: FigureRef) -> float | None:
    """The figure as the mart holds it (None when the data does not give it)."""
    if ref.is_unit_count:
        row = con.execute(
            f"select {ref.name} from rpt_term__units where measure = ?", [ref.measure]
        ).fetchone()
    else:
        row = con.execute(
            "select value from rpt_term__indicators where measure = ? and indicator_code = ? "
            "and group_type = ? and group_value = ?",
            [ref.measure, ref.name, ref.group_type, ref.group_value],
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def explain(
    con: duckdb.DuckDBPyConnection, figure_id: str, catalog: Catalog | None = None
) -> Explanation:
    """Explain one figure: its mart and column, and the contributions that add up to it."""
    catalog = catalog or load_catalog()
    [explanation] = _explain(con, [_checked(con, parse_figure_id(figure_id), catalog)], catalog)
    return explanation


def explain_all(
    con: duckdb.DuckDBPyConnection,
    context: dict,
    catalog: Catalog | None = None,
    limit: int | None = None,
) -> tuple[list[Explanation], list[str]]:
    """Explain every figure of a draft context; the ids that cannot be explained are skipped.

    With `limit`, each figure keeps its first `limit` contributions (by unit code); its total
    and count still cover them all (computed in DuckDB)."""
    catalog = catalog or load_catalog()
    checked: list[tuple[FigureRef, float | None]] = []
    skipped: list[str] = []
    for figure in context_figures(context):
        try:
            checked.append(_checked(con, parse_figure_id(figure), catalog))
        except ExplainError:
            skipped.append(figure)
    return _explain(con, checked, catalog, limit), skipped


def _checked(
    con: duckdb.DuckDBPyConnection, ref: FigureRef, catalog: Catalog
) -> tuple[FigureRef, float | None]:
    """The figure and its value as the mart holds it; ExplainError when it cannot be explained."""
    if ref.is_unit_count:
        if ref.measure == "term":
            raise ExplainError("Số đơn vị chỉ có ở đầu kỳ (start) và cuối kỳ (cutoff)")
        return ref, figure_value(con, ref)
    code, _, level = ref.name.partition("__")
    if code not in catalog:
        raise ExplainError(f"Không có chỉ tiêu '{code}' trong danh mục chỉ tiêu")
    value = figure_value(con, ref)
    if value is None:
        raise ExplainError(
            f"Không có số liệu {ref.id} trong rpt_term__indicators "
            f"(chỉ tiêu '{code}' là {catalog[code].time_aggregation}: "
            "số đầu kỳ/cuối kỳ là start/cutoff, số cộng dồn cả nhiệm kỳ là term)"
        )
    if catalog[code].unit_aggregation == "distribution" and not level.isdigit():
        raise ExplainError(f"Chỉ tiêu phân bố '{code}' cần một giá trị, ví dụ {code}__4")
    return ref, value


def _explain(
    con: duckdb.DuckDBPyConnection,
    checked: list[tuple[FigureRef, float | None]],
    catalog: Catalog,
    limit: int | None = None,
) -> list[Explanation]:
    """The explanations of checked figures: one query per kind of figure, not per figure.

    On the sample bloc's 93 figures the 67 sums take 0.14 s in one query, 0.68 s one by one
    (measured).
    """

    def kind(ref: FigureRef) -> str:
        return "units" if ref.is_unit_count else catalog[ref.name.split("__")[0]].unit_aggregation

    by_kind: dict[str, list[FigureRef]] = {}
    for ref, _ in checked:
        by_kind.setdefault(kind(ref), []).append(ref)
    rows = _unit_rows(con, by_kind.get("units", []), limit)
    rows |= _rate_rows(con, by_kind.get("recompute", []), limit)
    rows |= _weighted_rows(con, by_kind.get("weighted_mean", []), catalog, limit)
    rows |= _value_rows(
        con,
        [r for k in ("sum", "count_true", "distribution") for r in by_kind.get(k, [])],
        catalog,
        limit,
    )
    empty = Found([], {"count": 0})
    return [
        _units_explanation(ref, value, rows.get(ref.id, empty))
        if ref.is_unit_count
        else _explanation(ref, value, rows.get(ref.id, empty), catalog)
        for ref, value in checked
    ]


@dataclass
class Found:
    """A figure's contributing rows (the first ones, when capped) and aggregates over all."""

    rows: list[dict]
    totals: dict[str, float]


def _explanation(
    ref: FigureRef, value: float | None, found: Found, catalog: Catalog
) -> Explanation:
    indicator = catalog[ref.name.split("__")[0]]
    totals = found.totals
    if indicator.unit_aggregation == "recompute":
        num, den = totals.get("numerator") or 0, totals.get("denominator") or 0
        total = 100.0 * num / den if den else None
        method = "tỷ lệ tính lại: 100 × tổng tử số / tổng mẫu số (int_rate_parts)"
    elif indicator.unit_aggregation == "weighted_mean":
        weight = totals.get("weight") or 0
        total = (totals.get("weighted") or 0) / weight if weight else None
        method = f"bình quân gia quyền theo {indicator.weight} (int_values_grouped)"
    else:
        total = float(totals.get("value") or 0)
        method = {
            "sum": "tổng giá trị của các đơn vị (int_values_grouped)",
            "count_true": "số đơn vị có giá trị 1 (int_values_grouped)",
            "distribution": "số đơn vị có giá trị này (int_values_grouped)",
        }[indicator.unit_aggregation]
    return Explanation(
        figure=ref.id,
        label=indicator.label,
        model="rpt_term__indicators",
        column="value",
        filters=(
            f"measure = '{ref.measure}', indicator_code = '{ref.name}', "
            f"group_type = '{ref.group_type}', group_value = '{ref.group_value}'"
        ),
        value=value,
        total=total,
        method=method,
        decimals=2 if indicator.is_rate else indicator.decimals,
        contributions=found.rows,
        contribution_count=int(totals["count"]),
    )


def _units_explanation(ref: FigureRef, value: float | None, found: Found) -> Explanation:
    return Explanation(
        figure=ref.id,
        label={"units": "số TCCSĐ", "dang_bo": "đảng bộ cơ sở", "chi_bo": "chi bộ cơ sở"}.get(
            ref.name, f"TCCSĐ khối {ref.name}"
        ),
        model="rpt_term__units",
        column=ref.name,
        filters=f"measure = '{ref.measure}'",
        value=value,
        total=float(found.totals["count"]),
        method="số đơn vị của danh mục đang hoạt động vào ngày chốt (stg_registry__units)",
        decimals=0,
        contributions=found.rows,
        contribution_count=int(found.totals["count"]),
    )


def _by_figure(
    con: duckdb.DuckDBPyConnection,
    select: str,
    figures: list[tuple],
    limit: int | None = None,
    totals: dict[str, str] | None = None,
) -> dict[str, Found]:
    """Run `select` over the figures, bound as the relation `f(figure, measure, group_type,
    group_value, code, detail, level)`; by figure id, its rows less `figure` and `ordinal`
    (ordered by unit and period ordinal; the first `limit` with a limit), and `count` and
    `totals` (name: aggregate over `select`'s columns) over all its rows."""
    if not figures:
        return {}
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(figures))
    aggregates = {"count": "count(*)"} | (totals or {})
    # A figure's first `limit` rows are kept in a heap as its rows go by (arg_min with a count),
    # where a window's row_number sorted every row of every figure: at 60,000 units the query
    # of the values' figures (112 figures, a row per unit each) took 4.1-4.4 s, 1.7 s this way.
    if limit is None:
        rows = "select * from q"
    elif limit < 1:  # DuckDB's arg_min takes a count from 1
        rows = "select * from q where false"
    else:
        rows = (
            f"select unnest(r) from (select unnest(arg_min(q, (unit_code, ordinal), {limit})) "
            "as r from q group by figure)"
        )
    # Where a value stood in its file is looked up for the rows kept only, the values read
    # only for their submissions: for every row before the limit it took 5 of the trace's
    # 9-10 s at 60,000 units.
    located = (
        "select kept.* exclude (_located_submission, _located_indicator) "
        "replace (l.location as location) from kept left join ("
        "select submission_id, indicator_code, any_value(location) as location "
        "from stg_tonghop__values "
        "where submission_id in (select _located_submission from kept) group by all) as l "
        "on l.submission_id = kept._located_submission "
        "and l.indicator_code = kept._located_indicator"
        if "_located_submission" in select
        else "select kept.* from kept"
    )
    sql = (
        f"with f(figure, measure, group_type, group_value, code, detail, level) as "
        f"(values {values}), q as ({select}), "
        f"totals as (select figure, "
        f"{', '.join(f'{a} as _{name}' for name, a in aggregates.items())} "
        f"from q group by figure), "
        f"kept as (select r.*, {', '.join(f'totals._{name}' for name in aggregates)} "
        f"from ({rows}) as r join totals using (figure)) "
        f"{located} order by figure, unit_code, ordinal"
    )
    found: dict[str, Found] = {}
    for row in _dicts(con, sql, [value for figure in figures for value in figure]):
        figure = row.pop("figure")
        row.pop("ordinal")
        sums = {name: row.pop(f"_{name}") for name in aggregates}
        found.setdefault(figure, Found([], sums)).rows.append(row)
    return found


def _figure(
    ref: FigureRef, code: str, detail: str | None = None, level: int | None = None
) -> tuple:
    return (ref.id, ref.measure, ref.group_type, ref.group_value, code, detail, level)


# The registry's date a unit count is taken on: the day before the range, or its last day.
_SNAPSHOT = """
    case f.measure
        when 'start' then (select min(period_start) - interval 1 day
                           from run_periods where role = 'range')
        else (select max(period_end) from run_periods where role = 'range')
    end
"""


def _unit_rows(
    con: duckdb.DuckDBPyConnection, refs: list[FigureRef], limit: int | None = None
) -> dict[str, Found]:
    return _by_figure(
        con,
        f"""
        select f.figure, u.unit_code, u.name,
            cast(cast({_SNAPSHOT} as date) as varchar) as period,
            1 as value, null as file_name, null as sha256, null as location, 0 as ordinal
        from f
        join stg_registry__units as u
            on u.valid_from <= {_SNAPSHOT}
            and (u.valid_to is null or u.valid_to >= {_SNAPSHOT})
            and case f.code
                when 'units' then true
                when 'dang_bo' then u.form = 'dang_bo'
                when 'chi_bo' then u.form = 'chi_bo'
                else u.sector = f.code
            end
        """,
        [_figure(ref, ref.name) for ref in refs],
        limit,
    )


# The rows `v` of a model that each figure `f` reads (the same filters as rpt_term__indicators).
_FIGURE_ROWS = """
    v.group_type = f.group_type and v.group_value = f.group_value
    and v.indicator_code = f.code
    and case f.measure
        when 'start' then v.role = 'baseline'
        when 'term' then v.role = 'range'
        else v.ordinal = (select max(ordinal) from run_periods where role = 'range')
    end
"""
_SOURCE_COLUMNS = """
    r.name,
    s.file_name,
    s.sha256,
    null as location,  -- looked up by _by_figure for the rows it keeps
    v.submission_id as _located_submission,
    v.indicator_code as _located_indicator
"""
_SOURCE_JOINS = """
    join stg_tonghop__submissions as s on s.submission_id = v.submission_id
    join stg_registry__units as r on r.unit_code = v.unit_code
"""


def _value_rows(
    con: duckdb.DuckDBPyConnection,
    refs: list[FigureRef],
    catalog: Catalog,
    limit: int | None = None,
) -> dict[str, Found]:
    # `detail` is the unit aggregation; a distribution's figure `code__k` counts the units at k.
    figures = []
    for ref in refs:
        code, _, level = ref.name.partition("__")
        aggregation = catalog[code].unit_aggregation
        figures.append(_figure(ref, code, aggregation, int(level) if level.isdigit() else None))
    return _by_figure(
        con,
        f"""
        select f.figure, v.unit_code, {_SOURCE_COLUMNS}, v.period,
            case f.detail when 'sum' then v.value else 1 end as value, v.ordinal
        from f
        join int_values_grouped as v on {_FIGURE_ROWS}
        {_SOURCE_JOINS}
        where case f.detail
            when 'sum' then true
            when 'count_true' then v.value = 1
            else v.value = f.level
        end
        """,
        figures,
        limit,
        {"value": "sum(value)"},
    )


def _rate_rows(
    con: duckdb.DuckDBPyConnection, refs: list[FigureRef], limit: int | None = None
) -> dict[str, Found]:
    found = _by_figure(
        con,
        f"""
        select f.figure, v.unit_code, r.name, s.file_name, s.sha256, null as location,
            v.period, v.numerator, v.denominator, v.ordinal
        from f
        join int_rate_parts as v on {_FIGURE_ROWS}
        {_SOURCE_JOINS}
        """,
        [_figure(ref, ref.name) for ref in refs],
        limit,
        {"numerator": "sum(numerator)", "denominator": "sum(denominator)"},
    )
    for figure in found.values():
        for row in figure.rows:
            row["value"] = (
                100.0 * row["numerator"] / row["denominator"] if row["denominator"] else None
            )
    return found


def _weighted_rows(
    con: duckdb.DuckDBPyConnection,
    refs: list[FigureRef],
    catalog: Catalog,
    limit: int | None = None,
) -> dict[str, Found]:
    # `detail` is the indicator the mean is weighted by.
    return _by_figure(
        con,
        f"""
        select f.figure, v.unit_code, {_SOURCE_COLUMNS}, v.period, v.value, w.value as weight,
            v.ordinal
        from f
        join int_values_grouped as v on {_FIGURE_ROWS}
        join int_values_grouped as w
            on w.submission_id = v.submission_id and w.group_type = v.group_type
            and w.indicator_code = f.detail
        {_SOURCE_JOINS}
        """,
        [_figure(ref, ref.name, catalog[ref.name].weight or "") for ref in refs],
        limit,
        {"weighted": "sum(value * weight)", "weight": "sum(weight)"},
    )


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def context_figures(context: dict) -> list[str]:
    """The figure ids of a draft context (tonghop.consolidate.report_context), in its order."""
    ids: list[str] = []
    for measure in ("start", "cutoff"):
        snapshot = context.get(measure) or {}
        ids += [f"{measure}.{name}" for name in ("units", "dang_bo", "chi_bo")]
        ids += [f"{measure}.{sector}" for sector in (snapshot.get("sectors") or {})]
        ids += [f"{measure}.{code}" for code in sorted(snapshot.get("indicators") or {})]
    ids += [f"term.{code}" for code in sorted(context.get("term") or {})]
    return list(dict.fromkeys(ids))


def as_dict(explanation: Explanation) -> dict[str, Any]:
    """An explanation as plain data (with `matches`), for a report context or JSON."""
    # Not dataclasses.asdict: it deep-copies every contribution (27,101 rows on the sample
    # bloc, 0.5 s measured) that `_dicts` has just built as plain dicts.
    data = {f.name: getattr(explanation, f.name) for f in fields(explanation)}
    return data | {"matches": explanation.matches}


def trace_context(
    con: duckdb.DuckDBPyConnection,
    context: dict,
    template_dirs: Sequence[Path] | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """The `trace` entry of a draft context: the HTML draft's appendix "Nguồn gốc số liệu".

    `{"figures": [explanation as a dict, ...], "skipped": [figure id, ...], "html": ...}`, `html`
    being the figures rendered once (`tonghop.render.trace_html`, with the same `template_dirs`);
    pass it as `context["trace"]` to `tonghop.render.render_report` and to `write_trace_page`,
    which both embed that HTML.

    With `keep` (a connection that may write), the explanations are stored in the workspace
    (`trace_state`) and reused by the next call while they would be the same: the consolidation
    has rebuilt no row since (`tonghop.consolidate.run_models` empties the table when it does)
    and the draft has the same figures. A run with nothing new then skips the trace's queries
    (60,000 units: ~2.5 s); only the HTML is rendered again.
    """
    basis = _trace_basis(con, context) if keep else None
    trace = _kept_trace(con, basis) if basis else None
    if trace is None:
        explanations, skipped = explain_all(con, context, limit=TRACE_UNITS_SHOWN)
        trace = {"figures": [as_dict(e) for e in explanations], "skipped": skipped}
        if basis:
            _keep_trace(con, basis, trace)
    return trace | {"html": trace_html(trace, make_environment(template_dirs))}


def _trace_basis(con: duckdb.DuckDBPyConnection, context: dict) -> str | None:
    """What a kept trace must have been computed from to be reused: the last consolidation's
    fingerprint (models, catalog, periods, registry), the draft's figures, the cap, and this
    module's code (an upgrade may explain otherwise). None before any consolidation."""
    last = state_row(con, "consolidation_state")
    if not last:
        return None
    basis = [
        last["fingerprint"],
        context_figures(context),
        TRACE_UNITS_SHOWN,
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
        found, skipped = explain_all(con, context, limit=TRACE_UNITS_SHOWN)
        trace = {"figures": [as_dict(e) for e in found], "skipped": skipped}
    env = make_environment(template_dirs)
    trace = trace | {"html": trace_html(trace, env)}
    html = env.get_template(TRACE_TEMPLATE).render(trace=trace)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TRACE_PAGE
    path.write_text(html, encoding="utf-8")
    return path
