"""Validate: build the validation frames in DuckDB, run the rules through Great Expectations,
turn failing rows into findings a steward can read."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tonghop.catalog import FORM_LABELS, SECTOR_LABELS, Catalog
from tonghop.db import (
    FORMER_FRAME_TABLES,
    attach_frames,
    db_path,
    detach_frames,
    insert_rows,
    state_row,
    transaction,
)
from tonghop.formatting import so
from tonghop.periods import Period, PeriodError
from tonghop.rules import (
    LONG,
    WIDE,
    CompiledRule,
    RuleSet,
    compile_rules,
    fused_query,
    load_rules,
    q,
)

_PERIOD_SQL_RE = r"^\d{4}(-H[12]|-Q[1-4])?$"
DATA_DOCS_SITE = "tonghop"
CONSOLIDATED_KIND = "consolidated"  # findings of the consolidated level (tonghop.consolidated)
# Each indicator's bit in the masks that find the submissions which may hold a code twice
# (more values than distinct bits): its place in the catalog modulo this (a HUGEINT's positive
# bits). Past 127 indicators two codes share a bit, which only makes more submissions looked at.
MASK_PLACES = 127


@dataclass
class Finding:
    """One rule failed for one unit and period (SPEC §3, §4.5)."""

    unit_code: str | None
    period: str | None
    rule_id: str
    kind: str
    severity: str
    message: str
    indicators: list[str]
    values: dict[str, Any]
    submission_id: str | None = None
    file: str | None = None
    location: str | None = None
    suspect: str | None = None
    suggested_value: float | None = None
    unit_name: str | None = None
    finding_key: str = field(default="")

    def __post_init__(self) -> None:
        if not self.finding_key:
            basis = f"{self.rule_id}|{self.unit_code}|{self.period}|{self.submission_id}|"
            basis += ",".join(self.indicators) + "|" + (self.location or "")
            self.finding_key = hashlib.sha256(basis.encode()).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_catalog_table(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Mirror the catalog into DuckDB (`catalog_indicators`) for the queries that join on it."""
    con.execute(
        "create or replace table catalog_indicators (code varchar primary key, label varchar, "
        "value_type varchar, decimals integer, time_aggregation varchar, unit_aggregation varchar, "
        "required boolean, annual boolean, sectors varchar[], forms varchar[], "
        "numerator varchar[], denominator varchar[], weight varchar, applies varchar, "
        "place integer)"
    )
    rows = []
    for index, ind in enumerate(catalog):
        scope = ind.applies_to
        applies = "; ".join(
            part
            for part in [
                ", ".join(SECTOR_LABELS[s] for s in scope.sectors) if scope.sectors else "",
                ", ".join(FORM_LABELS[f] for f in scope.forms) if scope.forms else "",
            ]
            if part
        )
        rows.append(
            [
                ind.code,
                ind.label,
                ind.value_type,
                ind.decimals,
                ind.time_aggregation,
                ind.unit_aggregation,
                ind.required,
                ind.annual,
                scope.sectors,
                scope.forms,
                ind.numerator,
                ind.denominator,
                ind.weight,
                f"chỉ áp dụng cho {applies}",
                index % MASK_PLACES,
            ]
        )
    insert_rows(con, "catalog_indicators", rows)


def write_period_table(con: duckdb.DuckDBPyConnection, periods: list[Period], table: str) -> None:
    con.execute(
        f"create or replace table {table} (period varchar, period_start date, period_end date, "
        "closes_year boolean, ordinal integer)"
    )
    con.executemany(
        f"insert into {table} values (?, ?, ?, ?, ?)",
        [[p.code, p.start, p.end, p.closes_year, i] for i, p in enumerate(periods)],
    )


