"""Rules on the consolidated level (tonghop.consolidated) and the GX Data Docs of a run.

A small bloc in a real DuckDB workspace: the models run, the consolidated rules pass; then a
mart is broken on purpose (fixture rows changed or removed) and each rule must fire, with no
unit, without touching the unit-level findings.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from tonghop.catalog import load_catalog
from tonghop.consolidate import run_models
from tonghop.consolidated import check, compile_consolidated
from tonghop.db import connect, open_db
from tonghop.periods import PeriodRange
from tonghop.review_page import link_data_docs
from tonghop.rules import ConsolidatedRuleSpec, load_rules
from tonghop.validate import CONSOLIDATED_KIND, store_findings, validate

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2021-H1..2021-H2")

UNITS = [
    ("A", "agency", "dang_bo", date(2010, 1, 1), None),
    ("B", "soe", "chi_bo", date(2010, 1, 1), None),
    ("C", "private", "chi_bo", date(2010, 1, 1), date(2021, 3, 31)),  # leaves in 2021-H1
    ("D", "industrial_zone", "chi_bo", date(2021, 9, 1), None),  # joins in 2021-H2, no report
    ("DUK", "agency", "dang_uy_khoi", date(2010, 1, 1), None),
]
FIXTURE = {
    ("A", "2020-H2"): {"members_total": 50, "branches_total": 5},
    ("B", "2020-H2"): {"members_total": 10},
    ("C", "2020-H2"): {"members_total": 7},
    ("A", "2021-H1"): {"members_total": 52, "members_admitted": 2, "org_rating": 4},
    ("B", "2021-H1"): {"members_total": 11, "members_admitted": 1, "org_rating": 3,
                       "revenue_bn_vnd": 1.25},
    ("A", "2021-H2"): {"members_total": 53, "members_admitted": 1, "org_rating": 4,
                       "revenue_bn_vnd": 2.5},
    ("B", "2021-H2"): {"members_total": 12, "members_admitted": 1, "org_rating": 4},
    ("DUK", "2021-H2"): {"mass_orgs_total": 4, "mass_orgs_rated_strong": 3},
}  # fmt: skip


@pytest.fixture(scope="module")
def consolidated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small bloc, its models run once for the module (`workspace` copies it)."""
    root = tmp_path_factory.mktemp("consolidated")
    con = connect(root)
    try:
        con.executemany(
            "insert into registry_units values (?, ?, ?, ?, ?, ?)",
            [[code, f"Đơn vị {code}", s, f, start, end] for code, s, f, start, end in UNITS],
        )
        for seq, ((unit, period), values) in enumerate(FIXTURE.items(), start=1):
            sid = f"{unit}-{period}"
            con.execute(
                "insert into submissions values (?, ?, ?, ?, 'csv', ?, ?, 'b1', ?)",
                [sid, f"sha-{sid}", unit, period, f"{sid}.csv", datetime(2022, 1, 5), seq],
            )
            con.executemany(
                "insert into submitted_values values (?, ?, ?, ?, ?, null)",
                [[sid, c, repr(v), v, f"dòng {i}"] for i, (c, v) in enumerate(values.items())],
            )
        run_models(con, CATALOG, RANGE)
        # a unit-level finding the consolidated level must leave alone
        con.execute(
            "insert into findings values ('unit-key', 'r0', 'B', '2021-H1', 'B-2021-H1', "
            "'plausibility_members_total', 'plausibility', 'warning', 'x', ['members_total'], "
            "'{}', null, null, null, null)"
        )
    finally:
        con.close()
    return root


@pytest.fixture
def workspace(consolidated: Path, tmp_path: Path) -> Path:
    """A copy of the consolidated workspace, for a test to break a mart of."""
    return Path(shutil.copytree(consolidated, tmp_path / "ws"))


def _findings(workspace: Path) -> list[tuple]:
    with open_db(workspace) as con:
        return con.execute(
            "select kind, rule_id, unit_code, period from findings order by all"
        ).fetchall()


def _break(workspace: Path, sql: str) -> None:
    with open_db(workspace) as con:
        con.execute(sql)


def test_rules_compile_from_rules_yaml():
    rules = compile_consolidated()
    assert {r.rule_id for r in rules} == {
        "consolidated_sectors_sum",
        "consolidated_forms_sum",
        "consolidated_coverage_registry",
        "consolidated_term_units_registry",
        "consolidated_term_units_parts",
    }
    assert {r.kind for r in rules} == {CONSOLIDATED_KIND}
    assert {r.severity for r in rules} == {"error"}


def test_a_rule_id_must_carry_the_prefix_that_replacement_relies_on():
    ruleset = load_rules().model_copy(
        update={
            "consolidated": [
                ConsolidatedRuleSpec(
                    id="sectors_sum", check="sectors_sum_to_bloc", severity="error", message="m"
                )
            ]
        }
    )
    with pytest.raises(ValueError, match="consolidated_"):
        compile_consolidated(ruleset)


def test_consistent_marts_pass(workspace):
    assert check(workspace, CATALOG, "r1") == []
    with open_db(workspace) as con:
        units = con.execute(
            "select period, registry_units, included, blocked, missing, submitted "
            "from val_cons_units order by period"
        ).fetchall()
        totals = con.execute("select count(*) from val_cons_totals").fetchone()[0]
    # 2021-H1: A, B, DUK active (C left), DUK did not report; 2021-H2: D joined, did not report
    assert units == [("2021-H1", 3, 2, 0, 1, 2), ("2021-H2", 4, 3, 0, 1, 3)]
    assert totals > 0
    assert _findings(workspace) == [("plausibility", "plausibility_members_total", "B", "2021-H1")]


