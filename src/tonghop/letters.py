"""Feedback letters: for each unit with open or rejected findings, or a file that could not be
read, what it must fix.

`OUT/thu-phan-hoi/<unit_code>.md` and `.docx`, ready for the steward to check and send. A letter
goes only to a unit of the registry, for the periods it was active in (on the period's last day,
as the unit rules read it): a finding of an unknown or departed unit stays on the review page. A
file that could not be read is the unit's when its name starts with the unit's code
(`2023-H1/TCCS038-….csv`, as forms and the sample name them), unless the unit sent a readable
file for that period since.

Each letter is composed once (`compose_letter`: the committee's header, the body, "Nơi nhận" and
the signature block, from the report settings' identity; placeholders without them), then
written as Markdown and as Word from that one structure. Text from the data (names, messages,
file names) is escaped for Markdown and written into Word as the text of plain runs (escaped as
XML text), so nothing a unit typed is ever interpreted. A letter whose unit's rows (findings,
review states, unreadable files) and basis (settings, catalog, date, code) have not changed
since the run that wrote it is not composed nor written again, and one whose unit has nothing
left to fix is removed (the workspace's `letters_written`).

Over 500 lines: who gets a letter, what it says and its two writers share the one `Letter`
structure and are read together; the Word writer (one package per run, each `document.xml`
assembled as text and zipped without re-reading the package) is most of the length.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.shared import Cm, Mm, Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree

from tonghop.catalog import Catalog, load_catalog
from tonghop.db import insert_rows, transaction
from tonghop.formatting import ngay
from tonghop.paths import source_hash
from tonghop.periods import Period, PeriodError
from tonghop.report.word import borderless_table, highlight_placeholders
from tonghop.review import queue
from tonghop.review_page import finding_view
from tonghop.settings import ReportSettings

LETTERS_DIR = "thu-phan-hoi"
FONT = "Times New Roman"
# States a unit has to act on; accepted, corrected and moot findings need nothing from it.
TO_UNIT = ("open", "rejected")
TITLE = "THÔNG BÁO"
SUBJECT = "Kết quả kiểm tra số liệu báo cáo"
NUMBER = "Số [số]-TB/[ký hiệu]"  # the letter's own number, given when it is signed

_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>#|!]")
_MD_PLACEHOLDER = re.compile(r"\\\[[^\[\]]*?\\\]")
BOLD_STYLES = ("strong", "nation", "title", "subject")
_SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")
_NAME_CODE = re.compile(r"^[^-_. ]+")


def md(value: Any) -> str:
    r"""Escape text from the data so Markdown shows it as typed.

    >>> md("a*b <script>")
    'a\\*b \\<script\\>'
    """
    text = str(value)
    if _MD_SPECIAL.search(text) is None:  # most texts: nothing to escape
        return text
    return _MD_SPECIAL.sub(_md_escape, text)


def _md_escape(match: re.Match[str]) -> str:
    return "\\" + match.group()


@dataclass
class Line:
    """A paragraph of the letter. `settings`: its text comes from the report settings, so a
    bracketed piece of it is a placeholder to highlight (text from the data never is)."""

    text: str
    style: str = "body"  # a key of _WORD_STYLES
    settings: bool = False


@dataclass
class Letter:
    """One letter, as every format writes it."""

    header_left: list[Line]
    header_right: list[Line]
    title: list[Line]
    to: Line
    body: list[Line]
    recipients: list[Line]
    signature: list[Line]


def _intro(f: dict[str, Any]) -> str:
    parts = [f"Kỳ {f['period']}" if f.get("period") else "Báo cáo"]
    if f.get("where"):
        parts.append(f["where"])
    return ", ".join(parts)


def _last_day(period: str | None) -> date | None:
    try:
        return Period.parse(period).end if period else None
    except PeriodError:
        return None


def _active(unit: dict[str, Any], period: str | None, today: date) -> bool:
    day = _last_day(period) or today
    return unit["valid_from"] <= day and (unit["valid_to"] is None or unit["valid_to"] >= day)


def registry_units(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The registry's units by code, with their validity."""
    rows = con.execute("select unit_code, name, valid_from, valid_to from registry_units")
    return {
        code: {"unit_code": code, "name": name, "valid_from": start, "valid_to": end}
        for code, name, start, end in rows.fetchall()
    }


