"""The report draft (tonghop.report) in its three formats, from a hand-written context.

Over 500 lines: the module-scoped drafts (`rendered`, `full`, `footnoted`) are rendered once
and read by the tests of every format and writer; split across files, each would render them
again.
"""

import copy
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from jinja2.exceptions import SecurityError

from tonghop.paths import SAMPLE_DIR, TEMPLATES_DIR
from tonghop.report.draft import render_report
from tonghop.report.templates import make_environment
from tonghop.settings import Margins, ReportSettings, load_settings

# The sample bloc's header (a sample, marked so): without settings the header is placeholders.
SAMPLE = load_settings(SAMPLE_DIR / "bao-cao.yaml")

CONTEXT = {
    "period": {"code": "2020-H2..2023-H1", "first": "2020-H2", "last": "2023-H1"},
    "start": {
        "units": 177,
        "dang_bo": 121,
        "chi_bo": 56,
        "branches": 1253,
        "members": 15484,
        "sectors": {"agency": 130, "soe": 25, "private": 18, "industrial_zone": 4},
    },
    "cutoff": {
        "units": 121,
        "dang_bo": 93,
        "chi_bo": 28,
        "branches": 1117,
        "members": 14103,
        "sectors": {"agency": 87, "soe": 20, "private": 11, "industrial_zone": 3},
    },
    "term": {
        "members_admitted": 2078,
        "members_confirmed": 1084,
        "members_struck_off": 14,
        "members_removed": 4,
        "party_badges_awarded": 253,
        "member_cards_issued": 3079,
        "inspected_orgs": 665,
    },
    "coverage": {
        "units_expected": 121,
        "units_included": 119,
        "missing": [
            {"unit_code": "TCCS010", "name": "Chi bộ Công ty Thuỷ sản", "periods": ["2023-H1"]}
        ],
        "blocked": [
            {
                "unit_code": "TCCS020",
                "name": "Đảng bộ Sở Y tế",
                "periods": ["2022-H2"],
                "rules": ["members_total_sum"],
            }
        ],
        "rejected_files": 2,
    },
}

SECTION_1 = (
    "Sau Đại hội Đảng bộ Khối lần thứ XX, Đảng bộ có 177 tổ chức cơ sở đảng (TCCSĐ), trong đó: "
    "121 đảng bộ, 56 chi bộ cơ sở, 1.253 chi bộ trực thuộc đảng ủy cơ sở với 15.484 đảng viên "
    "tham gia sinh hoạt."
)
SECTION_1_CUTOFF = (
    "đến nay Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở, 1.117 chi bộ "
    "trực thuộc đảng ủy cơ sở và 14.103 đảng viên"
)
SECTION_4_4 = (
    "Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở, 1.117 chi bộ "
    "trực thuộc đảng ủy cơ sở và 14.103 đảng viên"
)
CHANGE = "giảm 56 tổ chức so với khi mới thành lập"
SECTORS = (
    "87 TCCSĐ trong cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh; 20 TCCSĐ trong "
    "doanh nghiệp có vốn nhà nước; 11 TCCSĐ trong doanh nghiệp ngoài nhà nước và 03 đảng bộ cơ "
    "sở trong các KCN của tỉnh"
)
ADMITTED = "Từ đầu nhiệm kỳ đến nay, đã kết nạp 2.078 quần chúng ưu tú vào Đảng"
MEMBERS = (
    "xét công nhận chính thức cho 1.084 đồng chí, xóa tên 14 đảng viên và đưa ra khỏi đảng 04 "
    "đảng viên; làm thủ tục trao tặng 253 Huy hiệu Đảng, làm thẻ 3.079 đảng viên"
)
COVERAGE = (
    "Số liệu tổng hợp từ 119/121 TCCSĐ; chưa nộp: Chi bộ Công ty Thuỷ sản (TCCS010, kỳ 2023-H1); "
    "chưa đạt kiểm tra: Đảng bộ Sở Y tế (TCCS020, kỳ 2022-H2; quy tắc: members_total_sum); "
    "tệp không đọc được: 02."
)
SENTENCES = [SECTION_1, SECTION_1_CUTOFF, SECTION_4_4, CHANGE, SECTORS, ADMITTED, MEMBERS, COVERAGE]