def prepare_frames(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    expected_periods: list[Period],
    extra_periods: list[Period],
    batch_id: str | None,
    units: list[str] | None = None,
    min_history: int = 1,
) -> None:
    """Build the frames the rules read: current submissions of the periods in scope.

    `expected_periods`: every active unit must have submitted (the range). `extra_periods`:
    validated when present (the baseline). Submissions with a malformed period are taken from
    the latest batch so they are reported once, when they arrive. With `units`, only those
    units' submissions, expectations and history (an incremental validation). `val_history`
    holds the histories of at least `min_history` past periods.

    The frames are tables (the long one a view) of the in-memory database `frames`
    (`tonghop.db.attach_frames`): they last while a connection to the workspace stays open in
    this process.
    """
    attach_frames(con)
    for table in FORMER_FRAME_TABLES:
        con.execute(f"drop table if exists main.{table}")
    write_catalog_table(con, catalog)
    con.execute("create or replace table frames.val_scope_units (unit_code varchar primary key)")
    if units is not None:
        insert_rows(con, "frames.val_scope_units", [[u] for u in sorted(set(units))])
    in_scope = (
        "" if units is None else " and {col} in (select unit_code from frames.val_scope_units)"
    )
    write_period_table(con, expected_periods + extra_periods, "frames.val_periods")
    write_period_table(con, expected_periods, "frames.val_expected_periods")
    con.execute(
        f"""
        create or replace table frames.val_submissions as
        with ranked as (
            select s.*,
                row_number() over (partition by unit_code, period order by seq desc) as recency,
                count(distinct sha256) over (partition by unit_code, period, batch_id)
                    as same_batch_files,
                string_agg(original_name, ', ' order by original_name)
                    over (partition by unit_code, period, batch_id) as same_batch_names
            from submissions s
            -- the windows partition by unit: the units in scope first (120,000 rows at
            -- 60,000 units cost 0.4 s)
            where true{in_scope.format(col="s.unit_code")}
        )
        select r.submission_id, r.sha256, r.unit_code, r.period, r.original_name as file_name,
            r.batch_id, r.same_batch_files as batch_file_count,
            r.same_batch_names as batch_files,
            regexp_full_match(r.period, '{_PERIOD_SQL_RE}') as period_ok,
            u.unit_code is not null as known_unit, u.name as unit_name, u.sector, u.form,
            u.valid_from, u.valid_to, p.closes_year,
            coalesce(u.valid_from <= p.period_end
                and (u.valid_to is null or u.valid_to >= p.period_end), false) as active
        from ranked r
        left join registry_units u using (unit_code)
        left join frames.val_periods p using (period)
        where r.recency = 1
            and (p.period is not null or (not regexp_full_match(r.period, '{_PERIOD_SQL_RE}')
                 and r.batch_id = ?))
        """,
        [batch_id or ""],
    )
    # A view, not a table: each rule group that reads the long frame joins the values it needs
    # as it runs, where a table copied all 4.9 million values at 60,000 units first (a full
    # validation 7.2 -> 6.8 s, medians of 4 alternating; an incremental one ~0.1 s slower).
    con.execute(
        f"""
        create or replace view {LONG} as
        select s.submission_id, s.unit_code, s.period, s.file_name, s.sector, s.form,
            s.known_unit, v.indicator_code, v.raw_value, v.value, v.location,
            c.code is not null as known_indicator
        from frames.val_submissions s
        join submitted_values v using (submission_id)
        left join catalog_indicators c on c.code = v.indicator_code
        """
    )
    _prepare_current_frames(con, catalog, in_scope.format(col="s.unit_code"))
    # How many decimals each rate was written with: the rates' values alone are read again.
    rates = [ind.code for ind in catalog if ind.is_rate]
    decimal_columns = "".join(
        f", max(length(split_part(v.raw_value, '.', 2))) filter "
        f"(where v.indicator_code = '{code}' and v.value is not null) as {q(code + '__decimals')}"
        for code in rates
    )
    decimals = f"""
        left join (
            select v.submission_id{decimal_columns}
            from submitted_values v
            where v.indicator_code in ({", ".join(f"'{code}'" for code in rates)})
                and v.submission_id in (select submission_id from frames.val_submissions)
            group by v.submission_id
        ) d using (submission_id)"""
    con.execute(
        f"""
        create or replace table {WIDE} as
        select s.*, {", ".join(f"x.{q(ind.code)}" for ind in catalog)}
            {"".join(f", d.{q(code + '__decimals')}" for code in rates)}
        from frames.val_submissions s
        left join frames.val_current_wide x using (submission_id)
        {decimals if rates else ""}
        """
    )
    con.execute(
        f"""
        create or replace table frames.val_expected as
        select u.unit_code, p.period
        from registry_units u
        cross join frames.val_expected_periods p
        where u.valid_from <= p.period_end and (u.valid_to is null or u.valid_to >= p.period_end)
            {in_scope.format(col="u.unit_code")}
        """
    )
    con.execute(
        """
        create or replace table frames.val_sightings as
        select distinct f.sha256, f.source_name
        from file_sightings f
        where f.batch_id = ?
        """,
        [batch_id or ""],
    )
    _prepare_history_frames(con, catalog, min_history)


