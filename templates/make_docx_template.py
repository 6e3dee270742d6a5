"""Generate `templates/bao-cao.docx`, the docxtpl Word template of the report draft.

Run `python templates/make_docx_template.py` after changing it; commit both files. An office
may instead restyle the generated .docx in Word and put it first in its template folders.

Layout after Hướng dẫn 36-HD/VPTW: A4, Times New Roman, header block as a borderless
two-column table, title 16 pt bold, body 14 pt justified with a 1 cm first-line indent,
"Nơi nhận" 14 pt bold italic underlined with 12 pt items, signature block on the right.
Page margins are set at render time from the report settings. The data-driven sections are
built from their Markdown partials (`_<partial>.md.j2`, named in `outline.yaml`), so their
wording is written once: a line is a paragraph, `> **[…]**` a highlighted placeholder, a line
holding one `{% … %}` tag a paragraph tag, `{% with chart = charts.X %}…` a chart; the scope
note is `_coverage.md.j2`. The two appendix tables are built here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

# Phụ lục 2's tables have a column per figure, looped by docxtpl: the writer gives the tables
# of this caption their widths once the columns are known.
from tonghop.report.word import SECTOR_TABLE_CAPTION, borderless_table

FONT = "Times New Roman"
HERE = Path(__file__).resolve().parent
OUT = HERE / "bao-cao.docx"
APPENDIX_TABLES = {"appendix_1_chi_tieu", "appendix_2_theo_khoi"}
# TT, target, result, assessment: 165 mm, the A4 text width between the default margins.
APPENDIX_1_WIDTHS_MM = [10, 52, 80, 23]
_CHART = re.compile(r"^\{% with chart = charts\.(\w+) %\}.*\{% endwith %\}$")
_TAG = re.compile(r"^\{%-?\s*([^%]*?)\s*-?%\}$")  # one tag alone on its line

CENTER = WD_ALIGN_PARAGRAPH.CENTER
JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY
LEFT = WD_ALIGN_PARAGRAPH.LEFT

PLACEHOLDER = "[Phần nội dung do cơ quan soạn thảo bổ sung: {}]"

# A note of _coverage.md.j2: "> *lead* sentence".
_NOTE = re.compile(r"^> \*(?P<lead>[^*]+)\* (?P<text>.*)$", re.S)


def set_font(run, size: float = 14, *, bold=False, italic=False, underline=False) -> None:
    """Times New Roman on every script slot (Word falls back per script otherwise)."""
    run.font.name = FONT
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    run.font.underline = underline


def para(
    container,
    text: str = "",
    *,
    size: float = 14,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    align=JUSTIFY,
    indent: bool = False,
    highlight: bool = False,
    after: float = 0,
    page_break: bool = False,
    keep_with_next: bool = False,
    reuse_first: bool = False,
):
    """Add one paragraph holding one run (docxtpl tags stay whole inside a single run)."""
    if reuse_first and container.paragraphs and not container.paragraphs[0].text:
        p = container.paragraphs[0]
    else:
        p = container.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = align
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(after)
    fmt.first_line_indent = Cm(1) if indent else None
    fmt.page_break_before = page_break or None
    fmt.keep_with_next = keep_with_next or None
    run = p.add_run(text)
    set_font(run, size, bold=bold, italic=italic, underline=underline)
    if highlight:
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    return p


def tag(container, statement: str):
    """A docxtpl paragraph tag (`{%p ... %}`): the paragraph disappears when rendered."""
    return para(container, "{%p " + statement + " %}", align=LEFT)


def body(container, text: str, **kwargs):
    kwargs.setdefault("after", 6)
    return para(container, text, indent=True, **kwargs)


def placeholder(container, text: str):
    return body(container, text, highlight=True, bold=True)


def keep_rows(table, header_rows: int = 1) -> None:
    """No row breaks across pages (`cantSplit`); the header rows repeat on every page."""
    for index, row in enumerate(table.rows):
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if index < header_rows:
            tr_pr.append(OxmlElement("w:tblHeader"))


def table_caption(table, caption: str) -> None:
    """The table's title in its properties (Word's alt text), which the writer looks up."""
    element = OxmlElement("w:tblCaption")
    element.set(qn("w:val"), caption)
    table._tbl.tblPr.append(element)


def page_numbers(doc) -> None:
    """The page number centred in the header, 14 pt; none on the first page (36-HD/VPTW)."""
    section = doc.sections[0]
    section.different_first_page_header_footer = True
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = CENTER
    # A PAGE field: Word and LibreOffice put each page's number in place of the "2" cached here.
    for kind, text in (("begin", ""), ("instr", "PAGE"), ("separate", ""), ("", "2"), ("end", "")):
        run = paragraph.add_run()
        set_font(run, 14)
        if kind == "instr":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {text} "
            run._r.append(element)
        elif kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
            run._r.append(element)
        else:
            run.text = text


def normal_style(doc) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(14)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "vi-VN")
    rpr.append(lang)


def header_block(doc) -> None:
    left, right = borderless_table(doc, (75, 90)).rows[0].cells
    para(left, "{{ settings.superior_body }}", align=CENTER, reuse_first=True)
    para(left, "{{ settings.issuing_body }}", bold=True, align=CENTER)
    para(left, "*", align=CENTER)
    para(left, "Số {{ settings.number }}", align=CENTER)
    para(
        right,
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        size=15,
        bold=True,
        underline=True,
        align=CENTER,
        reuse_first=True,
        after=6,
    )
    para(right, "{{ settings.place_date }}", italic=True, align=CENTER)


def title_block(doc) -> None:
    para(doc, "")
    para(doc, "{{ settings.title }}", size=16, bold=True, align=CENTER)
    tag(doc, "for line in settings.subtitle")
    para(doc, "{{ line }}", bold=True, align=CENTER)
    tag(doc, "endfor")
    para(doc, "", after=6)


def coverage_note(doc) -> None:
    """The notes of `_coverage.md.j2`: each `> *lead* text` (its next lines, starting with
    "{%-", joined to it) a paragraph, the lead bold, the rest italic; a tag alone on its line
    wraps the notes after it."""
    items: list[tuple[str, str]] = []
    for line in (x.strip() for x in (HERE / "_coverage.md.j2").read_text("utf-8").splitlines()):
        if line.startswith("{%-") and items and items[-1][0] == "note":
            items[-1] = ("note", items[-1][1] + line.replace("{%-", "{%", 1))
        elif line.startswith("> *"):
            items.append(("note", line))
        elif tag_match := _TAG.match(line):
            items.append(("tag", tag_match.group(1)))
        elif line:
            raise ValueError(f"_coverage.md.j2: expected '> *lead* text', not {line!r}")
    for kind, text in items:
        if kind == "tag":
            tag(doc, text)
            continue
        note = _NOTE.match(text)
        p = body(doc, "", italic=True)
        p.runs[0].text = note["lead"] + " "
        p.runs[0].font.bold = True
        run = p.add_run(note["text"])
        set_font(run, 14, italic=True)


def partials() -> list[str]:
    """The data-driven sections the outline names, in outline order."""
    outline = yaml.safe_load((HERE / "outline.yaml").read_text(encoding="utf-8"))
    names = [n["partial"] for part in ("body", "appendix") for n in outline[part] if "partial" in n]
    return list(dict.fromkeys(names))


def from_markdown(doc, name: str) -> None:
    """The paragraphs of one section, read from its Markdown partial."""
    text = (HERE / f"_{name}.md.j2").read_text(encoding="utf-8")
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if line == '{% include "_placeholder.md.j2" %}':
            placeholder(doc, PLACEHOLDER.format("{{ node.placeholder }}"))
        elif line.startswith("> **[") and line.endswith("]**"):
            placeholder(doc, line[4:-2])
        elif chart := _CHART.match(line):
            chart_paragraphs(doc, chart.group(1))
        elif tag_match := _TAG.match(line):
            tag(doc, tag_match.group(1))
        elif line.startswith("|"):
            raise ValueError(f"_{name}.md.j2: Markdown tables are built by hand in this script")
        else:
            body(doc, line.replace("**", ""))


def chart_paragraphs(doc, key: str) -> None:
    tag(doc, f"if charts.{key}")
    chart = "{{ charts." + key
    para(doc, chart + ".image }}", align=CENTER, keep_with_next=True)
    para(doc, chart + ".title }}", size=12, italic=True, align=CENTER, after=6)
    tag(doc, "endif")


def grid_table(doc, header: list[str], widths_mm: list[float]):
    """A bordered table with a bold header row, 12 pt."""
    table = doc.add_table(rows=1, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text, width in zip(table.rows[0].cells, header, widths_mm, strict=True):
        cell.width = Mm(width)
        para(cell, text, size=12, bold=True, align=CENTER, reuse_first=True)
    return table


def fix_widths(table, widths_mm: list[float]) -> None:
    """Column widths on the grid and every cell: LibreOffice reads the grid, Word the cells."""
    table.autofit = False
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=False):
            cell.width = Mm(width)


def row_tag(table, statement: str) -> None:
    """A docxtpl row tag (`{%tr ... %}`): the whole row becomes the tag."""
    para(table.add_row().cells[0], "{%tr " + statement + " %}", size=12, reuse_first=True)


def markdown_table(name: str) -> tuple[list[str], str, list[str]]:
    """A partial's Markdown table: its header cells, the loop over its rows (`for … in …`)
    and the cells of the row it repeats, includes inlined, `**` and `<br>` for Word."""
    lines = [x.strip() for x in (HERE / f"_{name}.md.j2").read_text(encoding="utf-8").splitlines()]
    tables = [x for x in lines if x.startswith("|")]
    header, row = tables[0], tables[2]
    loop = _TAG.match(lines[lines.index(row) - 1]).group(1)

    def cells(line: str) -> list[str]:
        # a cell ends at a "|" outside the Jinja tags (a filter's "|" is inside one)
        out, cell, depth = [], "", 0
        for a, b in zip(line, line[1:] + " ", strict=True):
            depth += (a == "{" and b in "{%") - (a in "}%" and b == "}")
            if a == "|" and depth == 0:
                out.append(cell.strip())
                cell = ""
            else:
                cell += a
        return out[1:]

    def for_word(cell: str) -> str:
        for include in re.findall(r'\{% include "(_[\w.]+)" %\}', cell):
            source = (HERE / include).read_text(encoding="utf-8").strip()
            cell = cell.replace(f'{{% include "{include}" %}}', source)
        return cell.replace("**", "").replace("<br>", "\n")  # a line break in the run

    return cells(header), loop, [for_word(c) for c in cells(row)]


def trailing_placeholders(name: str) -> list[str]:
    """The placeholders (`> **[…]**`) a partial writes after its last loop."""
    lines = [x.strip() for x in (HERE / f"_{name}.md.j2").read_text(encoding="utf-8").splitlines()]
    after = lines[max(i for i, x in enumerate(lines) if x == "{% endfor %}") + 1 :]
    return [x[4:-2] for x in after if x.startswith("> **[") and x.endswith("]**")]


def appendix_1_table(doc) -> None:
    """Phụ lục 1: a row per target, from `_appendix_1_chi_tieu.md.j2` (a line per condition,
    wording in _target_condition.j2)."""
    header, loop, row = markdown_table("appendix_1_chi_tieu")
    table = grid_table(doc, header, APPENDIX_1_WIDTHS_MM)
    row_tag(table, loop)
    for cell, text, column in zip(table.add_row().cells, row, range(len(row)), strict=True):
        last = column == len(row) - 1
        align = CENTER if column in (0, len(row) - 1) else LEFT
        para(cell, text, size=12, bold=last, align=align, reuse_first=True)
    row_tag(table, "endfor")
    fix_widths(table, APPENDIX_1_WIDTHS_MM)
    keep_rows(table)


def appendix_2_tables(doc) -> None:
    """Phụ lục 2: the sector tables of wording.yaml, columns looped with docxtpl's `{%tc %}`."""
    tag(doc, "for table in sector_tables")
    para(
        doc,
        "Bảng {{ loop.index }}. {{ table.title }}",
        bold=True,
        align=CENTER,
        after=3,
        keep_with_next=True,
    )
    table = doc.add_table(rows=3, cols=4)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    head, rows, total = table.rows
    table_caption(table, SECTOR_TABLE_CAPTION)
    for row, label, value, bold in (
        (head, markdown_table("appendix_2_theo_khoi")[0][0], "{{ h }}", True),
        (rows, "{{ r.label }}", "{{ fig(i) }}", False),
        (total, "{{ table.total.label }}", "{{ fig(i) }}", True),
    ):
        first, loop, cell, end = row.cells
        size = 9 if row is head else 10  # ten figure columns and the sector name fit the width
        para(first, label, size=size, bold=bold, align=LEFT, reuse_first=True)
        source = {"{{ h }}": "h in table.headers", "{{ fig(i) }}": "i in r.ids"}[value]
        if row is total:
            source = "i in table.total.ids"
        para(loop, "{%tc for " + source + " %}", size=12, reuse_first=True)
        para(
            cell,
            value,
            size=size,
            bold=bold,
            align=CENTER if row is head else WD_ALIGN_PARAGRAPH.RIGHT,
            reuse_first=True,
        )
        para(end, "{%tc endfor %}", size=12, reuse_first=True)
    keep_rows(table)
    rows._tr.addprevious(_row_tag_element(table, "for r in table.rows"))
    rows._tr.addnext(_row_tag_element(table, "endfor"))
    para(doc, "", after=6)
    tag(doc, "endfor")


