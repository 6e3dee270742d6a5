"""Rules on the consolidated level: the marts must add up and match the registry.

Run after the SQL models (`flows/run.py`, task `check_consolidated`). Two kinds of guard, both
as data in the `consolidated:` section of `expectations/rules.yaml`, compiled here into queries
that return failing rows and run through Great Expectations on DuckDB like every other rule:

- the bloc total of each summable indicator equals the sum over sectors and the sum over forms
  (frame `val_cons_totals`, from `rpt_period__indicators`);
- the registry's unit counts equal the reported ones: per period of the range, the units active
  in the registry equal the coverage rows, included + blocked + missing, and the units with a
  current submission + missing (frame `val_cons_units`, from `rpt_coverage__units`); at the
  start and the cut-off, `rpt_term__units` equals the registry's active TCCSĐ and its split by
  form and by sector adds up (frame `val_cons_term`).

The frames are computed from the raw registry and submissions, not from the models they check.
Findings have no unit (`unit_code` null), kind `consolidated`, and replace only their own kind.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tonghop.catalog import FORM_LABELS, FORMS, SECTOR_LABELS, SECTORS, Catalog
from tonghop.db import open_db
from tonghop.rules import CompiledRule, RuleSet, load_rules
from tonghop.validate import (
    CONSOLIDATED_KIND,
    Finding,
    build_findings,
    run_expectations,
    store_consolidated_findings,
    write_catalog_table,
)

TOTALS = "val_cons_totals"  # period × summable indicator: bloc total, sums by sector and form
UNITS = "val_cons_units"  # period of the range: registry units beside the coverage statuses
TERM = "val_cons_term"  # start / cutoff: rpt_term__units beside the registry
SUMMABLE = ("sum", "count_true", "distribution")
ID_PREFIX = "consolidated_"

_KEYS = "null::varchar as unit_code, period, null::varchar as submission_id, "
_KEYS += "null::varchar as file_name"

_CHECKS: dict[str, tuple[str, str]] = {
    "sectors_sum_to_bloc": (
        TOTALS,
        f"select {_KEYS}, location, code, indicator_label, bloc_value, sector_sum, sectors, "
        "bloc_value as v_bloc, sector_sum as v_sectors from {batch} "
        "where abs(bloc_value - sector_sum) > tolerance + 1e-9",
    ),
    "forms_sum_to_bloc": (
        TOTALS,
        f"select {_KEYS}, location, code, indicator_label, bloc_value, form_sum, forms, "
        "bloc_value as v_bloc, form_sum as v_forms from {batch} "
        "where abs(bloc_value - form_sum) > tolerance + 1e-9",
    ),
    "coverage_adds_up": (
        UNITS,
        f"select {_KEYS}, null as location, registry_units, coverage_rows, included, blocked, "
        "missing, submitted, registry_units as v_registry_units, "
        "included + blocked + missing as v_coverage from {batch} "
        "where registry_units <> coverage_rows "
        "or coverage_rows <> included + blocked + missing "
        "or registry_units <> submitted + missing",
    ),
    "term_units_registry": (
        TERM,
        f"select {_KEYS}, measure as location, measure_label, snapshot_day, term_units, "
        "registry_tccs, term_units as v_term_units, registry_tccs as v_registry_tccs "
        "from {batch} where term_units <> registry_tccs",
    ),
    "term_units_parts": (
        TERM,
        f"select {_KEYS}, measure as location, measure_label, term_units, term_form_sum, "
        "term_sector_sum, term_units as v_term_units from {batch} "
        "where term_units <> term_form_sum or term_units <> term_sector_sum",
    ),
}


def compile_consolidated(ruleset: RuleSet | None = None) -> list[CompiledRule]:
    """The `consolidated:` rules of rules.yaml as queries over the consolidated frames."""
    ruleset = ruleset or load_rules()
    compiled = []
    for rule in ruleset.consolidated:
        if not rule.id.startswith(ID_PREFIX):
            raise ValueError(f"consolidated rule {rule.id}: its id must start {ID_PREFIX!r}")
        if rule.check not in _CHECKS:
            raise ValueError(f"consolidated rule {rule.id}: no check {rule.check!r}")
        frame, query = _CHECKS[rule.check]
        compiled.append(
            CompiledRule(rule.id, CONSOLIDATED_KIND, rule.severity, frame, query, rule.message, ())
        )
    return compiled


def _labels(pairs: dict[str, str]) -> str:
    return ", ".join(f"('{k}', '{v}')" for k, v in pairs.items())


def prepare_frames(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Build the consolidated frames from the marts of the last `run_models` (and the registry)."""
    write_catalog_table(con, catalog)
    labels = _labels({**SECTOR_LABELS, **FORM_LABELS})
    summable = ", ".join(f"'{a}'" for a in SUMMABLE)
    con.execute(
        f"""
        create or replace table {TOTALS} as
        with labels(code, label) as (values {labels}),
        r as (
            select r.period, r.indicator_code, c.code, c.label, c.decimals,
                c.unit_aggregation, r.group_type, r.group_value, r.value,
                coalesce(l.label, r.group_value) as group_label,
                case when r.value = floor(r.value) then cast(cast(r.value as bigint) as varchar)
                    else replace(cast(r.value as varchar), '.', ',') end as shown
            from rpt_period__indicators r
            join catalog_indicators c on c.code = split_part(r.indicator_code, '__', 1)
            left join labels l on l.code = r.group_value
            where c.unit_aggregation in ({summable})
        )
        select {_KEYS}, indicator_code as location, any_value(code) as code,
            any_value(label) || case when any_value(unit_aggregation) = 'distribution'
                then ' (mức ' || split_part(indicator_code, '__', 2) || ')' else '' end
                as indicator_label,
            coalesce(sum(value) filter (where group_type = 'bloc'), 0) as bloc_value,
            coalesce(sum(value) filter (where group_type = 'sector'), 0) as sector_sum,
            coalesce(sum(value) filter (where group_type = 'form'), 0) as form_sum,
            string_agg(group_label || ' ' || shown, ', ' order by group_value)
                filter (where group_type = 'sector') as sectors,
            string_agg(group_label || ' ' || shown, ', ' order by group_value)
                filter (where group_type = 'form') as forms,
            case when any_value(decimals) > 0 then 0.5 * pow(10, -any_value(decimals)) else 0 end
                as tolerance
        from r
        group by period, indicator_code
        """
    )
    active = "u.valid_from <= {day} and (u.valid_to is null or u.valid_to >= {day})"
    con.execute(
        f"""
        create or replace table {UNITS} as
        with periods as (select * from run_periods where role = 'range'),
        registry as (
            select p.period, count(u.unit_code) as registry_units
            from periods p
            left join registry_units u on {active.format(day="p.period_end")}
            group by p.period
        ),
        coverage as (
            select period, count(*) as coverage_rows,
                count(*) filter (where status = 'included') as included,
                count(*) filter (where status = 'blocked') as blocked,
                count(*) filter (where status = 'missing') as missing
            from rpt_coverage__units group by period
        ),
        current as (
            select unit_code, period from submissions
            qualify row_number() over (partition by unit_code, period order by seq desc) = 1
        ),
        submitted as (
            select p.period, count(distinct c.unit_code) as submitted
            from periods p
            join current c using (period)
            join registry_units u
                on u.unit_code = c.unit_code and {active.format(day="p.period_end")}
            group by p.period
        )
        select {_KEYS}, p.ordinal, r.registry_units,
            coalesce(c.coverage_rows, 0) as coverage_rows, coalesce(c.included, 0) as included,
            coalesce(c.blocked, 0) as blocked, coalesce(c.missing, 0) as missing,
            coalesce(s.submitted, 0) as submitted
        from periods p
        join registry r using (period)
        left join coverage c using (period)
        left join submitted s using (period)
        """
    )
    tccs = ", ".join(f"'{f}'" for f in FORMS)
    form_sum = " + ".join(f"coalesce(t.{f}, 0)" for f in FORMS)
    sector_sum = " + ".join(f"coalesce(t.{s}, 0)" for s in SECTORS)
    con.execute(
        f"""
        create or replace table {TERM} as
        with periods as (select * from run_periods where role = 'range'),
        snapshots as (
            select 'start' as measure, 'đầu nhiệm kỳ' as measure_label,
                cast(min(period_start) - interval 1 day as date) as snapshot_day,
                (select period from run_periods where role = 'baseline') as period
            from periods
            union all
            select 'cutoff', 'thời điểm chốt số liệu', max(period_end),
                arg_max(period, ordinal)
            from periods
        ),
        registry as (
            select d.measure, count(u.unit_code) as registry_tccs
            from snapshots d
            left join registry_units u
                on u.form in ({tccs}) and {active.format(day="d.snapshot_day")}
            group by d.measure
        )
        select {_KEYS}, d.measure, d.measure_label, d.snapshot_day,
            r.registry_tccs, coalesce(t.units, 0) as term_units,
            {form_sum} as term_form_sum, {sector_sum} as term_sector_sum
        from snapshots d
        join registry r using (measure)
        left join rpt_term__units t using (measure)
        """
    )


def check(
    workspace: Path, catalog: Catalog, run_id: str, docs_dir: Path | None = None
) -> list[Finding]:
    """Run the consolidated rules on the workspace's marts; store and return their findings."""
    rules = compile_consolidated()
    if not rules:
        return []
    with open_db(workspace) as con:
        prepare_frames(con, catalog)
    failing = run_expectations(workspace, rules, docs_dir)
    findings = build_findings(rules, failing, catalog, {})
    with open_db(workspace) as con:
        store_consolidated_findings(con, findings, run_id)
    return findings