def _prepare_current_frames(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, in_scope: str
) -> None:
    """The current submission (highest `seq`) of every unit in scope and every period
    received, in scope or not (`val_current_submissions`), and its numbers pivoted, one column
    per indicator (`val_current_wide`: a row for each of those submissions that holds a number,
    of whatever indicator).

    The wide frame and the frames that look beyond the period all read these: the values are
    pivoted once (at 60,000 units a long table of 4.9 million current values took 2.5 s).
    """
    periods = []
    for (code,) in con.execute("select distinct period from submissions").fetchall():
        try:
            period = Period.parse(code)
        except PeriodError:
            continue
        index = period.year * (12 // period.months) + period.n - 1
        periods.append([code, period.kind, period.year, index])
    con.execute(
        "create or replace table frames.val_period_index "
        "(period varchar, kind varchar, year integer, idx integer)"
    )
    insert_rows(con, "frames.val_period_index", periods)
    # a malformed period has no kind or index: its submission is pivoted for the wide frame
    # and never met by the frames that look back
    con.execute(
        f"""
        create or replace table frames.val_current_submissions as
        select submission_id, unit_code, period, kind, year, idx
        from (
            select s.submission_id, s.unit_code, s.period, i.kind, i.year, i.idx,
                row_number() over (partition by s.unit_code, s.period order by s.seq desc) as r
            from submissions s left join frames.val_period_index i using (period)
            where true{in_scope}
        )
        where r = 1
        """
    )
    # The codes as an enum: each value's code is looked up once, as a small integer.
    codes = ", ".join(f"'{ind.code}'" for ind in catalog)
    con.execute(f"create or replace type frames.indicator_code as enum ({codes})")
    # Each submission's numbers gathered as two lists (codes, values), each column then the
    # value at its code's position: at 60,000 units 0.28 s against 0.85 s for one filtered
    # max() per indicator, which tests every value against each code. That holds where a
    # submission has each code once; those that may not (more values than distinct bits of
    # their codes, `MASK_PLACES`: a code written twice, one outside the catalog) take the
    # filtered max() as before, so a code written twice keeps its largest value. The enum's
    # positions are the catalog's: each code's bit is its `catalog_indicators.place`.
    at_position = ", ".join(
        f"vals[list_position(codes, {i})] as {q(ind.code)}" for i, ind in enumerate(catalog)
    )
    filtered_max = ", ".join(
        f"max(value) filter (where code = {i}) as {q(ind.code)}" for i, ind in enumerate(catalog)
    )
    con.execute(
        f"""
        create or replace table frames.val_current_wide as
        with numbers as not materialized (
            select v.submission_id, v.value,
                enum_code(try_cast(v.indicator_code as frames.indicator_code))::integer as code
            from submitted_values v
            where v.value is not null
                and v.submission_id in (select submission_id from frames.val_current_submissions)
        ),
        gathered as (
            select submission_id, list(code) as codes, list(value) as vals,
                count(*) > coalesce(
                    bit_count(bit_or(1::hugeint << (code % {MASK_PLACES})::hugeint)), 0
                ) as repeats
            from numbers
            group by submission_id
        ),
        -- A submission whose only numbers are of unknown indicators keeps its row (its codes
        -- null, every column empty).
        wide as (
            select submission_id, {at_position}
            from gathered
            where not repeats
            union all
            select submission_id, {filtered_max}
            from numbers
            where submission_id in (select submission_id from gathered where repeats)
            group by submission_id
        )
        select c.*, x.* exclude (submission_id)
        from frames.val_current_submissions c
        join wide x using (submission_id)
        """
    )


def _prepare_history_frames(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, min_history: int
) -> None:
    """Frames that look beyond the period: previous period, calendar year, past periods.

    Each reads the current submissions of the unit (`_prepare_current_frames`) that hold a
    number: `val_previous` (one row per submission in scope: the unit's values of the period
    before, same length), `val_year` (its flows summed over the calendar year's periods of the
    same length), `val_history` (per submission in scope and indicator with at least
    `min_history` past periods: how many, their median and median absolute deviation).
    """
    scoped = """
        from frames.val_submissions w
        join frames.val_period_index i using (period)
        join frames.val_current_wide c on c.unit_code = w.unit_code and c.kind = i.kind
    """
    con.execute(
        f"""
        create or replace table frames.val_previous as
        select w.submission_id, c.submission_id as previous_submission_id,
            c.period as previous_period, {", ".join(f"c.{q(ind.code)}" for ind in catalog)}
        {scoped} and c.idx = i.idx - 1
        """
    )
    year_columns = ",\n".join(
        f"sum(c.{q(ind.code)}) as {q(ind.code)}"
        for ind in catalog
        if ind.time_aggregation == "flow"
    )
    con.execute(
        f"""
        create or replace table frames.val_year as
        select w.submission_id, {year_columns}
        {scoped} and c.year = i.year
        group by w.submission_id
        """
    )
    # Medians only for histories the plausibility rules read (at least `min_history` past
    # periods): a submission with fewer past periods of its length is left out before the
    # values are gathered (60,000 units with one past period: 2.6 s -> 0.1 s).
    con.execute(
        f"""
        create or replace table frames.val_history as
        with long_enough as (
            select w.submission_id, w.unit_code, i.kind, i.idx
            from frames.val_submissions w
            join frames.val_period_index i using (period)
            join frames.val_current_submissions c
                on c.unit_code = w.unit_code and c.kind = i.kind and c.idx < i.idx
            group by all
            having count(*) >= {int(min_history)}
        ),
        past as (
            select e.submission_id, v.indicator_code, max(v.value) as value
            from long_enough e
            join frames.val_current_submissions c
                on c.unit_code = e.unit_code and c.kind = e.kind and c.idx < e.idx
            join submitted_values v on v.submission_id = c.submission_id
            where v.value is not null
            group by e.submission_id, c.submission_id, v.indicator_code
        ),
        centre as (
            select submission_id, indicator_code, count(*) as history, median(value) as median
            from past group by all
            having count(*) >= {int(min_history)}
        )
        select c.submission_id, c.indicator_code, c.history, c.median,
            median(abs(p.value - c.median)) as mad
        from centre c join past p using (submission_id, indicator_code)
        group by all
        """
    )


# What a group of rules checks, for the Data Docs (one expectation per frame and kind).
KIND_LABELS = {
    "bounds": "Giá trị trong giới hạn cho phép",
    "sum": "Tổng bằng tổng các thành phần",
    "part_le_whole": "Phần không lớn hơn toàn thể",
    "ratio": "Tỷ lệ khớp với tử số và mẫu số",
    "stock_flow": "Số cuối kỳ khớp với đầu kỳ và biến động",
    "completeness": "Đủ báo cáo của các đơn vị",
    "duplicate": "Không trùng báo cáo",
    "type": "Giá trị là số",
    "unknown_unit": "Đơn vị có trong danh mục",
    "unknown_indicator": "Chỉ tiêu có trong danh mục",
    "plausibility": "Giá trị hợp lý so với các kỳ trước",
    "policy": "Đúng quy định",
    CONSOLIDATED_KIND: "Số tổng hợp khớp với các phần",
}


@dataclass(frozen=True)
class RuleGroup:
    """The rules of one frame and kind, run as one expectation: one query, failing rows only.

    Each failing row comes back as `rule_id` and `failing_row` (the rule's own row as JSON).
    """

    frame: str
    kind: str
    rules: tuple[CompiledRule, ...]

    @property
    def query(self) -> str:
        fused = fused_query(self.rules)
        if fused is not None:
            return fused
        return "\nunion all\n".join(
            f"select '{r.rule_id}' as rule_id, to_json(failing)::varchar as failing_row "
            f"from ({r.query}) failing"
            for r in self.rules
        )

    @property
    def description(self) -> str:
        ids = ", ".join(r.rule_id for r in self.rules)
        return f"{KIND_LABELS.get(self.kind, self.kind)} ({len(self.rules)} quy tắc: {ids})"


def group_rules(rules: list[CompiledRule]) -> list[RuleGroup]:
    """The rules grouped by frame and kind, in their first appearance's order."""
    groups: dict[tuple[str, str], list[CompiledRule]] = {}
    for rule in rules:
        groups.setdefault((rule.frame, rule.kind), []).append(rule)
    return [RuleGroup(frame, kind, tuple(members)) for (frame, kind), members in groups.items()]


def run_expectations(
    workspace: Path, rules: list[CompiledRule], docs_dir: Path | None = None
) -> dict[str, list[dict]]:
    """Run the rules through GX on DuckDB, one expectation per frame and kind; failing rows by rule.

    Each group of rules (`group_rules`) is one expectation whose query returns only the failing
    rows, so GX's cost does not grow with the number of rules: a `FailingRowsExpectation`
    (`tonghop.gx_failing_rows`), which runs the query once and keeps every row it returns, so no
    failure is ever capped away. One suite per frame (`tonghop_<frame>`). With
    `docs_dir`, the suites run through a GX Checkpoint whose UpdateDataDocsAction writes a Data
    Docs site there (`index.html`), replacing what an earlier run wrote.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from tonghop.gx_duckdb import close_datasource, enable_duckdb_in_gx
    from tonghop.gx_failing_rows import FailingRowsExpectation

    enable_duckdb_in_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(
        "tonghop", connection_string=f"duckdb:///{db_path(workspace)}"
    )
    if docs_dir is not None:
        add_data_docs_site(context, docs_dir)
    groups = group_rules(rules)
    failing: dict[int, list[dict]] = {}
    definitions = []
    try:
        for frame in dict.fromkeys(g.frame for g in groups):
            # a frame in the in-memory database is named in full: `frames.val_wide`
            schema, _, table = frame.rpartition(".")
            asset = datasource.add_table_asset(table, table_name=table, schema_name=schema or None)
            batch = asset.add_batch_definition_whole_table(f"{table}_all")
            # The suite is built whole, then stored once (adding one by one re-stores it each time).
            suite = context.suites.add(
                gx.ExpectationSuite(
                    name=f"tonghop_{table}",
                    expectations=[
                        FailingRowsExpectation(
                            unexpected_rows_query=group.query,
                            description=group.description,
                            meta={
                                "group": index,
                                "kind": group.kind,
                                "rule_ids": [r.rule_id for r in group.rules],
                            },
                        )
                        for index, group in enumerate(groups)
                        if group.frame == frame
                    ],
                )
            )
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"tonghop_{table}", data=batch, suite=suite)
                )
            )
        if docs_dir is None:
            results = [d.run(result_format="COMPLETE") for d in definitions]
        else:
            results = _run_checkpoint(context, definitions)
        for result in results:
            for outcome in result.results:
                index = outcome.expectation_config.meta["group"]
                error = _raised(outcome.exception_info)
                if error:
                    ids = ", ".join(r.rule_id for r in groups[index].rules)
                    raise RuntimeError(f"Great Expectations could not run rules {ids}: {error}")
                if outcome.success:
                    continue
                failing[index] = outcome.result["details"]["unexpected_rows"]
    finally:
        close_datasource(datasource)
    complete: dict[str, list[dict]] = {}
    for rows in failing.values():
        for row in rows:
            complete.setdefault(row["rule_id"], []).append(json.loads(row["failing_row"]))
    return complete


def add_data_docs_site(context, docs_dir: Path) -> None:  # noqa: ANN001 - a GX context
    """A local Data Docs site in `docs_dir` (emptied first: the site shows one run)."""
    import shutil

    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    docs_dir.mkdir(parents=True)
    context.add_data_docs_site(
        site_name=DATA_DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def _run_checkpoint(context, definitions: list) -> list:  # noqa: ANN001 - GX objects
    """Run the validation definitions through one Checkpoint that updates the Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="tonghop",
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[DATA_DOCS_SITE])],
            result_format="COMPLETE",
        )
    )
    return list(checkpoint.run().run_results.values())


