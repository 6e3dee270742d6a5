"""Name the suspect field and a likely digit slip on balance findings, from the frames.

Reads the values of each balance finding's submission (current, previous period, calendar
year, decimals as written) and hands them to the pure search of tonghop.localize.
"""

from __future__ import annotations

import duckdb

from tonghop.catalog import Catalog
from tonghop.localize import BALANCE_KINDS, SubmissionValues, apply_localization, balance_checks
from tonghop.rules import WIDE, RuleSet, q
from tonghop.validation.findings import Finding


def localize_findings(
    con: duckdb.DuckDBPyConnection, findings: list[Finding], catalog: Catalog, ruleset: RuleSet
) -> None:
    """Name the suspect field and a likely digit slip on balance findings (tonghop.localize)."""
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
    units = {
        row[0]: (row[1], row[2])
        for row in con.execute(
            f"select submission_id, sector, form from {WIDE} "
            "where submission_id in (select unnest(?::varchar[]))",
            [ids],
        ).fetchall()
    }
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
            sector=units.get(sid, (None, None))[0],
            form=units.get(sid, (None, None))[1],
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
        ruleset.localization.unrepaired_warning,
    )
