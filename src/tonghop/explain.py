"""Where a figure of the draft comes from: its mart, and each unit's contribution to it.

A figure id is `measure.name`, optionally `@group_type:group_value` (default the whole bloc):
`cutoff.members_total`, `term.members_admitted`, `start.branches_total`, `cutoff.units`,
`cutoff.members_total@sector:soe`. `measure` is `start`, `cutoff` or `term`; `name` is an
indicator code (read from `rpt_term__indicators`) or a count of units of `rpt_term__units`.
The contributions are read from the same intermediate models the mart aggregates, so their
total is the figure.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import ChoiceLoader, DictLoader

from tonghop.catalog import SECTORS, Catalog, load_catalog
from tonghop.render import make_environment

MEASURES = ("start", "cutoff", "term")
UNIT_COLUMNS = ("units", "dang_bo", "chi_bo", *SECTORS)
# The draft context's short names (tonghop.consolidate.report_context) for two indicators.
ALIASES = {"members": "members_total", "branches": "branches_total"}
TRACE_PAGE = "truy-vet.html"
TRACE_TEMPLATE = "truy-vet.html.j2"

_ID_RE = re.compile(r"^(?P<measure>[a-z]+)\.(?P<name>[a-z0-9_]+)(?:@(?P<gt>[a-z]+):(?P<gv>\w+))?$")

# Which rows of the models a measure reads (the same filters as rpt_term__indicators).
_MEASURE_FILTER = {
    "start": "v.role = 'baseline'",
    "cutoff": "v.ordinal = (select max(ordinal) from run_periods where role = 'range')",
    "term": "v.role = 'range'",
}


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
    ref = parse_figure_id(figure_id)
    catalog = catalog or load_catalog()
    if ref.is_unit_count:
        return _explain_units(con, ref)
    base = ref.name.split("__")[0]
    if base not in catalog:
        raise ExplainError(f"Không có chỉ tiêu '{base}' trong danh mục chỉ tiêu")
    value = figure_value(con, ref)
    if value is None:
        raise ExplainError(
            f"Không có số liệu {ref.id} trong rpt_term__indicators "
            f"(chỉ tiêu '{base}' là {catalog[base].time_aggregation}: "
            "số đầu kỳ/cuối kỳ là start/cutoff, số cộng dồn cả nhiệm kỳ là term)"
        )
    indicator = catalog[base]
    common = {
        "figure": ref.id,
        "label": indicator.label,
        "model": "rpt_term__indicators",
        "column": "value",
        "filters": (
            f"measure = '{ref.measure}', indicator_code = '{ref.name}', "
            f"group_type = '{ref.group_type}', group_value = '{ref.group_value}'"
        ),
        "value": value,
        "decimals": 2 if indicator.is_rate else indicator.decimals,
    }
    if indicator.unit_aggregation == "recompute":
        rows = _rate_rows(con, ref)
        num = sum(r["numerator"] for r in rows)
        den = sum(r["denominator"] for r in rows)
        total = 100.0 * num / den if den else None
        method = "tỷ lệ tính lại: 100 × tổng tử số / tổng mẫu số (int_rate_parts)"
    elif indicator.unit_aggregation == "weighted_mean":
        rows = _weighted_rows(con, ref, indicator.weight or "")
        weight = sum(r["weight"] for r in rows)
        total = sum(r["value"] * r["weight"] for r in rows) / weight if weight else None
        method = f"bình quân gia quyền theo {indicator.weight} (int_values_grouped)"
    else:
        rows = _value_rows(con, ref, indicator.unit_aggregation)
        total = float(sum(r["value"] for r in rows))
        method = {
            "sum": "tổng giá trị của các đơn vị (int_values_grouped)",
            "count_true": "số đơn vị có giá trị 1 (int_values_grouped)",
            "distribution": "số đơn vị có giá trị này (int_values_grouped)",
        }[indicator.unit_aggregation]
    return Explanation(**common, total=total, method=method, contributions=rows)


def _explain_units(con: duckdb.DuckDBPyConnection, ref: FigureRef) -> Explanation:
    condition = {
        "units": "true",
        "dang_bo": "u.form = 'dang_bo'",
        "chi_bo": "u.form = 'chi_bo'",
    }.get(ref.name, f"u.sector = '{ref.name}'")  # ref.name is whitelisted by UNIT_COLUMNS
    snapshot = (
        "(select min(period_start) - interval 1 day from run_periods where role = 'range')"
        if ref.measure == "start"
        else "(select max(period_end) from run_periods where role = 'range')"
    )
    if ref.measure == "term":
        raise ExplainError("Số đơn vị chỉ có ở đầu kỳ (start) và cuối kỳ (cutoff)")
    rows = _dicts(
        con,
        f"""
        select u.unit_code, u.name, cast(cast({snapshot} as date) as varchar) as period,
            1 as value, null as file_name, null as sha256, null as location
        from stg_registry__units as u
        where u.valid_from <= {snapshot}
            and (u.valid_to is null or u.valid_to >= {snapshot})
            and {condition}
        order by u.unit_code
        """,
    )
    return Explanation(
        figure=ref.id,
        label={"units": "số TCCSĐ", "dang_bo": "đảng bộ cơ sở", "chi_bo": "chi bộ cơ sở"}.get(
            ref.name, f"TCCSĐ khối {ref.name}"
        ),
        model="rpt_term__units",
        column=ref.name,
        filters=f"measure = '{ref.measure}'",
        value=figure_value(con, ref),
        total=float(len(rows)),
        method="số đơn vị của danh mục đang hoạt động vào ngày chốt (stg_registry__units)",
        decimals=0,
        contributions=rows,
    )


_SOURCE_COLUMNS = """
    r.name,
    s.file_name,
    s.sha256,
    (select any_value(sv.location) from stg_tonghop__values as sv
     where sv.submission_id = v.submission_id and sv.indicator_code = v.indicator_code)
        as location
