"""`tonghop explain` and the traceability page on small fixture rows in a real DuckDB workspace.

Range 2022-H2..2023-H1, baseline 2022-H1; every expected figure is worked out by hand beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tonghop.catalog import load_catalog
from tonghop.cli import app
from tonghop.consolidate import report_context, run_models
from tonghop.db import connect
from tonghop.explain import explain
from tonghop.figure_ids import ExplainError, parse_figure_id
from tonghop.periods import PeriodRange
from tonghop.trace import write_trace_page

RANGE = PeriodRange.parse("2022-H2..2023-H1")

UNITS = [
    ("U1", "Đảng bộ Sở Tài chính", "agency", "dang_bo", date(2010, 1, 1), None),
    ("U2", "Chi bộ Công ty A", "soe", "chi_bo", date(2010, 1, 1), None),
    ("U3", "Chi bộ Công ty <B>", "private", "chi_bo", date(2010, 1, 1), date(2022, 12, 31)),
]

# submission id -> (unit, period, seq, values)
FIXTURE = {
    "U1-22H1": ("U1", "2022-H1", 1, {"members_total": 100, "branches_total": 10}),
    "U2-22H1": ("U2", "2022-H1", 2, {"members_total": 20}),
    "U3-22H1": ("U3", "2022-H1", 3, {"members_total": 15, "branches_total": 0}),
    "U1-22H2": ("U1", "2022-H2", 4, {"members_total": 103, "members_admitted": 3}),
    "U2-22H2": ("U2", "2022-H2", 5, {"members_total": 21, "members_admitted": 1}),
    "U3-22H2": ("U3", "2022-H2", 6, {"members_total": 16, "members_admitted": 2}),
    "U1-23H1": ("U1", "2023-H1", 7, {"members_total": 105, "members_admitted": 2,
                                     "tasks_assigned": 10, "tasks_completed": 9}),
    "U2-23H1": ("U2", "2023-H1", 8, {"members_total": 22, "members_admitted": 1,
                                     "tasks_assigned": 2, "tasks_completed": 1,
                                     "revenue_bn_vnd": 100, "employees": 100,
                                     "avg_income_mn_vnd_month": 10.0}),
}  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("explain")
    con = connect(ws)
    con.executemany(
        "insert into registry_units (unit_code, name, sector, form, valid_from, valid_to) "
        "values (?, ?, ?, ?, ?, ?)",
        [list(u) for u in UNITS],
    )
    for sid, (unit, period, seq, values) in FIXTURE.items():
        con.execute(
            "insert into submissions (submission_id, sha256, unit_code, period, file_format, "
            "original_name, received_at, batch_id, seq) values (?, ?, ?, ?, 'csv', ?, ?, 'b', ?)",
            [sid, f"sha-{sid}", unit, period, f"{sid}.csv", datetime(2023, 7, 1), seq],
        )
        con.executemany(
            "insert into submitted_values (submission_id, indicator_code, raw_value, value, "
            "location) values (?, ?, ?, ?, ?)",
            [
                [sid, code, repr(v), v, f"dòng {i}"]
                for i, (code, v) in enumerate(values.items(), start=2)
            ],
        )
    run_models(con, load_catalog(), RANGE)
    con.close()
    return ws


@pytest.fixture()
def con(workspace: Path):
    connection = connect(workspace, read_only=True)
    yield connection
    connection.close()


def test_stock_at_cutoff_is_the_sum_of_the_units_last_values(con) -> None:  # noqa: ANN001
    result = explain(con, "cutoff.members_total")
    # U1 105 + U2 22 (U3 left the bloc on 2022-12-31)
    assert result.value == result.total == 127
    assert result.model == "rpt_term__indicators" and result.column == "value"
    rows = {(c["unit_code"], c["period"]): c for c in result.contributions}
    assert set(rows) == {("U1", "2023-H1"), ("U2", "2023-H1")}
    assert rows["U1", "2023-H1"]["sha256"] == "sha-U1-23H1"
    assert rows["U1", "2023-H1"]["file_name"] == "U1-23H1.csv"
    assert rows["U1", "2023-H1"]["location"] == "dòng 2"
    assert rows["U1", "2023-H1"]["name"] == "Đảng bộ Sở Tài chính"


def test_flow_over_the_term_lists_every_period(con) -> None:  # noqa: ANN001
    result = explain(con, "term.members_admitted")
    # 2022-H2: 3 + 1 + 2; 2023-H1: 2 + 1
    assert result.value == result.total == 9
    assert len(result.contributions) == 5
    assert result.matches


def test_start_is_the_baseline(con) -> None:  # noqa: ANN001
    result = explain(con, "start.branches_total")
    assert result.value == result.total == 10
    assert {c["period"] for c in result.contributions} == {"2022-H1"}


def test_unit_counts_come_from_the_registry(con) -> None:  # noqa: ANN001
    cutoff = explain(con, "cutoff.units")
    assert cutoff.model == "rpt_term__units" and cutoff.column == "units"
    assert cutoff.value == cutoff.total == 2
    assert [c["unit_code"] for c in cutoff.contributions] == ["U1", "U2"]
    start_chi_bo = explain(con, "start.chi_bo")
    assert start_chi_bo.value == start_chi_bo.total == 2


def test_rate_is_recomputed_from_the_units_parts(con) -> None:  # noqa: ANN001
    result = explain(con, "cutoff.tasks_completed_pct")
    # (9 + 1) / (10 + 2)
    assert result.total == pytest.approx(100 * 10 / 12)
    assert result.matches
    assert {(c["numerator"], c["denominator"]) for c in result.contributions} == {(9, 10), (1, 2)}


def test_group_and_weighted_mean(con) -> None:  # noqa: ANN001
    assert explain(con, "cutoff.members_total@sector:soe").total == 22
    income = explain(con, "cutoff.avg_income_mn_vnd_month")
    assert income.value == income.total == pytest.approx(10.0)
    assert income.contributions[0]["weight"] == 100


def test_unknown_or_absent_figures_are_refused(con) -> None:  # noqa: ANN001
    with pytest.raises(ExplainError):
        parse_figure_id("members_total")
    with pytest.raises(ExplainError):
        explain(con, "cutoff.no_such_indicator")
    with pytest.raises(ExplainError, match="start/cutoff"):
        explain(con, "term.members_total")  # a stock is not summed over the term


def test_cli_prints_model_contributions_and_total(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["explain", "term.members_admitted", "--workspace",
                                      str(workspace), "--period", "2022-H2..2023-H1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rpt_term__indicators" in result.output
    assert "sha-U3-22H2" in result.output and "U3-22H2.csv" in result.output
    assert "Tổng 5 dòng: 9 (bằng số liệu của dự thảo)" in result.output
    wrong = CliRunner().invoke(app, ["explain", "cutoff.members_total", "--workspace",
                                     str(workspace), "--period", "2024"])  # fmt: skip
    assert wrong.exit_code == 2


def test_trace_page_lists_each_figure_escaped(workspace: Path, tmp_path: Path) -> None:
    con = connect(workspace, read_only=True)
    try:
        context = report_context(con, RANGE)
        page = write_trace_page(con, context, tmp_path)
    finally:
        con.close()
    html = page.read_text(encoding="utf-8")
    assert page.name == "truy-vet.html"
    assert 'id="nguon-cutoff.members_total"' in html and 'id="nguon-term.members_admitted"' in html
    assert "sha-U1-23H1" in html
    # the unit name "Chi bộ Công ty <B>" is data: escaped, never markup
    assert "Chi bộ Công ty &lt;B&gt;" in html and "<B>" not in html


def test_html_draft_appendix_lists_each_figure_with_its_contributions(
    workspace: Path, tmp_path: Path
) -> None:
    import re
    from html import unescape

    from tonghop.report.draft import render_report
    from tonghop.settings import ReportSettings
    from tonghop.trace import trace_context

    con = connect(workspace, read_only=True)
    try:
        context = report_context(con, RANGE)
        context["trace"] = trace_context(con, context)
    finally:
        con.close()
    paths = render_report(context, ReportSettings(), tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    appendix = html[html.index("Phụ lục: Nguồn gốc số liệu") :]
    block = re.search(
        r'<details id="nguon-cutoff\.members_total".*?</details>', appendix, re.S
    ).group()
    assert "rpt_term__indicators" in block and "<code>value</code>" in block
    assert re.search(r'class="value">127<', block)  # U1 105 + U2 22 (U3 left on 2022-12-31)
    rows = re.findall(
        r"<tr><td>(\w+)</td><td>(.*?)</td><td>([\w-]+)</td><td class=\"num\">([\d.]+)</td>"
        r"<td>(.*?)</td><td><code>(.*?)</code></td></tr>",
        block,
    )
    assert sum(int(r[3].replace(".", "")) for r in rows) == 127
    assert {(r[0], r[2], r[5]) for r in rows} >= {("U1", "2023-H1", "sha-U1-23H1")}
    assert all(r[4] and r[5] for r in rows)  # the file and its sha256
    assert "Chi bộ Công ty &lt;B&gt;" in appendix and "<B>" not in appendix
    assert unescape(block).count("<details") == 1
    assert "Nguồn gốc số liệu" not in paths["md"].read_text(encoding="utf-8")
    # the trace page embeds the same rendering of the figures, without reading the database
    page = write_trace_page(None, context, tmp_path).read_text(encoding="utf-8")
    assert context["trace"]["html"] and context["trace"]["html"] in page
    assert context["trace"]["html"] in html
    assert (
        re.search(r'<details id="nguon-cutoff\.members_total".*?</details>', page, re.S).group()
        == block
    )


def test_explaining_every_figure_at_once_keeps_each_figures_own_rows(workspace: Path) -> None:
    from tonghop.explain import explain_all

    con = connect(workspace, read_only=True)
    try:
        context = report_context(con, RANGE)
        explanations, skipped = explain_all(con, context)
        one_by_one = [explain(con, e.figure) for e in explanations]
    finally:
        con.close()
    assert explanations == one_by_one
    assert len({e.figure for e in explanations}) == len(explanations) > 10
    assert all(e.matches for e in explanations), [e.figure for e in explanations if not e.matches]
    by_id = {e.figure: e for e in explanations}
    assert [c["unit_code"] for c in by_id["start.units"].contributions] == ["U1", "U2", "U3"]
    assert [c["unit_code"] for c in by_id["cutoff.units"].contributions] == ["U1", "U2"]


def test_a_capped_trace_keeps_the_first_units_and_totals_over_all(workspace: Path) -> None:
    """At national scale the trace shows the first units of each figure; its total and count
    still come from every contribution, so a capped figure still checks against the mart."""
    from tonghop.explain import explain_all

    con = connect(workspace, read_only=True)
    try:
        context = report_context(con, RANGE)
        full, _ = explain_all(con, context)
        capped, _ = explain_all(con, context, limit=1)
        none, _ = explain_all(con, context, limit=0)
    finally:
        con.close()
    assert [e.figure for e in none] == [e.figure for e in full]
    assert all(not e.contributions for e in none)
    assert [e.figure for e in capped] == [e.figure for e in full]
    for whole, cut in zip(full, capped, strict=True):
        assert cut.contributions == whole.contributions[:1]
        assert cut.contribution_count == whole.contribution_count == len(whole.contributions)
        assert cut.total == pytest.approx(whole.total) and cut.matches
    by_id = {e.figure: e for e in capped}
    # term.members_admitted: U1 3 + 2, U2 1 + 1, U3 2 (hand-worked from FIXTURE) = 9, 5 rows
    admitted = by_id["term.members_admitted"]
    assert (admitted.total, admitted.contribution_count) == (9.0, 5)
    assert [c["unit_code"] for c in admitted.contributions] == ["U1"]


@pytest.mark.slow  # two more consolidations: out of `make check`
def test_a_kept_trace_is_reused_until_the_consolidation_rebuilds_a_row(
    workspace: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from tonghop.trace import trace_context

    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    con = connect(ws)
    try:
        context = report_context(con, RANGE)
        kept = trace_context(con, context, keep=True)  # computed, then stored
        assert con.execute("select count(*) from trace_state").fetchone() == (1,)
        assert trace_context(con, context, keep=True) == kept  # read back: the same values
        assert kept == trace_context(con, context)  # and what computing it again gives
        # A marker in the stored trace shows when it is reused rather than computed again.
        marker = json.dumps({"figures": [], "skipped": ["marker"]})
        con.execute("update trace_state set figures = ?", [marker])
        assert trace_context(con, context, keep=True)["skipped"] == ["marker"]
        run_models(con, load_catalog(), RANGE)  # nothing changed: no row rebuilt, still kept
        assert trace_context(con, context, keep=True)["skipped"] == ["marker"]
        other = dict(context, term={})  # a draft without the term's figures: its own trace
        assert trace_context(con, other, keep=True)["skipped"] != ["marker"]

        con.execute("update trace_state set figures = ?", [marker])
        # A steward corrects U1's members at 2023-H1 (105 -> 106): the consolidation rebuilds
        # (whole here: U1 is a third of the registry), the kept trace is dropped and the
        # figure's contributions are read again.
        con.execute(
            "insert into value_corrections values (1, 'a1', 'U1-23H1', 'members_total', 105, "
            "106, 'sửa', 'test', 'test', ?)",
            [datetime(2023, 7, 2)],
        )
        run_models(con, load_catalog(), RANGE)
        assert con.execute("select count(*) from trace_state").fetchone() == (0,)
        again = trace_context(con, report_context(con, RANGE), keep=True)
    finally:
        con.close()
    by_id = {f["figure"]: f for f in again["figures"]}
    assert by_id["cutoff.members_total"]["value"] == 106 + 22  # U1 corrected, U2
    assert [c["value"] for c in by_id["cutoff.members_total"]["contributions"]] == [106, 22]
