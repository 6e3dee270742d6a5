"""Where each value of a finding stood in its file (`dòng 12`, `BaoCao!E14`) and the note the
unit wrote beside it (SPEC §4.2), read from `submitted_values` for the findings shown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

from tonghop.validation.findings import Finding

Sources = dict[tuple[str, str], tuple[str, str | None]]


def value_sources(con: duckdb.DuckDBPyConnection, submission_ids: Iterable[str]) -> Sources:
    """(submission, indicator) → (its place in the file, the unit's note or None); a code
    written twice has its places joined."""
    ids = sorted({s for s in submission_ids if s})
    if not ids:
        return {}
    rows = con.execute(
        """
        select submission_id, indicator_code,
            string_agg(location, ', ' order by location) as places,
            string_agg(nullif(trim(note), ''), '; ') as notes
        from submitted_values
        where submission_id in (select unnest(?::varchar[]))
        group by all
        """,
        [ids],
    ).fetchall()
    return {(sid, code): (places, notes) for sid, code, places, notes in rows}


def places_and_notes(
    sources: Sources, submission_id: str | None, codes: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The places and the unit's notes of these codes' values in one submission."""
    places, notes = {}, {}
    for code in codes:
        place, note = sources.get((submission_id or "", code), (None, None))
        if place:
            places[code] = place
        if note:
            notes[code] = note
    return places, notes


def attach_places(con: duckdb.DuckDBPyConnection, findings: list[Finding]) -> None:
    """Fill each finding's `places` and `notes` from the values of its submission."""
    sources = value_sources(con, (f.submission_id for f in findings))
    for f in findings:
        f.places, f.notes = places_and_notes(sources, f.submission_id, f.indicators)