"""
_SOURCE_JOINS = """
    join stg_tonghop__submissions as s on s.submission_id = v.submission_id
    join stg_registry__units as r on r.unit_code = v.unit_code
"""


def _value_rows(con: duckdb.DuckDBPyConnection, ref: FigureRef, aggregation: str) -> list[dict]:
    code, _, level = ref.name.partition("__")
    if aggregation == "sum":
        value, condition = "v.value", "true"
    elif aggregation == "count_true":
        value, condition = "1", "v.value = 1"
    else:
        if not level.isdigit():
            raise ExplainError(f"Chỉ tiêu phân bố '{code}' cần một giá trị, ví dụ {code}__4")
        value, condition = "1", f"v.value = {int(level)}"
    return _dicts(
        con,
        f"""
        select v.unit_code, {_SOURCE_COLUMNS}, v.period, {value} as value
        from int_values_grouped as v {_SOURCE_JOINS}
        where v.group_type = ? and v.group_value = ? and v.indicator_code = ?
            and {_MEASURE_FILTER[ref.measure]} and {condition}
        order by v.unit_code, v.ordinal
        """,
        [ref.group_type, ref.group_value, code],
    )


def _rate_rows(con: duckdb.DuckDBPyConnection, ref: FigureRef) -> list[dict]:
    rows = _dicts(
        con,
        f"""
        select v.unit_code, r.name, s.file_name, s.sha256, null as location, v.period,
            v.numerator, v.denominator
        from int_rate_parts as v {_SOURCE_JOINS}
        where v.group_type = ? and v.group_value = ? and v.indicator_code = ?
            and {_MEASURE_FILTER[ref.measure]}
        order by v.unit_code, v.ordinal
        """,
        [ref.group_type, ref.group_value, ref.name],
    )
    for row in rows:
        row["value"] = 100.0 * row["numerator"] / row["denominator"] if row["denominator"] else None
    return rows


def _weighted_rows(con: duckdb.DuckDBPyConnection, ref: FigureRef, weight: str) -> list[dict]:
    return _dicts(
        con,
        f"""
        select v.unit_code, {_SOURCE_COLUMNS}, v.period, v.value, w.value as weight
        from int_values_grouped as v
        join int_values_grouped as w
            on w.submission_id = v.submission_id and w.group_type = v.group_type
            and w.indicator_code = ?
        {_SOURCE_JOINS}
        where v.group_type = ? and v.group_value = ? and v.indicator_code = ?
            and {_MEASURE_FILTER[ref.measure]}
        order by v.unit_code, v.ordinal
        """,
        [weight, ref.group_type, ref.group_value, ref.name],
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


# The traceability page; an office may override it with its own `truy-vet.html.j2`.
_TRACE_HTML = """<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>Truy vết số liệu của dự thảo báo cáo</title>
<style>
body { font-family: "Times New Roman", serif; margin: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #999; padding: 2px 6px; font-size: 0.9em; }
td.so { text-align: right; }
code { font-size: 0.85em; }
.lech { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>Truy vết số liệu của dự thảo báo cáo</h1>
<p>Mỗi số liệu: mô hình SQL và cột nó được đọc ra, cách tổng hợp, và phần đóng góp của từng
đơn vị (tệp đã nhận và mã sha256 của tệp). Lệnh tương ứng:
<code>tonghop explain &lt;mã số liệu&gt; --workspace …</code></p>
{% for e in explanations %}
<details id="{{ e.figure }}">
<summary><code>{{ e.figure }}</code> — {{ e.label }}: <b>{{ e.value|so(e.decimals) }}</b>
({{ e.contributions|length }} dòng)</summary>
<p>Mô hình <code>{{ e.model }}</code>, cột <code>{{ e.column }}</code>
(<code>{{ e.filters }}</code>); {{ e.method }}. Tổng các phần đóng góp:
<span{% if not e.matches %} class="lech"{% endif %}>{{ e.total|so(e.decimals) }}</span>.</p>
<table>
<tr><th>Mã đơn vị</th><th>Tên đơn vị</th><th>Kỳ</th><th>Giá trị</th><th>Tệp</th>
<th>Vị trí</th><th>sha256</th></tr>
{% for c in e.contributions %}
<tr><td>{{ c.unit_code }}</td><td>{{ c.name }}</td><td>{{ c.period }}</td>
<td class="so">{{ c.value|so(e.decimals) }}</td><td>{{ c.file_name or "danh mục đơn vị" }}</td>
<td>{{ c.location or "" }}</td><td><code>{{ c.sha256 or "" }}</code></td></tr>
{% endfor %}
</table>
</details>
{% endfor %}
{% if skipped %}
<p>Không truy vết được: {{ skipped|join(", ") }}.</p>
{% endif %}
</body>
</html>
"""


def explain_all(
    con: duckdb.DuckDBPyConnection, context: dict, catalog: Catalog | None = None
) -> tuple[list[Explanation], list[str]]:
    """Explain every figure of a draft context; the ids that cannot be explained are skipped."""
    catalog = catalog or load_catalog()
    explanations: list[Explanation] = []
    skipped: list[str] = []
    for figure in context_figures(context):
        try:
            explanations.append(explain(con, figure, catalog))
        except ExplainError:
            skipped.append(figure)
    return explanations, skipped


def as_dict(explanation: Explanation) -> dict[str, Any]:
    """An explanation as plain data (with `matches`), for a report context or JSON."""
    return asdict(explanation) | {"matches": explanation.matches}


def trace_context(con: duckdb.DuckDBPyConnection, context: dict) -> dict[str, Any]:
    """The `trace` entry of a draft context: the HTML draft's appendix "Nguồn gốc số liệu".

    `{"figures": [explanation as a dict, ...], "skipped": [figure id, ...]}`; pass it as
    `context["trace"]` to `tonghop.render.render_report` and to `write_trace_page`.
    """
    explanations, skipped = explain_all(con, context)
    return {"figures": [as_dict(e) for e in explanations], "skipped": skipped}


def write_trace_page(
    con: duckdb.DuckDBPyConnection | None,
    context: dict,
    out_dir: Path,
    template_dirs: list[Path] | None = None,
) -> Path:
    """Write `truy-vet.html`: every figure of the draft context with its contributions.

    When the context already carries `trace` (see `trace_context`), it is used as is and `con`
    is not read.
    """
    if context.get("trace"):
        explanations = context["trace"]["figures"]
        skipped = context["trace"]["skipped"]
    elif con is None:
        raise ExplainError("Cần kết nối tới cơ sở dữ liệu hoặc context['trace']")
    else:
        found, skipped = explain_all(con, context)
        explanations = [as_dict(e) for e in found]
    env = make_environment(template_dirs)
    # Most specific first: an office's templates, the bundled ones, then this default.
    env.loader = ChoiceLoader([env.loader, DictLoader({TRACE_TEMPLATE: _TRACE_HTML})])
    html = env.get_template(TRACE_TEMPLATE).render(explanations=explanations, skipped=skipped)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TRACE_PAGE
    path.write_text(html, encoding="utf-8")
    return path
