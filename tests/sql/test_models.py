"""The SQL models on small fixture rows in a real DuckDB workspace.

Range 2022-H2..2023-H1, baseline 2022-H1. Every expected figure below is worked out by hand
from the rows in FIXTURE, in the comment beside it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.conftest import catalog_sharing_a_place
from tonghop.catalog import load_catalog
from tonghop.consolidate import report_context, run_models
from tonghop.db import connect
from tonghop.dbt_runner import project_models
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2022-H2..2023-H1")

UNITS = [
    # code, sector, form, valid_from, valid_to
    ("U1", "agency", "dang_bo", date(2010, 1, 1), None),
    ("U2", "soe", "chi_bo", date(2010, 1, 1), None),
    ("U3", "private", "chi_bo", date(2010, 1, 1), None),
    ("U4", "industrial_zone", "dang_bo", date(2010, 1, 1), date(2022, 12, 31)),  # merged away
    ("U5", "agency", "chi_bo", date(2023, 1, 1), None),  # created in the range
    ("U6", "agency", "chi_bo", date(2010, 1, 1), None),  # blocked in 2023-H1
    ("U7", "agency", "dang_bo", date(2010, 1, 1), None),  # never submits
]

# submission id -> (unit, period, seq, values)
FIXTURE: dict[str, tuple[str, str, int, dict[str, float]]] = {
    "U1-22H1": ("U1", "2022-H1", 1, {"members_total": 100, "members_admitted": 7,
                                     "branches_total": 10}),
    "U2-22H1": ("U2", "2022-H1", 2, {"members_total": 20, "members_admitted": 1}),
    "U4-22H1": ("U4", "2022-H1", 3, {"members_total": 40}),
    "U1-22H2": ("U1", "2022-H2", 4, {"members_total": 103, "members_admitted": 3,
                                     "tasks_assigned": 10, "tasks_completed": 9}),
    "U2-22H2": ("U2", "2022-H2", 5, {"members_total": 21, "members_admitted": 1,
                                     "tasks_assigned": 2, "tasks_completed": 1,
                                     "revenue_bn_vnd": 100, "employees": 100,
                                     "avg_income_mn_vnd_month": 10.0}),
    "U3-22H2": ("U3", "2022-H2", 6, {"members_total": 15, "members_admitted": 2,
                                     "revenue_bn_vnd": 50, "employees": 300,
                                     "avg_income_mn_vnd_month": 6.0}),
    "U4-22H2": ("U4", "2022-H2", 7, {"members_total": 41, "members_admitted": 1}),
    "U6-22H2": ("U6", "2022-H2", 8, {"members_total": 30, "members_admitted": 0}),
    "U1-23H1-old": ("U1", "2023-H1", 9, {"members_total": 999, "members_admitted": 99}),
    "U1-23H1": ("U1", "2023-H1", 10, {"members_total": 105, "members_admitted": 2,
                                      "branches_total": 11, "tasks_assigned": 5,
                                      "tasks_completed": 5, "culture_registered": 1,
                                      "culture_achieved": 1, "members_rated": 100,
                                      "members_rated_excellent": 10, "members_rated_good": 70,
                                      "org_rating": 4}),
    "U2-23H1": ("U2", "2023-H1", 11, {"members_total": 22, "members_admitted": 1,
                                      "revenue_bn_vnd": 120, "culture_registered": 1,
                                      "culture_achieved": 0, "members_rated": 20,
                                      "members_rated_excellent": 2, "members_rated_good": 2,
                                      "org_rating": 4}),
    "U3-23H1": ("U3", "2023-H1", 12, {"members_total": 16, "members_admitted": 1,
                                      "revenue_bn_vnd": 80, "org_rating": 3}),
    "U4-23H1": ("U4", "2023-H1", 13, {"members_total": 42, "members_admitted": 5}),
    "U5-23H1": ("U5", "2023-H1", 14, {"members_total": 10, "members_admitted": 4,
                                      "revenue_bn_vnd": 33}),
    "U6-23H1": ("U6", "2023-H1", 15, {"members_total": 500, "members_admitted": 50}),
}  # fmt: skip

FINDINGS = [
    # submission, unit, period, rule, severity
    ("U6-23H1", "U6", "2023-H1", "members_total_sum", "error"),
    ("U3-23H1", "U3", "2023-H1", "not_applicable", "warning"),
    ("U1-23H1-old", "U1", "2023-H1", "members_total_sum", "error"),  # superseded anyway
]


def _load_fixture(con) -> None:  # noqa: ANN001
    con.executemany(
        "insert into registry_units values (?, ?, ?, ?, ?, ?)",
        [[code, f"Đơn vị {code}", s, f, start, end] for code, s, f, start, end in UNITS],
    )
    for sid, (unit, period, seq, values) in FIXTURE.items():
        con.execute(
            "insert into submissions values (?, ?, ?, ?, 'csv', ?, ?, 'b1', ?)",
            [sid, f"sha-{sid}", unit, period, f"{sid}.csv", datetime(2023, 7, 1), seq],
        )
        con.executemany(
            "insert into submitted_values values (?, ?, ?, ?, ?, null)",
            [
                [sid, code, repr(value), value, f"dòng {i}"]
                for i, (code, value) in enumerate(values.items(), start=2)
            ],
        )
    con.executemany(
        "insert into findings (finding_key, run_id, unit_code, period, submission_id, rule_id, "
        "kind, severity, message, indicators) values (?, 'r', ?, ?, ?, ?, 'sum', ?, 'x', [])",
        [[f"k{i}", u, p, s, r, sev] for i, (s, u, p, r, sev) in enumerate(FINDINGS)],
    )


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    workspace: Path = tmp_path_factory.mktemp("models")
    connection = connect(workspace)
    _load_fixture(connection)
    run_models(connection, CATALOG, RANGE)
    yield connection
    connection.close()


def _term(con, measure: str, code: str, group: tuple[str, str] = ("bloc", "bloc")):  # noqa: ANN001
    rows = con.execute(
        "select value from rpt_term__indicators where measure = ? and indicator_code = ? "
        "and group_type = ? and group_value = ?",
        [measure, code, *group],
    ).fetchall()
    assert len(rows) <= 1, rows
    return rows[0][0] if rows else None


def _period(con, period: str, code: str, group: tuple[str, str] = ("bloc", "bloc")):  # noqa: ANN001
    rows = con.execute(
        "select value from rpt_period__indicators where period = ? and indicator_code = ? "
        "and group_type = ? and group_value = ?",
        [period, code, *group],
    ).fetchall()
    assert len(rows) <= 1, rows
    return rows[0][0] if rows else None


def test_flows_are_summed_over_the_range_only(con) -> None:  # noqa: ANN001
    # 2022-H2: U1 3 + U2 1 + U3 2 + U4 1 + U6 0 = 7
    # 2023-H1: U1 2 (not the superseded 99) + U2 1 + U3 1 + U5 4 = 8 (U4 gone, U6 blocked)
    # baseline flows (U1 7, U2 1) are not part of the term
    assert _period(con, "2022-H2", "members_admitted") == 7
    assert _period(con, "2023-H1", "members_admitted") == 8
    assert _term(con, "term", "members_admitted") == 15


def test_stocks_at_start_are_the_baseline_and_at_cutoff_the_last_period(con) -> None:  # noqa: ANN001
    assert _term(con, "start", "members_total") == 100 + 20 + 40
    assert _term(con, "start", "branches_total") == 10
    # U1 105 + U2 22 + U3 16 + U5 10 (U4 left at 2022-12-31, U6 blocked, old U1 superseded)
    assert _term(con, "cutoff", "members_total") == 105 + 22 + 16 + 10
    assert _term(con, "cutoff", "branches_total") == 11
    # stocks are not summed over the term
    assert _term(con, "term", "members_total") is None


def test_stocks_by_group(con) -> None:  # noqa: ANN001
    assert _term(con, "start", "members_total", ("sector", "soe")) == 20
    assert _term(con, "start", "members_total", ("sector", "industrial_zone")) == 40
    assert _term(con, "cutoff", "members_total", ("sector", "industrial_zone")) is None
    assert _term(con, "cutoff", "members_total", ("form", "chi_bo")) == 22 + 16 + 10
    assert _term(con, "cutoff", "members_total", ("form", "dang_bo")) == 105
    assert _term(con, "term", "members_admitted", ("sector", "agency")) == 3 + 0 + 2 + 4


def test_superseded_submission_is_ignored(con) -> None:  # noqa: ANN001
    current = con.execute(
        "select submission_id, versions from int_submissions_current "
        "where unit_code = 'U1' and period = '2023-H1'"
    ).fetchall()
    assert current == [("U1-23H1", 2)]
    assert _period(con, "2023-H1", "members_total", ("form", "dang_bo")) == 105


def test_error_finding_excludes_and_warning_includes(con) -> None:  # noqa: ANN001
    accepted = {
        r[0]
        for r in con.execute(
            "select submission_id from int_submissions_accepted where period = '2023-H1'"
        ).fetchall()
    }
    assert accepted == {"U1-23H1", "U2-23H1", "U3-23H1", "U5-23H1"}
    assert _period(con, "2023-H1", "members_total", ("sector", "private")) == 16


def test_unit_inactive_in_a_period_is_excluded(con) -> None:  # noqa: ANN001
    assert _period(con, "2022-H2", "members_total", ("sector", "industrial_zone")) == 41
    assert _period(con, "2023-H1", "members_total", ("sector", "industrial_zone")) is None
    # U5 was created on 2023-01-01: not in the baseline snapshot
    assert _period(con, "2022-H1", "members_total", ("form", "chi_bo")) == 20


def test_rate_is_recomputed_from_summed_parts_never_averaged(con) -> None:  # noqa: ANN001
    # 2022-H2: U1 9/10 = 90 %, U2 1/2 = 50 %; their mean is 70 %, the bloc's rate 10/12
    assert _period(con, "2022-H2", "tasks_completed_pct") == pytest.approx(100 * 10 / 12)
    # term: (9 + 1 + 5) / (10 + 2 + 5); the mean of the periods' rates would be 91.67 %
    assert _term(con, "term", "tasks_completed_pct") == pytest.approx(100 * 15 / 17)
    # a rate of stocks at the cutoff: (10 + 70 + 2 + 2) / (100 + 20) = 70 %, not (80 + 20) / 2
    assert _term(con, "cutoff", "members_rated_good_pct") == pytest.approx(70.0)


def test_weighted_mean_of_income_by_employees(con) -> None:  # noqa: ANN001
    # (10.0 × 100 + 6.0 × 300) / 400 = 7.0; the plain mean would be 8.0
    assert _period(con, "2022-H2", "avg_income_mn_vnd_month") == pytest.approx(7.0)
    assert _period(con, "2022-H2", "employees") == 400


def test_count_true_for_culture_flags(con) -> None:  # noqa: ANN001
    assert _period(con, "2023-H1", "culture_registered") == 2
    assert _period(con, "2023-H1", "culture_achieved") == 1


def test_distribution_counts_units_by_rating(con) -> None:  # noqa: ANN001
    assert _period(con, "2023-H1", "org_rating__4") == 2
    assert _period(con, "2023-H1", "org_rating__3") == 1
    assert _period(con, "2023-H1", "org_rating") is None


def test_inapplicable_indicator_is_excluded(con) -> None:  # noqa: ANN001
    # U5 is an agency: its revenue (33) is not counted
    assert _period(con, "2023-H1", "revenue_bn_vnd") == 120 + 80
    assert _period(con, "2023-H1", "revenue_bn_vnd", ("sector", "agency")) is None
    assert _term(con, "term", "revenue_bn_vnd") == 100 + 50 + 120 + 80
    assert _term(con, "term", "revenue_bn_vnd", ("sector", "soe")) == 100 + 120


def test_term_units_by_form_and_sector(con) -> None:  # noqa: ANN001
    rows = con.execute(
        "select measure, units, dang_bo, chi_bo, agency, soe, private, industrial_zone "
        "from rpt_term__units order by measure"
    ).fetchall()
    assert rows == [
        # on 2023-06-30: U1 U2 U3 U5 U6 U7 (U4 left)
        ("cutoff", 6, 2, 4, 4, 1, 1, 0),
        # on 2022-06-30: U1 U2 U3 U4 U6 U7 (U5 not yet)
        ("start", 6, 3, 3, 3, 1, 1, 1),
    ]


def test_coverage_statuses(con) -> None:  # noqa: ANN001
    rows = con.execute(
        "select period, unit_code, status, error_rules from rpt_coverage__units "
        "order by period, unit_code"
    ).fetchall()
    assert rows == [
        ("2022-H2", "U1", "included", []),
        ("2022-H2", "U2", "included", []),
        ("2022-H2", "U3", "included", []),
        ("2022-H2", "U4", "included", []),
        ("2022-H2", "U6", "included", []),
        ("2022-H2", "U7", "missing", []),
        ("2023-H1", "U1", "included", []),
        ("2023-H1", "U2", "included", []),
        ("2023-H1", "U3", "included", []),
        ("2023-H1", "U5", "included", []),
        ("2023-H1", "U6", "blocked", ["members_total_sum"]),
        ("2023-H1", "U7", "missing", []),
    ]


def test_report_context_figures(con) -> None:  # noqa: ANN001
    context = report_context(con, RANGE)
    assert context["period"] == {
        "code": "2022-H2..2023-H1",
        "first": "2022-H2",
        "last": "2023-H1",
        "baseline": "2022-H1",
    }
    start, cutoff = context["start"], context["cutoff"]
    assert (start["units"], start["dang_bo"], start["chi_bo"]) == (6, 3, 3)
    assert start["sectors"] == {"agency": 3, "soe": 1, "private": 1, "industrial_zone": 1}
    assert (start["members"], start["branches"]) == (160, 10)
    assert (cutoff["units"], cutoff["dang_bo"], cutoff["chi_bo"]) == (6, 2, 4)
    assert (cutoff["members"], cutoff["branches"]) == (153, 11)
    assert context["term"]["members_admitted"] == 15
    coverage = context["coverage"]
    assert coverage["units_expected"] == 6
    assert coverage["units_included"] == 4
    assert coverage["units_expected_any_period"] == 7
    assert coverage["fully_included"] == 5  # all but U6 (blocked) and U7 (missing)
    assert coverage["missing"] == [
        {"unit_code": "U7", "name": "Đơn vị U7", "periods": ["2022-H2", "2023-H1"]}
    ]
    assert coverage["blocked"] == [
        {
            "unit_code": "U6",
            "name": "Đơn vị U6",
            "periods": ["2023-H1"],
            "rules": ["members_total_sum"],
        }
    ]


def test_run_models_is_idempotent(con) -> None:  # noqa: ANN001
    before = con.execute("select * from rpt_term__indicators order by all").fetchall()
    results = run_models(con, CATALOG, RANGE)
    after = con.execute("select * from rpt_term__indicators order by all").fetchall()
    assert before == after
    assert [r.name for r in results if r.status != "success"] == []
    # nothing changed: an incremental run, which leaves the views as they are
    rebuilt = {m.name for m in MODELS if m.materialized != "view"}
    assert {r.name for r in results} == rebuilt


LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}
MODELS = project_models()


def test_every_model_file_is_a_model_of_the_dbt_project() -> None:
    files = {p.stem: p.parent.name for layer in LAYERS for p in (SQL_DIR / layer).glob("*.sql")}
    assert {m.name: m.layer for m in MODELS} == files


def test_layers_read_only_from_below_and_only_staging_reads_the_raw_tables() -> None:
    layer = {m.name: m.layer for m in MODELS}
    for model in MODELS:
        for other in model.depends_on:
            assert LAYERS[layer[other]] <= LAYERS[model.layer], (model.name, other)
        if model.layer == "staging":
            assert len(model.sources) == 1 and not model.depends_on, model
    raw = {s for m in MODELS if m.layer == "staging" for s in m.sources}
    # the raw tables the other steps write each have their staging model
    written = {"submissions", "submitted_values", "registry_units", "findings", "review_actions",
               "review_pending", "value_corrections", "catalog_indicators",
               "run_periods"}  # fmt: skip
    assert written <= raw


def test_every_table_a_model_reads_is_a_ref_a_source_or_its_own_cte() -> None:
    for layer in LAYERS:
        for path in (SQL_DIR / layer).glob("*.sql"):
            text = re.sub(r"--[^\n]*|\{%.*?%\}|\{#.*?#\}", " ", path.read_text(), flags=re.S)
            sql = re.sub(r"\{\{.*?\}\}", " jinja_relation ", text, flags=re.S)
            ctes = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s+as\s+(?:not\s+materialized\s+)?\(", sql))
            read = set(re.findall(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)", sql))
            assert read <= ctes | {"jinja_relation"}, (path.name, read - ctes)


def test_a_value_written_twice_is_never_counted_twice(tmp_path: Path) -> None:
    """An accepted duplicate_value: the same value twice counts once; two different values
    count as none (a steward's correction supplies one)."""
    con = connect(tmp_path)
    try:
        con.execute(
            "insert into registry_units values ('U1', 'Đơn vị U1', 'agency', 'chi_bo', "
            "'2010-01-01', null), ('U2', 'Đơn vị U2', 'agency', 'chi_bo', '2010-01-01', null)"
        )
        rows = {"U1": [5, 5], "U2": [5, 9]}  # members_admitted as each file wrote it, twice
        for unit, values in rows.items():
            sid = f"{unit}-23H1"
            con.execute(
                "insert into submissions values (?, ?, ?, '2023-H1', 'csv', ?, ?, 'b1', ?)",
                [sid, f"sha-{sid}", unit, f"{sid}.csv", datetime(2023, 7, 1), len(unit)],
            )
            for line, value in enumerate(values, start=2):
                con.execute(
                    "insert into submitted_values values (?, 'members_admitted', ?, ?, ?, null)",
                    [sid, str(value), value, f"dòng {line}"],
                )
        run_models(con, CATALOG, RANGE)
        accepted = con.execute(
            "select unit_code, value from int_values_accepted "
            "where indicator_code = 'members_admitted' order by all"
        ).fetchall()
        assert accepted == [("U1", 5.0)]
        assert _period(con, "2023-H1", "members_admitted") == 5  # not 10, not 24
    finally:
        con.close()


def test_codes_sharing_a_place_in_the_mask_each_count_once(tmp_path: Path) -> None:
    """int_values_accepted groups by submission and code only the submissions with more values
    than distinct places of their codes in a 127-bit mask of the catalog. With more than 127
    indicators two codes 127 places apart share a place: each still counts, once."""
    catalog, first, shared = catalog_sharing_a_place()
    rows = {
        "U1": [(first, 4), (shared, 6)],  # two codes sharing a place: both count
        "U2": [(shared, 7), (shared, 7), (first, 2)],  # one written twice, the same value: once
        "U3": [(shared, 7), (shared, 8), (first, 3)],  # two different values: none
    }
    con = connect(tmp_path)
    try:
        for unit, values in rows.items():
            con.execute(
                "insert into registry_units values (?, ?, 'agency', 'chi_bo', '2010-01-01', null)",
                [unit, f"Đơn vị {unit}"],
            )
            sid = f"{unit}-23H1"
            con.execute(
                "insert into submissions values (?, ?, ?, '2023-H1', 'csv', ?, ?, 'b1', ?)",
                [sid, f"sha-{sid}", unit, f"{sid}.csv", datetime(2023, 7, 1), int(unit[1:])],
            )
            for line, (code, value) in enumerate(values, start=2):
                con.execute(
                    "insert into submitted_values values (?, ?, ?, ?, ?, null)",
                    [sid, code, str(value), value, f"dòng {line}"],
                )
        run_models(con, catalog, RANGE)
        accepted = con.execute(
            "select unit_code, indicator_code, value from int_values_accepted order by all"
        ).fetchall()
        assert accepted == [
            ("U1", first, 4.0),
            ("U1", shared, 6.0),
            ("U2", first, 2.0),
            ("U2", shared, 7.0),
            ("U3", first, 3.0),
        ]
        assert _period(con, "2023-H1", shared) == 13  # 6 + 7: U2's twice once, U3's none
    finally:
        con.close()