def _raised(exception_info: dict | None) -> str | None:
    """The first exception GX recorded for an expectation (flat, or keyed by metric)."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message"))
    return None


_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _fmt(value: Any, decimals: int) -> str:
    if value is None:
        return "(trống)"
    if isinstance(value, float) and math.isnan(value):
        return "(trống)"
    if isinstance(value, (int, float)):
        shown = decimals if float(value) != int(value) or decimals else 0
        if float(value) != int(value) and not decimals:
            shown = min(6, len(repr(float(value)).split(".")[1]))
        return so(value, shown)
    return str(value)


def word_message(rule: CompiledRule, row: dict[str, Any], catalog: Catalog) -> str:
    """Fill a rule's Vietnamese message from a failing row."""

    def replace(match: re.Match[str]) -> str:
        name, code = match.group(1), match.group(2)
        if code:
            if name == "label":
                return catalog[code].label if code in catalog else code
            if name == "value":
                decimals = catalog[code].decimals if code in catalog else 0
                return _fmt(row.get(f"v_{code}"), decimals)
        if name == "label":
            code = row.get("code") or (rule.indicators[0] if rule.indicators else "")
            return catalog[code].label if code in catalog else str(code)
        if name == "value":
            code = rule.indicators[0]
            return _fmt(row.get(f"v_{code}"), catalog[code].decimals)
        if name in ("reported",):
            return _fmt(row.get(f"v_{rule.indicators[0]}"), 2)
        if name in ("computed",):
            return _fmt(round(row.get("computed") or 0, 4), 4)
        if name in rule.params:
            return str(rule.params[name])
        if name == "file":
            return str(row.get("file") or row.get("file_name") or "")
        value = row.get(name)
        if isinstance(value, float):
            return _fmt(value, 0 if value == int(value) else 4)
        return "" if value is None else str(value)

    return " ".join(_PLACEHOLDER.sub(replace, rule.message).split())