def _row_tag_element(table, statement: str):
    row = table.add_row()
    para(row.cells[0], "{%tr " + statement + " %}", size=12, reuse_first=True)
    element = row._tr
    element.getparent().remove(element)
    return element


def outline_loop(doc, items: str, *, page_break: bool = False) -> None:
    tag(doc, f"for node in {items}")
    tag(doc, "if node.level == 1")
    para(
        doc, "{{ node.label }}", bold=True, align=CENTER, page_break=page_break, keep_with_next=True
    )
    para(doc, "{{ node.title }}", bold=True, align=CENTER, after=6, keep_with_next=True)
    tag(doc, "else")
    body(doc, "{{ node.heading }}", bold=True, keep_with_next=True)
    tag(doc, "endif")
    keyword = "if"
    for name in partials():
        tag(doc, f"{keyword} node.partial == '{name}'")
        keyword = "elif"
        if name == "appendix_1_chi_tieu":
            appendix_1_table(doc)
            placeholder(doc, PLACEHOLDER.format("{{ node.placeholder }}"))
        elif name == "appendix_2_theo_khoi":
            appendix_2_tables(doc)
            for line in trailing_placeholders(name):
                placeholder(doc, line)
        else:
            from_markdown(doc, name)
    tag(doc, "elif node.placeholder")
    placeholder(doc, PLACEHOLDER.format("{{ node.placeholder }}"))
    tag(doc, "endif")
    tag(doc, "endfor")


