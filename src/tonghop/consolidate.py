"""Consolidate: run the SQL models of `sql/` in dependency order and read the marts."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from tonghop.catalog import FORMS, SECTORS, Catalog, load_catalog
from tonghop.db import state_row, transaction
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.targets import YearFigures, assess, load_targets
from tonghop.unit_moves import organisation_moves
from tonghop.validate import write_catalog_table

LAYERS = ("staging", "intermediate", "marts")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str

    @property
    def materialized(self) -> str:
        """`table`, or `view` when the file says `-- materialized: view`: a model cheaper to
        recompute where it is read than to write (int_values_grouped, 14.5 million rows at
        60,000 units, of which the trace reads a few)."""
        return "view" if re.search(r"^--\s*materialized:\s*view\b", self.sql, re.M) else "table"

    @property
    def partition(self) -> tuple[str, ...]:
        """The columns of `-- partition: unit_code` (`submission_id`, `sector, form`): the
        model's rows with one value of them depend only on the units with that value (their
        submissions, findings, reviews and corrections) and on the inputs of
        `consolidation_fingerprint`. `run_models` rebuilds only the partitions of the units
        that changed; empty: the model is rebuilt whole every time."""
        found = re.search(r"^--\s*partition:\s*([a-z_, ]+)$", self.sql, re.M)
        return tuple(c.strip() for c in found.group(1).split(",")) if found else ()


# The model whose rows, compared with the last consolidation's, say which units' findings or
# reviews changed: it runs before every partitioned model.
FINDINGS_MODEL = "int_findings_reviewed"

# How the changed values of each partition column follow from the changed units: every
# submission of theirs, and their sector and form in the registry (which is in the
# fingerprint). Filter on the column an inner aggregate groups by, so DuckDB pushes it down to
# the scans: int_values_accepted groups the values by submission_id (unit_code: 1.0 s at 60,000
# units, submission_id: 0.04 s).
PARTITION_KEYS = {
    "unit_code": "select unit_code from _consolidate_units",
    "submission_id": "select submission_id from submissions where unit_code in "
    "(select unit_code from _consolidate_units)",
    "sector": "select sector from registry_units where unit_code in "
    "(select unit_code from _consolidate_units)",
    "form": "select form from registry_units where unit_code in "
    "(select unit_code from _consolidate_units)",
}


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every model file, ordered so each runs after the models it reads."""
    models = {
        path.stem: Model(path.stem, layer, path, path.read_text(encoding="utf-8"))
        for layer in LAYERS
        for path in sorted((sql_dir / layer).glob("*.sql"))
    }
    graph = {
        name: {
            other
            for other in models
            if other != name and re.search(rf"\b{re.escape(other)}\b", _strip_comments(model.sql))
        }
        for name, model in models.items()
    }
    for name, model in models.items():
        unknown = set(model.partition) - set(PARTITION_KEYS)
        if unknown:
            raise ValueError(f"{model.path}: partition by {sorted(unknown)} is not supported")
        if model.partition and FINDINGS_MODEL in models:
            graph[name].add(FINDINGS_MODEL)
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def write_run_periods(con: duckdb.DuckDBPyConnection, period_range: PeriodRange) -> None:
    """The periods the models aggregate: the baseline (ordinal 0) and the range (1..n)."""
    con.execute(
        "create or replace table run_periods (period varchar, period_start date, "
        "period_end date, closes_year boolean, ordinal integer, role varchar)"
    )
    rows = [
        [
            period_range.baseline.code,
            period_range.baseline.start,
            period_range.baseline.end,
            period_range.baseline.closes_year,
            0,
            "baseline",
        ]
    ]
    rows += [
        [p.code, p.start, p.end, p.closes_year, i, "range"]
        for i, p in enumerate(period_range.periods, start=1)
    ]
    con.executemany("insert into run_periods values (?, ?, ?, ?, ?, ?)", rows)