def unreadable_files(
    con: duckdb.DuckDBPyConnection, units: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Files that could not be read, each with the unit its name starts with and the period
    of its folder. A file held for review is not one (its finding says it); a file of no known
    unit is left out, and so is one the unit has replaced: a readable file for the same period
    received later, in another batch (a readable file of the same batch may be another part, so
    the unit still hears of the unreadable one)."""
    rows = con.execute(
        """
        select r.original_name, r.reason, r.received_at,
            coalesce(list(distinct s.batch_id) filter (s.batch_id is not null), [])
        from received_files r left join file_sightings s using (sha256)
        where r.status = 'rejected'
            -- a held file is a finding of its own (tonghop.validation.held), in the letter
            -- as such: not a second time as a file that could not be read
            and r.sha256 not in (select sha256 from held_files)
        group by all
        order by r.received_at, r.original_name
        """
    ).fetchall()
    named = []
    for name, reason, received_at, batches in rows:
        parts = name.replace("\\", "/").split("/")
        code = _NAME_CODE.match(parts[-1])
        unit = units.get(code.group()) if code else None
        if unit is not None:
            period = next((p for p in reversed(parts[:-1]) if _last_day(p)), None)
            named.append((unit, period, name, reason, received_at, batches))
    readable: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    if named:  # the submissions of these units only: a nation's are many
        for code, period, at, batch in con.execute(
            "select unit_code, period, received_at, batch_id from submissions "
            "where unit_code in (select unnest(?::varchar[]))",
            [sorted({unit["unit_code"] for unit, *_ in named})],
        ).fetchall():
            readable.setdefault((code, period), []).append((at, batch))
    found = []
    for unit, period, name, reason, received_at, batches in named:
        later = readable.get((unit["unit_code"], period), [])
        if any(at > received_at and batch not in batches for at, batch in later):
            continue
        found.append(
            {"unit_code": unit["unit_code"], "period": period, "file": name, "reason": reason}
        )
    return found


def unit_rows(
    rows: Sequence[dict[str, Any]],
    units: dict[str, dict[str, Any]] | None = None,
    unreadable: Sequence[dict[str, Any]] = (),
    today: date | None = None,
) -> dict[str, dict[str, Any]]:
    """What each unit's letter is made of, by unit code, before any wording: its name, its
    findings rows to act on (`TO_UNIT`) and its unreadable files, in the order given. With
    `units` (the registry), only findings of a registry unit in a period it was active in;
    unreadable files only with it. Cheap: `write_letters` keys each letter on this alone."""
    today = today or date.today()
    found: dict[str, dict[str, Any]] = {}

    def entry(code: str, name: str | None) -> dict[str, Any]:
        return found.setdefault(code, {"name": name or code, "rows": [], "unreadable": []})

    for row in rows:
        code = row.get("unit_code")
        if not code or row["state"] not in TO_UNIT:
            continue
        if units is not None and (
            code not in units or not _active(units[code], row.get("period"), today)
        ):
            continue
        entry(code, row.get("unit_name"))["rows"].append(row)
    for item in unreadable:
        unit = (units or {}).get(item["unit_code"])
        if unit is None or not _active(unit, item["period"], today):
            continue
        entry(item["unit_code"], unit["name"])["unreadable"].append(item)
    return found


def unit_letter(code: str, entry: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """A unit's letter content from its `unit_rows` entry: its findings worded
    (`finding_view`) and split into errors and warnings, its periods and unreadable files."""
    letter: dict[str, Any] = {
        "unit_code": code,
        "name": entry["name"],
        "periods": [],
        "unreadable": list(entry["unreadable"]),
        "must_fix": [],
        "to_check": [],
    }
    for row in entry["rows"]:
        f = finding_view(row, catalog)
        f["intro"] = _intro(f)
        if f.get("period") and f["period"] not in letter["periods"]:
            letter["periods"].append(f["period"])
        must = f["severity"] == "error" or f["state"] == "rejected"
        letter["must_fix" if must else "to_check"].append(f)
    for item in entry["unreadable"]:
        if item["period"] and item["period"] not in letter["periods"]:
            letter["periods"].append(item["period"])
    letter["periods"].sort()
    return letter


def letter_units(
    rows: Sequence[dict[str, Any]],
    catalog: Catalog,
    units: dict[str, dict[str, Any]] | None = None,
    unreadable: Sequence[dict[str, Any]] = (),
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Units that have something to fix, each with its findings split into errors and warnings
    and its unreadable files. With `units` (the registry), only findings of a registry unit in
    a period it was active in."""
    return [
        unit_letter(code, entry, catalog)
        for code, entry in unit_rows(rows, units, unreadable, today).items()
    ]


def compose_letter(unit: dict[str, Any], settings: ReportSettings, today: date) -> Letter:
    """The letter to one unit: what both the .md and the .docx say, paragraph by paragraph."""
    unit = {"unreadable": []} | unit
    periods = ", ".join(unit["periods"])
    body: list[Line] = []
    if unit["must_fix"] or unit["unreadable"]:
        body.append(
            Line(
                f"Qua kiểm tra số liệu báo cáo kỳ {periods} của đơn vị, Văn phòng đề nghị đơn vị "
                "rà soát, sửa và gửi lại báo cáo với những nội dung sau:"
            )
        )
    else:
        body.append(
            Line(
                f"Qua kiểm tra số liệu báo cáo kỳ {periods} của đơn vị, số liệu đã được tổng hợp; "
                "Văn phòng đề nghị đơn vị kiểm tra lại những nội dung sau."
            )
        )
    number = 0
    for item in unit["unreadable"]:
        number += 1
        where = f"Kỳ {item['period']}: " if item["period"] else ""
        reason = item["reason"].rstrip(". ")
        body.append(
            Line(
                f"{number}. {where}{reason}. Tệp này không đọc được; đề nghị đơn vị gửi lại báo "
                "cáo của kỳ này theo đúng biểu mẫu.",
                "numbered",
            )
        )
    for f in unit["must_fix"]:
        number += 1
        body.append(Line(_sentence(f, f"{number}. "), "numbered"))
    if unit["to_check"]:
        body.append(Line("Đề nghị đơn vị kiểm tra lại (cảnh báo, số liệu vẫn được tổng hợp):"))
        body += [Line(f"{f['intro']}: {f['message']}", "item") for f in unit["to_check"]]
    if unit["must_fix"] or unit["unreadable"]:
        body.append(
            Line(
                "Báo cáo gửi lại thay thế bản đã gửi; đề nghị đơn vị gửi lại toàn bộ báo cáo của "
                "kỳ có sai sót."
            )
        )
    signer = settings.letters
    return Letter(
        header_left=[
            Line(settings.superior_body, "header", settings=True),
            Line(settings.issuing_body, "strong", settings=True),
            Line("*", "header"),
            Line(NUMBER, "header", settings=True),
        ],
        header_right=[
            Line("ĐẢNG CỘNG SẢN VIỆT NAM", "nation"),
            Line(f"{settings.place}, {ngay(today)}", "place", settings=True),
        ],
        title=[Line(TITLE, "title"), Line(SUBJECT, "subject")],
        to=Line(f"Kính gửi: {unit['name']} (mã {unit['unit_code']})", "to"),
        body=body,
        recipients=[Line(item, "item", settings=True) for item in signer.recipients],
        signature=[
            Line(signer.signer_for, "strong", settings=True),
            Line(signer.signer_title, "strong", settings=True),
            Line(""),
            Line(""),
            Line(signer.signer_name, "strong", settings=True),
        ],
    )


def to_markdown(letter: Letter) -> str:
    """The letter in Markdown: data escaped, the settings' placeholders in bold."""

    def text(line: Line, bold: bool = False) -> str:
        escaped = md(line.text)
        if bold and escaped:
            return f"**{escaped}**"
        return _MD_PLACEHOLDER.sub(r"**\g<0>**", escaped) if line.settings else escaped

    def lines(block: list[Line]) -> list[str]:
        return [text(line, line.style in BOLD_STYLES) + "  " for line in block]

    title, subject = letter.title
    out = [*lines(letter.header_left), "", *lines(letter.header_right), ""]
    out += [f"# {text(title)}", "", text(subject, bold=True), "", text(letter.to), ""]
    for line in letter.body:
        out += [("- " if line.style == "item" else "") + text(line), ""]
    out += ["***Nơi nhận:***  ", *[f"- {text(line)}" for line in letter.recipients], ""]
    out += [text(line, bold=True) + "  " for line in letter.signature]
    return "\n".join(out).rstrip() + "\n"


def write_letters(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    settings: ReportSettings,
    catalog: Catalog | None = None,
    today: date | None = None,
    rows: Sequence[dict[str, Any]] | None = None,
) -> list[Path]:
    """Write one letter per unit with something to fix (.md and .docx); their paths. `rows`:
    the review queue (`tonghop.review.queue`) when the caller has read it already.

    A letter is composed and written again only when what it is made of changed: its unit's
    name, findings rows and review states and unreadable files (`unit_rows`), the settings,
    the catalog's labels, the date or the code that words it (a key per letter in the
    workspace's `letters_written`, by folder). The key is taken from the rows themselves, so
    a unit whose findings did not change costs a hash, not a letter: a resubmission of one
    unit writes that unit's letter alone. A letter this folder had from an earlier run and
    whose unit has nothing left to fix is removed.
    """
    today = today or date.today()
    catalog = catalog or load_catalog()
    folder = out / LETTERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    where = str(folder.resolve())
    known = dict(
        con.execute("select stem, key from letters_written where folder = ?", [where]).fetchall()
    )
    units = registry_units(con)
    basis = _letters_basis(settings, catalog, today)
    keys: dict[str, str] = {}
    written = []
    letters: _LetterPackage | None = None
    rows = queue(con) if rows is None else rows
    entries = unit_rows(rows, units, unreadable_files(con, units), today)
    present = set(os.listdir(folder))  # one listing, not a look-up per letter
    for code, entry in entries.items():
        stem = _SAFE_NAME.sub("_", code)
        md_path, docx_path = folder / f"{stem}.md", folder / f"{stem}.docx"
        keys[stem] = _letter_key(basis, code, entry)
        written += [md_path, docx_path]
        if known.get(stem) == keys[stem] and {md_path.name, docx_path.name} <= present:
            continue
        letter = compose_letter(unit_letter(code, entry, catalog), settings, today)
        md_path.write_text(to_markdown(letter), encoding="utf-8")
        if letters is None:
            letters = _LetterPackage(_blank_letter(settings))
        write_letter_docx(letter, docx_path, letters)
    for stem in set(known) - set(keys):  # nothing left to fix: the letter would mislead
        for suffix in (".md", ".docx"):
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    if keys != known:
        with transaction(con):
            con.execute("delete from letters_written where folder = ?", [where])
            insert_rows(con, "letters_written", [[where, stem, k] for stem, k in keys.items()])
    return written


def _letters_basis(settings: ReportSettings, catalog: Catalog, today: date) -> str:
    """What every letter is made of besides its unit's rows: the code that words and writes
    it (this module, `finding_view`'s and the numbers' formatting), the settings (which also
    set the Word layout), the catalog (its labels) and the date."""
    from tonghop import formatting, review_page

    return json.dumps(
        [
            [source_hash(m) for m in (__file__, review_page.__file__, formatting.__file__)],
            settings.model_dump(),
            hashlib.sha256(catalog.model_dump_json().encode()).hexdigest(),
            today.isoformat(),
        ],
        sort_keys=True,
        default=str,
    )


def _letter_key(basis: str, code: str, entry: dict[str, Any]) -> str:
    """The key of a letter: `basis`, then its unit's code and `unit_rows` entry (every column
    of every row, review state and actor included, so nothing it shows can change unseen)."""
    rows = json.dumps([code, entry], sort_keys=True, default=str)
    return hashlib.sha256(f"{basis}\n{rows}".encode()).hexdigest()


def _blank_letter(settings: ReportSettings) -> DocxDocument:
    """An empty letter: A4, the Party's margins, Times New Roman 14 (Hướng dẫn 36-HD/VPTW)."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(14)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    margins = settings.margins_mm
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(margins.top), Mm(margins.bottom)
        section.left_margin, section.right_margin = Mm(margins.left), Mm(margins.right)
    return doc


# How each kind of line is set in Word: bold, italic, underline, centred, justified with the
# body's first-line indent, size in points (None: the body's 14).
_WORD_STYLES: dict[str, tuple[bool, bool, bool, bool, bool, float | None]] = {
    "body": (False, False, False, False, True, None),
    "numbered": (False, False, False, False, True, None),
    "item": (False, False, False, False, True, None),
    "to": (False, False, False, True, False, None),
    "header": (False, False, False, True, False, None),
    "strong": (True, False, False, True, False, None),
    "nation": (True, False, True, True, False, 15),
    "place": (False, True, False, True, False, None),
    "title": (True, False, False, True, False, 16),
    "subject": (True, False, False, True, False, None),
    "recipients": (True, True, True, False, False, None),
}


_RUN_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RUN_BREAKS = re.compile("[\t\n\r]")


class _LetterPackage:
    """The Word letters of one run: one package (`_blank_letter`) whose body alone changes.

    Every part but the body (the styles are most of the XML) is compressed once; each letter is
    those parts with its own `document.xml`, assembled as text: the document's opening and
    closing, then its paragraphs, each kind of paragraph serialised once by lxml around a
    marker and filled with the letter's escaped text. The header and closing tables (the same
    in every letter of a run) and any paragraph whose text lxml writes otherwise (tabs, line
    breaks, spaces at an end, placeholders) are built by lxml as python-docx would and
    serialised in the document: the XML is the one python-docx wrote, byte for byte. Building
    and saving each letter through python-docx was most of the time a letter took.
    """

    def __init__(self, doc: DocxDocument) -> None:
        self._doc = doc  # where lxml builds each kind of paragraph and each table
        self._last: bytes | None = None  # document.xml of the last letter saved
        self._body_name = doc.part.partname.lstrip("/")
        self._zip: _Zip | None = None
        self._paragraphs: dict[tuple, Any] = {}
        self._table: Any = None
        self._kinds: dict[tuple, tuple[str, str]] = {}  # kind → the XML around its text
        self._fragments: dict[tuple, str] = {}  # finished paragraphs and tables, as XML
        self._document = self._serialised(None)  # (before the body's content, after it)

    @property
    def doc(self) -> DocxDocument:
        """The package's document, holding the last letter saved (what python-docx would have
        saved for it) until paragraphs are added to it."""
        if self._last is not None:
            saved = parse_xml(self._last).find(qn("w:body"))
            body = self._doc.element.body
            for child in list(body):
                body.remove(child)
            body.extend(list(saved))
            self._last = None
        return self._doc

    def add_paragraph(
        self,
        text: str,
        bold: bool,
        italic: bool,
        center: bool,
        *,
        underline: bool = False,
        justify: bool = False,
        size: float | None = None,
        placeholders: bool = False,
    ) -> None:
        """A paragraph added at the end of `doc`'s body, built as each letter's are."""
        kind = (bold, italic, center, underline, justify, size)
        p = self._paragraph(_RUN_CONTROL.sub(" ", text), kind, placeholders)
        self.doc.element.body._insert_p(p)

    def _serialised(self, element: Any) -> tuple[str, str]:
        """document.xml with `element` alone in the body, split around where it stands."""
        self._last = None
        body = self._doc.element.body
        for child in list(body):
            if child.tag != qn("w:sectPr"):  # the page settings stay
                body.remove(child)
        if element is not None:
            body.insert(0, element)
        # what python-docx's save writes (docx.opc.oxml.serialize_part_xml)
        xml = etree.tostring(self._doc.element, encoding="UTF-8", standalone=True).decode()
        if element is not None:
            body.remove(element)
        start = xml.index("<w:body>") + len("<w:body>")
        return xml[:start], xml[start:]

    def _fragment(self, element: Any) -> str:
        """`element` as document.xml writes it inside the body."""
        head, rest = self._serialised(element)
        return rest[: len(rest) - len(self._document[1])]

    def _paragraph(self, text: str, kind: tuple, placeholders: bool = False) -> Any:
        """A paragraph of one run in `FONT`, as python-docx's `add_paragraph`, `add_run` and
        the run's properties write it: each kind of paragraph is built so once and copied.
        With `placeholders`, its bracketed pieces are highlighted."""
        bold, italic, center, underline, justify, size = kind
        if kind not in self._paragraphs:
            body = self._doc.element.body
            p = self._doc.add_paragraph()
            run = p.add_run()
            run.bold, run.italic = bold, italic
            run.font.name = FONT
            if underline:
                run.underline = True
            if size:
                run.font.size = Pt(size)
            if center:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            if justify:
                p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
                p.paragraph_format.first_line_indent = Cm(1)
            body.remove(p._p)
            self._paragraphs[kind] = p._p
        p = copy.deepcopy(self._paragraphs[kind])
        r = p.r_lst[0]
        if _simple(text):
            # what python-docx's `Run.text` writes for such a text: one <w:t>, no xml:space
            r.append(r.makeelement(qn("w:t")))
            r[-1].text = text
        else:
            Run(r, None).text = text
        if placeholders:
            highlight_placeholders(Run(r, None), Paragraph(p, None))
        return p

    def line(self, line: Line, cell: bool = False) -> str:
        """A line of the letter as document.xml writes it. Tabs and line breaks as python-docx
        writes them; other control characters (which it refuses, and a unit's name may carry)
        as spaces."""
        bold, italic, underline, center, justify, size = _WORD_STYLES[line.style]
        if cell and line.style == "item":
            justify, size = False, 12  # "Nơi nhận"'s items (Hướng dẫn 36-HD/VPTW)
        kind = (bold, italic, center, underline, justify, size)
        text = line.text
        if not line.settings and text and not _ODD.search(text) and text == text.strip():
            if kind not in self._kinds:
                before, after = self._fragment(self._paragraph(_MARK, kind)).split(_MARK)
                self._kinds[kind] = (before, after)
            before, after = self._kinds[kind]
            return before + _xml_text(text) + after
        text = _RUN_CONTROL.sub(" ", text)
        key = (kind, text, line.settings)
        if key not in self._fragments:  # empty lines and the settings' repeat in every letter
            self._fragments[key] = self._fragment(self._paragraph(text, kind, line.settings))
        return self._fragments[key]

    def columns(self, left: list[Line], right: list[Line], widths_mm=(80, 85)) -> str:
        """A borderless table of one row and two cells (the header and closing blocks)."""
        key = ("table", *((x.text, x.style, x.settings) for x in [*left, None, *right] if x))
        if key in self._fragments:
            return self._fragments[key]
        if self._table is None:
            table = borderless_table(self._doc, widths_mm)
            for cell in table.rows[0].cells:
                for p in list(cell._tc.p_lst):
                    cell._tc.remove(p)
            self._doc.element.body.remove(table._tbl)
            self._table = table._tbl
        tbl = copy.deepcopy(self._table)
        for tc, lines in zip(tbl.tr_lst[0].tc_lst, (left, right), strict=True):
            for line in lines or [Line("")]:
                bold, italic, underline, center, justify, size = _WORD_STYLES[line.style]
                if line.style == "item":
                    justify, size = False, 12  # "Nơi nhận"'s items (Hướng dẫn 36-HD/VPTW)
                kind = (bold, italic, center, underline, justify, size)
                text = _RUN_CONTROL.sub(" ", line.text)
                tc.append(self._paragraph(text, kind, line.settings))
        self._fragments[key] = self._fragment(tbl)  # the same in every letter: made once
        return self._fragments[key]

    def save(self, path: Path, body: str | None = None) -> None:
        """The package with `body` (the body's content, as XML) as the letter, at `path`;
        without it, with `doc` as it stands."""
        if self._zip is None:
            self._zip = _Zip(self._doc, self._body_name)
        if body is None:
            xml = etree.tostring(self.doc.element, encoding="UTF-8", standalone=True)
        else:
            head, tail = self._document
            xml = f"{head}{body}{tail}".encode()
        path.write_bytes(self._zip.package(xml))
        self._last = xml


_MARK = "\ue000"  # where a paragraph's text goes (a text holding it is left to lxml)
# Texts left to lxml: control characters, tabs and breaks (see `line`), what lxml refuses in
# XML text (it raises, as python-docx did) and the marker.
_ODD = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff\ue000]")


def _simple(text: str) -> bool:
    """A text python-docx writes as one plain <w:t> (no xml:space, tab or break)."""
    return bool(text) and text == text.strip() and not _RUN_BREAKS.search(text)


def _xml_text(text: str) -> str:
    """Text as lxml escapes it in an element's content."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Zip:
    """A Word package whose every part but one is compressed once: each `package` adds that
    part (deflated at the fastest level: the body is a few kilobytes) and the directory.
    zipfile's append mode read the whole directory back for every letter."""

    def __init__(self, doc: DocxDocument, body_name: str) -> None:
        whole = io.BytesIO()
        doc.save(whole)
        self.name = body_name.encode()
        self.stamp = _dos_time(datetime.now())
        local, central = io.BytesIO(), io.BytesIO()
        self.count = 0
        with zipfile.ZipFile(whole) as src:
            for info in src.infolist():
                if info.filename == body_name:
                    continue
                data = src.read(info)
                deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
                packed = deflate.compress(data) + deflate.flush()
                name = info.filename.encode()
                sizes = (zlib.crc32(data), len(packed), len(data))
                central.write(_central_header(name, self.stamp, sizes, local.tell()))
                local.write(_local_header(name, self.stamp, sizes) + packed)
                self.count += 1
        self.local, self.central = local.getvalue(), central.getvalue()

    def package(self, body: bytes) -> bytes:
        deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
        packed = deflate.compress(body) + deflate.flush()
        sizes = (zlib.crc32(body), len(packed), len(body))
        offset = len(self.local)
        local = _local_header(self.name, self.stamp, sizes) + packed
        central = self.central + _central_header(self.name, self.stamp, sizes, offset)
        count = self.count + 1
        end = struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), offset + len(local), 0
        )
        return b"".join((self.local, local, central, end))


