"""The Word draft's print format and the header's identity, on a draft rendered without data.

The same draft, printed to PDF by LibreOffice on the sample bloc, is checked page by page in
tests/e2e/test_word_print_pdf.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn

from tonghop.paths import SAMPLE_DIR
from tonghop.report.draft import render_report
from tonghop.settings import ReportSettings, load_settings

# What an office must fill when it has no settings: none of it is a real committee's.
PLACEHOLDERS = [
    "[Tên cấp ủy cấp trên]",
    "[Tên cơ quan ban hành]",
    "[số, ký hiệu]",
    "[Địa danh]",
    "[ngày … tháng … năm …]",
    "[Trích yếu nội dung báo cáo]",
    "[Họ và tên người ký]",
    "[Nơi nhận]",
]
BORROWED = ["191-BC", "Thanh Hóa", "THANH HÓA", "06 tháng 7 năm 2023", "LẦN THỨ XX"]


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> dict[str, Path]:
    """The draft with no data and no settings."""
    return render_report({}, ReportSettings(), tmp_path_factory.mktemp("bare"))


def _docx_runs(path: Path):
    doc = Document(str(path))
    body = doc.element.body
    for run in body.iter(qn("w:r")):
        text = "".join(t.text or "" for t in run.iter(qn("w:t")))
        highlight = run.find(f"{qn('w:rPr')}/{qn('w:highlight')}")
        yield text, None if highlight is None else highlight.get(qn("w:val"))


def test_without_settings_the_identity_is_placeholders_in_every_format(bare) -> None:
    md = bare["md"].read_text("utf-8")
    html = bare["html"].read_text("utf-8")
    runs = list(_docx_runs(bare["docx"]))
    docx_text = "".join(text for text, _ in runs)
    for text in (md, html, docx_text):
        for borrowed in BORROWED:
            assert borrowed not in text
    for placeholder in PLACEHOLDERS:
        assert f"**{placeholder}**" in md, placeholder
        assert f'<span class="placeholder">{placeholder}</span>' in html, placeholder
        # in Word: a run of its own, highlighted yellow
        assert (placeholder, "yellow") in runs, placeholder


def test_settings_replace_every_placeholder_of_the_header(tmp_path) -> None:
    settings = load_settings(SAMPLE_DIR / "bao-cao.yaml")
    paths = render_report({}, settings, tmp_path)
    header = Document(str(paths["docx"])).tables[0]
    left, right = (c.text for c in header.rows[0].cells)
    assert left.split("\n") == [
        "ĐẢNG BỘ TỈNH THANH HÓA",
        "ĐẢNG ỦY KHỐI CƠ QUAN VÀ DOANH NGHIỆP TỈNH",
        "*",
        "Số 191-BC/ĐUK",
    ]
    assert right.split("\n") == ["ĐẢNG CỘNG SẢN VIỆT NAM", "Thanh Hóa, ngày 06 tháng 7 năm 2023"]
    md = paths["md"].read_text("utf-8")
    assert "*Thanh Hóa, ngày 06 tháng 7 năm 2023*" in md and "[Địa danh]" not in md


def test_the_sample_settings_file_says_it_is_a_sample() -> None:
    text = (SAMPLE_DIR / "bao-cao.yaml").read_text("utf-8")
    assert text.startswith("# MẪU") and "tonghop demo" in text.splitlines()[0]


def test_example_settings_file_loads_and_names_every_report_setting() -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "report.yaml"
    settings = load_settings(example)
    text = example.read_text("utf-8")
    identity = [
        name
        for name in ReportSettings.model_fields
        if name not in ("delivery", "notify", "schedule", "collect", "paths")
    ]
    for name in identity:
        assert re.search(rf"^{name}:", text, re.M), name
    assert settings.date is not None and settings.letters.signer_title


def test_pages_are_numbered_in_the_header_except_the_first(bare) -> None:
    section = Document(str(bare["docx"])).sections[0]
    assert section.different_first_page_header_footer
    header = section.header.part.element  # the header part's XML, public in python-docx
    instructions = "".join(t.text for t in header.iter(qn("w:instrText")))
    assert instructions.strip() == "PAGE"
    kinds = [f.get(qn("w:fldCharType")) for f in header.iter(qn("w:fldChar"))]
    assert kinds == ["begin", "separate", "end"]
    assert not "".join(t.text or "" for t in section.first_page_header.part.element.iter(qn("w:t")))


def _grid_tables(doc):
    """The bordered tables (the header and closing blocks are borderless), each with its XML
    (the body's tables in the order of `doc.tables`)."""
    for table, tbl in zip(doc.tables, doc.element.body.findall(qn("w:tbl")), strict=True):
        if tbl.find(qn("w:tblPr")).find(qn("w:tblBorders")) is None:
            yield table, tbl


def test_table_rows_never_split_and_headers_repeat(bare) -> None:
    tables = list(_grid_tables(Document(str(bare["docx"]))))
    assert len(tables) == 3  # Phụ lục 1, Phụ lục 2's two tables
    for _, tbl in tables:
        rows = tbl.findall(qn("w:tr"))
        props = [row.find(qn("w:trPr")) for row in rows]
        assert all(p is not None and p.find(qn("w:cantSplit")) is not None for p in props)
        assert props[0].find(qn("w:tblHeader")) is not None
        assert all(p.find(qn("w:tblHeader")) is None for p in props[1:])


def test_sector_tables_give_the_sector_name_room_and_fill_the_text_width(bare) -> None:
    text_width = 210 - 30 - 15
    tables = list(_grid_tables(Document(str(bare["docx"]))))[1:]
    for table, tbl in tables:
        assert table.rows[0].cells[0].text == "Khối"
        # gridCol widths are in twentieths of a point: 1 mm = 72 × 20 / 25.4
        widths = [int(c.get(qn("w:w"))) * 25.4 / 1440 for c in tbl.find(qn("w:tblGrid"))]
        assert sum(widths) == pytest.approx(text_width, abs=0.5)
        label, *figures = widths
        # A sector's name ("Cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh", 57
        # letters) on at most three lines; every figure column as wide as every other.
        assert label >= 38
        assert max(figures) - min(figures) < 0.1 and min(figures) >= 12.5
        layout = tbl.find(qn("w:tblPr")).find(qn("w:tblLayout"))
        assert layout is not None and layout.get(qn("w:type")) == "fixed"


def test_headings_keep_with_their_text_and_placeholders_stay_highlighted(bare) -> None:
    doc = Document(str(bare["docx"]))
    headings = [p for p in doc.paragraphs if p.text.startswith(("I. ", "II. ", "4.4. "))]
    assert headings and all(p.paragraph_format.keep_with_next for p in headings)
    narrative = [p for p in doc.paragraphs if p.text.startswith("[Phần nội dung")]
    assert narrative
    assert all(
        r.font.highlight_color == WD_COLOR_INDEX.YELLOW
        for p in narrative
        for r in p.runs
        if r.text.strip()  # the space between two placeholders of one paragraph
    )
