"""Feedback letters: for each unit with open or rejected findings, what it must fix.

`OUT/thu-phan-hoi/<unit_code>.md` and `.docx`, ready for the steward to check and send. Text
from the data (names, messages, file names) is escaped for Markdown and written into Word as
plain runs, so nothing a unit typed is ever interpreted. A letter whose content has not changed
since the run that wrote it is not written again (the workspace's `letters_written`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.run import Run

from tonghop.catalog import Catalog, load_catalog
from tonghop.db import insert_rows, transaction
from tonghop.formatting import ngay
from tonghop.paths import source_hash
from tonghop.report.templates import make_environment
from tonghop.review import queue
from tonghop.review_page import finding_view
from tonghop.settings import ReportSettings

LETTERS_DIR = "thu-phan-hoi"
TEMPLATE = "review/thu-phan-hoi.md.j2"
FONT = "Times New Roman"
# States a unit has to act on; accepted, corrected and moot findings need nothing from it.
TO_UNIT = ("open", "rejected")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!])")
_SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")


def md(value: Any) -> str:
    r"""Escape text from the data so Markdown shows it as typed.

    >>> md("a*b <script>")
    'a\\*b \\<script\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def _intro(f: dict[str, Any]) -> str:
    parts = [f"Kỳ {f['period']}" if f.get("period") else "Báo cáo"]
    if f.get("where"):
        parts.append(f["where"])
    return ", ".join(parts)


def letter_units(rows: Sequence[dict[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """Units that have something to fix, each with its findings split into errors and warnings."""
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.get("unit_code") or row["state"] not in TO_UNIT:
            continue
        f = finding_view(row, catalog)
        f["intro"] = _intro(f)
        unit = units.setdefault(
            row["unit_code"],
            {
                "unit_code": row["unit_code"],
                "name": row.get("unit_name") or row["unit_code"],
                "periods": [],
                "must_fix": [],
                "to_check": [],
            },
        )
        if f.get("period") and f["period"] not in unit["periods"]:
            unit["periods"].append(f["period"])
        must = f["severity"] == "error" or f["state"] == "rejected"
        unit["must_fix" if must else "to_check"].append(f)
    return [u for u in units.values() if u["must_fix"] or u["to_check"]]


def write_letters(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    settings: ReportSettings,
    catalog: Catalog | None = None,
    today: date | None = None,
    template_dirs: Sequence[Path] | None = None,
) -> list[Path]:
    """Write one letter per unit with open or rejected findings (.md and .docx); their paths.

    A letter is written again only when what it is made of changed: its unit, findings, review
    states, the settings, the date, its Markdown or this module (a key per letter in the
    workspace's `letters_written`, by folder): saving the Word files was most of a run with
    nothing new.
    """
    folder = out / LETTERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    env = make_environment(template_dirs)
    env.filters["md"] = md
    template = env.get_template(TEMPLATE)
    where = str(folder.resolve())
    known = dict(
        con.execute("select stem, key from letters_written where folder = ?", [where]).fetchall()
    )
    keys: dict[str, str] = {}
    written = []
    letters: _LetterPackage | None = None
    for unit in letter_units(queue(con), catalog or load_catalog()):
        view = {"settings": settings.model_dump(), "unit": unit, "today": today or date.today()}
        stem = _SAFE_NAME.sub("_", unit["unit_code"])
        md_path, docx_path = folder / f"{stem}.md", folder / f"{stem}.docx"
        text = re.sub(r"\n{3,}", "\n\n", template.render(view))
        keys[stem] = _letter_key(view, text)
        written += [md_path, docx_path]
        if known.get(stem) == keys[stem] and md_path.exists() and docx_path.exists():
            continue
        md_path.write_text(text, encoding="utf-8")
        # One Word document, emptied for each letter: opening python-docx's default package
        # costs as much as saving a letter.
        if letters is None:
            letters = _LetterPackage(_blank_letter(settings))
        write_docx(view, settings, docx_path, letters)
    with transaction(con):
        con.execute("delete from letters_written where folder = ?", [where])
        insert_rows(con, "letters_written", [[where, stem, key] for stem, key in keys.items()])
    return written


def _letter_key(view: dict[str, Any], text: str) -> str:
    # this module's source: a change to how a letter is written writes every letter again
    basis = json.dumps([source_hash(__file__), view, text], sort_keys=True, default=str)
    return hashlib.sha256(basis.encode()).hexdigest()


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
        self._paragraphs: dict[tuple[bool, bool, bool], Any] = {}

    def add_paragraph(self, text: str, bold: bool, italic: bool, center: bool) -> None:
        """A paragraph of one run in `FONT` at the body's end, as python-docx's
        `add_paragraph`, `add_run` and the run's properties write it: each kind of paragraph is
        built so once and copied (setting the properties paragraph by paragraph was a
        noticeable part of the letters' time for a national batch)."""
        body = self.doc.element.body
        kind = (bold, italic, center)
        if kind not in self._paragraphs:
            p = self.doc.add_paragraph()
            run = p.add_run()
            run.bold, run.italic = bold, italic
            run.font.name = FONT
            if center:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            body.remove(p._p)
            self._paragraphs[kind] = p._p
        p = copy.deepcopy(self._paragraphs[kind])
        body._insert_p(p)
        Run(p.r_lst[0], None).text = text  # tabs and line breaks as python-docx writes them

    def save(self, path: Path) -> None:
        if self._rest is None:
            self._rest = self._without_body()
        package = io.BytesIO(self._rest)
        with zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED) as z:
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


def write_docx(
    view: dict[str, Any], settings: ReportSettings, path: Path, letters: _LetterPackage
) -> Path:
    """The letter in Word, written into `letters`' document (emptied first) and saved."""
    unit, today = view["unit"], view["today"]
    doc = letters.doc
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):  # the page settings stay
            body.remove(child)

    def para(text: str, bold: bool = False, italic: bool = False, center: bool = False) -> None:
        letters.add_paragraph(text, bold, italic, center)

    para(settings.issuing_body, bold=True, center=True)
    para(f"{settings.place}, {ngay(today)}", italic=True, center=True)
    para("THÔNG BÁO KẾT QUẢ KIỂM TRA SỐ LIỆU BÁO CÁO", bold=True, center=True)
    para(f"Kính gửi: {unit['name']} (mã {unit['unit_code']})", center=True)
    periods = ", ".join(unit["periods"])
    if unit["must_fix"]:
        para(
            f"Qua kiểm tra số liệu báo cáo kỳ {periods} của đơn vị, Văn phòng đề nghị đơn vị "
            "rà soát, sửa và gửi lại báo cáo với những nội dung sau:"
        )
    for i, f in enumerate(unit["must_fix"], start=1):
        para(_sentence(f, f"{i}. "))
    if unit["to_check"]:
        para("Đề nghị đơn vị kiểm tra lại (cảnh báo, số liệu vẫn được tổng hợp):")
        for f in unit["to_check"]:
            para(f"- {f['intro']}: {f['message']}")
    if unit["must_fix"]:
        para(
            "Báo cáo gửi lại thay thế bản đã gửi; đề nghị đơn vị gửi lại toàn bộ báo cáo của "
            "kỳ có sai sót."
        )
    para("Nơi nhận: như trên; lưu Văn phòng.", italic=True)
    letters.save(path)
    return path


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
