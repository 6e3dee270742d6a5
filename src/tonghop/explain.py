"""Where a figure of the draft comes from: its mart, and each unit's contribution to it.

A figure is named by its id (`tonghop.figure_ids`); its contributions are read by
`tonghop.contributions` from the same intermediate models the mart aggregates, so their total
is the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import duckdb

from tonghop.catalog import Catalog, load_catalog
from tonghop.contributions import Found, find_contributions
from tonghop.figure_ids import ExplainError, FigureRef, parse_figure_id
from tonghop.formatting import so
from tonghop.report.figure_registry import build_figures


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
    _refuse_derived(figure_id)
    [explanation] = _explain(con, [_checked(con, parse_figure_id(figure_id), catalog)], catalog)
    return explanation


def _refuse_derived(figure_id: str) -> None:
    """A figure of the draft computed from others: say how, and which ones to explain."""
    derived = build_figures({}).get(figure_id.strip())
    if derived is not None and derived.inputs:
        raise ExplainError(
            f"Số liệu '{derived.id}' ({derived.label}) được tính từ các số liệu khác: "
            f"{derived.formula}. Xem nguồn của từng số: "
            + "; ".join(f"tonghop explain {i}" for i in derived.inputs)
        )


def explain_all(
    con: duckdb.DuckDBPyConnection,
    context: dict,
    catalog: Catalog | None = None,
    limit: int | None = None,
) -> tuple[list[Explanation], list[str]]:
    """Explain every figure of a draft context read from a mart (its figure registry's
    `mart_ids`: the figures printed, and those a derived figure is computed from); the ids
    that cannot be explained are skipped.

    With `limit`, each figure keeps its first `limit` contributions (by unit code); its total
    and count still cover them all (computed in DuckDB)."""
    catalog = catalog or load_catalog()
    checked: list[tuple[FigureRef, float | None]] = []
    skipped: list[str] = []
    for figure in build_figures(context).mart_ids():
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
    """The explanations of checked figures, from their contributions."""
    rows = find_contributions(con, [ref for ref, _ in checked], catalog, limit)
    empty = Found([], {"count": 0})
    explanations = [
        _units_explanation(ref, value, rows.get(ref.id, empty))
        if ref.is_unit_count
        else _explanation(ref, value, rows.get(ref.id, empty), catalog)
        for ref, value in checked
    ]
    _mark_corrections(con, explanations, catalog)
    return explanations


def _mark_corrections(
    con: duckdb.DuckDBPyConnection, explanations: list[Explanation], catalog: Catalog
) -> None:
    """Give each contribution a steward corrected its `corrections`: for each value of it the
    steward changed (the indicator, or a part or weight it is computed from), the value the
    file said and the one used, who, when, why and on what source. The file, place and sha256
    beside the contribution are the file's, which said the original value."""
    corrected: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cursor = con.execute(
        """
        select v.unit_code, v.period, v.indicator_code, v.submitted_value, c.after_value,
            c.reason, c.source, c.actor, strftime(c.acted_at, '%d/%m/%Y %H:%M') as acted_at
        from int_values_accepted v
        join (
            select submission_id, indicator_code, arg_max(after_value, seq) as after_value,
                arg_max(reason, seq) as reason, arg_max(source, seq) as source,
                arg_max(actor, seq) as actor, arg_max(acted_at, seq) as acted_at
            from value_corrections group by all
        ) c using (submission_id, indicator_code)
        where v.corrected
        """
    )
    names = [d[0] for d in cursor.description]
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        corrected.setdefault((item.pop("unit_code"), item.pop("period")), []).append(item)
    if not corrected:
        return
    for explanation in explanations:
        code = explanation.figure.split(".")[-1].split("__")[0]
        if code not in catalog:
            continue
        indicator = catalog[code]
        codes = {code, *indicator.numerator, *indicator.denominator, indicator.weight}
        for row in explanation.contributions:
            found = corrected.get((row["unit_code"], row["period"]), [])
            mine = [c for c in found if c["indicator_code"] in codes]
            if mine:
                row["corrections"] = mine


def contribution_line(row: dict[str, Any], decimals: int) -> str:
    """One contribution as `tonghop explain` prints it, tab-separated. A value a steward
    corrected is given as the steward's (who, when, why, on what source), and the file, its
    place and sha256 only as where the original value stood, with what it said."""
    fixes = row.get("corrections", [])
    value = so(row["value"], decimals)
    if not fixes:
        return (
            f"{row['unit_code']}\t{row['name']}\t{row['period']}\t{value}\t"
            f"{row['file_name'] or 'danh mục đơn vị'}\t{row['location'] or ''}\t"
            f"{row['sha256'] or ''}"
        )
    who = ", ".join(dict.fromkeys(f"cán bộ {c['actor']}" for c in fixes))
    line = f"{row['unit_code']}\t{row['name']}\t{row['period']}\t{value}\thiệu chỉnh của {who}\t\t"
    for c in fixes:
        said = "(trống)" if c["submitted_value"] is None else so(c["submitted_value"], decimals)
        line += (
            f"\n\t- {c['indicator_code']} = {so(c['after_value'], decimals)}: hiệu chỉnh lúc "
            f"{c['acted_at']}, lý do: {c['reason']}; nguồn: {c['source']}. Số gốc trong tệp "
            f"{row['file_name']} ({row['location'] or c['indicator_code']}, sha256 "
            f"{row['sha256']}): {said}"
        )
    return line


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


def as_dict(explanation: Explanation) -> dict[str, Any]:
    """An explanation as plain data (with `matches`), for a report context or JSON."""
    # Not dataclasses.asdict: it deep-copies every contribution (tens of thousands on the
    # sample bloc) that `tonghop.contributions` has just built as plain dicts.
    data = {f.name: getattr(explanation, f.name) for f in fields(explanation)}
    return data | {"matches": explanation.matches}
