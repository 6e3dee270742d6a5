"""Unit names and notes are data, never code: template syntax, HTML and spreadsheet formulas
sent as names appear literally in every output and are never evaluated."""

from __future__ import annotations

import csv
import json

import docx
import openpyxl
import pytest

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.forms import write_form
from tonghop.periods import PeriodRange
from tonghop.report.draft import render_report
from tonghop.settings import load_settings

NAMES = {
    "J1": "{{ 7*7 }}",
    "J2": "{% include '/etc/passwd' %}",
    "H1": "<script>alert('x')</script>",
    "F1": '=HYPERLINK("http://127.0.0.1/","bấm")',
    "F2": "+1+1",
    "F3": "@SUM(A1:A2)",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("injection")
    with open(root / "registry.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "name", "sector", "form", "valid_from", "valid_to"])
        writer.writerow(["OK1", "Chi bộ bình thường", "agency", "chi_bo", "2015-01-01", ""])
        for code, name in NAMES.items():
            writer.writerow([code, name, "agency", "chi_bo", "2015-01-01", ""])
    source = root / "src"
    source.mkdir()
    (source / "OK1.csv").write_text(
        "unit_code,period,indicator_code,value,note\n"
        "OK1,2023,members_total,12,{{ 7*7 }}\nOK1,2023,members_official,12,\n"
        "OK1,2023,members_probationary,0,\nOK1,2023,branches_total,0,\n",
        encoding="utf-8",
    )
    workspace, out = root / "ws", root / "out"
    period = PeriodRange.parse("2023")
    pipeline.load_registry(workspace, root / "registry.csv")
    collected = pipeline.collect_files(workspace, pipeline.read_source(str(source)))
    findings = pipeline.validate_scope(workspace, load_catalog(), period, collected.batch_id, "x")
    context = pipeline.consolidate(workspace, load_catalog(), period)
    pipeline.write_findings(out, findings, collected.rejected)
    render_report(context, load_settings(None), out)
    return root, out


def test_names_appear_literally_in_the_markdown_and_docx(outputs):
    _, out = outputs
    markdown = (out / "bao-cao.md").read_text(encoding="utf-8")
    body = "\n".join(p.text for p in docx.Document(str(out / "bao-cao.docx")).paragraphs)
    for name in NAMES.values():
        assert name in markdown, name
        assert name in body, name
    assert "49" not in markdown.replace("14.103", "")  # {{ 7*7 }} was never evaluated
    assert "root:" not in markdown and "root:" not in body  # nothing was included


def test_html_escapes_every_name(outputs):
    _, out = outputs
    html = (out / "bao-cao.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "{{ 7*7 }}" in html


def test_findings_carry_names_as_plain_text(outputs):
    _, out = outputs
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    names = {f["unit_name"] for f in findings if f["unit_code"] in NAMES}
    assert names == set(NAMES.values())


def test_generated_forms_never_hold_a_formula(tmp_path):
    catalog = load_catalog()
    for code, name in NAMES.items():
        path = tmp_path / f"{code}.xlsx"
        write_form(
            path,
            {"unit_code": code, "name": name, "sector": "agency", "form": "chi_bo"},
            "2023",
            catalog,
        )
        sheet = openpyxl.load_workbook(path)["BaoCao"]
        cells = [c for row in sheet.iter_rows() for c in row if c.value == name]
        assert cells, name
        assert all(c.data_type == "s" for c in cells), name  # text, not a formula


def test_nothing_is_written_outside_the_workspace_and_output(outputs):
    root, _ = outputs
    written = {p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file()}
    assert written <= {"registry.csv", "src", "ws", "out"}
    archive = [p for p in (root / "ws" / "archive").rglob("*") if p.is_file()]
    assert archive and all(p.stat().st_mode & 0o222 == 0 for p in archive)  # write-once
