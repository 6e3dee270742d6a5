"""Incremental validation's state: what a unit's findings depend on, which units a batch
touched, and the record of the last validation (table `validation_state`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb

from tonghop.catalog import Catalog
from tonghop.db import state_row, transaction
from tonghop.periods import Period
from tonghop.rules import CompiledRule
from tonghop.validation.findings import CONSOLIDATED_KIND, PERIOD_SQL_RE
from tonghop.validation.held import standing_units


def validation_fingerprint(
    con: duckdb.DuckDBPyConnection,
    rules: list[CompiledRule],
    catalog: Catalog,
    periods: list[Period],
) -> str:
    """What a unit's findings depend on besides its own submissions: rules, catalog, registry,
    periods in scope, stewards' corrections (the frames read them: a new one is validated
    again). Two validations with the same fingerprint judge a unit the same way."""
    from tonghop.registry import registry_signature

    registry = registry_signature(con)
    basis = json.dumps(
        {
            "rules": [[r.rule_id, r.severity, r.frame, r.query, r.message] for r in rules],
            "catalog": [repr(ind) for ind in catalog],
            "registry": list(registry),
            "periods": [p.code for p in periods],
            "corrections": con.execute("select count(*) from value_corrections").fetchone(),
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
    under another name (a source read again as it was touches nothing), those holding
    findings that only last one batch (rules reading the batch's sightings, malformed
    periods), which the batch replaces, and those with a standing hold or notice of a file
    (`tonghop.validation.held`: a file held needs no submission to touch its unit)."""
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
                 or not regexp_full_match(coalesce(period, ''), '{PERIOD_SQL_RE}'))
        """,
        [-1 if validated_seq is None else validated_seq, batch_id, per_batch],
    ).fetchall()
    return sorted({u for (u,) in rows if u is not None} | set(standing_units(con)))


def last_validation(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The last validation's fingerprint, run id, time, mode (full, incremental), the number of
    units it validated (incremental) and the highest submission `seq` it saw."""
    return state_row(con, "validation_state")


def record_validation(
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