HEADINGS = [
    "Phần thứ nhất",
    "TÌNH HÌNH TRIỂN KHAI THỰC HIỆN NGHỊ QUYẾT ĐẠI HỘI ĐẢNG BỘ, NHIỆM KỲ 2020 - 2025",
    "I. BỐI CẢNH TÌNH HÌNH TỪ SAU ĐẠI HỘI ĐẢNG BỘ NHIỆM KỲ 2020 - 2025 ĐẾN NAY",
    "II. KẾT QUẢ THỰC HIỆN NGHỊ QUYẾT ĐẠI HỘI",
    "1. Lãnh đạo thực hiện nhiệm vụ chính trị",
    "1.1. ",
    "Mặt trận Tổ quốc, các đoàn thể chính trị - xã hội, hội nghề nghiệp",
    "1.3. ",
    "1.4. ",
    "2. Lãnh đạo cải cách hành chính",
    "xây dựng cơ quan, đơn vị, doanh nghiệp văn hóa, an toàn làm chủ",
    "3. Kết quả thực hiện các chương trình trọng tâm",
    "3.1. ",
    "3.2. ",
    "3.3. ",
    "4. Công tác xây dựng Đảng, đoàn thể",
    "4.1. ",
    "4.4. Công tác tổ chức, cán bộ, đảng viên và bảo vệ chính trị nội bộ",
    "4.5. Công tác kiểm tra, giám sát và thi hành kỷ luật Đảng",
    "4.7. ",
    "III. HẠN CHẾ, NGUYÊN NHÂN",
    "IV. ĐÁNH GIÁ CHUNG VÀ BÀI HỌC KINH NGHIỆM",
    "Phần thứ hai",
    "PHƯƠNG HƯỚNG, NHIỆM VỤ, GIẢI PHÁP",
    "I. DỰ BÁO TÌNH HÌNH",
    "II. MỤC TIÊU",
    "III. NHIỆM VỤ VÀ GIẢI PHÁP",
    "Phụ lục 1",
]


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    return "\n".join(p.text for p in _all_paragraphs(doc))


def _all_paragraphs(doc):
    yield from doc.paragraphs
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


_FOOTNOTE_REFS = re.compile(r"\[\^\d+\]|<sup class=\"footnote-ref\"[^>]*>.*?</sup>")
# A known figure's element in the HTML draft (a placeholder's keeps its class: tested below).
_FIGURE_SPAN = re.compile(r'<span data-figure="[^"]*">([^<]*)</span>')


