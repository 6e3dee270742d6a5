"""`tonghop check-draft`: figures that contradict each other or the data, and quiet elsewhere."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from tonghop.checkdraft import (
    DraftFigures,
    Paragraph,
    check_draft,
    check_paragraphs,
    check_workspace,
    quantities,
    read_draft,
    read_figures_file,
    summary,
    workspace_figures,
)
from tonghop.cli import app
from tonghop.db import connect
from tonghop.paths import SAMPLE_DIR
from tonghop.report.draft import figure_entries
from tonghop.settings import load_settings

DRAFTS = Path(__file__).resolve().parents[1] / "data" / "drafts"
HAND_WRITTEN = DRAFTS / "bao-cao-viet-tay.md"
PERIOD = "2020-H2..2023-H1"

# The published totals of report-outline.md, as the marts hold them.
DATA = {
    "start.units": 177, "start.dang_bo": 121, "start.chi_bo": 56,
    "start.branches_total": 1253, "start.members_total": 15484,
    "cutoff.units": 121, "cutoff.dang_bo": 93, "cutoff.chi_bo": 28,
    "cutoff.agency": 87, "cutoff.soe": 20, "cutoff.private": 11, "cutoff.industrial_zone": 3,
    "cutoff.branches_total": 1117, "cutoff.members_total": 14103,
    "cutoff.culture_registered": 111, "cutoff.culture_achieved": 62, "cutoff.culture_model": 30,
    "cutoff.avg_income_mn_vnd_month": 9.44, "cutoff.employees": 15946,
    "term.members_admitted": 2078, "term.members_confirmed": 1084, "term.members_struck_off": 14,
    "term.members_removed": 4, "term.party_badges_awarded": 253, "term.member_cards_issued": 3079,
    "term.inspected_orgs": 665, "term.inspected_members": 2575, "term.supervised_orgs": 850,
    "term.supervised_members": 3917, "term.disciplined_members": 223, "term.disciplined_orgs": 6,
    "term.discipline_reprimand": 152, "term.discipline_warning": 33,
    "term.discipline_dismissal": 2, "term.discipline_expulsion": 36,
    "term.denunciations_received": 22, "term.secretaries_trained": 1063,
    "term.tasks_completed": 119176, "term.tasks_assigned": 119246,
    "term.revenue_bn_vnd": 122235.8, "term.state_budget_paid_bn_vnd": 4358.9,
}  # fmt: skip


def _context(data: dict) -> dict:
    """A draft context holding the figures of `data` (ids of the registry), as the marts
    would give them."""
    snapshot = {"sectors": {}, "indicators": {}}
    context = {"start": copy.deepcopy(snapshot), "cutoff": copy.deepcopy(snapshot), "term": {}}
    fields = {"branches_total": "branches", "members_total": "members"}
    sectors = {"agency", "soe", "private", "industrial_zone"}
    for figure, value in data.items():
        measure, code = figure.split(".")
        if measure == "term":
            context["term"][code] = value
        elif code in sectors:
            context[measure]["sectors"][code] = value
        elif code in ("units", "dang_bo", "chi_bo"):
            context[measure][code] = value
        else:
            if code in fields:
                context[measure][fields[code]] = value
            context[measure]["indicators"][code] = value
    tasks = {k: context["term"].pop(k) for k in ("tasks_completed", "tasks_assigned")}
    context["sectors"] = {"agency": {"term": tasks}}
    return context


@pytest.fixture(scope="module")
def registry() -> DraftFigures:
    """The registry the bundled templates give for DATA: its figures and sentences."""
    return DraftFigures(figure_entries(_context(DATA)))


def _check(*texts: str, data: DraftFigures | None = None) -> list:
    paragraphs = [Paragraph(i, t) for i, t in enumerate(texts, start=1)]
    return check_paragraphs(paragraphs, data)


def test_hand_written_report_finds_exactly_the_planted_contradictions() -> None:
    issues = check_draft(HAND_WRITTEN)
    found = sorted((i.kind, i.stated, i.computed) for i in issues)
    assert found == [
        ("ratio", 52.24, 51.24),  # 62/121 is 51,24%
        ("sum", 223.0, 222.0),  # khiển trách 152 + cảnh cáo 33 + cách chức 02 + khai trừ 35
        ("sum", 2078.0, 2000.0),  # (năm 2021: 700; năm 2022: 800; 6 tháng đầu năm 2023: 500)
    ]
    ratio = next(i for i in issues if i.kind == "ratio")
    assert "62/121 đơn vị đạt chuẩn văn hóa, đạt 52,24%" in ratio.excerpt
    assert read_draft(HAND_WRITTEN)[ratio.location - 1].text.startswith("Có 111/121")


def test_with_data_also_finds_the_figures_that_differ_from_it(registry) -> None:
    issues = check_draft(HAND_WRITTEN, registry)
    mismatches = sorted(
        (i.figure, i.stated, i.computed) for i in issues if i.kind == "data_mismatch"
    )
    assert ("term.discipline_expulsion", 35.0, 36) in mismatches
    assert ("term.member_cards_issued", 3097.0, 3079) in mismatches  # transposed digits
    # every other one is a real difference from the registry (the hand-written draft quotes
    # the resolution's admission target its own way), never a figure written as the data says
    for figure, stated, computed in mismatches:
        assert stated != computed and figure in registry.figures, (figure, stated, computed)
    assert len(mismatches) <= 4, mismatches


@pytest.mark.parametrize(
    "text",
    [
        # kinds after the total: TCCSĐ, then chi bộ trực thuộc and đảng viên, are not a sum
        "Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở, 1.117 chi bộ "
        "trực thuộc đảng ủy cơ sở và 14.103 đảng viên.",
        "Sau Đại hội Đảng bộ Khối lần thứ XX, Đảng bộ có 177 tổ chức cơ sở đảng (TCCSĐ), trong "
        "đó: 121 đảng bộ, 56 chi bộ cơ sở, 1.253 chi bộ trực thuộc đảng ủy cơ sở với 15.484 "
        "đảng viên tham gia sinh hoạt.",
        "Đến nay, Đảng bộ có 121 TCCSĐ, giảm 56 tổ chức so với khi mới thành lập; trong đó: 87 "
        "TCCSĐ trong cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh; 20 TCCSĐ trong "
        "doanh nghiệp có vốn nhà nước; 11 TCCSĐ trong doanh nghiệp ngoài nhà nước và 03 đảng bộ "
        "cơ sở trong các KCN của tỉnh.",
        "Có trên 90% TCCSĐ được xếp loại hoàn thành tốt nhiệm vụ, trên 95% đảng viên được đánh "
        "giá, xếp loại hoàn thành tốt nhiệm vụ, trong đó 15 - 20% hoàn thành xuất sắc nhiệm vụ.",
        "Đã chỉ đạo hoàn thành 119.176/119.246 (99,94%) việc được giao.",
        "Có 62/121 đơn vị đạt chuẩn văn hóa, đạt 51,24%, trong đó có 30 đơn vị được công nhận "
        "danh hiệu kiểu mẫu (đạt 24,79%).",
        "Kỷ luật 223 đảng viên và 06 tổ chức đảng. Trong đó, kỷ luật bằng hình thức khiển trách "
        "152 đảng viên, cảnh cáo 33 đảng viên, cách chức 02, khai trừ 36 đảng viên.",
        "Có 9/10 chỉ tiêu Nghị quyết Đại hội đề ra hoàn thành và hoàn thành vượt mức (Phụ lục 1).",
        "Thanh Hóa, ngày 06/7/2023. Số 191-BC/ĐUK, nhiệm kỳ 2020 - 2025, kết nạp 300/năm.",
    ],
)
def test_correct_passages_are_quiet(text: str, registry: DraftFigures) -> None:
    assert _check(text, data=registry) == []


def test_sum_of_same_kind_parts_and_labelled_parts() -> None:
    [issue] = _check("Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 27 chi bộ cơ sở.")
    assert (issue.kind, issue.stated, issue.computed, issue.parts) == ("sum", 121, 120, [93, 27])
    [issue] = _check("Tổng số 2.078 đảng viên (năm 2021: 1.000; năm 2022: 1.077).")
    assert (issue.stated, issue.computed) == (2078, 2077)


def test_ratio_tolerates_only_the_rounding_of_its_decimals() -> None:
    assert _check("Có 1/3 (33,3%) đơn vị.") == []  # 33,33… shown with one decimal
    assert _check("Có 1/8 (12,5%) đơn vị, 1/8 (13%) chi bộ.") == []  # 12,5 shown as 13
    assert _check("Có 1/8 (14%) đơn vị.")[0].computed == 12.5
    [issue] = _check("Có 2/3 (66,6%) đơn vị.")  # 66,67
    assert issue.computed == 66.67


ENTERPRISES = (
    "Từ đầu nhiệm kỳ đến nay, tổng doanh thu của các doanh nghiệp ước đạt 122.235,8 tỷ đồng; "
    "thực hiện bảo đảm việc làm ổn định cho {} nghìn người lao động, với mức thu nhập bình quân "
    "đạt {} triệu đồng/người/tháng."
)


def test_approximate_figures_are_compared_within_their_qualifier(registry) -> None:
    assert _check(ENTERPRISES.format("gần 16", "gần 9,5"), data=registry) == []
    assert _check(ENTERPRISES.format("khoảng 16", "gần 9,5"), data=registry) == []
    [issue] = _check(ENTERPRISES.format("gần 16", "9,5"), data=registry)
    assert (issue.figure, issue.computed) == ("cutoff.avg_income_approx", 9.44)
    [issue] = _check(ENTERPRISES.format("gần 19", "gần 9,5"), data=registry)
    assert (issue.figure, issue.stated, issue.computed) == ("cutoff.employees_approx", 19, 15.946)


def test_docx_paragraphs_and_table_cells_are_read(tmp_path: Path) -> None:
    doc = Document()
    for paragraph in read_draft(HAND_WRITTEN):
        doc.add_paragraph(paragraph.text)
    cell = doc.add_table(rows=1, cols=2).rows[0].cells[1]
    cell.text = "Có 1.063/1.117 (96,17%) bí thư chi bộ được bồi dưỡng."
    path = tmp_path / "bao-cao.docx"
    doc.save(str(path))
    found = sorted((i.kind, i.stated) for i in check_draft(path))
    assert found == [("ratio", 52.24), ("ratio", 96.17), ("sum", 223.0), ("sum", 2078.0)]


def test_cli_json_and_exit_codes(tmp_path: Path) -> None:
    out = tmp_path / "ket-qua.json"
    result = CliRunner().invoke(app, ["check-draft", str(HAND_WRITTEN), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 chỗ cần xem lại" in result.output
    issues = json.loads(out.read_text(encoding="utf-8"))
    assert {"kind", "excerpt", "stated", "computed", "location"} <= set(issues[0])
    clean = tmp_path / "sach.txt"
    clean.write_text("Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở.")
    result = CliRunner().invoke(app, ["check-draft", str(clean)])
    assert result.exit_code == 0 and "không thấy" in result.output
    (tmp_path / "hong.docx").write_bytes(b"not a zip")
    (tmp_path / "latin1.txt").write_bytes("Đảng bộ".encode("utf-16"))
    for bad in ("hong.docx", "latin1.txt", "khong-co.md", "bao-cao.pdf"):
        result = CliRunner().invoke(app, ["check-draft", str(tmp_path / bad)])
        assert result.exit_code == 2, (bad, result.output)


def test_workspace_must_hold_the_period(tmp_path: Path) -> None:
    con = connect(tmp_path)
    con.execute(
        "create table run_periods as select * from (values ('2023-H1', 1, 'range'), "
        "('2022-H2', 0, 'baseline')) as t(period, ordinal, role)"
    )
    for table in ("rpt_term__units", "rpt_term__indicators"):
        con.execute(f"create table {table} as select 1 as x")
    con.close()
    assert check_workspace(tmp_path, "2023-H1") == ("2023-H1", "2023-H1")
    draft = tmp_path / "d.md"
    draft.write_text("Đến nay, Đảng bộ có 121 TCCSĐ.", encoding="utf-8")
    args = ["check-draft", str(draft), "--workspace", str(tmp_path)]
    assert CliRunner().invoke(app, [*args, "--period", "2024"]).exit_code == 2
    assert CliRunner().invoke(app, ["check-draft", str(draft), "--period", "2024"]).exit_code == 2
    assert (
        CliRunner().invoke(app, ["check-draft", str(draft), "--workspace", "/khong"]).exit_code == 2
    )


def test_cli_compares_with_a_runs_figures_json(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps(figure_entries(_context(DATA)), ensure_ascii=False))
    draft = tmp_path / "d.md"
    draft.write_text("Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ "
                     "sở, 1.117 chi bộ trực thuộc đảng ủy cơ sở và 14.130 đảng viên.")  # fmt: skip
    out = tmp_path / "r.json"
    args = ["check-draft", str(draft), "--figures", str(figures), "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [issue] = json.loads(out.read_text(encoding="utf-8"))
    assert issue["kind"] == "data_mismatch" and issue["figure"] == "cutoff.members_total"
    assert (issue["stated"], issue["computed"]) == (14130, 14103)


def test_reader_gives_each_figure_its_value_noun_and_qualifier() -> None:
    text = (
        "Doanh thu ước đạt 122.235,8 tỷ đồng; gần 16 nghìn người lao động, thu nhập gần 9,5 "
        "triệu đồng/người/tháng; hơn 1.268 đề tài; 62/121 đơn vị; 15 - 20% đảng viên; thứ 05/63."
    )
    read = [(q.kind, q.value, q.qualifier, q.unit) for q in quantities(text)]
    assert read == [
        ("amount", Decimal("122235.8e9"), "ước đạt", "đồng"),
        ("amount", Decimal("16000"), "gần", "người lao"),
        ("amount", Decimal("9.5e6"), "gần", "rate"),
        ("count", Decimal("1268"), "hơn", "đề tài"),
        ("fraction", Decimal("62"), "", "đơn vị"),
        ("range", Decimal("15"), "", "%"),
        ("rank", Decimal("5"), "", ""),
    ]
    [count] = [q for q in quantities("Có 121 TCCSĐ, 14.103 đảng viên.") if q.unit == "member"]
    assert count.value == 14103 and count.bounds() == (14103, 14103)
    [approx] = quantities("gần 16 nghìn người")
    assert approx.bounds() == (Decimal("13900"), Decimal("16660"))


@pytest.mark.parametrize(
    "text",
    [
        "Thực hiện Nghị quyết 21-NQ/TW ngày 16/6/2022 của Trung ương khóa XIII",
        "Báo cáo Số 191-BC/ĐUK, nhiệm kỳ 2020 - 2025, giai đoạn 2021-2025",
        "Căn cứ Quyết định 1857, 1858-QĐ/TU của Ban Thường vụ",
        "Phòng, chống dịch Covid-19 trong năm 2021",
        "4.4. Công tác tổ chức, cán bộ",
        "Điều 35 Điều lệ Đảng; Phụ lục 1; Biểu đồ 2; mức độ 3, 4; BCĐ 35; ISO 9001:2015",
        "(1) Tăng cường công tác giáo dục chính trị",
        "đảng viên[13] đã được kết nạp",
    ],
)
def test_names_are_not_figures(text: str) -> None:
    assert quantities(text) == []


def test_findings_say_what_should_be_in_vietnamese() -> None:
    [issue] = _check(
        "Các cấp ủy đã xử lý kỷ luật 121 đảng viên, trong đó khiển trách 80 đảng viên, cảnh cáo "
        "30 đảng viên, khai trừ 08 đảng viên."
    )
    assert (issue.kind, issue.stated, issue.computed) == ("breakdown_incomplete", 121, 118)
    assert issue.message == (
        "Tổng các hình thức kỷ luật (118) nhỏ hơn tổng số 121 đảng viên: 03 đảng viên chưa rõ "
        "hình thức kỷ luật (chưa nêu: cách chức)"
    )
    [issue] = _check(
        "Huy động hơn 5,2 tỷ đồng ủng hộ phòng, chống dịch Covid-19 (khối Cơ quan 1,9 tỷ đồng, "
        "khối Doanh nghiệp 2,6 tỷ đồng)."
    )
    assert (issue.kind, issue.stated, issue.computed) == ("sum", 5.2e9, 4.5e9)
    assert issue.message.startswith("Các phần cộng lại 1,9 tỷ + 2,6 tỷ = 4,5 tỷ đồng, nhỏ hơn")
    assert "hơn 5,2 tỷ đồng (thiếu 0,7 tỷ đồng)" in issue.message


def test_difference_against_stocks_stated_in_another_section(tmp_path: Path) -> None:
    draft = tmp_path / "bao-cao.md"
    draft.write_text(
        "# I. BỐI CẢNH\n\nSau Đại hội, Đảng bộ có 177 TCCSĐ với 15.484 đảng viên.\n\n"
        "# II. KẾT QUẢ\n\n## 4.4. Công tác tổ chức\n\n"
        "Đến nay, Đảng bộ có 121 TCCSĐ, giảm 65 tổ chức so với khi mới thành lập.\n",
        encoding="utf-8",
    )
    [issue] = check_draft(draft)
    assert (issue.kind, issue.stated, issue.computed) == ("difference", 65, 56)
    assert (issue.line, issue.where) == (9, "dòng 9")
    assert "là giảm 56, không phải giảm 65" in issue.message
    assert "- dòng 9 [chênh lệch]" in summary([issue], draft, with_data=False)


FOOTNOTED_MD = (
    "Đến nay, Đảng bộ có 121 TCCSĐ[^1], trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở.\n\n"
    "[^1]: Trong đó: 87 TCCSĐ trong cơ quan, đơn vị sự nghiệp; 20 TCCSĐ trong doanh nghiệp có "
    "vốn nhà nước; 11 TCCSĐ trong doanh nghiệp ngoài nhà nước; 04 TCCSĐ trong khu công nghiệp.\n"
)


def test_a_footnote_breaks_down_the_figure_its_mark_follows(tmp_path: Path) -> None:
    md = tmp_path / "bao-cao.md"
    md.write_text(FOOTNOTED_MD, encoding="utf-8")
    html = tmp_path / "bao-cao.html"
    html.write_text(
        "<html><body><p>Đến nay, Đảng bộ có 121 TCCSĐ<sup><a href='#cc1'>1</a></sup>, trong đó: "
        "93 đảng bộ cơ sở, 28 chi bộ cơ sở.</p><ol><li id='cc1'>Trong đó: 87 TCCSĐ trong cơ quan;"
        " 20 TCCSĐ trong doanh nghiệp có vốn nhà nước; 11 TCCSĐ trong doanh nghiệp ngoài nhà "
        "nước; 04 TCCSĐ trong khu công nghiệp.</li></ol></body></html>",
        encoding="utf-8",
    )
    for path in (md, html):
        [issue] = check_draft(path)
        assert (issue.kind, issue.stated, issue.computed) == ("sum", 121, 122), path
        assert issue.where == "chú thích 1", path
        assert issue.excerpt.startswith("Trong đó: 87 TCCSĐ"), path


def test_a_table_column_against_its_total_row(tmp_path: Path) -> None:
    draft = tmp_path / "bang.md"
    draft.write_text(
        "| Khối | TCCSĐ | Đảng viên |\n|---|---:|---:|\n| Cơ quan | 87 | 9.916 |\n"
        "| Doanh nghiệp | 34 | 4.187 |\n| **Toàn Đảng bộ** | **121** | **14.130** |\n",
        encoding="utf-8",
    )
    [issue] = check_draft(draft)
    assert (issue.kind, issue.stated, issue.computed, issue.line) == ("sum", 14130, 14103, 5)
    assert (
        issue.message == "Cột «Đảng viên»: các dòng cộng lại 14.103, dòng «Toàn Đảng bộ» ghi 14.130"
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "tonghop.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return out


@pytest.mark.slow
def test_tonghops_own_draft_reports_nothing(demo: Path, figures_agree) -> None:
    # the demo's settings: the sample's outside figures are part of the draft's registry
    settings = load_settings(SAMPLE_DIR / "bao-cao.yaml")
    registry = workspace_figures(demo / "workspace", PERIOD, settings)
    for name in ("bao-cao.md", "bao-cao.html", "bao-cao.docx"):
        assert check_draft(demo / name) == [], name
        assert check_draft(demo / name, registry) == [], name
    # the same run wrote the traceability page and delivered the draft to the outbox
    html = (demo / "truy-vet.html").read_text(encoding="utf-8")
    assert 'id="nguon-cutoff.members_total"' in html
    [outbox] = (demo / "outbox").iterdir()
    assert {p.name for p in outbox.iterdir()} == {"bao-cao.md", "bao-cao.html", "bao-cao.docx"}
    assert registry.value("cutoff.members_total") == 14103
    # the sample's draft: one value per figure in figures.json, the HTML and every format
    paths = {fmt: demo / f"bao-cao.{fmt}" for fmt in ("md", "html", "docx")}
    assert len(figures_agree(paths | {"figures": demo / "figures.json"})) >= 60
    # the registry computed from the workspace is the one the run wrote with its draft
    written = read_figures_file(demo / "figures.json")
    assert {i: f.value for i, f in written.figures.items()} == {
        i: f.value for i, f in registry.figures.items()
    }


# Figures no check can prove wrong: the scope note, the targets' wording and yearly rates
# (Phụ lục 1), averages per year, targets met, and figures qualified as approximate.
_UNPROVABLE = re.compile(r"Ghi chú phạm vi|chỉ tiêu|bình quân")


@pytest.mark.slow
def test_any_figure_changed_by_hand_in_the_docx_is_caught(demo: Path, tmp_path: Path) -> None:
    from lxml import etree

    registry = workspace_figures(
        demo / "workspace", PERIOD, load_settings(SAMPLE_DIR / "bao-cao.yaml")
    )
    with zipfile.ZipFile(demo / "bao-cao.docx") as z:
        contents = [(item, z.read(item.filename)) for item in z.infolist()]
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    changed, missed = 0, []
    for part in ("word/document.xml", "word/footnotes.xml"):
        root = etree.fromstring(next(data for i, data in contents if i.filename == part))
        for p in root.iter(f"{w}p"):
            table = next(p.iterancestors(f"{w}tbl"), None)
            if _UNPROVABLE.search("".join((table if table is not None else p).itertext())):
                continue
            for t in p.iter(f"{w}t"):
                original = t.text or ""
                for q in quantities(original):
                    if q.kind not in ("count", "amount", "fraction") or q.qualifier:
                        continue
                    if q.unit in ("rate", "time", "%"):
                        continue
                    at = q.start + len(q.text.split("/")[0].rstrip()) - 1  # its last digit
                    digit = str((int(original[at]) + 1) % 10)
                    t.text = original[:at] + digit + original[at + 1 :]
                    path = tmp_path / "sua-tay.docx"
                    with zipfile.ZipFile(path, "w") as out:
                        for item, data in contents:
                            edited = item.filename == part
                            out.writestr(item, etree.tostring(root) if edited else data)
                    changed += 1
                    if not check_draft(path, registry):
                        missed.append(f"{original!r} -> {t.text!r}")
                    t.text = original
    assert changed >= 60 and missed == [], (changed, missed)