def build_findings(
    rules: list[CompiledRule],
    failing: dict[str, list[dict]],
    catalog: Catalog,
    unit_names: dict[str, str],
) -> list[Finding]:
    """One finding per failing row, worded for a steward."""
    findings = []
    by_id = {r.rule_id: r for r in rules}
    for rule_id, rows in failing.items():
        rule = by_id[rule_id]
        for row in rows:
            values = {k[2:]: row[k] for k in row if k.startswith("v_")}
            indicators = list(rule.indicators) or ([row["code"]] if row.get("code") else [])
            findings.append(
                Finding(
                    unit_code=row.get("unit_code"),
                    period=row.get("period"),
                    rule_id=rule.rule_id,
                    kind=rule.kind,
                    severity=rule.severity,
                    message=word_message(rule, row, catalog),
                    indicators=indicators,
                    values=values or {k: row[k] for k in ("raw",) if row.get(k) is not None},
                    submission_id=row.get("submission_id"),
                    file=row.get("file") or row.get("file_name"),
                    location=row.get("location") or row.get("locations"),
                    unit_name=unit_names.get(row.get("unit_code") or ""),
                )
            )
    findings.sort(key=_finding_order)
    return findings


# The unit-level findings of the periods in scope (bound: their codes) and of malformed periods.
_FINDINGS_IN_SCOPE = (
    f"kind <> '{CONSOLIDATED_KIND}' and (period in (select unnest(?::varchar[])) "
    f"or not regexp_full_match(coalesce(period, ''), '{_PERIOD_SQL_RE}'))"
)


