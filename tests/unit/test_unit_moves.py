"""Members who left or arrived with their organisation (tonghop.unit_moves), read from the
registry's history (SPEC §4.1): on hand-written rows of the tables it reads (the models'
outputs and the registry's), in a real DuckDB; every figure worked out by hand beside it."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tonghop.db import insert_rows
from tonghop.unit_moves import organisation_moves

# the range 2022-H2..2023-H1 (ordinals 1, 2; 2022-H1 is the baseline, ordinal 0)
UNITS = [
    # code, sector, valid_from, valid_to, predecessors, end_reason
    ("KEEP", "soe", date(2010, 1, 1), None, "MERGED", None),  # took MERGED over
    ("MERGED", "soe", date(2010, 1, 1), date(2022, 9, 30), "", "merged"),
    ("OUT", "private", date(2010, 1, 1), date(2023, 2, 1), "", "transferred_out"),
    ("OLDSTYLE", "agency", date(2010, 1, 1), date(2022, 8, 1), "", None),  # no reason said
    ("SPLIT", "agency", date(2010, 1, 1), date(2022, 12, 31), "", "split"),
    ("S1", "agency", date(2023, 1, 1), None, "SPLIT", None),  # formed from SPLIT
    ("S2", "agency", date(2023, 1, 1), None, "SPLIT", None),
    ("CAME", "private", date(2023, 2, 1), None, "", None),  # received from outside
]
# (unit, ordinal) -> {indicator: value}
VALUES = {
    ("KEEP", 1): {"members_total": 60},
    ("KEEP", 2): {"members_total": 102},
    ("MERGED", 0): {"members_total": 40},
    ("MERGED", 1): {"members_total": 41},
    ("OUT", 1): {"members_total": 20},
    ("OUT", 2): {"members_total": 21},
    ("OLDSTYLE", 0): {"members_total": 15},
    ("SPLIT", 1): {"members_total": 50},
    ("S1", 2): {"members_total": 31, "members_admitted": 1},
    ("S2", 2): {"members_total": 20},
    ("CAME", 2): {"members_total": 12, "members_admitted": 3, "members_deceased": 1},
}


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(
        "create table stg_registry__units (unit_code varchar, sector varchar, "
        "valid_from date, valid_to date)"
    )
    insert_rows(con, "stg_registry__units", [[u[0], u[1], u[2], u[3]] for u in UNITS])
    con.execute("create table unit_predecessors (unit_code varchar, predecessor varchar)")
    insert_rows(con, "unit_predecessors", [[u[0], p] for u in UNITS for p in u[4].split(";") if p])
    con.execute("create table unit_end_reasons (unit_code varchar, end_reason varchar)")
    insert_rows(con, "unit_end_reasons", [[u[0], u[5]] for u in UNITS if u[5]])
    con.execute(
        "create table run_periods (period varchar, period_start date, period_end date, "
        "role varchar)"
    )
    insert_rows(
        con,
        "run_periods",
        [
            ["2022-H1", date(2022, 1, 1), date(2022, 6, 30), "baseline"],
            ["2022-H2", date(2022, 7, 1), date(2022, 12, 31), "range"],
            ["2023-H1", date(2023, 1, 1), date(2023, 6, 30), "range"],
        ],
    )
    sector = {u[0]: u[1] for u in UNITS}
    con.execute(
        "create table int_values_accepted (unit_code varchar, sector varchar, ordinal integer, "
        "indicator_code varchar, value double)"
    )
    insert_rows(
        con,
        "int_values_accepted",
        [
            [unit, sector[unit], ordinal, code, value]
            for (unit, ordinal), values in VALUES.items()
            for code, value in values.items()
        ],
    )
    yield con
    con.close()


def test_units_taken_over_inside_the_bloc_did_not_leave(con) -> None:
    moves = organisation_moves(con)
    # MERGED (41, its last report) went to KEEP; SPLIT (50) to S1 and S2: both stayed
    assert (moves["within"]["units"], moves["within"]["members"]) == (2, 91)
    assert moves["within"]["reasons"] == {
        "merged": {"units": 1, "members": 41},
        "split": {"units": 1, "members": 50},
    }


def test_the_others_left_counted_by_their_reason(con) -> None:
    moves = organisation_moves(con)
    # OUT took the 21 of its last report, OLDSTYLE the 15 of its (no reason in the registry)
    assert (moves["left"]["units"], moves["left"]["members"]) == (2, 36)
    assert moves["left"]["reasons"] == {
        "": {"units": 1, "members": 15},
        "transferred_out": {"units": 1, "members": 21},
    }
    assert moves["left"]["sectors"]["private"] == {"units": 1, "members": 21}


def test_only_units_from_outside_arrived(con) -> None:
    moves = organisation_moves(con)
    # CAME brought 12 less its own flows (3 admitted, 1 deceased): 10; S1 and S2 were formed
    # from SPLIT, a unit of the bloc, and brought nobody new
    assert (moves["arrived"]["units"], moves["arrived"]["members"]) == (1, 10)