def test_a_sector_row_off_by_one_breaks_the_sector_sum_only(workspace):
    _break(
        workspace,
        "update rpt_period__indicators set value = value + 1 where period = '2021-H2' "
        "and group_type = 'sector' and group_value = 'soe' and indicator_code = 'members_total'",
    )
    findings = check(workspace, CATALOG, "r1")
    assert [(f.rule_id, f.period, f.unit_code, f.kind) for f in findings] == [
        ("consolidated_sectors_sum", "2021-H2", None, CONSOLIDATED_KIND)
    ]
    assert findings[0].location == "members_total"
    assert "Tổng số đảng viên" in findings[0].message
    assert findings[0].values == {"bloc": 65.0, "sectors": 66.0}


def test_a_lost_form_row_breaks_the_form_sum(workspace):
    _break(
        workspace,
        "delete from rpt_period__indicators where period = '2021-H2' and group_type = 'form' "
        "and group_value = 'dang_bo' and indicator_code = 'org_rating__4'",
    )
    findings = check(workspace, CATALOG, "r1")
    assert [(f.rule_id, f.location) for f in findings] == [
        ("consolidated_forms_sum", "org_rating__4")
    ]
    assert "(mức 4)" in findings[0].message


def test_amounts_sum_within_their_declared_precision(workspace):
    # revenue has 1 decimal: a drift under half a unit of it is rounding, not a broken model
    _break(
        workspace,
        "update rpt_period__indicators set value = value + 0.04 where group_type = 'sector' "
        "and group_value = 'agency' and indicator_code = 'revenue_bn_vnd'",
    )
    assert check(workspace, CATALOG, "r1") == []


def test_a_lost_coverage_row_breaks_the_registry_count(workspace):
    _break(
        workspace,
        "delete from rpt_coverage__units where unit_code = 'D' and period = '2021-H2'",
    )
    findings = check(workspace, CATALOG, "r1")
    assert [(f.rule_id, f.period, f.unit_code) for f in findings] == [
        ("consolidated_coverage_registry", "2021-H2", None)
    ]
    assert "danh mục có 4 đơn vị" in findings[0].message


def test_term_units_are_checked_against_the_registry_and_their_parts(workspace):
    _break(workspace, "update rpt_term__units set units = units + 1 where measure = 'start'")
    findings = check(workspace, CATALOG, "r1")
    assert sorted((f.rule_id, f.period, f.location) for f in findings) == [
        ("consolidated_term_units_parts", "2020-H2", "start"),
        ("consolidated_term_units_registry", "2020-H2", "start"),
    ]


@pytest.mark.slow  # GX checks three times and the models run again: out of `make check`
def test_consolidated_findings_replace_only_their_own(workspace):
    _break(workspace, "update rpt_term__units set units = units + 1 where measure = 'cutoff'")
    check(workspace, CATALOG, "r1")
    kinds = [row[0] for row in _findings(workspace)]
    assert kinds.count(CONSOLIDATED_KIND) == 2 and kinds.count("plausibility") == 1
    # unit-level validation replaces its own findings, not the consolidated ones
    with open_db(workspace) as con:
        store_findings(con, [], "r2", RANGE.periods)
    assert [row[0] for row in _findings(workspace)] == [CONSOLIDATED_KIND] * 2
    # a clean consolidation clears them (a full one: the mart was broken by hand, not through
    # anything a consolidation compares to find what changed)
    with open_db(workspace) as con:
        run_models(con, CATALOG, RANGE, incremental=False)
    assert check(workspace, CATALOG, "r3") == []
    assert _findings(workspace) == []


@pytest.mark.slow  # GX writes three Data Docs sites: out of `make check`
def test_data_docs_name_the_suites(workspace):
    docs = workspace / "out" / "data-docs"
    validate(workspace, CATALOG, RANGE.periods, [RANGE.baseline], None, "r1", docs)
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert "tonghop_val_values" in index and "tonghop_val_wide" in index
    assert list((docs / "validations").rglob("*.html"))
    check(workspace, CATALOG, "r1", docs / "consolidated")
    consolidated = (docs / "consolidated" / "index.html").read_text(encoding="utf-8")
    for suite in ("tonghop_val_cons_totals", "tonghop_val_cons_units", "tonghop_val_cons_term"):
        assert suite in consolidated
    # the unit-level site is still whole
    assert (docs / "index.html").read_text(encoding="utf-8") == index
    # a new run's site replaces the old one
    validate(workspace, CATALOG, RANGE.periods, [RANGE.baseline], None, "r2", docs)
    assert not (docs / "consolidated").exists()


def test_review_page_links_the_data_docs_that_exist(tmp_path):
    html = "<html><body>\n<h1>Kết quả kiểm tra số liệu</h1>\n<p>x</p></body></html>"
    assert link_data_docs(html, tmp_path) == html
    (tmp_path / "data-docs").mkdir()
    (tmp_path / "data-docs" / "index.html").write_text("gx", encoding="utf-8")
    linked = link_data_docs(html, tmp_path)
    assert '<h1>Kết quả kiểm tra số liệu</h1>\n<p class="data-docs">' in linked
    assert 'href="data-docs/index.html"' in linked
    assert "consolidated" not in linked