def consolidation_fingerprint(con: duckdb.DuckDBPyConnection, models: list[Model]) -> str:
    """What a partition depends on besides its own units: the models' SQL, the catalog, the
    periods of the run and the registry. Two runs with the same fingerprint compute a unit's
    rows the same way, so the rows of units that did not change can stay."""
    from tonghop.registry import registry_signature

    basis = json.dumps(
        {
            "models": [[m.name, m.materialized, m.partition, m.sql] for m in models],
            "catalog": con.execute("select * from catalog_indicators order by all").fetchall(),
            "periods": con.execute("select * from run_periods order by all").fetchall(),
            "registry": registry_signature(con),
            "duckdb": duckdb.__version__,
        },
        default=str,
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def last_consolidation(con: duckdb.DuckDBPyConnection) -> dict:
    """The last consolidation's fingerprint, time, mode (full, incremental), the number of units
    whose partitions it rebuilt (incremental) and the highest submission `seq` it saw."""
    return state_row(con, "consolidation_state")


def _can_refresh(
    con: duckdb.DuckDBPyConnection, models: list[Model], fingerprint: str, last: dict
) -> bool:
    """Whether the tables hold the last consolidation's (`last`) rows for this fingerprint, so
    that only the partitions of the units that changed since need rebuilding."""
    if last.get("fingerprint") != fingerprint:
        return False
    names = {m.name for m in models if m.partition} | {FINDINGS_MODEL}
    tables = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_name in (select unnest(?::varchar[]))",
            [sorted(names)],
        ).fetchall()
    }
    return tables == names


def _changed_units(con: duckdb.DuckDBPyConnection, seen_seq: int | None) -> int:
    """`_consolidate_units`: the units whose consolidated rows can differ from the last
    consolidation's (which saw submissions up to `seen_seq`): those with a submission received
    since, a finding or review state that changed (`FINDINGS_MODEL` against its copy
    `_consolidate_findings`) or corrections that changed. Their number."""
    con.execute(
        f"""
        create or replace temp table _consolidate_units as
        with findings_changed as (
            (select * from {FINDINGS_MODEL} except all select * from _consolidate_findings)
            union all
            (select * from _consolidate_findings except all select * from {FINDINGS_MODEL})
        ),
        corrections_changed as (
            (select * from _consolidate_corrections
             except all select * from consolidation_corrections)
            union all
            (select * from consolidation_corrections
             except all select * from _consolidate_corrections)
        )
        select unit_code from submissions where seq > ?
        union
        select unit_code from findings_changed where unit_code is not null
        union
        select unit_code from submissions
        where submission_id in (select submission_id from findings_changed)
            or submission_id in (select submission_id from corrections_changed)
        """,
        [-1 if seen_seq is None else seen_seq],
    )
    (count,) = con.execute("select count(*) from _consolidate_units").fetchone()
    return count