def store_findings(
    con: duckdb.DuckDBPyConnection,
    findings: list[Finding],
    run_id: str,
    periods: list[Period],
    units: list[str] | None = None,
) -> None:
    """Replace the findings of the periods in scope (and of malformed periods) in one go.

    With `units`, only those units' findings are replaced (an incremental validation); every
    finding of the scope then carries this run's id. The consolidated level's findings (`kind`
    consolidated) are left alone: they are replaced by `store_consolidated_findings` after the
    models have run.
    """
    codes = [p.code for p in periods]
    scope = _FINDINGS_IN_SCOPE
    only = (
        "" if units is None else " and unit_code in (select unit_code from frames.val_scope_units)"
    )
    with transaction(con):
        con.execute(f"delete from findings where {scope}{only}", [codes])
        _insert_findings(con, findings, run_id)
        # the findings kept for the units not validated again stand as of this run too
        con.execute(f"update findings set run_id = ? where {scope}", [run_id, codes])


def load_findings(con: duckdb.DuckDBPyConnection, periods: list[Period]) -> list[Finding]:
    """The stored unit-level findings of the periods in scope (and of malformed periods)."""
    cursor = con.execute(
        f"""
        select f.unit_code, f.period, f.rule_id, f.kind, f.severity, f.message, f.indicators,
            f.observed, f.submission_id, f.file_name as file, f.location, f.suspect,
            f.suggested_value, u.name as unit_name, f.finding_key
        from findings f left join registry_units u using (unit_code)
        where {_FINDINGS_IN_SCOPE}
        """,
        [[p.code for p in periods]],
    )
    names = [d[0] for d in cursor.description]
    findings = []
    for row in cursor.fetchall():
        fields = dict(zip(names, row, strict=True))
        observed = fields.pop("observed")
        fields |= {"indicators": list(fields["indicators"]), "values": json.loads(observed or "{}")}
        findings.append(Finding(**fields))
    findings.sort(key=_finding_order)
    return findings


