"""Members who left the bloc with their organisation, or arrived with one, during the range.

The registry says when a unit left (`valid_to`) or came (`valid_from`); its members went or came
with it, outside the members' own flows (admitted, transferred, deceased, ...). A unit that left
took the members of its last accepted report; one that came brought the members of its first
report less that period's own flows (already counted among the flows). With these the members'
table of Phụ lục 2 reconciles: start + flows − left with organisations + arrived with
organisations = cut-off. Why a unit left (transferred, merged, dissolved: SPEC §4.1
`end_reason`) the registry loader does not read yet, so the draft does not split them by reason.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tonghop.catalog import SECTORS

# The members' own flows (SPEC §4.4's stock-flow rule): in adds, the others take away.
FLOWS_IN = ("members_admitted", "members_transferred_in")
FLOWS_OUT = (
    "members_transferred_out",
    "members_deceased",
    "members_struck_off",
    "members_removed",
    "discipline_expulsion",
)

_MOVES = """
with span as (
    select min(period_start) filter (where role = 'range') as first_day,
           max(period_end) as last_day
    from run_periods
),
stock as (
    select unit_code, sector, ordinal, value from int_values_accepted
    where indicator_code = 'members_total'
),
own_flows as (
    select unit_code, ordinal,
           sum(case when list_contains($flows_in, indicator_code) then value else -value end)
               as net
    from int_values_accepted
    where list_contains($flows_in, indicator_code) or list_contains($flows_out, indicator_code)
    group by all
),
moved as (
    select 'left' as move, r.unit_code,
           arg_max(s.sector, s.ordinal) as sector, arg_max(s.value, s.ordinal) as members
    from stg_registry__units r, span
    join stock s on s.unit_code = r.unit_code
    where r.valid_to between span.first_day and span.last_day
    group by all
    union all
    select 'arrived', r.unit_code, arg_min(s.sector, s.ordinal),
           arg_min(s.value - coalesce(f.net, 0), s.ordinal)
    from stg_registry__units r, span
    join stock s on s.unit_code = r.unit_code
    left join own_flows f on f.unit_code = s.unit_code and f.ordinal = s.ordinal
    where r.valid_from between span.first_day and span.last_day
    group by all
)
select move, sector, count(*) as units, sum(members) as members from moved group by all
"""


def organisation_moves(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """`{"left" | "arrived": {"units", "members", "sectors": {sector: {"units", "members"}}}}`
    over the run's range (`run_periods`), from the registry and the accepted values."""
    rows = con.execute(
        _MOVES, {"flows_in": list(FLOWS_IN), "flows_out": list(FLOWS_OUT)}
    ).fetchall()
    out: dict[str, Any] = {}
    for move in ("left", "arrived"):
        mine = [r for r in rows if r[0] == move]
        out[move] = {
            "units": sum(r[2] for r in mine),
            "members": sum(r[3] or 0 for r in mine),
            "sectors": {
                s: {
                    "units": sum(r[2] for r in mine if r[1] == s),
                    "members": sum(r[3] or 0 for r in mine if r[1] == s),
                }
                for s in SECTORS
            },
        }
    return out
