"""Reading a draft: paragraphs of .docx (body, table cells, footnotes), .md, .txt and .html.

Each paragraph keeps where a person finds it (a line of the file, or a paragraph or footnote
of the Word document) and, for a footnote, the body text up to its reference mark: a footnote
"Trong đó: …" breaks down the figure its mark follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tonghop.formatting import fold_vi


class DraftError(ValueError):
    """The draft cannot be read at all (Vietnamese message)."""


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, in reading order: body, table cells, then footnotes
    text: str
    line: int | None = None  # the line of the file where it starts (.md, .txt, .html)
    footnote: str | None = None  # the footnote's own number or name
    note_of: str = ""  # for a footnote: the body text before its reference mark
    cell: tuple[int, int, int] | None = None  # (table, row, column), 0-based, in a table

    @property
    def where(self) -> str:
        """Where a person finds it, in Vietnamese."""
        if self.footnote is not None:
            return f"chú thích {self.footnote}"
        return f"dòng {self.line}" if self.line is not None else f"đoạn {self.number}"


_MD_NOISE = [
    (re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))"), ""),  # heading, quote, bullet
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"(\*\*|__|\*|`)"), ""),  # emphasis
    (re.compile(r"\\([\\*_#>\[\]()-])"), r"\1"),  # escapes
]
_MD_NOTE_REF = re.compile(r"\[\^([^\]]+)\]")
_MD_NOTE_DEF = re.compile(r"^\[\^([^\]]+)\]:\s*")


def _clean(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return fold_vi(text)


@dataclass
class _Block:
    text: str
    line: int | None = None
    footnote: str | None = None
    refs: tuple[tuple[str, int], ...] = ()  # (footnote id, offset of its mark in text)
    cell: tuple[int, int, int] | None = None


def read_draft(path: Path) -> list[Paragraph]:
    """Read a draft's paragraphs (.docx, .md, .txt, .html); raise DraftError when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise DraftError(f"Không tìm thấy tệp '{path}'")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        blocks = _docx_blocks(path)
    elif suffix in (".md", ".txt", ".markdown", ".html", ".htm"):
        try:
            raw = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DraftError(f"Tệp '{path}' không phải văn bản UTF-8: {exc.reason}") from exc
        if suffix in (".html", ".htm"):
            blocks = _html_blocks(raw, path)
        else:
            blocks = _text_blocks(raw, markdown=suffix != ".txt")
    else:
        raise DraftError(f"Không đọc được '{path}': chỉ nhận tệp .docx, .md, .txt hoặc .html")
    return _paragraphs(blocks)


def _paragraphs(blocks: list[_Block]) -> list[Paragraph]:
    before: dict[str, str] = {}
    for block in blocks:
        for note, offset in block.refs:
            before.setdefault(note, _clean(block.text[:offset]))
    out: list[Paragraph] = []
    for block in blocks:
        text = _clean(block.text)
        if text:
            note_of = before.get(block.footnote, "") if block.footnote is not None else ""
            out.append(
                Paragraph(len(out) + 1, text, block.line, block.footnote, note_of, block.cell)
            )
    return out


def _text_blocks(raw: str, markdown: bool) -> list[_Block]:
    blocks: list[_Block] = []
    lines = raw.splitlines()
    start: int | None = None
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            block = lines[start - 1 : number - 1]
            if markdown and all(x.lstrip().startswith("|") for x in block):
                blocks += _table_cells(block, start, len([b for b in blocks if b.cell]) + 1)
            else:
                blocks.append(_text_block(block, start, markdown))
            start = None
    return blocks


def _table_cells(rows: list[str], line: int, table: int) -> list[_Block]:
    """A Markdown table: each cell a paragraph of its own, as in a Word table."""
    blocks = []
    index = 0
    for number, row in enumerate(rows, start=line):
        cells = row.strip().strip("|").split("|")
        if all(re.fullmatch(r"\s*:?-+:?\s*", c) for c in cells):
            continue
        for column, text in enumerate(cells):
            block = _text_block([text], number, markdown=True)
            block.cell = (table, index, column)
            blocks.append(block)
        index += 1
    return blocks


def _text_block(lines: list[str], line: int, markdown: bool) -> _Block:
    footnote = None
    if markdown and (m := _MD_NOTE_DEF.match(lines[0])):
        footnote, lines = m[1], [lines[0][m.end() :], *lines[1:]]
    parts = []
    for text in lines:
        if markdown:
            for pattern, repl in _MD_NOISE:
                text = pattern.sub(repl, text)
        parts.append(text.strip())
    text = " ".join(x for x in parts if x)
    refs: list[tuple[str, int]] = []
    if markdown:
        pieces, last = [], 0
        for m in _MD_NOTE_REF.finditer(text):
            pieces.append(text[last : m.start()])
            refs.append((m[1], sum(len(p) for p in pieces)))
            last = m.end()
        text = "".join(pieces) + text[last:]
    return _Block(text, line, footnote, tuple(refs))


_HTML_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dd", "dt", "caption"}


