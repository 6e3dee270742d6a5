"""The queries of the rules about presence, identity and form, by `check` (or by `kind`).

They read the long or the wide frame, or the tables tonghop.validation.frames builds beside
them (val_expected, val_sightings).
"""

from __future__ import annotations

from tonghop.rules.compiled import KEYS, LONG, WIDE

CHECK_QUERIES: dict[str, tuple[str, str]] = {
    "unit_submitted": (
        WIDE,
        "with w as (select * from {batch}) "
        "select e.unit_code, e.period, null as submission_id, null as file_name, "
        "null as location from frames.val_expected e where not exists (select 1 from w "
        "where w.unit_code = e.unit_code and w.period = e.period)",
    ),
    "unit_active": (
        WIDE,
        f"select {KEYS}, null as location, strftime(valid_from, '%d/%m/%Y') as valid_from, "
        "coalesce(strftime(valid_to, '%d/%m/%Y'), 'nay') as valid_to from {batch} "
        "where known_unit and period_ok and not active",
    ),
    # A required value is looked up among the received values of the required codes alone:
    # the anti-join builds on those few codes' rows, not on the long frame's view or on every
    # value.
    "required_present": (
        WIDE,
        "with w as (select * from {batch}) "
        "select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        "c.code as code from w join catalog_indicators c on c.required "
        "and (c.sectors is null or list_contains(c.sectors, w.sector)) "
        "and (c.forms is null or list_contains(c.forms, w.form)) "
        "and (not c.annual or w.closes_year) "
        "where w.known_unit and w.active and not exists (select 1 from submitted_values v "
        "where v.submission_id = w.submission_id and v.indicator_code = c.code "
        "and v.raw_value <> '' "
        "and v.indicator_code in (select code from catalog_indicators where required))",
    ),
    # A zero in a row that does not concern the unit is what clerks type to fill the form: no
    # finding (SPEC §3). A non-zero value, or text, there is a warning.
    "applicable": (
        LONG,
        "with v as (select * from {batch}) "
        f"select v.{KEYS.replace(', ', ', v.')}, v.location, v.indicator_code as code, "
        "v.raw_value as raw, c.applies as applies from v "
        "join catalog_indicators c on c.code = v.indicator_code "
        "where v.known_unit and v.raw_value <> '' and coalesce(v.value, 1) <> 0 and not ("
        "(c.sectors is null or list_contains(c.sectors, v.sector)) "
        "and (c.forms is null or list_contains(c.forms, v.form)))",
    ),
    # The values written twice are found by their key alone, then described: grouping every
    # value by the file's name and aggregating its locations would cost a pass over all of them.
    # Only the submissions that may hold a code twice are grouped so: those with more values
    # than distinct bits of their codes (`catalog_indicators.place`,
    # tonghop.validation.frames.MASK_PLACES; a code outside the catalog has none, two codes
    # sharing a bit only make more submissions grouped, never one missed).
    "value_in_submission": (
        LONG,
        f"select {KEYS}, string_agg(location, ', ' order by location) as locations, "
        "indicator_code as code, count(*) as count from {batch} "
        "semi join (select submission_id, indicator_code from {batch} where raw_value <> '' "
        "and submission_id in (select v.submission_id from submitted_values v "
        "left join catalog_indicators c on c.code = v.indicator_code "
        "where v.raw_value <> '' "
        "and v.submission_id in (select submission_id from frames.val_submissions) "
        "group by v.submission_id "
        "having count(*) > coalesce(bit_count(bit_or(1::hugeint << c.place::hugeint)), 0)) "
        "group by all having count(*) > 1) as twice using (submission_id, indicator_code) "
        f"where raw_value <> '' group by {KEYS}, indicator_code",
    ),
    "submission_in_batch": (
        WIDE,
        f"select {KEYS}, null as location, batch_files as files, batch_file_count as count "
        "from {batch} where batch_file_count > 1",
    ),
    "identical_file": (
        WIDE,
        "with w as (select * from {batch}) "
        f"select w.{KEYS.replace(', ', ', w.')}, null as location, s.source_name as file, "
        "w.file_name as first_file from w join frames.val_sightings s "
        "on s.sha256 = w.sha256 and s.source_name <> w.file_name",
    ),
    "numeric": (
        LONG,
        f"select {KEYS}, location, indicator_code as code, raw_value as raw from {{batch}} "
        "where value is null and raw_value <> '' and known_indicator",
    ),
    "file_warnings": (
        WIDE,
        "with w as (select * from {batch}) "
        f"select w.{KEYS.replace(', ', ', w.')}, null as location, "
        "unnest(f.warnings) as warning from w join received_files f on f.sha256 = w.sha256 "
        "where len(coalesce(f.warnings, [])) > 0",
    ),
    "period_format": (
        WIDE,
        f"select {KEYS}, null as location from {{batch}} where not period_ok",
    ),
}

KIND_QUERIES: dict[str, tuple[str, str]] = {
    "unknown_unit": (WIDE, f"select {KEYS}, null as location from {{batch}} where not known_unit"),
    "unknown_indicator": (
        LONG,
        f"select {KEYS}, location, indicator_code as code from {{batch}} where not known_indicator",
    ),
}
