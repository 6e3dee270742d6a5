"""The figure registry (tonghop.figures, tonghop.report.figure_registry), figures.json, and the
members who left or arrived with their organisation (tonghop.unit_moves), on a hand-written
context and on fixture rows in a real DuckDB workspace; every expected figure is worked out by
hand beside it."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import pytest

from tonghop.catalog import load_catalog
from tonghop.consolidate import report_context, run_models
from tonghop.db import connect
from tonghop.explain import explain
from tonghop.figure_ids import ExplainError
from tonghop.figures import Figure, Figures, figure_function, placements, read_figures
from tonghop.periods import PeriodRange
from tonghop.report.draft import render_report
from tonghop.report.figure_registry import build_figures
from tonghop.settings import ReportSettings
from tonghop.unit_moves import organisation_moves

CONTEXT = {
    "period": {"code": "2020-H2..2023-H1", "first": "2020-H2", "last": "2023-H1"},
    "start": {"units": 177, "dang_bo": 121, "chi_bo": 56, "members": 15484,
              "sectors": {"agency": 93, "soe": 44, "private": 36, "industrial_zone": 4}},
    "cutoff": {"units": 121, "dang_bo": 93, "chi_bo": 28, "members": 14103,
               "sectors": {"agency": 87, "soe": 20, "private": 11, "industrial_zone": 3},
               "indicators": {"culture_achieved": 62, "culture_model": 30}},
    "term": {"members_admitted": 2078},
    "admission": {"target_per_year": 300},
}  # fmt: skip


def test_one_value_per_id():
    figures = Figures()
    one = Figure("cutoff.units", 121, "TCCSĐ", "units", "TCCSĐ", "rpt_term__units.units")
    figures.add(one)
    figures.add(one)  # the same figure again is the same figure
    with pytest.raises(ValueError, match="twice"):
        figures.add(Figure("cutoff.units", 120, "TCCSĐ", "units", "TCCSĐ", "x"))
    with pytest.raises(KeyError, match="cutoff.members"):
        figures["cutoff.members"]


@pytest.mark.parametrize(
    ("style", "decimals", "value", "text"),
    [
        ("count", 0, 4, "04"),
        ("count", 0, 14103, "14.103"),
        ("count", 0, 692.5, "693"),  # half up
        ("number", 1, 122235.85, "122.235,9"),
        ("percent", 2, 51.235, "51,24%"),
        ("phrase", 0, "gần 16", "gần 16"),
        ("count", 0, None, "[…]"),
    ],
)
def test_a_figure_is_printed_the_vietnamese_way(style, decimals, value, text):
    figure = Figure("x.y", value, "", "units", "", "", style=style, decimals=decimals)
    assert figure.text == text


def test_html_wraps_each_figure_and_marks_a_placeholder():
    figures = Figures()
    figures.add(Figure("a.b", 4, "", "units", "", ""))
    figures.add(Figure("a.c", None, "", "units", "", ""))
    plain, html = figure_function(figures, html=False), figure_function(figures, html=True)
    assert plain("a.b") == "04"
    assert str(html("a.b")) == '<span data-figure="a.b">04</span>'
    assert str(html("a.c")) == '<span data-figure="a.c" class="placeholder">[…]</span>'


def test_placements_give_the_section_and_the_sentence():
    html = (
        "<h3>3.3. Văn hoá</h3><p>Có <span data-figure='a'>62</span>/121 đơn vị. Đạt "
        "<span data-figure='b'>51,24%</span>, tốt.</p><table><tr><td>Khối</td>"
        "<td><span data-figure='a'>62</span></td></tr></table>"
        "<section class='footnotes'><ol><li>Trong đó: <span data-figure='c'>04</span>.</li>"
        "</ol></section><details data-figure='a'>trace</details>"
    )
    found = placements(html)
    assert found["a"] == [
        {"section": "3.3. Văn hoá", "sentence": "Có 62/121 đơn vị."},
        {"section": "3.3. Văn hoá", "sentence": "Khối | 62"},
    ]
    assert found["b"] == [{"section": "3.3. Văn hoá", "sentence": "Đạt 51,24%, tốt."}]
    assert found["c"] == [{"section": "Chú thích", "sentence": "Trong đó: 04."}]


def test_derived_figures_are_computed_once_from_the_context():
    figures = build_figures(CONTEXT)
    # 62 / 121 and 30 / 121 units at the cut-off
    assert figures["cutoff.culture_achieved_share"].text == "51,24%"
    assert figures["cutoff.culture_model_share"].text == "24,79%"
    assert figures["cutoff.culture_achieved_share"].inputs == (
        "cutoff.culture_achieved",
        "cutoff.units",
    )
    # 2.078 in the 3 years of 2020-H2 .. 2023-H1: 692,67 a year, 130,89% above 300
    assert figures["term.members_admitted_per_year"].text == "693"
    assert figures["term.members_admitted_vs_target_pct"].text == "130,89%"
    assert figures["target.admitted.threshold"].value == 300
    assert figures["target.admitted.threshold"].source == "committee"
    assert figures["term.units_change"].text == "56"
    assert figures["cutoff.members_total"].source == "units"
    assert figures["cutoff.mass_orgs_total"].source == "committee"
    assert figures["cutoff.branches_total"].text == "[…]"  # not given: a placeholder
    mart = figures.mart_ids()
    assert "cutoff.culture_achieved" in mart and "cutoff.units" in mart
    assert "cutoff.culture_achieved_share" not in mart


def test_figures_json_agrees_with_the_html_draft(tmp_path):
    paths = render_report(CONTEXT, ReportSettings(), tmp_path)
    listed = {f["id"]: f for f in read_figures(paths["figures"])}
    html = paths["html"].read_text("utf-8")
    spans = re.findall(r'<span data-figure="([^"]+)"[^>]*>([^<]*)</span>', html)
    assert spans
    for figure_id, text in spans:
        assert listed[figure_id]["text"] == text, figure_id
    assert {f for f, _ in spans} == {i for i, f in listed.items() if f["appears_in"]}
    share = listed["cutoff.culture_achieved_share"]
    assert (share["value"], share["text"], share["source"]) == (51.24, "51,24%", "units")
    assert [a["section"] for a in share["appears_in"]] == ["3.3. Chương trình trọng tâm thứ ba"]
    assert "có 62/121 đơn vị đạt chuẩn văn hoá, đạt 51,24%" in share["appears_in"][0]["sentence"]
    assert json.loads(paths["figures"].read_text("utf-8")) == list(listed.values())
    # a sentence whose input is missing is a placeholder naming it and who gives it
    md = paths["md"].read_text("utf-8")
    assert (
        "**[Phần nội dung do cơ quan soạn thảo bổ sung — chưa có số liệu: Thu ngân sách nhà "
        "nước năm 2022 (tệp số liệu ngoài, trích văn bản của Sở Tài chính)"
    ) in md
    assert "Thành viên Tổ bảo vệ nền tảng tư tưởng của Đảng, đến nay (báo cáo của Ban " in md
    assert "Chi bộ có bí thư là trưởng đơn vị (trên số chi bộ trực thuộc), đến nay (báo cáo" in md
    assert listed["external.grdp_growth_avg"]["source"] == "external"


# --- members who left or arrived with their organisation, on fixture rows ---------------------

RANGE = PeriodRange.parse("2022-H2..2023-H1")
UNITS = [
    ("A", "agency", "dang_bo", date(2010, 1, 1), None),
    ("GONE", "soe", "chi_bo", date(2010, 1, 1), date(2022, 10, 1)),  # left in 2022-H2
    ("LATE", "soe", "chi_bo", date(2011, 1, 1), date(2023, 3, 1)),  # reported 2022-H2 too
    ("NEW", "private", "chi_bo", date(2023, 2, 1), None),  # came in 2023-H1
    ("DUK", "agency", "dang_uy_khoi", date(2010, 1, 1), None),  # the bloc committee
]
FIXTURE = {
    ("A", "2022-H1"): {"members_total": 50},
    ("A", "2022-H2"): {"members_total": 52, "members_admitted": 2},
    ("A", "2023-H1"): {"members_total": 53, "members_transferred_in": 1},
    ("GONE", "2022-H1"): {"members_total": 20},
    ("LATE", "2022-H1"): {"members_total": 15},
    ("LATE", "2022-H2"): {"members_total": 16, "members_admitted": 2, "members_deceased": 1},
    ("NEW", "2023-H1"): {"members_total": 12, "members_admitted": 3, "members_struck_off": 1},
}  # fmt: skip


@pytest.fixture(scope="module")
def moves_con(tmp_path_factory):
    con = connect(tmp_path_factory.mktemp("moves"))
    registry = [[code, f"Đơn vị {code}", *rest] for code, *rest in UNITS]
    con.executemany("insert into registry_units values (?, ?, ?, ?, ?, ?)", registry)
    received = datetime(2023, 7, 1)
    submissions = [
        [f"{u}-{p}", f"sha-{u}-{p}", u, p, "csv", f"{u}-{p}.csv", received, "b1", seq]
        for seq, (u, p) in enumerate(FIXTURE, start=1)
    ]
    con.executemany("insert into submissions values (?, ?, ?, ?, ?, ?, ?, ?, ?)", submissions)
    rows = [
        [f"{u}-{p}", code, repr(v), v, code, None]
        for (u, p), values in FIXTURE.items()
        for code, v in values.items()
    ]
    con.executemany("insert into submitted_values values (?, ?, ?, ?, ?, ?)", rows)
    run_models(con, load_catalog(), RANGE)
    yield con
    con.close()


def test_members_moving_with_their_organisation(moves_con):
    moves = organisation_moves(moves_con)
    # GONE took the 20 of its last report, LATE the 16 of its; NEW brought 12 less its own
    # flows of that period (3 admitted, 1 struck off): 10
    assert (moves["left"]["units"], moves["left"]["members"]) == (2, 36)
    assert moves["left"]["sectors"]["soe"] == {"units": 2, "members": 36}
    assert (moves["arrived"]["units"], moves["arrived"]["members"]) == (1, 10)
    assert moves["arrived"]["sectors"]["private"] == {"units": 1, "members": 10}


def test_a_count_of_tccsd_is_traced_to_the_tccsd_only(moves_con):
    """The bloc committee is a unit of the registry, never a TCCSĐ: not a contribution."""
    counted = explain(moves_con, "cutoff.units")
    assert (counted.value, counted.total) == (2, 2)  # A and NEW
    assert [c["unit_code"] for c in counted.contributions] == ["A", "NEW"]
    assert explain(moves_con, "cutoff.soe").total == 0  # GONE and LATE left before


def test_a_derived_figure_points_to_the_figures_it_is_computed_from(moves_con):
    with pytest.raises(ExplainError, match="tonghop explain cutoff.culture_achieved; "):
        explain(moves_con, "cutoff.culture_achieved_share")


def test_the_members_reconcile_with_the_moves(moves_con):
    context = report_context(moves_con, RANGE)
    figures = build_figures(context)

    def v(figure_id: str) -> float:
        return figures.value(figure_id) or 0

    start, cutoff = v("start.members_total"), v("cutoff.members_total")
    assert (start, cutoff) == (50 + 20 + 15, 53 + 12)
    flows = (
        v("term.members_admitted")
        + v("term.members_transferred_in")
        - v("term.members_deceased")
        - v("term.members_struck_off")
    )
    assert flows == 2 + 1 + 2 - 1 + 3 - 1
    left, arrived = v("term.members_left_with_orgs"), v("term.members_arrived_with_orgs")
    assert start + flows - left + arrived == cutoff