def _html_blocks(raw: str, path: Path) -> list[_Block]:
    from lxml import etree, html

    try:
        root = html.document_fromstring(raw)
    except (etree.ParserError, ValueError) as exc:
        raise DraftError(f"Không đọc được tệp HTML '{path}': {exc}") from exc
    for el in root.iter("script", "style", "head"):
        el.drop_tree()
    links = [a.get("href", "")[1:] for a in root.iter("a") if a.get("href", "").startswith("#")]
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    order = list(dict.fromkeys(x for x in links if x in ids))  # notes, numbered as marked
    targets = set(order)
    # numbered in document order (an lxml element's id() is its proxy's, reused once freed)
    tables = {table: number for number, table in enumerate(root.iter("table"), start=1)}
    blocks: list[_Block] = []
    for el in root.iter(*_HTML_BLOCKS):
        if any(child.tag in _HTML_BLOCKS for child in el.iterdescendants()):
            continue  # its inner blocks are read on their own
        note = next(
            (a.get("id") for a in (el, *el.iterancestors()) if a.get("id") in targets), None
        )
        text, refs = _html_text(el, targets)
        label = str(order.index(note) + 1) if note else None
        refs = tuple((str(order.index(t) + 1), offset) for t, offset in refs)
        blocks.append(_Block(text, el.sourceline, label, refs, _html_cell(el, tables)))
    return blocks


def _html_cell(el: Any, tables: dict[Any, int]) -> tuple[int, int, int] | None:
    cell = next((a for a in (el, *el.iterancestors()) if a.tag in ("td", "th")), None)
    if cell is None:
        return None
    row = cell.getparent()
    table = next((a for a in row.iterancestors() if a.tag == "table"), None)
    if table is None:
        return None
    rows = [r for r in table.iter("tr")]
    return tables[table], rows.index(row), [c for c in row if c.tag in ("td", "th")].index(cell)


def _html_text(el: Any, targets: set[str]) -> tuple[str, tuple[tuple[str, int], ...]]:
    parts: list[str] = []
    refs: list[tuple[str, int]] = []

    def walk(node: Any) -> None:
        if node.tag == "sup" or (node.tag == "a" and node.get("href", "")[1:] in targets):
            link = node if node.tag == "a" else next(node.iter("a"), None)
            if link is not None and link.get("href", "")[1:] in targets:
                refs.append((link.get("href")[1:], sum(len(p) for p in parts)))
            parts.append(node.tail or "")
            return  # a footnote mark, not a figure of the sentence
        if node.tag == "br":
            parts.append(" ")
        parts.append(node.text or "")
        for child in node:
            walk(child)
        if node is not el:
            parts.append(node.tail or "")

    walk(el)
    return "".join(parts), tuple(refs)


def _docx_blocks(path: Path) -> list[_Block]:
    from zipfile import BadZipFile

    from docx import Document
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from lxml import etree

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise DraftError(f"Không đọc được tệp Word '{path}': {exc}") from exc

    blocks: list[_Block] = []
    tables = 0
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            text, refs = _run_text(child, qn)
            blocks.append(_Block(text, refs=refs))
        elif child.tag == qn("w:tbl"):
            tables += 1
            for r, tr in enumerate(child.iterchildren(qn("w:tr"))):
                for c, tc in enumerate(tr.iterchildren(qn("w:tc"))):
                    text = " ".join(_run_text(p, qn)[0] for p in tc.iter(qn("w:p")))
                    blocks.append(_Block(text, cell=(tables, r, c)))
    for rel in doc.part.rels.values():
        if rel.reltype == RT.FOOTNOTES:
            root = etree.fromstring(rel.target_part.blob)
            for note in root.iterchildren(qn("w:footnote")):
                number = note.get(qn("w:id"), "0")
                if int(number) > 0:
                    text = " ".join(_run_text(p, qn)[0] for p in note.iter(qn("w:p")))
                    blocks.append(_Block(text, footnote=number))
    return blocks


def _run_text(p: Any, qn: Callable[[str], str]) -> tuple[str, tuple[tuple[str, int], ...]]:
    """A Word paragraph's text, without raised marks, and where its footnote references are."""
    parts: list[str] = []
    refs: list[tuple[str, int]] = []
    superscript = qn("w:vertAlign")
    for el in p.iter(qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:footnoteReference")):
        if el.tag == qn("w:footnoteReference"):
            refs.append((el.get(qn("w:id")), sum(len(x) for x in parts)))
        elif el.tag == qn("w:t"):
            props = el.getparent().find(qn("w:rPr"))
            align = props.find(superscript) if props is not None else None
            if align is not None and align.get(qn("w:val")) == "superscript":
                continue  # a mark typed as a raised number, not a figure
            parts.append(el.text or "")
        else:
            parts.append(" ")
    return "".join(parts), tuple(refs)


def sentences(text: str) -> list[str]:
    """Split a paragraph at a full stop followed by a space and a capital (not inside numbers).

    >>> sentences("Có 1.117 chi bộ. Trong đó, 04 chi bộ mới; tăng 2,5%.")
    ['Có 1.117 chi bộ.', 'Trong đó, 04 chi bộ mới; tăng 2,5%.']
    """
    out, start = [], 0
    for match in re.finditer(r"[.!?…]\s+", text):
        following = text[match.end() : match.end() + 1]
        if following and (following.isupper() or following in '[("“'):
            out.append(text[start : match.end()].strip())
            start = match.end()
    out.append(text[start:].strip())
    return [s for s in out if s]