def _replace(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    kind = model.materialized
    existing = con.execute(
        "select table_type from information_schema.tables where table_name = ?", [model.name]
    ).fetchone()
    if existing and (existing[0] == "VIEW") != (kind == "view"):
        con.execute(f"drop {'view' if existing[0] == 'VIEW' else 'table'} {model.name}")
    con.execute(f"create or replace {kind} {model.name} as {model.sql}")


# Up to this many changed values of a partition column are written into the statements as
# literals, which DuckDB pushes down to the scans of the model's inputs; a join on a table of
# keys is not pushed through every aggregate (measured at 60,000 units: 0.35 s against 0.05 s
# for the cells of one sector and form).
LITERAL_KEYS_MAX = 1000


def _sql_literal(value: object) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


def _key_condition(con: duckdb.DuckDBPyConnection, column: str) -> str:
    """`column` within its changed values (`PARTITION_KEYS`): literals, or the subquery when
    there are more than LITERAL_KEYS_MAX of them."""
    keys = PARTITION_KEYS[column]
    values = [v for (v,) in con.execute(f"select distinct * from ({keys}) order by 1").fetchall()]
    if len(values) > LITERAL_KEYS_MAX:
        return f"{column} in ({keys})"
    return f"{column} in ({', '.join(map(_sql_literal, values))})"


def _refresh(con: duckdb.DuckDBPyConnection, model: Model, conditions: dict[str, str]) -> None:
    """Delete the model's rows of the changed partitions and insert them computed again. One
    condition selects both, so a row is either kept or replaced, never doubled: each partition
    column within its changed values (with two columns a superset of the changed pairs, which
    only recomputes a few more rows). `conditions`: each column's, made once a run."""
    for column in model.partition:
        if column not in conditions:
            conditions[column] = _key_condition(con, column)
    where = " and ".join(conditions[c] for c in model.partition)
    con.execute(f"delete from {model.name} where {where}")
    con.execute(f"insert into {model.name} by name select * from ({model.sql}) where {where}")


# Above this share of the registry's units changed, rebuilding whole is faster than deleting and
# inserting their rows (60,000 units: 6,000 changed 1.9–2.7 s, 30,000 changed 6.1 s, whole 5.1 s).
REFRESH_MAX_SHARE = 0.25


def run_models(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    period_range: PeriodRange,
    sql_dir: Path = SQL_DIR,
    incremental: bool = True,
) -> list[str]:
    """Rebuild every model as a table (or a view, `Model.materialized`), in one transaction;
    return their names in run order.

    Incremental where it can be (`incremental`, and the last consolidation had the same
    `consolidation_fingerprint`): a partitioned model (`Model.partition`) keeps the rows of the
    units that did not change and rebuilds those of the units that did (`_changed_units`), unless
    they are more than `REFRESH_MAX_SHARE` of the registry. The other models read only small
    tables and are rebuilt whole."""
    models = discover_models(sql_dir)
    with transaction(con):
        write_catalog_table(con, catalog)
        write_run_periods(con, period_range)
        fingerprint = consolidation_fingerprint(con, models)
        last = last_consolidation(con)
        refresh = incremental and _can_refresh(con, models, fingerprint, last)
        if refresh:
            con.execute(
                f"create or replace temp table _consolidate_findings as "
                f"select * from {FINDINGS_MODEL}"
            )
        con.execute(
            "create or replace temp table _consolidate_corrections as "
            "select submission_id, count(*) as corrections, max(seq) as last_seq "
            "from value_corrections group by submission_id"
        )
        (seq,) = con.execute("select max(seq) from submissions").fetchone()
        units = None
        conditions: dict[str, str] = {}
        for model in models:
            if refresh and model.partition and units is None:
                units = _changed_units(con, last["max_seq"])
                (registered,) = con.execute("select count(*) from registry_units").fetchone()
                if units > REFRESH_MAX_SHARE * registered:
                    refresh, units = False, None
            if refresh and model.partition:
                if units:
                    _refresh(con, model, conditions)
            else:
                _replace(con, model)
        if not (refresh and units == 0):  # a model's rows changed: the kept trace is stale
            con.execute("delete from trace_state")
        con.execute("delete from consolidation_corrections")
        con.execute("insert into consolidation_corrections select * from _consolidate_corrections")
        con.execute("delete from consolidation_state")
        con.execute(
            "insert into consolidation_state values (?, now(), ?, ?, ?)",
            [fingerprint, "incremental" if refresh else "full", units, seq],
        )
        for temp in ("_consolidate_findings", "_consolidate_units", "_consolidate_corrections"):
            con.execute(f"drop table if exists {temp}")
    return [m.name for m in models]


def _measures(con: duckdb.DuckDBPyConnection, group_type: str, group_value: str) -> dict:
    rows = con.execute(
        "select measure, indicator_code, value from rpt_term__indicators "
        "where group_type = ? and group_value = ?",
        [group_type, group_value],
    ).fetchall()
    out: dict[str, dict[str, float]] = {"start": {}, "cutoff": {}, "term": {}}
    for measure, code, value in rows:
        out[measure][code] = value
    return out


def year_figures(
    con: duckdb.DuckDBPyConnection, period_range: PeriodRange, group: tuple[str, str]
) -> list[YearFigures]:
    """Each calendar year of the range for one group, from `rpt_year__indicators`."""
    months: dict[int, int] = {}
    for p in period_range.periods:
        months[p.end.year] = months.get(p.end.year, 0) + p.months
    years = {
        int(period): YearFigures(int(period), months.get(int(period), 0), status == "closed")
        for period, status in con.execute(
            "select distinct period, status from rpt_year__indicators order by period"
        ).fetchall()
    }
    rows = con.execute(
        "select period, indicator_code, measure, value, units_reporting "
        "from rpt_year__indicators where group_type = ? and group_value = ?",
        list(group),
    ).fetchall()
    for period, code, measure, value, units in rows:
        year = years[int(period)]
        if measure == "units_positive":
            year.units_positive[code] = value
        else:
            year.values[code] = None if value is None else float(value)
            year.units[code] = units
    return sorted(years.values(), key=lambda y: y.year)


def report_context(con: duckdb.DuckDBPyConnection, period_range: PeriodRange) -> dict:
    """Everything the report templates need, read from the marts (figures only, no wording)."""
    units = {
        row[0]: dict(zip([d[0] for d in con.description], row, strict=True))
        for row in con.execute("select * from rpt_term__units").fetchall()
    }
    bloc = _measures(con, "bloc", "bloc")

    def snapshot(measure: str) -> dict:
        counts = units.get(measure, {})
        stocks = bloc[measure]
        return {
            "units": counts.get("units"),
            "dang_bo": counts.get("dang_bo"),
            "chi_bo": counts.get("chi_bo"),
            "sectors": {s: counts.get(s) for s in SECTORS},
            "branches": stocks.get("branches_total"),
            "members": stocks.get("members_total"),
            "indicators": stocks,
        }

    # Counted in DuckDB: the units included (60,000 rows a period at national scale) only
    # need counting; the units missing or blocked are listed by name.
    last = period_range.last.code
    expected_at_cutoff, included_at_cutoff, expected_units, fully_included = con.execute(
        "select count(distinct unit_code) filter (where period = $last), "
        "count(distinct unit_code) filter (where period = $last and status = 'included'), "
        "count(distinct unit_code), "
        "count(distinct unit_code) - count(distinct unit_code) filter (where status <> 'included') "
        "from rpt_coverage__units where form in (select unnest($forms::varchar[]))",
        {"last": last, "forms": list(FORMS)},
    ).fetchone()
    missing: dict[str, dict] = {}
    blocked: dict[str, dict] = {}
    for code, name, period, status, rules in con.execute(
        "select unit_code, name, period, status, error_rules from rpt_coverage__units "
        "where status <> 'included' order by unit_code, ordinal"
    ).fetchall():
        if status == "missing":
            missing.setdefault(code, {"unit_code": code, "name": name, "periods": []})[
                "periods"
            ].append(period)
        elif status == "blocked":
            entry = blocked.setdefault(
                code, {"unit_code": code, "name": name, "periods": [], "rules": []}
            )
            entry["periods"].append(period)
            entry["rules"] = sorted(set(entry["rules"]) | set(rules))
    years = year_figures(con, period_range, ("bloc", "bloc"))
    targets = load_targets()
    sectors = {
        s: _measures(con, "sector", s) | {"units": {m: units.get(m, {}).get(s) for m in units}}
        for s in SECTORS
    }
    return {
        "period": {
            "code": period_range.code,
            "first": period_range.first.code,
            "last": last,
            "baseline": period_range.baseline.code,
        },
        "start": snapshot("start"),
        "cutoff": snapshot("cutoff"),
        "term": bloc["term"],
        "sectors": sectors,
        "years": [vars(y) for y in years],
        "targets": assess(targets, years, load_catalog()),
        "admission": {"target_per_year": targets.condition(targets.admission_target).threshold},
        "moves": organisation_moves(con),
        "coverage": {
            "units_expected": expected_at_cutoff,
            "units_included": included_at_cutoff,
            "units_expected_any_period": expected_units,
            "fully_included": fully_included,
            "missing": list(missing.values()),
            "blocked": list(blocked.values()),
            "rejected_files": 0,
        },
    }
