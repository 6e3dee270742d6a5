"""The sample bloc's Word draft printed to PDF by LibreOffice, read page by page as an office
would check it before sending; and the run's letters to units, against the registry.

Needs LibreOffice (Debian: libreoffice-writer-nogui) and poppler-utils (pdftotext, pdfinfo);
in CI a missing tool fails the test.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tonghop.paths import SAMPLE_DIR

OFFICE = shutil.which("libreoffice") or shutil.which("soffice")
TOOLS = OFFICE and shutil.which("pdftotext") and shutil.which("pdfinfo")
pytestmark = pytest.mark.skipif(
    not TOOLS and not os.environ.get("CI"),
    reason="apt-get install -y libreoffice-writer-nogui poppler-utils",
)


@pytest.fixture(scope="module")
def demo(prefect_api, tmp_path_factory) -> Path:
    from flows.run import RunParameters, run

    out = tmp_path_factory.mktemp("print")
    run(
        RunParameters(
            source=str(SAMPLE_DIR / "submissions"),
            registry=SAMPLE_DIR / "registry.csv",
            period="2020-H2..2023-H1",
            workspace=out / "workspace",
            out=out,
            settings=SAMPLE_DIR / "bao-cao.yaml",
        )
    )
    return out


@pytest.fixture(scope="module")
def pdf(demo, tmp_path_factory) -> dict:
    """The PDF's pages as text (pdftotext -raw: each cell's lines together, in order)."""
    folder = tmp_path_factory.mktemp("pdf")
    profile = (folder / "profile").as_uri()  # its own profile: no clash with an open office
    subprocess.run(
        [OFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(folder), str(demo / "bao-cao.docx")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    path = folder / "bao-cao.pdf"
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    raw = subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout.split("\f")[:pages]
    return {"pages": pages, "raw": raw}


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _grid_tables(path: Path):
    doc = Document(str(path))
    # The body's tables in the order of `doc.tables`, read as XML through the public `element`.
    for table, tbl in zip(doc.tables, doc.element.body.findall(qn("w:tbl")), strict=True):
        if tbl.find(qn("w:tblPr")).find(qn("w:tblBorders")) is None:  # not the header or closing
            yield table


def _rows(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_page_count_is_that_of_the_draft(pdf) -> None:
    # Body (about six pages with the three charts), Phụ lục 1 (two), Phụ lục 2 (one)
    assert 7 <= pdf["pages"] <= 14


def test_every_page_but_the_first_carries_its_number_at_the_top(pdf) -> None:
    firsts = [page.strip().split("\n")[0] for page in pdf["raw"]]
    assert firsts[0] == "ĐẢNG BỘ TỈNH THANH HÓA"
    assert firsts[1:] == [str(n) for n in range(2, pdf["pages"] + 1)]


def test_no_table_row_breaks_across_pages_and_headers_repeat(demo, pdf) -> None:
    pages = [_flat(page) for page in pdf["raw"]]
    tables = list(_grid_tables(demo / "bao-cao.docx"))
    assert len(tables) == 3
    spanning = 0
    for table in tables:
        header, *rows = _rows(table)
        on = []
        for row in rows:
            # a row is on one page when some page holds every one of its cells whole
            holding = [i for i, page in enumerate(pages) if all(_flat(c) in page for c in row)]
            assert holding, f"row split across pages: {row[0][:60]}"
            on.append(holding[0])
        for page in range(min(on), max(on) + 1):
            assert all(_flat(c) in pages[page] for c in header), f"no header on page {page + 1}"
        spanning += max(on) > min(on)
    assert spanning >= 1  # Phụ lục 1 runs over two pages: its header is repeated


def _lines_taken(lines: list[str], text: str) -> int | None:
    """On how many consecutive lines of the PDF `text` is printed (None: not found whole)."""
    target = _flat(text)
    for i, line in enumerate(lines):
        first = _flat(line)
        if not first or not (target.startswith(first) or first.startswith(target)):
            continue
        joined = ""
        for k in range(i, min(i + 8, len(lines))):
            joined += _flat(lines[k])
            if joined.startswith(target):
                return k - i + 1
            if not target.startswith(joined):
                break
    return None


def test_sector_tables_wrap_no_word_and_few_lines(demo, pdf) -> None:
    lines = [line for page in pdf["raw"] for line in page.split("\n")]
    words = {w for line in lines for w in line.split()}
    for table in list(_grid_tables(demo / "bao-cao.docx"))[1:]:
        header, *rows = _rows(table)
        for cell in header:
            assert set(cell.split()) <= words, f"a word of '{cell}' is broken"
        for label in (row[0] for row in rows):
            taken = _lines_taken(lines, label)
            assert taken is not None and taken <= 3, f"'{label}' on {taken} lines"


def test_charts_follow_each_other_in_order(pdf) -> None:
    text = "\n".join(pdf["raw"])
    places = [text.find(f"Biểu đồ {n}.") for n in (1, 2, 3)]
    assert -1 not in places and places == sorted(places)
    assert "Biểu đồ 4." not in text


def test_letters_go_only_to_active_registry_units_and_to_unreadable_files(demo) -> None:
    with open(SAMPLE_DIR / "registry.csv", encoding="utf-8") as handle:
        registry = {row["unit_code"]: row for row in csv.DictReader(handle)}
    findings = json.loads((demo / "findings.json").read_text("utf-8"))
    rejected = json.loads((demo / "rejected.json").read_text("utf-8"))
    # Expected from the outputs alone: a registry unit active on the last day of the period
    # of one of its findings, or whose code starts the name of a file that could not be read.
    end = {"H1": (6, 30), "H2": (12, 31)}

    def active(code: str, period: str | None) -> bool:
        unit = registry.get(code)
        if unit is None:
            return False
        year, half = (period or "9999-H2").split("-")  # no period: still in the registry
        day = date(int(year), *end[half])
        ends = unit["valid_to"] and date.fromisoformat(unit["valid_to"])
        return date.fromisoformat(unit["valid_from"]) <= day and (not ends or ends >= day)

    expected = {f["unit_code"] for f in findings if f["unit_code"] and active(*_key(f))}
    for item in rejected:
        expected.add(re.split(r"[-_.]", item["file"].split("/")[-1])[0])
    letters = {p.stem for p in (demo / "thu-phan-hoi").glob("*.md")}
    assert letters == expected
    assert {"TCCS038", "TCCS099"} <= letters  # their files could not be read
    assert "TCCS999" not in letters  # not in the registry
    assert "TCCS154" not in letters  # left the bloc in 2021, sent a file for 2023-H1
    assert {p.stem for p in (demo / "thu-phan-hoi").glob("*.docx")} == letters


def _key(finding: dict) -> tuple[str, str]:
    return finding["unit_code"], finding["period"]
