"""Members who left the bloc with their organisation, or arrived with one, during the range.

The registry says when a unit left (`valid_to`) or came (`valid_from`), and its history (SPEC
§4.1) which units took over which and why a unit ended. A unit that ended and was taken over by
a unit of the registry (`predecessors`: a merger or a split inside the bloc) did not leave: its
members are in its successors' stocks (`within`). Any other unit that ended left the bloc with
the members of its last accepted report (`left`, by `end_reason`: transferred out, dissolved,
merged into a unit outside the bloc, or not said). A unit that came without predecessors
(received from outside, founded) brought the members of its first report less that period's
own flows, already counted among the flows (`arrived`); one formed from units of the bloc
brought nobody new. With these the members' table of Phụ lục 2 reconciles: start + flows −
left with organisations + arrived with organisations = cut-off. A registry without the history
columns counts every unit that ended as left and every unit that came as arrived.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tonghop.catalog import SECTORS
from tonghop.registry import history_sources

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
taken_over as (
    select distinct predecessor as unit_code from {unit_predecessors}
    where predecessor in (select unit_code from stg_registry__units)
),
moved as (
    select case when t.unit_code is null then 'left' else 'within' end as move,
           coalesce(e.end_reason, '') as reason, r.unit_code,
           arg_max(s.sector, s.ordinal) as sector, arg_max(s.value, s.ordinal) as members
    from stg_registry__units r, span
    join stock s on s.unit_code = r.unit_code
    left join taken_over t on t.unit_code = r.unit_code
    left join {unit_end_reasons} e on e.unit_code = r.unit_code
    where r.valid_to between span.first_day and span.last_day
    group by all
    union all
    select 'arrived', '', r.unit_code, arg_min(s.sector, s.ordinal),
           arg_min(s.value - coalesce(f.net, 0), s.ordinal)
    from stg_registry__units r, span
    join stock s on s.unit_code = r.unit_code
    left join own_flows f on f.unit_code = s.unit_code and f.ordinal = s.ordinal
    where r.valid_from between span.first_day and span.last_day
        and r.unit_code not in (select unit_code from {unit_predecessors})
    group by all
)
select move, reason, sector, count(*) as units, sum(members) as members from moved group by all
"""


def _count(rows: list[tuple]) -> dict[str, Any]:
    return {"units": sum(r[3] for r in rows), "members": sum(r[4] or 0 for r in rows)}


def organisation_moves(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """`{"left" | "arrived" | "within": {"units", "members", "sectors": {sector: {"units",
    "members"}}, "reasons": {end_reason: {"units", "members"}}}}` over the run's range
    (`run_periods`), from the registry, its history and the accepted values (`reasons`: the
    registry's `end_reason`, "" where it says none)."""
    rows = con.execute(
        _MOVES.format(**history_sources(con)),
        {"flows_in": list(FLOWS_IN), "flows_out": list(FLOWS_OUT)},
    ).fetchall()
    out: dict[str, Any] = {}
    for move in ("left", "arrived", "within"):
        mine = [r for r in rows if r[0] == move]
        out[move] = _count(mine) | {
            "sectors": {s: _count([r for r in mine if r[2] == s]) for s in SECTORS},
            "reasons": {
                reason: _count([r for r in mine if r[1] == reason])
                for reason in sorted({r[1] for r in mine})
            },
        }
    return out
