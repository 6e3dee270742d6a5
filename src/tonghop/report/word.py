"""The Word writer: the docxtpl template filled with the view, then in Word's XML the page
size and margins, the widths of the tables whose columns docxtpl looped, real footnotes for the
templates' marks, and placeholders highlighted."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_COLOR_INDEX
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from docxtpl import DocxTemplate, InlineImage
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from tonghop.formatting import docx_text
from tonghop.report.footnotes import FOOTNOTE_MARK_RE, footnote_function
from tonghop.report.templates import FILTERS
from tonghop.settings import ReportSettings

DOCX_TEMPLATE = "bao-cao.docx"
CHART_WIDTH_MM = 150
# Phụ lục 2's tables (captioned so by templates/make_docx_template.py): a figure's column is
# at least as wide as its header's longest word in 9 pt bold ("Chuyển") and a bold "15.484";
# the sector's name gets what is left, up to its own limit, so it wraps on a few lines only.
SECTOR_TABLE_CAPTION = "Phụ lục 2"
SECTOR_FIGURE_MIN_MM = 12.5
SECTOR_LABEL_MAX_MM = 45
SECTOR_LABEL_MIN_MM = 25  # an office's table with many more columns squeezes the figures
CELL_MARGIN_MM = 0.5

# Bracketed text is what the owner must fill or check: "[…]" for a missing figure,
# "[Phần nội dung do cơ quan soạn thảo bổ sung: …]" for narrative, "[Họ và tên người ký]".
_PLACEHOLDER_RE = re.compile(r"\[[^\[\]]*\]")

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FONT = "Times New Roman"
FOOTNOTE_SIZE_PT = 12


class _DocxEnvironment(SandboxedEnvironment):
    """docxtpl compiles each part's XML with `from_string`: the same template's parts are
    compiled once per process (a resubmission's render reuses them)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._compiled: dict[str, Template] = {}

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        if source not in self._compiled:
            if len(self._compiled) >= _COMPILED_PARTS:
                self._compiled.clear()
            self._compiled[source] = super().from_string(source)
        return self._compiled[source]


_COMPILED_PARTS = 16  # the document's and its headers' and footers', for a few templates


@functools.cache
def _docx_environment() -> SandboxedEnvironment:
    # docxtpl renders the document XML as one string: escape like XML, no HTML markup.
    # Control characters in a value would become paragraphs and pages (formatting.docx_text).
    env = _DocxEnvironment(undefined=StrictUndefined, autoescape=True, finalize=docx_text)
    env.filters.update(FILTERS)
    return env


def render_docx(
    view: Mapping[str, Any], settings: ReportSettings, template: Path, out_path: Path
) -> Path:
    """Fill the Word template, then apply the page margins and highlight the placeholders."""
    doc = DocxTemplate(str(template))
    images = {
        key: chart | {"image": InlineImage(doc, chart["path"], width=Mm(CHART_WIDTH_MM))}
        for key, chart in (view.get("charts") or {}).items()
        if chart
    }
    charts_view = dict(view.get("charts") or {}) | images
    docx_view = dict(view) | {"charts": charts_view, "footnote": footnote_function(None)}
    doc.render(docx_view, jinja_env=_docx_environment(), autoescape=True)
    doc.save(str(out_path))
    final = Document(str(out_path))
    margins = settings.margins_mm
    for section in final.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(margins.top), Mm(margins.bottom)
        section.left_margin, section.right_margin = Mm(margins.left), Mm(margins.right)
    text_width = Mm(210 - margins.left - margins.right)
    for table in final.tables:
        if _caption(table) == SECTOR_TABLE_CAPTION:
            _fit_sector_table(table, text_width)
    texts = {f["key"]: f["text"] for f in view.get("footnotes") or []}
    notes: list[str] = []
    for p in list(final.element.body.iter(qn("w:p"))):
        paragraph = Paragraph(p, final)
        for run in list(paragraph.runs):
            _footnote_references(run, texts, notes)
        for run in list(paragraph.runs):
            highlight_placeholders(run, paragraph)
    if notes:
        _add_footnotes_part(final, notes)
    final.save(str(out_path))
    return out_path


def borderless_table(doc: Any, widths_mm: Sequence[float]) -> Table:
    """A borderless table of one row, a cell per width: the header and closing blocks."""
    table = doc.add_table(rows=1, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)
    for cell, column, width in zip(table.rows[0].cells, table.columns, widths_mm, strict=True):
        cell.width = column.width = Mm(width)
    return table


def _caption(table: Table) -> str | None:
    caption = table._tbl.tblPr.find(qn("w:tblCaption"))
    return None if caption is None else caption.get(qn("w:val"))


def _fit_sector_table(table: Table, text_width: int) -> None:
    """The label column wide enough for a sector's name, the figures' columns equal."""
    columns = table._tbl.tblGrid.findall(qn("w:gridCol"))
    figures = max(len(columns) - 1, 1)
    room = text_width - figures * Mm(SECTOR_FIGURE_MIN_MM)
    label = max(Mm(SECTOR_LABEL_MIN_MM), min(Mm(SECTOR_LABEL_MAX_MM), room))
    figure = (text_width - label) // figures
    widths = [label] + [figure] * (len(columns) - 1)
    table.autofit = False  # fixed layout: Word and LibreOffice keep these widths
    tbl_pr = table._tbl.tblPr
    width = tbl_pr.find(qn("w:tblW"))
    if width is not None:
        width.set(qn("w:type"), "dxa")
        width.set(qn("w:w"), str(round(sum(widths) / 635)))  # EMU to twentieths of a point
    margin = round(Mm(CELL_MARGIN_MM) / 635)
    cell_margins = parse_xml(
        f'<w:tblCellMar xmlns:w="{_W}"><w:left w:w="{margin}" w:type="dxa"/>'
        f'<w:right w:w="{margin}" w:type="dxa"/></w:tblCellMar>'
    )
    old = tbl_pr.find(qn("w:tblCellMar"))
    if old is not None:
        tbl_pr.remove(old)
    tbl_pr.find(qn("w:tblLayout")).addnext(cell_margins)
    for column, size in zip(columns, widths, strict=True):
        column.set(qn("w:w"), str(round(size / 635)))
    for row in table.rows:
        for cell, size in zip(row.cells, widths, strict=False):
            cell.width = size


def _footnote_references(run: Run, texts: Mapping[str, str], notes: list[str]) -> None:
    """Replace each footnote mark in a run by a Word footnote reference; collect the texts."""
    text = run.text
    if not FOOTNOTE_MARK_RE.search(text):
        return
    # A footnote without any figure (see number_footnotes) leaves no mark and no split.
    text = FOOTNOTE_MARK_RE.sub(lambda m: m.group() if m.group(1) in texts else "", text)
    if not FOOTNOTE_MARK_RE.search(text):
        run.text = text
        return
    size = run.font.size.pt if run.font.size else 14
    anchor = run._r
    last = 0
    pieces: list[tuple[str, str | None]] = []
    for match in FOOTNOTE_MARK_RE.finditer(text):
        pieces.append((text[last : match.start()], None))
        pieces.append(("", match.group(1)))
        last = match.end()
    pieces.append((text[last:], None))
    for piece, key in pieces:
        if key is None:
            if not piece:
                continue
            element = copy.deepcopy(run._r)
            Run(element, run._parent).text = piece
        else:
            notes.append(texts[key])
            element = parse_xml(
                f'<w:r xmlns:w="{_W}"><w:rPr>{_fonts_xml()}'
                f'<w:sz w:val="{round(size * 2)}"/><w:szCs w:val="{round(size * 2)}"/>'
                f'<w:vertAlign w:val="superscript"/></w:rPr>'
                f'<w:footnoteReference w:id="{len(notes)}"/></w:r>'
            )
        anchor.addnext(element)
        anchor = element
    run._r.getparent().remove(run._r)


def _fonts_xml() -> str:
    slots = " ".join(f'w:{slot}="{_FONT}"' for slot in ("ascii", "hAnsi", "eastAsia", "cs"))
    return f"<w:rFonts {slots}/>"


def _add_footnotes_part(document: Any, notes: Sequence[str]) -> None:
    """Add `word/footnotes.xml` (separators + one footnote per text, id 1..n, 12 pt)."""
    size = FOOTNOTE_SIZE_PT * 2
    rpr = f'{_fonts_xml()}<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
    spacing = '<w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
    body = [
        f'<w:footnote w:type="separator" w:id="-1"><w:p>{spacing}'
        "<w:r><w:separator/></w:r></w:p></w:footnote>",
        f'<w:footnote w:type="continuationSeparator" w:id="0"><w:p>{spacing}'
        "<w:r><w:continuationSeparator/></w:r></w:p></w:footnote>",
    ]
    for number, text in enumerate(notes, start=1):
        body.append(
            f'<w:footnote w:id="{number}"><w:p><w:pPr><w:spacing w:after="0"/>'
            '<w:jc w:val="both"/></w:pPr>'
            f'<w:r><w:rPr>{rpr}<w:vertAlign w:val="superscript"/></w:rPr><w:footnoteRef/></w:r>'
            f'<w:r><w:rPr>{rpr}</w:rPr><w:t xml:space="preserve"> {escape(text)}</w:t></w:r>'
            "</w:p></w:footnote>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:footnotes xmlns:w="{_W}">{"".join(body)}</w:footnotes>'
    )
    doc_part = document.part
    for rel in list(doc_part.rels.values()):
        if rel.reltype == RT.FOOTNOTES:  # a template restyled in Word may carry its own part
            doc_part.drop_rel(rel.rId)
    part = Part(
        PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, xml.encode("utf-8"), doc_part.package
    )
    doc_part.relate_to(part, RT.FOOTNOTES)


def highlight_placeholders(run: Run, paragraph: Paragraph) -> None:
    """Split a run around bracketed placeholders and highlight those pieces yellow."""
    text = run.text
    if not _PLACEHOLDER_RE.search(text):
        return
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _PLACEHOLDER_RE.finditer(text):
        pieces.append((text[last : match.start()], False))
        pieces.append((match.group(), True))
        last = match.end()
    pieces.append((text[last:], False))
    anchor = run._r
    for piece, marked in pieces:
        if not piece:
            continue
        element = copy.deepcopy(run._r)
        anchor.addnext(element)
        anchor = element
        new_run = Run(element, paragraph)
        new_run.text = piece
        if marked:
            new_run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    run._r.getparent().remove(run._r)