def _finding_order(f: Finding) -> tuple[str, str, str, str]:
    return (f.unit_code or "", f.period or "", f.rule_id, f.location or "")


def store_consolidated_findings(
    con: duckdb.DuckDBPyConnection, findings: list[Finding], run_id: str
) -> None:
    """Replace the consolidated level's findings, and only those, in one go."""
    with transaction(con):
        con.execute(f"delete from findings where kind = '{CONSOLIDATED_KIND}'")
        _insert_findings(con, findings, run_id)


def _insert_findings(con: duckdb.DuckDBPyConnection, findings: list[Finding], run_id: str) -> None:
    insert_rows(
        con,
        "findings",
        [
            [
                f.finding_key,
                run_id,
                f.unit_code,
                f.period,
                f.submission_id,
                f.rule_id,
                f.kind,
                f.severity,
                f.message,
                f.indicators,
                json.dumps(f.values, default=str),
                f.suspect,
                f.suggested_value,
                f.file,
                f.location,
            ]
            for f in findings
        ],
    )


def validate(
    workspace: Path,
    catalog: Catalog,
    expected_periods: list[Period],
    extra_periods: list[Period],
    batch_id: str | None,
    run_id: str,
    docs_dir: Path | None = None,
    incremental: bool = True,
) -> list[Finding]:
    """Validate the current submissions of the periods in scope; store and return findings.

    Incremental where it can be (`incremental`, and the last validation had the same rules,
    catalog, registry and periods: `validation_state`): only the units the batch touched are
    validated again (`touched_units`) and only their findings replaced; the return value is
    every stored finding of the scope either way. With `docs_dir`, GX also writes its Data Docs
    for the suites there (of the units validated)."""
    from tonghop.db import open_db

    ruleset = load_rules()
    rules = compile_rules(catalog, ruleset)
    periods = expected_periods + extra_periods
    with open_db(workspace) as con:
        fingerprint = validation_fingerprint(con, rules, catalog, periods)
        (max_seq,) = con.execute("select max(seq) from submissions").fetchone()
        last = last_validation(con)
        units = None
        if incremental and batch_id and last and last["fingerprint"] == fingerprint:
            units = touched_units(con, batch_id, rules, last["max_seq"])
        try:
            import_gx_meanwhile()
            prepare_frames(
                con, catalog, expected_periods, extra_periods, batch_id, units, ruleset.min_history
            )
            unit_names = dict(con.execute("select unit_code, name from registry_units").fetchall())
            # GX's connection joins this one's DuckDB instance, where the frames are, so this
            # connection stays open while the expectations run
            failing = run_expectations(workspace, rules, docs_dir)
            findings = build_findings(rules, failing, catalog, unit_names)
            _localize(con, findings, catalog, ruleset)
            store_findings(con, findings, run_id, periods, units)
        finally:
            detach_frames(con)
        _record_validation(con, fingerprint, run_id, units, max_seq)
        if units is None:
            return findings
        return load_findings(con, periods)


def import_gx_meanwhile() -> None:
    """Import Great Expectations in a thread of its own while this one goes on.

    The first import in a process (a flow run on a worker) costs 3-4 s of Python. `validate`
    starts it while it builds the frames (DuckDB's work, which runs without holding the
    interpreter lock); the run flow starts it earlier, once it has read the source, so that it
    overlaps collect, which often waits for its archive process. Python's import locks
    make `run_expectations` wait for the import to end, or report its error itself; a call
    after the import has begun starts nothing.
    """
    if "great_expectations" not in sys.modules:
        threading.Thread(target=_import_gx, name="tonghop-import-gx", daemon=True).start()


def _import_gx() -> None:
    with contextlib.suppress(Exception):  # the import in run_expectations raises it again
        import tonghop.gx_failing_rows  # noqa: F401 - and with it Great Expectations


