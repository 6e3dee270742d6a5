"""Each unit's contribution to figures of the draft: the SQL that reads them from the same
intermediate models the marts aggregate (so their total is the figure), every figure of every
kind (unit counts, sums and counts, rates, weighted means) in one statement."""

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


# By kind of figure: the columns of its rows (in this order, after `unit_code`), and the
# aggregates over all its rows that its explanation reads (`tonghop.explain`), besides `count`.
_ROWS = {
    "units": ("name", "period", "value", "file_name", "sha256", "location"),
    "values": ("name", "file_name", "sha256", "location", "period", "value"),
    "rates": ("name", "file_name", "sha256", "location", "period", "numerator", "denominator"),
    "weighted": ("name", "file_name", "sha256", "location", "period", "value", "weight"),
}
_TOTALS = {
    "units": (),
    "values": ("value",),
    "rates": ("numerator", "denominator"),
    "weighted": ("weighted", "weight"),
}
_AGGREGATES = {
    "value": "sum(value)",
    "numerator": "sum(numerator)",
    "denominator": "sum(denominator)",
    "weighted": "sum(value * weight)",
    "weight": "sum(weight)",
}


def find_contributions(
    con: duckdb.DuckDBPyConnection,
    refs: list[FigureRef],
    catalog: Catalog,
    limit: int | None = None,
) -> dict[str, Found]:
    """By figure id, the figures' contributions, all read in one statement (each model once for
    every figure), whatever the number of figures and their kinds.

    With `limit`, each figure keeps its first `limit` rows (by unit code, then period); its
    totals and count still cover them all (computed in DuckDB).
    """
    figures = [_figure(ref, catalog) for ref in refs]
    if not figures:
        return {}
    kinds = sorted({figure[1] for figure in figures})
    # A figure's first `limit` rows are those up to its `limit`-th key (unit, then period: one
    # row each), the keys being integers kept in a heap as its rows go by (`min` with a count):
    # a window's row_number sorted every row of every figure, and `arg_min` with the rows as
    # its payload and the unit code as its key took longer still, most of the statement's time
    # when every unit of a large bloc contributes to every figure.
    if limit is None:
        last = "null"
    elif limit < 1:  # DuckDB's `min` takes a count from 1
        last = "-1"
    else:
        last = f"list_max(min(_key, {limit}))"
    names = sorted({name for kind in kinds for name in _TOTALS[kind]})
    sql = f"""
        with figures as (
            select unnest(?::varchar[]) as figure, unnest(?::varchar[]) as kind,
                unnest(?::varchar[]) as measure, unnest(?::varchar[]) as group_type,
                unnest(?::varchar[]) as group_value, unnest(?::varchar[]) as code,
                unnest(?::varchar[]) as detail, unnest(?::integer[]) as level
        ),
        units as (
            -- the registry's units in the order of their codes (a row's key: unit, period)
            select unit_code, row_number() over (order by unit_code) as unit_rank
            from stg_registry__units
        ),
        f as (
            select *,
                case measure when 'start' then 'baseline' when 'term' then 'range' end
                    as want_role,
                case when measure not in ('start', 'term') then
                    (select max(ordinal) from run_periods where role = 'range')
                end as want_ordinal
            from figures
        ),
        q as ({" union all by name ".join(_SELECTS[kind] for kind in kinds)}),
        totals as (
            select figure, {"".join(f"{_AGGREGATES[n]} as _{n}, " for n in names)}
                count(*) as _count, {last} as _last
            from q group by figure
        ),
        kept as (
            select q.*, totals.* exclude (figure, _last)
            from q join totals using (figure)
            where totals._last is null or q._key <= totals._last
        )
        -- the unit's name, the file and where the value stood in it (a value's only: a rate's
        -- parts are several values, a unit count has no file), for the rows kept only
        select kept.* exclude (submission_id, _located_indicator, _key), r.name, s.file_name,
            s.sha256, l.location
        from kept
        join stg_registry__units as r on r.unit_code = kept.unit_code
        left join stg_tonghop__submissions as s on s.submission_id = kept.submission_id
        left join (
            select submission_id, indicator_code, any_value(location) as location
            from stg_tonghop__values
            where submission_id in (select submission_id from kept)
            group by all
        ) as l
            on l.submission_id = kept.submission_id
            and l.indicator_code = kept._located_indicator
        order by figure, _key
    """
    params = [list(column) for column in zip(*figures, strict=True)]
    # Fetched as columns, not as row tuples: tens of thousands of rows on a large bloc. (As
    # NumPy arrays: a connection's result as Arrow is copied once more; a NULL is masked, and
    # tolist() gives None for it and Python's int, float and str for the others.)
    columns = {
        name: array.tolist() for name, array in con.execute(sql, params).fetchnumpy().items()
    }
    return _found(columns, {figure[0]: figure[1] for figure in figures})


