"""The report's marts on small fixture rows in a real DuckDB workspace.

Range 2020-H2..2022-H1 (baseline 2020-H1): year 2020 has only its second half in the range,
2021 both halves, 2022 only its first (open: the period closing it is not in the range).
Every expected figure is worked out by hand beside it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tonghop.catalog import load_catalog
from tonghop.consolidate import report_context, run_models, year_figures
from tonghop.db import connect
from tonghop.periods import PeriodRange

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2020-H2..2022-H1")

UNITS = [
    ("A", "agency", "dang_bo", date(2010, 1, 1), None),
    ("B", "soe", "chi_bo", date(2010, 1, 1), None),
    ("DUK", "agency", "dang_uy_khoi", date(2010, 1, 1), None),  # the bloc committee
]
FIXTURE = {
    ("A", "2020-H1"): {"members_total": 50, "branches_total": 5},
    ("A", "2020-H2"): {"members_total": 52, "members_admitted": 2, "org_rating": 4,
                       "members_rated": 50, "members_rated_excellent": 8,
                       "members_rated_good": 40, "state_budget_paid_bn_vnd": 3},
    ("A", "2021-H1"): {"members_total": 55, "members_admitted": 3},
    ("A", "2021-H2"): {"members_total": 56, "members_admitted": 1, "org_rating": 3,
                       "branches_total": 6, "branches_meeting_regularly": 5},
    ("A", "2022-H1"): {"members_total": 57, "members_admitted": 1},
    ("B", "2020-H1"): {"members_total": 10},
    ("B", "2020-H2"): {"members_total": 10, "org_rating": 2, "state_budget_paid_bn_vnd": 0},
    ("B", "2021-H1"): {"members_total": 11, "members_admitted": 1,
                       "state_budget_paid_bn_vnd": 1.5},
    ("B", "2021-H2"): {"members_total": 11, "org_rating": 3, "state_budget_paid_bn_vnd": 0},
    ("B", "2022-H1"): {"members_total": 12, "members_admitted": 1},
    ("DUK", "2020-H2"): {"mass_orgs_total": 4, "mass_orgs_rated_strong": 4, "members_total": 99},
    ("DUK", "2021-H2"): {"mass_orgs_total": 4, "mass_orgs_rated_strong": 3},
}  # fmt: skip


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    connection = connect(tmp_path_factory.mktemp("report_marts"))
    connection.executemany(
        "insert into registry_units values (?, ?, ?, ?, ?, ?)",
        [[code, f"Đơn vị {code}", s, f, start, end] for code, s, f, start, end in UNITS],
    )
    for seq, ((unit, period), values) in enumerate(FIXTURE.items(), start=1):
        sid = f"{unit}-{period}"
        connection.execute(
            "insert into submissions values (?, ?, ?, ?, 'csv', ?, ?, 'b1', ?)",
            [sid, f"sha-{sid}", unit, period, f"{sid}.csv", datetime(2022, 7, 1), seq],
        )
        connection.executemany(
            "insert into submitted_values values (?, ?, ?, ?, ?, null)",
            [[sid, code, repr(v), v, f"dòng {i}"] for i, (code, v) in enumerate(values.items())],
        )
    run_models(connection, CATALOG, RANGE)
    yield connection
    connection.close()


def _year(con, period, code, measure="value", group=("bloc", "bloc")):  # noqa: ANN001
    rows = con.execute(
        "select value, units_reporting, status from rpt_year__indicators where period = ? "
        "and indicator_code = ? and measure = ? and group_type = ? and group_value = ?",
        [period, code, measure, *group],
    ).fetchall()
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def test_years_of_the_range_and_their_status(con):
    got = con.execute(
        "select distinct period, status from rpt_year__indicators order by period"
    ).fetchall()
    assert got == [("2020", "closed"), ("2021", "closed"), ("2022", "open")]


def test_flows_are_summed_over_the_years_periods_in_the_range(con):
    assert _year(con, "2020", "members_admitted")[:2] == (2, 1)  # A's 2020-H2 only
    assert _year(con, "2021", "members_admitted")[:2] == (5, 2)  # A 3 + 1, B 1
    assert _year(con, "2022", "members_admitted")[:2] == (2, 2)  # open year: flows only
    assert _year(con, "2022", "members_total") is None  # no period closes 2022


def test_stocks_and_ratings_stand_at_the_period_closing_the_year(con):
    assert _year(con, "2021", "members_total")[0] == 67  # 56 + 11 at 2021-H2, not 2021-H1
    assert _year(con, "2020", "org_rating__4")[0] == 1
    assert _year(con, "2020", "org_rating__2")[0] == 1
    assert _year(con, "2021", "org_rating__3")[0] == 2
    # a rate recomputed at the closing period: 5 of 6 branches
    assert _year(con, "2021", "branches_meeting_regularly_pct")[0] == pytest.approx(500 / 6)


def test_units_with_a_positive_yearly_flow(con):
    # 2021: A does not report budget, B pays 1,5 in H1 and 0 in H2: one unit of one paid
    assert _year(con, "2021", "state_budget_paid_bn_vnd", "units_positive")[:2] == (1, 1)
    # 2020: A is an agency (budget does not apply, excluded); B paid 0
    assert _year(con, "2020", "state_budget_paid_bn_vnd", "units_positive")[:2] == (0, 1)


def test_the_committee_reports_only_its_own_indicators_and_is_no_tccsd(con):
    assert _year(con, "2021", "mass_orgs_rated_strong")[0] == 3
    assert _year(con, "2020", "members_total")[0] == 62  # 52 + 10; the committee's 99 is out
    units = dict(con.execute("select measure, units from rpt_term__units").fetchall())
    assert units == {"start": 2, "cutoff": 2}


def test_year_figures_and_the_report_context(con):
    years = year_figures(con, RANGE, ("bloc", "bloc"))
    assert [(y.year, y.months, y.closed) for y in years] == [
        (2020, 6, True),
        (2021, 12, True),
        (2022, 6, False),
    ]
    context = report_context(con, RANGE)
    assert context["coverage"]["units_expected"] == 2  # TCCSĐ only, not the committee
    target_10 = context["targets"]["targets"][9]
    assert [r["status"] for r in target_10["conditions"][0]["years"]] == ["met", "not_met"]
    assert target_10["status"] == "not_met"
    assert context["sectors"]["soe"]["cutoff"]["members_total"] == 12
    assert context["admission"]["target_per_year"] == 300  # the congress resolution's
    # no unit left or came in the range: nobody moved with an organisation
    assert context["moves"]["left"]["members"] == context["moves"]["arrived"]["members"] == 0
