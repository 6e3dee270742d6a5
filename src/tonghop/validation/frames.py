"""The validation frames: the current submissions of the periods in scope, built in DuckDB.

The rules' queries (tonghop.rules) read these tables of the in-memory database `frames`
(`tonghop.db.attach_frames`): the long frame (one row per value), the wide frame (one row per
submission, one column per indicator), the expected units, the batch's sightings, and the
frames that look beyond the period (previous period, calendar year, past periods).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from tonghop.catalog import FORM_LABELS, SECTOR_LABELS, Catalog
from tonghop.db import FORMER_FRAME_TABLES, attach_frames, insert_rows
from tonghop.periods import Period, PeriodError
from tonghop.registry import history_tables
from tonghop.rules import LONG, WIDE, load_rules, q
from tonghop.validation.findings import PERIOD_SQL_RE

# Each indicator's bit in the masks that find the submissions which may hold a code twice
# (more values than distinct bits; `catalog_indicators.place`, read by the consolidation's
# `int_values_accepted`): its place in the catalog modulo this (a HUGEINT's positive bits).
# Past 127 indicators two codes share a bit, which only makes more submissions looked at.
MASK_PLACES = 127
# How many take-overs back a unit's history follows its predecessors (a registry whose history
# loops stops there).
MAX_LINEAGE_DEPTH = 20


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
    """Write the periods in scope to `table`, one row each, in order (`ordinal`)."""
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
    proposed: Sequence[tuple[str, str, float]] = (),
) -> None:
    """Build the frames the rules read: current submissions of the periods in scope.

    `expected_periods`: every active unit must have submitted (the range). `extra_periods`:
    validated when present (the baseline). Submissions with a malformed period are taken from
    the latest batch so they are reported once, when they arrive. With `units`, only those
    units' submissions, expectations and history (an incremental validation). `val_history`
    holds the histories of at least `min_history` past periods; `val_peers` the level of the
    indicators the rule set's `peers` rules cover among the units of each sector and form.

    The frames are tables (the long one a view) of the in-memory database `frames`
    (`tonghop.db.attach_frames`): they last while a connection to the workspace stays open in
    this process.

    The values read are the submitted ones with the stewards' corrections applied
    (`frames.val_submitted`, tonghop.review_check), and with `proposed` (submission, indicator,
    value) too: a correction is validated before it is stored and at every validation after.
    """
    attach_frames(con)
    prepare_values_view(con, proposed)
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
            -- the windows partition by unit: only the units in scope are partitioned
            where true{in_scope.format(col="s.unit_code")}
        )
        select r.submission_id, r.sha256, r.unit_code, r.period, r.original_name as file_name,
            r.batch_id, r.same_batch_files as batch_file_count,
            r.same_batch_names as batch_files,
            regexp_full_match(r.period, '{PERIOD_SQL_RE}') as period_ok,
            u.unit_code is not null as known_unit, u.name as unit_name, u.sector, u.form,
            u.valid_from, u.valid_to, p.closes_year,
            coalesce(u.valid_from <= p.period_end
                and (u.valid_to is null or u.valid_to >= p.period_end), false) as active
        from ranked r
        left join registry_units u using (unit_code)
        left join frames.val_periods p using (period)
        where r.recency = 1
            and (p.period is not null or (not regexp_full_match(r.period, '{PERIOD_SQL_RE}')
                 and r.batch_id = ?))
        """,
        [batch_id or ""],
    )
    # A view, not a table: each rule group that reads the long frame joins the values it needs
    # as it runs, where a table would copy every current value first (benchmarks/RESULTS.md).
    con.execute(
        f"""
        create or replace view {LONG} as
        select s.submission_id, s.unit_code, s.period, s.file_name, s.sector, s.form,
            s.known_unit, v.indicator_code, v.raw_value, v.value, v.location,
            c.code is not null as known_indicator
        from frames.val_submissions s
        join frames.val_submitted v using (submission_id)
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
            from frames.val_submitted v
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
    peers = load_rules().peers
    covered = [i for i in catalog if peers and peers.covers(i)]
    _prepare_peer_frame(
        con,
        [i.code for i in covered],
        [i.code for i in covered if peers and peers.per_member(i)],
        peers.min_peers if peers else 1,
    )


def _prepare_peer_frame(
    con: duckdb.DuckDBPyConnection, codes: list[str], per_member: list[str], min_peers: int
) -> None:
    """`val_peers`: per period in scope, sector, form and indicator of `codes`, the current
    values of every unit (in scope or not): how many, their median and quartiles (robust to
    the few wrong values among them); a count other than the members themselves per member
    (`per_member`); only where at least `min_peers` units reported it."""
    con.execute(
        f"""
        create or replace table frames.val_peers as
        with current as (
            select s.submission_id, s.unit_code, s.period
            from submissions s
            where s.period in (select period from frames.val_periods)
            qualify row_number() over (partition by s.unit_code, s.period order by s.seq desc) = 1
        ),
        measured as (
            select c.period, u.sector, u.form, v.indicator_code, k.per_member,
                case when k.per_member then v.value / nullif(m.value, 0) else v.value end as x
            from current c
            join registry_units u using (unit_code)
            join frames.val_submitted v using (submission_id)
            join (
                select code, list_contains(?, code) as per_member from catalog_indicators
            ) k on k.code = v.indicator_code
            left join frames.val_submitted m
                on m.submission_id = c.submission_id and m.indicator_code = 'members_total'
            where v.value is not null and list_contains(?, v.indicator_code)
        )
        select period, sector, form, indicator_code, per_member, count(x) as peers,
            median(x) as median, quantile_cont(x, 0.25) as low, quantile_cont(x, 0.75) as high
        from measured
        group by all
        having count(x) >= {int(min_peers)}
        """,
        [per_member, codes],
    )


def prepare_values_view(
    con: duckdb.DuckDBPyConnection, proposed: Sequence[tuple[str, str, float]] = ()
) -> None:
    """`frames.val_submitted`: `submitted_values` with each (submission, indicator)'s latest
    correction, then `proposed`, in place of what the file said (tonghop.review_check)."""
    from tonghop.review_check import corrected_values_sql

    con.execute(
        "create or replace table frames.val_proposed "
        "(submission_id varchar, indicator_code varchar, value double)"
    )
    insert_rows(con, "frames.val_proposed", [list(row) for row in proposed])
    corrections = con.execute("select count(*) from value_corrections").fetchone()[0]
    con.execute(
        "create or replace view frames.val_submitted as "
        + corrected_values_sql(bool(corrections or proposed))
    )


def _prepare_current_frames(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, in_scope: str
) -> None:
    """The current submission (highest `seq`) of every unit in scope and every period
    received, in scope or not (`val_current_submissions`), and its numbers pivoted, one column
    per indicator (`val_current_wide`: a row for each of those submissions that holds a number,
    of whatever indicator).

    The wide frame and the frames that look beyond the period all read these: the values are
    pivoted once, where a long table of every current value would be read again by each.
    """
    periods = []
    for (code,) in con.execute("select distinct period from submissions").fetchall():
        try:
            period = Period.parse(code)
        except PeriodError:
            continue
        index = period.year * (12 // period.months) + period.n - 1
        periods.append([code, period.kind, period.year, index, period.start, period.end])
    con.execute(
        "create or replace table frames.val_period_index "
        "(period varchar, kind varchar, year integer, idx integer, period_start date, "
        "period_end date)"
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
    # value at its code's position, where one filtered max() per indicator tests every value
    # against each code. That holds where a submission has each code once; those that do not
    # (more values than distinct codes: a code written twice, one outside the catalog) take
    # the filtered max(), so a code written twice keeps its largest value. Counted exactly:
    # a mask of the codes' bits (`MASK_PLACES`) sends the submissions holding two codes that
    # share a bit (a catalog of more than 127 indicators) down the slow path too, a quarter of
    # them at 130 indicators (benchmarks/RESULTS.md).
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
            from frames.val_submitted v
            where v.value is not null
                and v.submission_id in (select submission_id from frames.val_current_submissions)
        ),
        gathered as (
            select submission_id, list(code) as codes, list(value) as vals,
                count(*) > count(distinct code) as repeats
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


def _previous_column(code: str, summed: bool) -> str:
    """A column of `val_previous`: the unit's own, or with the stocks it took over added (a
    unit that existed but did not report the period before has no known stock)."""
    if not summed:
        return f"o.{q(code)}"
    return (
        f"case when k.submission_id is null then o.{q(code)} "
        f"when not k.known or (k.existed and o.submission_id is null) then null "
        f"else coalesce(o.{q(code)}, 0) + k.{q(code)} end as {q(code)}"
    )


def _prepare_lineage(con: duckdb.DuckDBPyConnection) -> None:
    """The registry's history as the frames read it (SPEC §4.1): `val_carried`, each unit and
    a predecessor it took over, on the day after the predecessor's `valid_to`, and whether
    another unit took it over too (a split: no share of it is known); `val_ancestors`, each
    unit and every unit it took over directly or through them, unshared, with the day."""
    history_tables(con)
    con.execute(
        """
        create or replace table frames.val_carried as
        select h.unit_code, h.predecessor, p.valid_to + 1 as taken_over,
            count(*) over (partition by h.predecessor) > 1 as shared
        from unit_predecessors h
        join registry_units p on p.unit_code = h.predecessor
        where p.valid_to is not null
        """
    )
    con.execute(
        f"""
        create or replace table frames.val_ancestors as
        with recursive ancestors(unit_code, member, taken_over, depth) as (
            select unit_code, predecessor, taken_over, 1
            from frames.val_carried where not shared
            union all
            select a.unit_code, k.predecessor, a.taken_over, a.depth + 1
            from ancestors a
            join frames.val_carried k on k.unit_code = a.member and not k.shared
            where a.depth < {MAX_LINEAGE_DEPTH}
        )
        select distinct unit_code, member, taken_over from ancestors
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
    `min_history` past periods: how many, their median, lowest, highest, first and last period,
    and median absolute deviation).
    """
    scoped = """
        from frames.val_submissions w
        join frames.val_period_index i using (period)
        join frames.val_current_wide c on c.unit_code = w.unit_code and c.kind = i.kind
    """
    _prepare_lineage(con)
    summed = [ind.code for ind in catalog if ind.unit_aggregation == "sum"]
    con.execute(
        f"""
        create or replace table frames.val_previous as
        with own as (
            select w.submission_id, c.submission_id as previous_submission_id,
                c.period as previous_period, {", ".join(f"c.{q(ind.code)}" for ind in catalog)}
            {scoped} and c.idx = i.idx - 1
        ),
        -- the units taken over during the period: their stocks of the period before join the
        -- unit's own (SPEC §4.1 predecessors); one not reported, or shared by a split, leaves
        -- the sum unknown
        carried as (
            select w.submission_id, w.valid_from < i.period_start as existed,
                count(*) = count(c.submission_id) and not bool_or(k.shared) as known,
                max(c.period) as previous_period,
                {", ".join(f"sum(c.{q(code)}) as {q(code)}" for code in summed) or "1 as none_"}
            from frames.val_submissions w
            join frames.val_period_index i using (period)
            join frames.val_carried k on k.unit_code = w.unit_code
                and k.taken_over between i.period_start and i.period_end
            left join frames.val_current_wide c on c.unit_code = k.predecessor
                and c.kind = i.kind and c.idx = i.idx - 1
            group by all
        )
        select coalesce(o.submission_id, k.submission_id) as submission_id,
            o.previous_submission_id,
            coalesce(o.previous_period, k.previous_period) as previous_period,
            {", ".join(_previous_column(ind.code, ind.code in summed) for ind in catalog)}
        from own o full join carried k using (submission_id)
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
    # values are gathered, so a workspace with one past period gathers almost nothing.
    con.execute(
        f"""
        create or replace table frames.val_history as
        -- the unit and the units it had taken over by the period's end (SPEC §4.1): its past
        -- is theirs together, for the indicators that add up across units
        with members as (
            select w.submission_id, w.unit_code, w.unit_code as member, i.kind, i.idx
            from frames.val_submissions w
            join frames.val_period_index i using (period)
            union all
            select w.submission_id, w.unit_code, a.member, i.kind, i.idx
            from frames.val_submissions w
            join frames.val_period_index i using (period)
            join frames.val_ancestors a on a.unit_code = w.unit_code
                and a.taken_over <= i.period_end
        ),
        long_enough as (
            select m.submission_id
            from members m
            join frames.val_current_submissions c
                on c.unit_code = m.member and c.kind = m.kind and c.idx < m.idx
            group by m.submission_id
            having count(distinct c.idx) >= {int(min_history)}
        ),
        each_past as (
            select m.submission_id, v.indicator_code, c.period, c.idx, c.submission_id as source,
                m.member = m.unit_code as own, max(v.value) as value
            from members m
            join long_enough using (submission_id)
            join frames.val_current_submissions c
                on c.unit_code = m.member and c.kind = m.kind and c.idx < m.idx
            join frames.val_submitted v on v.submission_id = c.submission_id
            where v.value is not null
            group by all
        ),
        past as (
            select p.submission_id, p.indicator_code, p.period, p.idx, sum(p.value) as value
            from each_past p
            left join catalog_indicators k on k.code = p.indicator_code
            where p.own or k.unit_aggregation = 'sum'
            group by all
        ),
        -- the range and the periods too: a steward reads "6–9 mỗi kỳ từ 2021-H1 đến 2022-H2"
        centre as (
            select submission_id, indicator_code, count(*) as history, median(value) as median,
                min(value) as low, max(value) as high,
                arg_min(period, idx) as first_period, arg_max(period, idx) as last_period
            from past group by all
            having count(*) >= {int(min_history)}
        )
        select c.submission_id, c.indicator_code, c.history, c.median, c.low, c.high,
            c.first_period, c.last_period, median(abs(p.value - c.median)) as mad
        from centre c join past p using (submission_id, indicator_code)
        group by all
        """
    )
