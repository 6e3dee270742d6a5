"""Consolidate: build the dbt project of `sql/` on the workspace's file and read the marts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from tonghop.catalog import FORMS, SECTORS, Catalog, load_catalog
from tonghop.db import state_row, transaction
from tonghop.dbt_runner import NodeResult, project_signature, run_dbt
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.targets import YearFigures, assess, load_targets
from tonghop.unit_moves import organisation_moves
from tonghop.validate import write_catalog_table

# The reviewed findings each consolidation saw (the columns of int_findings_reviewed): the next
# one compares them with the current ones to find the units whose rows to rebuild
# (int_units_changed).
CONSOLIDATION_FINDINGS = """
create table if not exists consolidation_findings (
    finding_key varchar, unit_code varchar, period varchar, submission_id varchar,
    rule_id varchar, kind varchar, severity varchar, review_state varchar,
    reviewed_at timestamp, pending boolean
)
"""

# What an incremental consolidation leaves as the last one created it: the views, whose SQL is in
# the fingerprint and which hold no rows. Every table is written again (the incremental ones for
# the changed units only): the marts always hold what the models compute.
UNCHANGED_WHEN_INCREMENTAL = "config.materialized:view"

# What a consolidation stopped half-way leaves in `consolidation_state.fingerprint`: no
# fingerprint matches it, so the next consolidation builds everything again.
UNFINISHED = "unfinished"


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


def consolidation_fingerprint(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> str:
    """What a unit's rows depend on besides its own submissions, findings and corrections: the
    dbt project, the catalog, the periods of the run and the registry. Two runs with the same
    fingerprint compute a unit's rows the same way, so the incremental models can keep the rows
    of the units that did not change."""
    import dbt.version

    from tonghop.registry import registry_signature

    basis = json.dumps(
        {
            "project": project_signature(sql_dir),
            "catalog": con.execute("select * from catalog_indicators order by all").fetchall(),
            "periods": con.execute("select * from run_periods order by all").fetchall(),
            "registry": registry_signature(con),
            "duckdb": duckdb.__version__,
            "dbt": dbt.version.__version__,
        },
        default=str,
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def last_consolidation(con: duckdb.DuckDBPyConnection) -> dict:
    """The last consolidation's fingerprint, time, mode (full, incremental), the number of units
    whose rows it rebuilt (incremental) and the highest submission `seq` it saw."""
    return state_row(con, "consolidation_state")


def database_file(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the connection's database (a workspace's tonghop.duckdb)."""
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    if not path:
        raise ValueError("dbt cần một tệp DuckDB, không phải cơ sở dữ liệu trong bộ nhớ")
    return Path(path)


def connection_config(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The configuration the connection's DuckDB instance was opened with that a second
    connection to the file in this process must repeat (tonghop.db opens every one with
    duckdb_engine's user agent)."""
    (agent,) = con.execute("select current_setting('custom_user_agent')").fetchone()
    return {"custom_user_agent": agent}


def run_models(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    period_range: PeriodRange,
    sql_dir: Path = SQL_DIR,
    incremental: bool = True,
    on_model: Callable[[NodeResult], None] | None = None,
) -> list[NodeResult]:
    """Build every model of the dbt project (`dbt run`) on the connection's file; each model's
    result, in the order they were built (`on_model` is called as each one finishes).

    Incremental where it can be (`incremental`, and the last consolidation finished with the
    same `consolidation_fingerprint`): the incremental models rebuild only the rows of the units
    in int_units_changed, the other tables are rebuilt whole and the views are left as they
    are (`UNCHANGED_WHEN_INCREMENTAL`). Otherwise dbt runs with
    `--full-refresh`. dbt opens its own connection to the file, in this process and with the
    same configuration (tonghop.db), so it shares this connection's DuckDB instance; this
    connection holds no transaction while dbt runs. A model that fails stops the run with
    DbtRunError and leaves the state marked unfinished, so the next consolidation is full.
    """
    database = database_file(con)
    with transaction(con):
        write_catalog_table(con, catalog)
        write_run_periods(con, period_range)
        con.execute(CONSOLIDATION_FINDINGS)
        fingerprint = consolidation_fingerprint(con, sql_dir)
        last = last_consolidation(con)
        full = not incremental or last.get("fingerprint") != fingerprint
        (seq,) = con.execute("select max(seq) from submissions").fetchone()
        con.execute("update consolidation_state set fingerprint = ?", [UNFINISHED])
    results = run_dbt(
        "run",
        database,
        database.parent / "dbt",
        project_dir=sql_dir,
        connection_config=connection_config(con),
        full_refresh=full,
        exclude=None if full else UNCHANGED_WHEN_INCREMENTAL,
        on_node=on_model,
    )
    with transaction(con):
        units = None
        if not full:
            (units,) = con.execute("select count(*) from int_units_changed").fetchone()
        if units != 0:  # a model's rows changed: the kept trace is stale
            con.execute("delete from trace_state")
        con.execute("delete from consolidation_findings")
        con.execute("insert into consolidation_findings select * from int_findings_reviewed")
        con.execute("delete from consolidation_corrections")
        con.execute(
            "insert into consolidation_corrections "
            "select submission_id, count(*), max(seq) from value_corrections group by all"
        )
        con.execute("delete from consolidation_state")
        con.execute(
            "insert into consolidation_state values (?, now(), ?, ?, ?)",
            [fingerprint, "full" if full else "incremental", units, seq],
        )
    return results


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

    # Counted in DuckDB: the units included (tens of thousands a period at national scale) only
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
