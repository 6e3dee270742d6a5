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
file names) is escaped for Markdown and written into Word as plain runs, so nothing a unit typed
is ever interpreted. A letter whose content has not changed since the run that wrote it is not
written again, and one whose unit has nothing left to fix is removed (the workspace's
`letters_written`).

Over 500 lines: who gets a letter, what it says and its two writers share the one `Letter`
structure and are read together; the Word writer's reuse of one package is most of the length.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run

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

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!])")
_MD_PLACEHOLDER = re.compile(r"\\\[[^\[\]]*?\\\]")
BOLD_STYLES = ("strong", "nation", "title", "subject")
_SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")
_NAME_CODE = re.compile(r"^[^-_. ]+")


def md(value: Any) -> str:
    r"""Escape text from the data so Markdown shows it as typed.

    >>> md("a*b <script>")
    'a\\*b \\<script\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", str(value))


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
    readable: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    for code, period, at, batch in con.execute(
        "select unit_code, period, received_at, batch_id from submissions"
    ).fetchall():
        readable.setdefault((code, period), []).append((at, batch))
    found = []
    for name, reason, received_at, batches in rows:
        parts = name.replace("\\", "/").split("/")
        code = _NAME_CODE.match(parts[-1])
        unit = units.get(code.group()) if code else None
        if unit is None:
            continue
        period = next((p for p in reversed(parts[:-1]) if _last_day(p)), None)
        later = readable.get((unit["unit_code"], period), [])
        if any(at > received_at and batch not in batches for at, batch in later):
            continue
        found.append(
            {"unit_code": unit["unit_code"], "period": period, "file": name, "reason": reason}
        )
    return found


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
    today = today or date.today()
    letters: dict[str, dict[str, Any]] = {}

    def unit_letter(code: str, name: str | None) -> dict[str, Any]:
        return letters.setdefault(
            code,
            {
                "unit_code": code,
                "name": name or code,
                "periods": [],
                "unreadable": [],
                "must_fix": [],
                "to_check": [],
            },
        )

    for row in rows:
        code = row.get("unit_code")
        if not code or row["state"] not in TO_UNIT:
            continue
        if units is not None and (
            code not in units or not _active(units[code], row.get("period"), today)
        ):
            continue
        f = finding_view(row, catalog)
        f["intro"] = _intro(f)
        unit = unit_letter(code, row.get("unit_name"))
        if f.get("period") and f["period"] not in unit["periods"]:
            unit["periods"].append(f["period"])
        must = f["severity"] == "error" or f["state"] == "rejected"
        unit["must_fix" if must else "to_check"].append(f)
    for item in unreadable:
        unit = (units or {}).get(item["unit_code"])
        if unit is None or not _active(unit, item["period"], today):
            continue
        letter = unit_letter(item["unit_code"], unit["name"])
        if item["period"] and item["period"] not in letter["periods"]:
            letter["periods"].append(item["period"])
        letter["unreadable"].append(item)
    for letter in letters.values():
        letter["periods"].sort()
    return [u for u in letters.values() if u["must_fix"] or u["to_check"] or u["unreadable"]]


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
) -> list[Path]:
    """Write one letter per unit with something to fix (.md and .docx); their paths.

    A letter is written again only when what it is made of changed: its unit, findings, review
    states, the settings, the date or this module (a key per letter in the workspace's
    `letters_written`, by folder): saving the Word files was most of a run with nothing new.
    A letter this folder had from an earlier run and whose unit has nothing left to fix is
    removed.
    """
    today = today or date.today()
    folder = out / LETTERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    where = str(folder.resolve())
    known = dict(
        con.execute("select stem, key from letters_written where folder = ?", [where]).fetchall()
    )
    units = registry_units(con)
    # this module's source: a change to how a letter is written writes every letter again
    basis = json.dumps([source_hash(__file__), settings.model_dump()], sort_keys=True, default=str)
    keys: dict[str, str] = {}
    written = []
    letters: _LetterPackage | None = None
    to_units = letter_units(
        queue(con), catalog or load_catalog(), units, unreadable_files(con, units), today
    )
    for unit in to_units:
        letter = compose_letter(unit, settings, today)
        text = to_markdown(letter)
        stem = _SAFE_NAME.sub("_", unit["unit_code"])
        md_path, docx_path = folder / f"{stem}.md", folder / f"{stem}.docx"
        keys[stem] = _letter_key(basis, text)
        written += [md_path, docx_path]
        if known.get(stem) == keys[stem] and md_path.exists() and docx_path.exists():
            continue
        md_path.write_text(text, encoding="utf-8")
        # One Word document, emptied for each letter: opening python-docx's default package
        # costs as much as saving a letter.
        if letters is None:
            letters = _LetterPackage(_blank_letter(settings))
        write_letter_docx(letter, docx_path, letters)
    for stem in set(known) - set(keys):  # nothing left to fix: the letter would mislead
        for suffix in (".md", ".docx"):
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    with transaction(con):
        con.execute("delete from letters_written where folder = ?", [where])
        insert_rows(con, "letters_written", [[where, stem, key] for stem, key in keys.items()])
    return written


def _letter_key(basis: str, text: str) -> str:
    """The key of a letter's content: its Markdown (every word of it, data and settings alike),
    after `basis` (this module's source and the settings, which set the Word layout)."""
    return hashlib.sha256(f"{basis}\n{text}".encode()).hexdigest()


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
    """A `_blank_letter` written into again and again, and saved: only its body changes.

    Every other part (the styles are most of the XML) is serialised and compressed once, into
    a Word package without the body; each letter is that package with its own body added.
    python-docx's `save` did all of it for every letter, most of the time a letter took.
    """

    def __init__(self, doc: DocxDocument) -> None:
        self.doc = doc
        self._body_name = doc.part.partname.lstrip("/")
        self._rest: bytes | None = None
        self._paragraphs: dict[tuple, Any] = {}
        self._table: Any = None
        # paragraphs and tables from the settings (every letter's header, "Nơi nhận" and
        # signature), finished once: setting a run's text and highlighting its placeholders
        # through python-docx was most of a letter's time
        self._finished: dict[tuple, Any] = {}

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
        into: Any = None,
    ) -> None:
        """A paragraph of one run in `FONT` at the end of the body (or of the cell `into`), as
        python-docx's `add_paragraph`, `add_run` and the run's properties write it: each kind
        of paragraph is built so once and copied (setting the properties paragraph by
        paragraph was a noticeable part of the letters' time for a national batch). With
        `placeholders`, its bracketed pieces are highlighted."""
        kind = (bold, italic, center, underline, justify, size)
        finished = (kind, text) if placeholders else None
        if finished in self._finished:
            self._insert(copy.deepcopy(self._finished[finished]), into)
            return
        if kind not in self._paragraphs:
            body = self.doc.element.body
            p = self.doc.add_paragraph()
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
        self._insert(p, into)
        # Tabs and line breaks as python-docx writes them; other control characters (which it
        # refuses, and a unit's name may carry) as spaces.
        text = _RUN_CONTROL.sub(" ", text)
        r = p.r_lst[0]
        if text and text == text.strip() and not _RUN_BREAKS.search(text):
            # what python-docx's `Run.text` writes for such a text: one <w:t>, no xml:space
            r.append(r.makeelement(qn("w:t")))
            r[-1].text = text
        else:
            Run(r, None).text = text
        if placeholders:
            highlight_placeholders(Run(r, None), Paragraph(p, None))
            self._finished[finished] = copy.deepcopy(p)

    def _insert(self, p: Any, into: Any) -> None:
        if into is None:
            self.doc.element.body._insert_p(p)
        else:
            into.append(p)

    def add_columns(self, left: list[Line], right: list[Line], widths_mm=(80, 85)) -> None:
        """A borderless table of one row and two cells (the header and closing blocks)."""
        key = ("table", *((x.text, x.style, x.settings) for x in [*left, None, *right] if x))
        if key in self._finished:
            self.doc.element.body._insert_tbl(copy.deepcopy(self._finished[key]))
            return
        if self._table is None:
            table = borderless_table(self.doc, widths_mm)
            for cell in table.rows[0].cells:
                for p in list(cell._tc.p_lst):
                    cell._tc.remove(p)
            self.doc.element.body.remove(table._tbl)
            self._table = table._tbl
        tbl = copy.deepcopy(self._table)
        self.doc.element.body._insert_tbl(tbl)
        for tc, lines in zip(tbl.tr_lst[0].tc_lst, (left, right), strict=True):
            for line in lines or [Line("")]:
                self.add_line(line, into=tc)
        self._finished[key] = copy.deepcopy(tbl)  # the same in every letter: made once

    def add_line(self, line: Line, into: Any = None) -> None:
        bold, italic, underline, center, justify, size = _WORD_STYLES[line.style]
        if into is not None and line.style == "item":
            justify, size = False, 12  # "Nơi nhận"'s items (Hướng dẫn 36-HD/VPTW)
        self.add_paragraph(
            line.text,
            bold,
            italic,
            center,
            underline=underline,
            justify=justify,
            size=size,
            placeholders=line.settings,
            into=into,
        )

    def save(self, path: Path) -> None:
        if self._rest is None:
            self._rest = self._without_body()
        package = io.BytesIO(self._rest)
        # the fastest deflate: the body is a few kilobytes, its level changes bytes, not size
        with zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr(self._body_name, self.doc.part.blob)
        path.write_bytes(package.getvalue())

    def _without_body(self) -> bytes:
        whole, rest = io.BytesIO(), io.BytesIO()
        self.doc.save(whole)
        with zipfile.ZipFile(whole) as src, zipfile.ZipFile(rest, "w") as dst:
            for info in src.infolist():
                if info.filename != self._body_name:
                    dst.writestr(info, src.read(info))
        return rest.getvalue()


def write_letter_docx(letter: Letter, path: Path, letters: _LetterPackage) -> Path:
    """The letter in Word, written into `letters`' document (emptied first) and saved."""
    body = letters.doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):  # the page settings stay
            body.remove(child)
    letters.add_columns(letter.header_left, letter.header_right)
    letters.add_line(Line(""))
    for line in [*letter.title, letter.to, *letter.body]:
        if line.style == "item":
            line = Line(f"- {line.text}", "item", line.settings)
        letters.add_line(line)
    letters.add_line(Line(""))
    recipients = [Line("Nơi nhận:", "recipients"), *letter.recipients]
    recipients = [
        Line(f"- {r.text}", "item", r.settings) if r.style == "item" else r for r in recipients
    ]
    letters.add_columns(recipients, letter.signature)
    letters.save(path)
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