def _found(columns: dict[str, list], kinds: dict[str, str]) -> dict[str, Found]:
    """The statement's columns (ordered by figure) as each figure's `Found`: its rows with the
    columns of its kind, its totals (on each of its rows) once."""
    found: dict[str, Found] = {}
    figures = columns["figure"]
    end = 0
    while end < len(figures):
        start, figure = end, figures[end]
        while end < len(figures) and figures[end] == figure:
            end += 1
        kind = kinds[figure]
        totals = {"count": columns["_count"][start]}
        totals |= {name: columns[f"_{name}"][start] for name in _TOTALS[kind]}
        names = ("unit_code", *_ROWS[kind])
        rows = [
            dict(zip(names, values, strict=True))
            for values in zip(*(columns[name][start:end] for name in names), strict=True)
        ]
        if kind == "units":
            for row in rows:
                row["value"] = 1  # each unit active on the day counts once
        elif kind == "rates":
            for row in rows:
                num, den = row["numerator"], row["denominator"]
                row["value"] = 100.0 * num / den if den else None
        found[figure] = Found(rows, totals)
    return found


def _figure(ref: FigureRef, catalog: Catalog) -> tuple:
    """A figure as the statement's relation `f` binds it: `(figure, kind, measure, group_type,
    group_value, code, detail, level)`. `detail` is a value figure's unit aggregation (a
    distribution's figure `code__k` counts the units at `level` k), or the indicator a weighted
    mean is weighted by."""
    if ref.is_unit_count:
        return (ref.id, "units", ref.measure, ref.group_type, ref.group_value, ref.name, None, None)
    code, _, level = ref.name.partition("__")
    indicator = catalog[code]
    kind, detail = {
        "recompute": ("rates", None),
        "weighted_mean": ("weighted", indicator.weight or ""),
    }.get(indicator.unit_aggregation, ("values", indicator.unit_aggregation))
    return (
        ref.id,
        kind,
        ref.measure,
        ref.group_type,
        ref.group_value,
        code,
        detail,
        int(level) if level.isdigit() else None,
    )


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


# The rows `v` of a model that each figure `f` reads (the same filters as rpt_term__indicators),
# with `f.want_role` and `f.want_ordinal` (the statement's `f`) for its measure. A figure's
# reporting group is joined here (int_reporting_groups: the cells, sector and form, it covers)
# rather than read from int_values_grouped or int_rate_parts, the views that give each row once
# per group: those views would give each unit's rows three times over, for every figure.
_FIGURE_ROWS = """
    join int_reporting_groups as g
        on g.group_type = f.group_type and g.group_value = f.group_value
    join {model} as v
        on v.indicator_code = f.code and v.sector = g.sector and v.form = g.form
        and (f.want_role is null or v.role = f.want_role)
        and (f.want_ordinal is null or v.ordinal = f.want_ordinal)
"""


# A row's place in its figure, an integer: its unit (`r`, of the statement's `units`, by code),
# then its period's ordinal (an int32).
_KEY = "(r.unit_rank::bigint << 32) + (v.ordinal::bigint + 2147483648) as _key"


def _source(kind: str, model: str) -> str:
    """The model's rows `v` that the figures `f` of a kind read: their unit, period and
    submission (its file and the unit's name are looked up for the rows kept only)."""
    return f"""
        v.period, v.ordinal, v.submission_id, {_KEY}
        from (select * from f where kind = '{kind}') as f
        {_FIGURE_ROWS.format(model=model)}
        join units as r on r.unit_code = v.unit_code
    """


# Each kind's contributing rows: `figure`, `unit_code`, `ordinal` (rows are ordered by unit,
# then period ordinal), `period`, `submission_id` (the file's), `_located_indicator` (the value
# whose place in the file is shown) and the values its `_TOTALS` aggregate.
_SELECTS = {
    "units": f"""
        select f.figure, u.unit_code,
            cast(cast({_SNAPSHOT} as date) as varchar) as period, 1 as value, 0 as ordinal,
            null as submission_id, null as _located_indicator, r.unit_rank::bigint << 32 as _key
        from (select * from f where kind = 'units') as f
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
        join units as r on r.unit_code = u.unit_code
    """,
    "values": f"""
        select f.figure, v.unit_code, v.indicator_code as _located_indicator,
            case f.detail when 'sum' then v.value else 1 end as value,
            {_source("values", "int_values_accepted")}
        where case f.detail
            when 'sum' then true
            when 'count_true' then v.value = 1
            else v.value = f.level
        end
    """,
    "rates": f"""
        select f.figure, v.unit_code, null as _located_indicator, v.numerator, v.denominator,
            {_source("rates", "int_unit_rate_parts")}
    """,
    "weighted": f"""
        select f.figure, v.unit_code, v.indicator_code as _located_indicator, v.value,
            w.value as weight,
            {_source("weighted", "int_values_accepted")}
        join int_values_accepted as w
            on w.submission_id = v.submission_id and w.indicator_code = f.detail
    """,
}