def closing_block(doc) -> None:
    para(doc, "")
    left, right = borderless_table(doc, (80, 85)).rows[0].cells
    para(left, "Nơi nhận:", bold=True, italic=True, underline=True, align=LEFT, reuse_first=True)
    tag(left, "for item in settings.recipients")
    para(left, "- {{ item }}", size=12, align=LEFT)
    tag(left, "endfor")
    para(right, "{{ settings.signer_for }}", bold=True, align=CENTER, reuse_first=True)
    para(right, "{{ settings.signer_title }}", bold=True, align=CENTER)
    for _ in range(3):
        para(right, "", align=CENTER)
    para(right, "{{ settings.signer_name }}", bold=True, align=CENTER)


def build(out: Path = OUT) -> Path:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    normal_style(doc)
    page_numbers(doc)
    doc.core_properties.title = "Báo cáo (dự thảo)"
    doc.core_properties.author = "tonghop"
    doc.core_properties.language = "vi-VN"
    # The empty paragraph python-docx's blank document starts with would print as a blank line.
    for p in list(doc.paragraphs):
        p._element.getparent().remove(p._element)
    header_block(doc)
    title_block(doc)
    coverage_note(doc)
    outline_loop(doc, "outline")
    closing_block(doc)
    outline_loop(doc, "appendix", page_break=True)
    doc.save(str(out))
    return out


if __name__ == "__main__":
    print(build())
