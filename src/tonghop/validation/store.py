"""Store the findings of a validation in the workspace, and read them back."""

from __future__ import annotations

import json

import duckdb

from tonghop.db import insert_rows, transaction
from tonghop.periods import Period
from tonghop.validation.findings import CONSOLIDATED_KIND, PERIOD_SQL_RE, Finding, finding_order
from tonghop.validation.places import attach_places

# The unit-level findings of the periods in scope (bound: their codes) and of malformed periods.
_FINDINGS_IN_SCOPE = (
    f"kind <> '{CONSOLIDATED_KIND}' and (period in (select unnest(?::varchar[])) "
    f"or not regexp_full_match(coalesce(period, ''), '{PERIOD_SQL_RE}'))"
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
    attach_places(con, findings)
    findings.sort(key=finding_order)
    return findings


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
