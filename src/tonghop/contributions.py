"""Each unit's contribution to figures of the draft: the SQL that reads them from the same
intermediate models the marts aggregate (so their total is the figure), one query per kind of
figure (unit counts, sums and counts, rates, weighted means)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from tonghop.catalog import FORMS, Catalog
from tonghop.figure_ids import FigureRef


@dataclass
class Found:
    """A figure's contributing rows (the first ones, when capped) and aggregates over all."""

    rows: list[dict]
    totals: dict[str, float]


def find_contributions(
    con: duckdb.DuckDBPyConnection,
    refs: list[FigureRef],
    catalog: Catalog,
    limit: int | None = None,
) -> dict[str, Found]:
    """By figure id, the figures' contributions: one query per kind of figure, not one per
    figure, so that the models are read once for all the figures of a kind.

    With `limit`, each figure keeps its first `limit` rows (by unit code); its totals and count
    still cover them all (computed in DuckDB).
    """

    def kind(ref: FigureRef) -> str:
        return "units" if ref.is_unit_count else catalog[ref.name.split("__")[0]].unit_aggregation

    by_kind: dict[str, list[FigureRef]] = {}
    for ref in refs:
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
    return rows


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
    # where a window's row_number sorted every row of every figure, most of the query's time
    # when every unit of a large bloc contributes to every figure.
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
    # only for their submissions: looked up for every row before the limit, it was the larger
    # part of the trace's time on a large bloc.
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


# A count of TCCSĐ is over these forms (the bloc committee is a unit, never a TCCSĐ).
_TCCSD_FORMS = ", ".join(f"'{form}'" for form in FORMS)


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
            and u.form in ({_TCCSD_FORMS})
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
