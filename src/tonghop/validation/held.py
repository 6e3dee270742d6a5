"""Files held for review and old files put back, as findings a steward can act on.

Collect holds a file whose name disagrees with its contents and a short resubmission
(`tonghop.collect.identity`, table `held_files`), and notices an old file put back at the source
(`file_notices`); none of them loads. Each becomes a warning finding of the unit and period the
file holds values of, worded with the reason collect gave (naming the file and why), so that
`tonghop review list` lists it beside the rule findings. The unit's current values are kept
and still consolidated (a warning blocks nothing). A finding stands until the unit sends a
newer file for the period, or a steward closes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import duckdb

from tonghop.periods import Period
from tonghop.validation.findings import PERIOD_SQL_RE, Finding

# kind of hold -> (rule id, finding kind of SPEC §4.5)
HELD_RULES = {
    "identity": ("file_held_identity", "unknown_unit"),
    "partial": ("file_held_partial", "completeness"),
    "restored": ("file_restored_old", "duplicate"),
}
SEVERITY = "warning"

# Each hold and notice of a (file, unit, period) once: the first hold, the latest notice.
_STANDING = """
with holds as (
    select h.unit_code, h.period, h.kind, r.original_name as file, h.location,
        h.held_at as since, r.reason, h.sha256
    from held_files h join received_files r using (sha256)
    qualify row_number() over (
        partition by h.sha256, h.unit_code, h.period order by h.held_at) = 1
),
notices as (
    select s.unit_code, s.period, 'restored' as kind, n.source_name as file,
        null::varchar as location, n.seen_at as since, n.reason, n.sha256
    from file_notices n join submissions s using (sha256)
    qualify row_number() over (
        partition by n.sha256, s.unit_code, s.period order by n.seen_at desc) = 1
),
standing as (
    select * from holds union all select * from notices
)
select x.unit_code, x.period, x.kind, x.file, x.location, x.since, x.reason, x.sha256
from standing x
where not exists (
    select 1 from submissions s
    where s.unit_code = x.unit_code and s.period = x.period and s.received_at > x.since
)
"""


def standing_units(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The units with a hold or notice no newer file has answered: validated again each time,
    so that a new hold is a finding even when the unit sent nothing else."""
    return [
        u
        for (u,) in con.execute(
            f"select distinct unit_code from ({_STANDING}) order by unit_code"
        ).fetchall()
    ]


def held_findings(
    con: duckdb.DuckDBPyConnection,
    periods: Sequence[Period],
    units: Sequence[str] | None = None,
    unit_names: dict[str, str] | None = None,
) -> list[Finding]:
    """The standing holds and notices of the periods in scope (and of malformed periods), as
    findings; with `units`, of those units only (an incremental validation)."""
    rows = con.execute(
        f"""
        select * from ({_STANDING})
        where (period in (select unnest($periods::varchar[]))
               or not regexp_full_match(period, '{PERIOD_SQL_RE}'))
            and ($units::varchar[] is null or list_contains($units::varchar[], unit_code))
        order by unit_code, period, since, file
        """,
        {"periods": [p.code for p in periods], "units": None if units is None else list(units)},
    ).fetchall()
    names = unit_names or {}
    return [
        _finding(unit, period, kind, file, location, at, reason, sha256, names.get(unit))
        for unit, period, kind, file, location, at, reason, sha256 in rows
    ]


def _finding(  # noqa: PLR0913 - one column each of a standing hold
    unit: str,
    period: str,
    kind: str,
    file: str,
    location: str | None,
    at: object,
    reason: str,
    sha256: str,
    unit_name: str | None,
) -> Finding:
    rule_id, finding_kind = HELD_RULES[kind]
    key = hashlib.sha256(f"{rule_id}|{unit}|{period}|{sha256}".encode()).hexdigest()[:20]
    return Finding(
        unit_code=unit,
        period=period,
        rule_id=rule_id,
        kind=finding_kind,
        severity=SEVERITY,
        message=reason,
        indicators=[],
        values={"file": file, "sha256": sha256, "at": str(at)},
        file=file,
        location=location,
        unit_name=unit_name,
        finding_key=key,
    )