def validation_fingerprint(
    con: duckdb.DuckDBPyConnection,
    rules: list[CompiledRule],
    catalog: Catalog,
    periods: list[Period],
) -> str:
    """What a unit's findings depend on besides its own submissions: rules, catalog, registry,
    periods in scope. Two validations with the same fingerprint judge a unit the same way."""
    from tonghop.registry import registry_signature

    registry = registry_signature(con)
    basis = json.dumps(
        {
            "rules": [[r.rule_id, r.severity, r.frame, r.query, r.message] for r in rules],
            "catalog": [repr(ind) for ind in catalog],
            "registry": list(registry),
            "periods": [p.code for p in periods],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def touched_units(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    rules: list[CompiledRule],
    validated_seq: int | None,
) -> list[str]:
    """The units whose findings can have changed since the last validation: those with
    submissions it did not see (`seq` above `validated_seq`, whichever batch brought them, so
    a validation that failed is made up for), those whose archived files the batch saw again
    under another name (a source read again as it was touches nothing), and those holding
    findings that only last one batch (rules reading the batch's sightings, malformed
    periods), which the batch replaces."""
    per_batch = [r.rule_id for r in rules if "val_sightings" in r.query]
    rows = con.execute(
        f"""
        select unit_code from submissions where seq > ?
        union
        select s.unit_code from submissions s
        join file_sightings f on f.sha256 = s.sha256 and f.batch_id = ?
            and f.source_name <> s.original_name
        union
        select unit_code from findings where kind <> '{CONSOLIDATED_KIND}'
            and (rule_id in (select unnest(?::varchar[]))
                 or not regexp_full_match(coalesce(period, ''), '{_PERIOD_SQL_RE}'))
        """,
        [-1 if validated_seq is None else validated_seq, batch_id, per_batch],
    ).fetchall()
    return sorted(u for (u,) in rows if u is not None)


def last_validation(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The last validation's fingerprint, run id, time, mode (full, incremental), the number of
    units it validated (incremental) and the highest submission `seq` it saw."""
    return state_row(con, "validation_state")


def _record_validation(
    con: duckdb.DuckDBPyConnection,
    fingerprint: str,
    run_id: str,
    units: list[str] | None,
    max_seq: int | None,
) -> None:
    with transaction(con):
        con.execute("delete from validation_state")
        con.execute(
            "insert into validation_state values (?, ?, now(), ?, ?, ?)",
            [
                fingerprint,
                run_id,
                "full" if units is None else "incremental",
                None if units is None else len(units),
                max_seq,
            ],
        )


def _localize(
    con: duckdb.DuckDBPyConnection, findings: list[Finding], catalog: Catalog, ruleset: RuleSet
) -> None:
    """Name the suspect field and a likely digit slip on balance findings (tonghop.localize)."""
    from tonghop.localize import (
        BALANCE_KINDS,
        SubmissionValues,
        apply_localization,
        balance_checks,
    )

    ids = sorted({f.submission_id for f in findings if f.kind in BALANCE_KINDS and f.submission_id})
    if not ids:
        return

    def read(table: str, codes: list[str]) -> dict[str, dict[str, float]]:
        cursor = con.execute(
            f"select submission_id, {', '.join(q(c) for c in codes)} from {table} "
            "where submission_id in (select unnest(?::varchar[]))",
            [ids],
        )
        return {
            row[0]: {c: v for c, v in zip(codes, row[1:], strict=True) if v is not None}
            for row in cursor.fetchall()
        }

    codes = catalog.codes
    flows = [i.code for i in catalog if i.time_aggregation == "flow"]
    rates = [i.code for i in catalog if i.is_rate]
    current = read(WIDE, codes)
    previous = read("frames.val_previous", codes)
    year = read("frames.val_year", flows)
    shown = read(WIDE, [f"{c}__decimals" for c in rates]) if rates else {}
    values = {
        sid: SubmissionValues(
            current=vals,
            previous=previous.get(sid, {}),
            year=year.get(sid, {}),
            shown_decimals={
                k.removesuffix("__decimals"): int(v) for k, v in shown.get(sid, {}).items()
            },
        )
        for sid, vals in current.items()
    }
    apply_localization(
        findings,
        values,
        balance_checks(catalog, ruleset),
        catalog,
        ruleset.localization.weights,
        ruleset.localization.max_fields,
    )


def parse_periods(codes: list[str]) -> list[Period]:
    out = []
    for code in codes:
        try:
            out.append(Period.parse(code))
        except PeriodError:
            continue
    return out