def _dos_time(moment: datetime) -> tuple[int, int]:
    """A time as a zip entry stores it (MS-DOS time and date)."""
    time = moment.hour << 11 | moment.minute << 5 | moment.second // 2
    return time, (moment.year - 1980) << 9 | moment.month << 5 | moment.day


def _local_header(name: bytes, stamp: tuple[int, int], sizes: tuple[int, int, int]) -> bytes:
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, *stamp, *sizes, len(name), 0) + name


def _central_header(
    name: bytes, stamp: tuple[int, int], sizes: tuple[int, int, int], offset: int
) -> bytes:
    fields = (20, 20, 0, 8, *stamp, *sizes, len(name), 0, 0, 0, 0, 0, offset)
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", *fields) + name


def write_letter_docx(letter: Letter, path: Path, letters: _LetterPackage) -> Path:
    """The letter in Word, from `letters`' package."""
    parts = [letters.columns(letter.header_left, letter.header_right), letters.line(Line(""))]
    for line in [*letter.title, letter.to, *letter.body]:
        if line.style == "item":
            line = Line(f"- {line.text}", "item", line.settings)
        parts.append(letters.line(line))
    parts.append(letters.line(Line("")))
    recipients = [Line("Nơi nhận:", "recipients"), *letter.recipients]
    recipients = [
        Line(f"- {r.text}", "item", r.settings) if r.style == "item" else r for r in recipients
    ]
    parts.append(letters.columns(recipients, letter.signature))
    letters.save(path, "".join(parts))
    return path


def write_docx(
    view: dict[str, Any], settings: ReportSettings, path: Path, letters: _LetterPackage
) -> Path:
    """The letter to `view["unit"]`, dated `view["today"]`, in Word."""
    return write_letter_docx(compose_letter(view["unit"], settings, view["today"]), path, letters)


def _sentence(f: dict[str, Any], prefix: str) -> str:
    text = f"{prefix}{f['intro']}: {f['message']}"
    if f["numbers"]:
        text += " Số liệu đơn vị gửi: " + "; ".join(
            f"{n['label']}: {n['value']}" for n in f["numbers"]
        )
        text += "."
    if f.get("suspect"):
        text += f" Chỉ tiêu nhiều khả năng sai: {f['suspect_label']}"
        text += f" (có thể là {f['suggested']})." if f.get("suggested") else "."
    if f["state"] == "rejected" and f.get("state_note"):
        text += f" Yêu cầu của Văn phòng: {f['state_note']}."
    return text
