"""Consolidate: run the SQL models of `sql/` in dependency order and read the marts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from tonghop.catalog import FORMS, SECTORS, Catalog, load_catalog
from tonghop.db import transaction
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.targets import YearFigures, assess, load_targets
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


def run_models(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    period_range: PeriodRange,
    sql_dir: Path = SQL_DIR,
) -> list[str]:
    """Rebuild every model as a table (or a view, `Model.materialized`), in one transaction;
    return their names in run order."""
    models = discover_models(sql_dir)
    with transaction(con):
        write_catalog_table(con, catalog)
        write_run_periods(con, period_range)
        for model in models:
            kind = model.materialized
            existing = con.execute(
                "select table_type from information_schema.tables where table_name = ?",
                [model.name],
            ).fetchone()
            if existing and (existing[0] == "VIEW") != (kind == "view"):
                con.execute(f"drop {'view' if existing[0] == 'VIEW' else 'table'} {model.name}")
            con.execute(f"create or replace {kind} {model.name} as {model.sql}")
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

    coverage_rows = con.execute(
        "select unit_code, name, period, status, error_rules, form from rpt_coverage__units "
        "order by unit_code, ordinal"
    ).fetchall()
    tccsd = {r[0] for r in coverage_rows if r[5] in FORMS}
    expected_units = {r[0] for r in coverage_rows} & tccsd
    missing: dict[str, dict] = {}
    blocked: dict[str, dict] = {}
    for code, name, period, status, rules, _ in coverage_rows:
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
    last = period_range.last.code
    included_at_cutoff = {
        r[0] for r in coverage_rows if r[2] == last and r[3] == "included" and r[0] in tccsd
    }
    expected_at_cutoff = {r[0] for r in coverage_rows if r[2] == last and r[0] in tccsd}
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
        "coverage": {
            "units_expected": len(expected_at_cutoff),
            "units_included": len(included_at_cutoff),
            "units_expected_any_period": len(expected_units),
            "fully_included": len(expected_units - set(missing) - set(blocked)),
            "missing": list(missing.values()),
            "blocked": list(blocked.values()),
            "rejected_files": 0,
        },
    }