def _texts(paths: dict[str, Path]) -> dict[str, str]:
    """The drafts' text; a sentence reads the same without its footnote marks (tested below)
    and, in HTML, without the elements that name its figures (tested in test_figures.py)."""
    html = _FOOTNOTE_REFS.sub("", paths["html"].read_text(encoding="utf-8"))
    return {
        "md": _FOOTNOTE_REFS.sub("", paths["md"].read_text(encoding="utf-8")),
        "html": _FIGURE_SPAN.sub(r"\1", html),
        "docx": docx_text(paths["docx"]),
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    return render_report(CONTEXT, SAMPLE, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def texts(rendered) -> dict[str, str]:
    return _texts(rendered)


def test_writes_the_three_files_and_the_figures(rendered):
    names = {"bao-cao.md", "bao-cao.html", "bao-cao.docx", "figures.json"}
    assert {p.name for p in rendered.values()} == names
    assert all(p.stat().st_size > 0 for p in rendered.values())


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
@pytest.mark.parametrize("sentence", SENTENCES)
def test_sentences_carry_the_figures(texts, fmt, sentence):
    assert sentence in texts[fmt]


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_all_outline_headings_appear(texts, fmt):
    missing = [h for h in HEADINGS if h not in texts[fmt]]
    assert not missing


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_header_title_and_closing(texts, fmt):
    text = texts[fmt]
    for expected in [
        "ĐẢNG BỘ TỈNH THANH HÓA",
        "ĐẢNG ỦY KHỐI CƠ QUAN VÀ DOANH NGHIỆP TỈNH",
        "Số 191-BC/ĐUK",
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "Thanh Hóa, ngày 06 tháng 7 năm 2023",
        "BÁO CÁO",
        "SƠ KẾT GIỮA NHIỆM KỲ THỰC HIỆN NGHỊ QUYẾT",
        "ĐẠI HỘI ĐẢNG BỘ KHỐI LẦN THỨ XX, NHIỆM KỲ 2020 - 2025",
        "Nơi nhận:",
        "- Ban Thường vụ Tỉnh ủy (để b/c),",
        "- Lưu Văn phòng Đảng ủy Khối.",
        "T/M ĐẢNG ỦY",
        "BÍ THƯ",
    ]:
        assert expected in text, expected


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_narrative_without_data_is_a_marked_placeholder(texts, fmt):
    assert texts[fmt].count("[Phần nội dung do cơ quan soạn thảo bổ sung:") >= 20
    assert "None" not in texts[fmt]


def test_html_placeholders_carry_the_css_class(texts):
    html = texts["html"]
    assert '<p class="placeholder">[Phần nội dung do cơ quan soạn thảo bổ sung:' in html
    assert ".placeholder {" in html


def _with(**changes) -> dict:
    context = copy.deepcopy(CONTEXT)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = context
        for parent in parents:
            target = target[parent]
        target[key] = value
    return context


def test_none_renders_as_placeholder_never_zero(tmp_path):
    context = _with(cutoff__members=None, term__members_removed=None, start__units=None)
    del context["term"]["member_cards_issued"]
    paths = render_report(context, ReportSettings(), tmp_path)
    texts = _texts(paths)
    for fmt, text in texts.items():
        if fmt == "html":
            text = re.sub(r"<[^>]+>", "", text)
        assert "1.117 chi bộ trực thuộc đảng ủy cơ sở và […] đảng viên" in text, fmt
        assert "đưa ra khỏi đảng […] đảng viên" in text, fmt
        assert "làm thẻ […] đảng viên" in text, fmt
        assert "[tăng/giảm] […] tổ chức so với khi mới thành lập" in text, fmt
        assert "None" not in text, fmt
    assert (
        'đưa ra khỏi đảng <span data-figure="term.members_removed" class="placeholder">[…]</span>'
        " đảng viên"
    ) in texts["html"]
    doc = Document(str(paths["docx"]))
    marked = [r.text for p in doc.paragraphs for r in p.runs if r.font.highlight_color is not None]
    assert marked.count("[…]") >= 3
    assert all(r == "[…]" or r.startswith("[") for r in marked)


def test_increase_and_no_change_are_computed(tmp_path):
    grown = render_report(_with(start__units=100), ReportSettings(), tmp_path / "a")
    assert "tăng 21 tổ chức so với khi mới thành lập" in grown["md"].read_text("utf-8")
    same = render_report(_with(start__units=121), ReportSettings(), tmp_path / "b")
    assert "không thay đổi so với khi mới thành lập" in same["md"].read_text("utf-8")


def test_admission_against_target_when_given(tmp_path):
    context = _with(admission={"target_per_year": 300})
    md = render_report(context, ReportSettings(), tmp_path)["md"].read_text("utf-8")
    # 2.078 over 3 years = 692,67 a year, 130,89% above 300.
    assert "vào Đảng, vượt 130,89% so với Nghị quyết Đại hội đề ra" in md
    assert "(chỉ tiêu nghị quyết kết nạp 300/năm; bình quân kết nạp 693 đảng viên/năm)" in md


HOSTILE = [
    {"unit_code": "TCCS001", "name": "Chi bộ {{ 7*7 }}", "periods": ["2023-H1"]},
    {"unit_code": "TCCS002", "name": "<script>alert(1)</script> & Co", "periods": ["2023-H1"]},
    {"unit_code": "TCCS003", "name": "{% for x in range(3) %}x{% endfor %}", "periods": []},
]


def test_unit_names_are_data_not_template_code(tmp_path):
    paths = render_report(_with(coverage__missing=HOSTILE), ReportSettings(), tmp_path)
    md = paths["md"].read_text("utf-8")
    html = paths["html"].read_text("utf-8")
    docx = docx_text(paths["docx"])
    assert "Chi bộ {{ 7\\*7 }} (TCCS001" in md  # escaped for Markdown: shown as typed
    assert "\\<script\\>alert(1)\\</script\\> \\& Co (TCCS002" in md
    assert "{% for x in range(3) %}x{% endfor %}" in md
    assert "Chi bộ 49" not in md
    assert "Chi bộ {{ 7*7 }} (TCCS001" in docx
    assert "<script>alert(1)</script> & Co (TCCS002" in docx
    assert "{% for x in range(3) %}x{% endfor %}" in docx
    assert "Chi bộ 49" not in docx
    assert "Chi bộ {{ 7*7 }} (TCCS001" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (TCCS002" in html
    assert "<script>" not in html


def test_environment_is_sandboxed():
    env = make_environment()
    with pytest.raises(SecurityError):
        env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


def test_office_templates_override_the_bundled_ones(tmp_path):
    office = tmp_path / "office"
    office.mkdir()
    (office / "_coverage.md.j2").write_text(
        "Phạm vi: {{ coverage.units_included|so_dem }} đơn vị.\n", encoding="utf-8"
    )
    paths = render_report(CONTEXT, ReportSettings(), tmp_path / "out", template_dirs=[office])
    md = paths["md"].read_text("utf-8")
    assert "Phạm vi: 119 đơn vị." in md
    assert "Số liệu tổng hợp từ" not in md
    assert SECTION_4_4 in md


def test_a_sentence_line_ending_in_a_tag_keeps_its_paragraph_break(tmp_path):
    # trim_blocks would drop the newline after `{% endif %}` and run the two paragraphs into
    # one; a line of tags alone still leaves no line of its own.
    office = tmp_path / "office"
    office.mkdir()
    (office / "_section_1_boi_canh.md.j2").write_text(
        "{% if coverage.units_included %}Đoạn một, câu kết thúc bằng thẻ.{% endif %}\n"
        "\n"
        "Đoạn hai có {{ coverage.units_included|so_dem }} đơn vị{% if true %}.{% endif %}\n"
        "\n"
        "{% for x in [1, 2] %}\n"
        "- mục {{ x }}\n"
        "{% endfor %}\n"
        "\n"
        "Đoạn ba.\n",
        encoding="utf-8",
    )
    paths = render_report(CONTEXT, ReportSettings(), tmp_path / "out", template_dirs=[office])
    md = paths["md"].read_text("utf-8")
    assert (
        "Đoạn một, câu kết thúc bằng thẻ.\n\nĐoạn hai có 119 đơn vị.\n\n- mục 1\n- mục 2\n\n" in md
    )
    assert "- mục 2\n\nĐoạn ba.\n" in md
    html = paths["html"].read_text("utf-8")
    assert (
        "<p>Đoạn một, câu kết thúc bằng thẻ.</p>\n<p>Đoạn hai có 119 đơn vị.</p>\n"
        "<ul>\n<li>mục 1</li>\n<li>mục 2</li>\n</ul>\n<p>Đoạn ba.</p>"
    ) in html


def test_html_templates_keep_trim_blocks():
    # The rule is the Markdown templates': an HTML template's newlines are not paragraphs.
    env = make_environment()
    source = "<p>{% if true %}a{% endif %}\n</p>\n"
    assert env.from_string(source).render() == "<p>a</p>\n"


def test_settings_drive_the_header(tmp_path):
    settings = ReportSettings(
        number="25-BC/ĐU",
        place="Hà Nội",
        date=date(2024, 2, 3),
        signer_name="Nguyễn Văn An",
        recipients=["Ban Thường vụ (để b/c),", "Lưu VP."],
    )
    texts = _texts(render_report(CONTEXT, settings, tmp_path))
    for fmt, text in texts.items():
        assert "Số 25-BC/ĐU" in text, fmt
        assert "Hà Nội, ngày 03 tháng 02 năm 2024" in text, fmt
        assert "Nguyễn Văn An" in text, fmt
        assert "- Lưu VP." in text, fmt


def test_load_settings_reads_yaml_over_defaults(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text(
        yaml.safe_dump(
            {"number": "7-BC/ĐUK", "date": "2024-01-05", "margins_mm": {"left": 35}},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.number == "7-BC/ĐUK"
    assert settings.date == date(2024, 1, 5)
    assert settings.margins_mm == Margins(left=35)
    assert settings.issuing_body == "[Tên cơ quan ban hành]"
    assert load_settings(None) == ReportSettings()


# --- the Word draft's format (Hướng dẫn 36-HD/VPTW) ---


def _runs(doc):
    for paragraph in _all_paragraphs(doc):
        for run in paragraph.runs:
            if run.text.strip():
                yield paragraph, run


def _paragraph(doc, text):
    return next(p for p in _all_paragraphs(doc) if p.text == text)


def _size(paragraph) -> float:
    sizes = {r.font.size.pt for r in paragraph.runs if r.text.strip()}
    assert len(sizes) == 1, sizes
    return sizes.pop()


def test_docx_page_is_a4_with_margins_from_settings(tmp_path):
    settings = ReportSettings(margins_mm=Margins(top=25, bottom=22, left=35, right=18))
    doc = Document(str(render_report(CONTEXT, settings, tmp_path)["docx"]))
    section = doc.sections[0]
    assert section.page_width.mm == pytest.approx(210, abs=0.1)
    assert section.page_height.mm == pytest.approx(297, abs=0.1)
    got = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [m.mm for m in got] == pytest.approx([25, 22, 35, 18], abs=0.1)


def test_docx_default_margins(rendered):
    section = Document(str(rendered["docx"])).sections[0]
    got = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [m.mm for m in got] == pytest.approx([20, 20, 30, 15], abs=0.1)


def test_docx_is_times_new_roman_everywhere(rendered):
    doc = Document(str(rendered["docx"]))
    for _, run in _runs(doc):
        assert run.font.name == "Times New Roman", run.text
    # Every run with text, read from the document's XML (python-docx's public `element`).
    for r in doc.element.body.iter(qn("w:r")):
        text = "".join(t.text or "" for t in r.iter(qn("w:t")))
        if text.strip():
            fonts = r.find(qn("w:rPr")).find(qn("w:rFonts"))
            assert fonts.get(qn("w:eastAsia")) == "Times New Roman", text
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "Times New Roman"


def test_docx_header_block_is_a_borderless_two_column_table(rendered):
    doc = Document(str(rendered["docx"]))
    header = doc.tables[0]
    left, right = header.rows[0].cells
    assert [p.text for p in left.paragraphs] == [
        "ĐẢNG BỘ TỈNH THANH HÓA",
        "ĐẢNG ỦY KHỐI CƠ QUAN VÀ DOANH NGHIỆP TỈNH",
        "*",
        "Số 191-BC/ĐUK",
    ]
    assert left.paragraphs[1].runs[0].font.bold
    nation, place = right.paragraphs
    assert nation.text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert _size(nation) == 15
    assert nation.runs[0].font.bold and nation.runs[0].font.underline
    assert place.text == "Thanh Hóa, ngày 06 tháng 7 năm 2023"
    assert place.runs[0].font.italic
    table = doc.element.body.find(qn("w:tbl"))  # the first table: the header block
    borders = table.find(qn("w:tblPr")).find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"nil"}


def test_docx_sizes_and_paragraph_format(rendered):
    doc = Document(str(rendered["docx"]))
    title = _paragraph(doc, "BÁO CÁO")
    assert _size(title) == 16
    assert title.runs[0].font.bold
    assert title.paragraph_format.alignment == 1  # centre
    subtitle = _paragraph(doc, "SƠ KẾT GIỮA NHIỆM KỲ THỰC HIỆN NGHỊ QUYẾT")
    assert _size(subtitle) == 14 and subtitle.runs[0].font.bold
    heading = _paragraph(doc, "II. KẾT QUẢ THỰC HIỆN NGHỊ QUYẾT ĐẠI HỘI")
    assert heading.runs[0].font.bold
    body = next(p for p in doc.paragraphs if p.text.startswith(SECTION_4_4))
    assert _size(body) == 14
    assert body.paragraph_format.alignment == 3  # justify
    assert body.paragraph_format.first_line_indent.cm == pytest.approx(1, abs=0.01)
    # the closing block: the borderless table that opens with "Nơi nhận:" (appendices follow it)
    closing = next(t for t in doc.tables if t.rows[0].cells[0].text.startswith("Nơi nhận:"))
    recipients, signature = closing.rows[0].cells
    title_run = recipients.paragraphs[0].runs[0]
    assert recipients.paragraphs[0].text == "Nơi nhận:"
    assert title_run.font.bold and title_run.font.italic and title_run.font.underline
    assert title_run.font.size.pt == 14
    items = recipients.paragraphs[1:]
    assert [p.text for p in items][0] == "- Ban Thường vụ Tỉnh ủy (để b/c),"
    assert {_size(p) for p in items} == {12}
    lines = [p.text for p in signature.paragraphs if p.text]
    assert lines == ["T/M ĐẢNG ỦY", "BÍ THƯ", "[Họ và tên người ký]"]
    assert all(r.font.bold for p in signature.paragraphs for r in p.runs if r.text)


def test_docx_placeholders_are_highlighted_yellow(rendered):
    doc = Document(str(rendered["docx"]))
    placeholder_runs = [
        r for _, r in _runs(doc) if r.text.startswith("[Phần nội dung do cơ quan soạn thảo")
    ]
    assert len(placeholder_runs) >= 20
    assert all(r.font.highlight_color == WD_COLOR_INDEX.YELLOW for r in placeholder_runs)
    # An inline placeholder is split out of its sentence: the figures around it stay plain.
    sentence = next(p for p in doc.paragraphs if p.text.startswith(SECTION_1))
    plain = [r for r in sentence.runs if r.font.highlight_color is None]
    assert plain and all("[" not in r.text for r in plain)
    # Before, the placeholder, after; and a footnote reference run after each of the 2 totals
    # whose breakdown the context gives (177 and 121 TCCSĐ by sector).
    assert len([r for r in sentence.runs if r.text]) == 5
    assert len(sentence.runs) == 7


def test_docx_template_is_generated_by_its_script(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_docx_template", TEMPLATES_DIR / "make_docx_template.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.build(tmp_path / "bao-cao.docx")

    def body(path):
        with zipfile.ZipFile(path) as z:
            return z.read("word/document.xml")

    assert body(fresh) == body(TEMPLATES_DIR / "bao-cao.docx")


# --- sections 1.1, 1.4, 3.2, 3.3, 4.4 (ratings), 4.5, IV, the appendices and the charts ---

YEAR_VALUES = {
    "members_rated": 14000,
    "members_rated_excellent": 2170,
    "members_rated_good": 11500,
    "members_rated_complete": 300,
    "members_rated_incomplete": 30,
    "org_rating__2": 12,
    "org_rating__3": 110,
    "org_rating__4": 30,
    "members_admitted": 660,
}
FULL = _with(
    cutoff__indicators={
        "employees": 15946,
        "avg_income_mn_vnd_month": 9.44,
        "branches_meeting_regularly_pct": 85.23,
        "branches_total": 1117,
        "culture_registered": 111,
        "culture_achieved": 62,
        "culture_model": 30,
    },
    term__revenue_bn_vnd=122235.8,
    term__state_budget_paid_bn_vnd=4358.9,
    term__secretaries_trained=1063,
    term__inspected_members=2575,
    term__supervised_orgs=850,
    term__supervised_members=3917,
    term__disciplined_members=223,
    term__discipline_reprimand=152,
    term__discipline_warning=33,
    term__discipline_dismissal=2,
    term__discipline_expulsion=36,
    term__disciplined_orgs=6,
    term__denunciations_received=22,
    sectors={
        "agency": {
            "term": {"tasks_assigned": 119246, "tasks_completed": 119176},
            "start": {"members_total": 9509},
            "cutoff": {"members_total": 9916},
            "units": {"start": 93, "cutoff": 87},
        }
    },
    years=[
        {"year": 2021, "months": 12, "closed": True, "values": YEAR_VALUES},
        {"year": 2022, "months": 12, "closed": True, "values": YEAR_VALUES},
    ],
    admission={"target_per_year": 600},
    targets={"total": 10, "met": 9, "not_met": [9], "missing": [], "not_due": [], "targets": []},
)
NEW_SENTENCES = [
    "đã chỉ đạo hoàn thành 119.176/119.246 (99,94%) việc được cấp trên giao",
    "tổng doanh thu của các doanh nghiệp ước đạt 122.235,8 tỷ đồng",
    "cho gần 16 nghìn người lao động, với mức thu nhập bình quân đạt gần 9,5 triệu đồng",
    "Nộp ngân sách Nhà nước ước đạt 4.358,9 tỷ đồng",
    "có trên 80% chi bộ sinh hoạt định kỳ, nề nếp, 1.063/1.117 bí thư chi bộ",
    "có 111/121 cơ quan, đơn vị, doanh nghiệp đăng ký xây dựng đạt chuẩn văn hoá; có 62/121 đơn "
    "vị đạt chuẩn văn hoá, đạt 51,24%, trong đó có 30 đơn vị được công nhận danh hiệu kiểu mẫu "
    "(đạt 24,79%)",
    "có trên 90% TCCSĐ được xếp loại hoàn thành tốt nhiệm vụ, trên 95% đảng viên được đánh giá, "
    "xếp loại hoàn thành tốt nhiệm vụ, trong đó 15 - 20% hoàn thành xuất sắc nhiệm vụ",
    "vượt 15,44% so với Nghị quyết Đại hội đề ra (chỉ tiêu nghị quyết kết nạp 600/năm",
    "kiểm tra 665 tổ chức đảng và 2.575 đảng viên, giám sát 850 tổ chức đảng và 3.917 đảng viên",
    "kỷ luật 223 đảng viên và 06 tổ chức đảng. Trong đó, kỷ luật bằng hình thức khiển trách 152 "
    "đảng viên, cảnh cáo 33 đảng viên, cách chức 02 đảng viên, khai trừ 36 đảng viên; tiếp nhận "
    "và xử lý 22 đơn tố cáo",
    "có 09/10 chỉ tiêu Nghị quyết Đại hội đề ra hoàn thành và hoàn thành vượt mức (Phụ lục 1); "
    "chỉ tiêu số 9 chưa đạt",
]


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> dict[str, Path]:
    return render_report(FULL, SAMPLE, tmp_path_factory.mktemp("full"))


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
@pytest.mark.parametrize("sentence", NEW_SENTENCES)
def test_new_sections_carry_their_figures(full, fmt, sentence):
    assert sentence in _texts(full)[fmt]


def test_charts_are_files_data_uris_and_word_images(full):
    pngs = sorted(p.name for p in (full["md"].parent / "bieu-do").glob("*.png"))
    assert pngs == ["dang-vien-theo-khoi.png", "ket-nap-dang-vien.png", "xep-loai-dang-vien.png"]
    assert "![Biểu đồ 1." in full["md"].read_text("utf-8")
    assert full["html"].read_text("utf-8").count('<img src="data:image/png;base64,') == 3
    doc = Document(str(full["docx"]))
    assert len(doc.inline_shapes) == 3
    assert {round(s.width.mm) for s in doc.inline_shapes} == {150}


def test_without_data_the_new_sentences_keep_placeholders_and_no_chart(texts, rendered):
    for fmt in ("md", "docx"):
        assert "hoàn thành […]/[…] ([…]) việc được cấp trên giao" in texts[fmt]
        assert "có […] chi bộ sinh hoạt định kỳ" in texts[fmt]
        assert "có […]/[…] chỉ tiêu Nghị quyết Đại hội" in texts[fmt]
        assert "None" not in texts[fmt]
    assert not (rendered["md"].parent / "bieu-do").exists()
    assert "Biểu đồ" not in texts["docx"]


def test_coverage_names_corrected_and_pending_units(tmp_path):
    coverage = dict(CONTEXT["coverage"]) | {
        "corrected": [
            {
                "unit_code": "TCCS007",
                "name": "Đảng bộ Sở Y tế",
                "periods": ["2023-H1"],
                "indicators": ["members_total"],
            }
        ],
        "pending": [
            {"unit_code": "TCCS009", "name": "Chi bộ Báo Thanh Hóa", "periods": ["2022-H2"]}
        ],
    }
    texts = _texts(render_report(CONTEXT | {"coverage": coverage}, ReportSettings(), tmp_path))
    for fmt, text in texts.items():
        assert (
            "có số liệu đã hiệu chỉnh khi xem xét: Đảng bộ Sở Y tế (TCCS007, kỳ 2023-H1; "
            "chỉ tiêu: members_total)"
        ) in text, fmt
        assert "đang chờ xem xét: Chi bộ Báo Thanh Hóa (TCCS009, kỳ 2022-H2)" in text, fmt


# Footnotes (Hướng dẫn 36-HD/VPTW): the breakdown of a total the sentence does not print inline.
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MEMBERS_BY_SECTOR = {
    "start": {"agency": 11484, "soe": 2500, "private": 1300, "industrial_zone": 200},
    "cutoff": {"agency": 10203, "soe": 2400, "private": 1250, "industrial_zone": 250},
}
FOOTNOTED = CONTEXT | {
    "sectors": {
        s: {m: {"members_total": MEMBERS_BY_SECTOR[m][s]} for m in ("start", "cutoff")}
        for s in ("agency", "soe", "private", "industrial_zone")
    }
}
LABELS = {
    "agency": "cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh",
    "soe": "doanh nghiệp có vốn nhà nước",
    "private": "doanh nghiệp ngoài nhà nước",
    "industrial_zone": "khu công nghiệp",
}


def _breakdown(figures: dict[str, int], noun: str, when: str = "") -> str:
    def vn(n: int) -> str:
        return f"{n:02d}" if n < 10 else f"{n:,}".replace(",", ".")

    parts = [f"{vn(figures[s])} {noun} trong {label}" for s, label in LABELS.items()]
    return f"Trong đó{f' ({when})' if when else ''}: " + "; ".join(parts) + "."


# In reading order: 177 TCCSĐ, 15.484 đảng viên, 121 TCCSĐ, 14.103 đảng viên (section I).
EXPECTED_FOOTNOTES = [
    (
        "177 tổ chức cơ sở đảng (TCCSĐ)",
        _breakdown(CONTEXT["start"]["sectors"], "TCCSĐ", "đầu nhiệm kỳ"),
    ),
    (
        "15.484 đảng viên tham gia sinh hoạt",
        _breakdown(MEMBERS_BY_SECTOR["start"], "đảng viên", "đầu nhiệm kỳ"),
    ),
    ("có 121 TCCSĐ", _breakdown(CONTEXT["cutoff"]["sectors"], "TCCSĐ")),
    ("và 14.103 đảng viên", _breakdown(MEMBERS_BY_SECTOR["cutoff"], "đảng viên")),
]


@pytest.fixture(scope="module")
def footnoted(tmp_path_factory) -> dict[str, Path]:
    # the breakdowns' footnotes only: without the outside figures' citations
    settings = SAMPLE.model_copy(update={"external_figures": None})
    return render_report(FOOTNOTED, settings, tmp_path_factory.mktemp("footnotes"))


def test_docx_footnotes_part_carries_the_breakdowns(footnoted):
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from lxml import etree

    doc = Document(str(footnoted["docx"]))
    parts = [r.target_part for r in doc.part.rels.values() if r.reltype == RT.FOOTNOTES]
    assert len(parts) == 1
    assert parts[0].partname == "/word/footnotes.xml"
    assert parts[0].content_type.endswith("wordprocessingml.footnotes+xml")
    root = etree.fromstring(parts[0].blob)
    notes = {
        int(n.get(qn("w:id"))): n for n in root.iter(qn("w:footnote")) if int(n.get(qn("w:id"))) > 0
    }
    assert sorted(notes) == [1, 2, 3, 4]
    for number, (_, text) in enumerate(EXPECTED_FOOTNOTES, start=1):
        note = notes[number]
        assert "".join(t.text for t in note.iter(qn("w:t"))).strip() == text
        assert len(list(note.iter(qn("w:footnoteRef")))) == 1
        for rpr in note.iter(qn("w:rPr")):  # Times New Roman 12 pt
            assert rpr.find(qn("w:rFonts")).get(qn("w:ascii")) == "Times New Roman"
            assert rpr.find(qn("w:sz")).get(qn("w:val")) == "24"


def test_docx_footnotes_are_referenced_after_their_totals(footnoted):
    doc = Document(str(footnoted["docx"]))
    referenced = {}
    for paragraph in doc.element.body.findall(qn("w:p")):  # doc.paragraphs, as XML
        text = ""
        for child in paragraph.iter(qn("w:t"), qn("w:footnoteReference")):
            if child.tag == qn("w:t"):
                text += child.text or ""
            else:
                referenced[int(child.get(qn("w:id")))] = (paragraph.text, text)
                run = child.getparent()
                assert run.find(qn("w:rPr")).find(qn("w:vertAlign")).get(qn("w:val")) == (
                    "superscript"
                )
    assert sorted(referenced) == [1, 2, 3, 4]
    for number, (before, _) in enumerate(EXPECTED_FOOTNOTES, start=1):
        paragraph, text_before = referenced[number]
        assert paragraph.startswith("Sau Đại hội Đảng bộ Khối")  # section I
        assert text_before.endswith(before)
    assert "\u27e6" not in docx_text(footnoted["docx"])  # no mark left anywhere


def test_md_and_html_footnotes_carry_the_same_breakdowns(footnoted):
    md = footnoted["md"].read_text(encoding="utf-8")
    html = _FIGURE_SPAN.sub(r"\1", footnoted["html"].read_text(encoding="utf-8"))
    for number, (before, text) in enumerate(EXPECTED_FOOTNOTES, start=1):
        assert f"{before}[^{number}]" in md
        assert f"[^{number}]: {text}" in md
        assert (
            f'{before}<sup class="footnote-ref" id="tham-chieu-{number}">'
            f'<a href="#chu-thich-{number}">{number}</a></sup>'
        ) in html
        assert f'<li id="chu-thich-{number}">{text} ' in html
    assert "\u27e6" not in md + html


def test_footnote_without_any_figure_is_dropped(texts, rendered):
    # CONTEXT has no members by sector: only the two TCCSĐ breakdowns, numbered 1 and 2.
    md = rendered["md"].read_text(encoding="utf-8")
    assert "[^1]: Trong đó (đầu nhiệm kỳ): 130 TCCSĐ" in md and "[^2]: Trong đó: 87 TCCSĐ" in md
    assert "[^3]: Trong đó" not in md and "Trong đó: […]" not in md


def test_own_draft_with_footnotes_passes_check_draft(footnoted):
    from tonghop.checkdraft import check_draft

    for fmt in ("md", "docx"):
        assert check_draft(footnoted[fmt]) == [], fmt


def test_trace_appendix_only_in_html_and_escaped(tmp_path):
    trace = {
        "figures": [
            {
                "figure": "cutoff.members_total",
                "label": "Tổng số đảng viên",
                "model": "rpt_term__indicators",
                "column": "value",
                "filters": "measure = 'cutoff'",
                "value": 3.0,
                "total": 3.0,
                "method": "tổng",
                "decimals": 0,
                "matches": True,
                "contributions": [
                    {"unit_code": "U1", "name": "Chi bộ <script>x</script>", "period": "2023-H1",
                     "value": 3, "file_name": "a.csv", "sha256": "abc", "location": None}
                ],
            }
        ],
        "skipped": [],
    }  # fmt: skip
    paths = render_report(CONTEXT | {"trace": trace}, ReportSettings(), tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    assert "Phụ lục: Nguồn gốc số liệu" in html
    assert 'data-figure="cutoff.members_total"' in html
    assert "Chi bộ &lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "Nguồn gốc số liệu" not in paths["md"].read_text(encoding="utf-8")
    assert "Nguồn gốc số liệu" not in docx_text(paths["docx"])
    plain = render_report(CONTEXT, ReportSettings(), tmp_path / "plain")
    assert "Nguồn gốc số liệu" not in plain["html"].read_text(encoding="utf-8")


# --- one value per figure: figures.json, the HTML's data-figure, and every format ---


def test_each_figure_shows_one_value_in_md_html_and_docx(full, figures_agree):
    placed = figures_agree(full)
    assert {"cutoff.members_total", "term.discipline_expulsion", "cutoff.employees_approx"} <= (
        placed
    )
