"""The bad-input corpus (tests/data/bad/make_corpus.py) through collect, validate, consolidate.

Each case must give its reason; every received file must be archived byte for byte; the good
files delivered alongside must consolidate to exactly their totals.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
from pathlib import Path

import pytest

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.collect import read_archived
from tonghop.db import connect
from tonghop.periods import PeriodRange
from tonghop.settings import IntakeSettings

_SPEC = importlib.util.spec_from_file_location(
    "make_corpus", Path(__file__).parents[1] / "data" / "bad" / "make_corpus.py"
)
make_corpus = importlib.util.module_from_spec(_SPEC)
sys.modules["make_corpus"] = make_corpus
_SPEC.loader.exec_module(make_corpus)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    corpus = make_corpus.build(root)
    workspace = root / "ws"
    period = PeriodRange.parse(make_corpus.PERIOD)
    pipeline.load_registry(workspace, corpus.registry)
    files = pipeline.read_source(str(corpus.source), IntakeSettings(max_file_bytes=1_000_000))
    collected = pipeline.collect_files(workspace, files)
    findings = pipeline.validate_scope(workspace, load_catalog(), period, collected.batch_id, "t")
    context = pipeline.consolidate(workspace, load_catalog(), period)
    return corpus, files, collected, findings, context, workspace


def test_the_corpus_is_large_enough(outcome):
    corpus = outcome[0]
    assert len(corpus.cases) >= 40


@pytest.mark.parametrize("index", range(110))
def test_each_case_gives_its_reason(outcome, index):
    corpus, _files, collected, findings, context, _ = outcome
    if index >= len(corpus.cases):
        pytest.skip("fewer cases")
    case = corpus.cases[index]
    if case.rejected:
        listed = collected.rejected + collected.held
        reasons = [r["reason"] for r in listed if r["file"] in case.files]
        assert reasons, f"{case.name}: not rejected"
        assert any(case.rejected in r for r in reasons), (case.name, reasons)
        assert all(any(f in r for f in case.files) for r in reasons), (case.name, reasons)
    if case.finding:
        rule_id, unit = case.finding
        assert any(f.rule_id == rule_id and f.unit_code == unit for f in findings), (
            case.name,
            [(f.rule_id, f.unit_code) for f in findings if f.unit_code == unit],
        )
    if case.warning:
        messages = [f.message for f in findings if f.rule_id == "file_read_warning"]
        # a name is printed on one line: its line breaks as spaces
        names = [" ".join(n.split()) for n in case.files]
        matching = [m for m in messages if case.warning in m and any(n in m for n in names)]
        assert matching, (case.name, messages)
    if case.counted:
        included = {u for u, _ in _included(outcome[5])}
        assert case.counted in included, case.name


def test_numbers_are_stored_as_the_clerk_meant_or_refused(outcome, reliability):
    """Each value a case names is stored as the number written in the corpus (None: refused,
    its raw text kept), and the unit's other values named beside it are stored too."""
    corpus, workspace = outcome[0], outcome[5]
    con = connect(workspace, read_only=True)
    try:
        rows = con.execute(
            "select s.original_name, v.indicator_code, v.value, v.raw_value "
            "from submitted_values v join submissions s using (submission_id)"
        ).fetchall()
    finally:
        con.close()
    stored = {(name, code): (value, raw) for name, code, value, raw in rows}
    checked, otherwise = 0, []
    for case in corpus.cases:
        for code, expected in case.stored.items():
            value, raw = stored[(case.files[0], code)]
            assert raw, (case.name, code)
            meant = value is None if expected is None else value == pytest.approx(expected)
            # `-0` is stored as zero, never as a negative zero a report would print as "-0"
            if not meant or (value == 0 and math.copysign(1, value) < 0):
                otherwise.append((case.name, code, value))
            checked += 1
    reliability["values checked against what the clerk meant"] += checked
    reliability["values read otherwise without a finding"] += len(otherwise)
    assert not otherwise
    assert checked >= 30


def test_every_received_file_is_archived_untouched(outcome):
    _, files, _, _, _, workspace = outcome
    con = connect(workspace, read_only=True)
    try:
        archived = dict(con.execute("select sha256, archive_path from received_files").fetchall())
    finally:
        con.close()
    for source_file in files:
        sha = hashlib.sha256(source_file.data).hexdigest()
        assert sha in archived, source_file.name
        assert read_archived(workspace, sha) == source_file.data
        assert (workspace / archived[sha]).resolve().is_relative_to(workspace.resolve())


def test_good_files_consolidate_to_exactly_their_totals(outcome, reliability):
    corpus, _, _, _, context, workspace = outcome
    expected = sum(corpus.clean_members.values())
    reliability["inputs tried"] += sum(len(case.files) for case in corpus.cases)
    reliability["runs completed"] += 1
    reliability["values lost"] += max(0, expected - int(context["cutoff"]["members"]))
    reliability["values double-counted"] += max(0, int(context["cutoff"]["members"]) - expected)
    assert context["cutoff"]["members"] == expected
    assert {u for u, _ in _included(workspace)} == set(corpus.clean_members)


def test_nothing_is_read_through_a_symbolic_link(outcome):
    _, files, _, _, _, _ = outcome
    link = next(f for f in files if f.name == "B45-lien-ket.csv")
    assert link.data == b"/etc/passwd"  # the link itself, never the file it points to


def test_legacy_and_decomposed_notes_are_stored_as_nfc(outcome):
    import unicodedata

    workspace = outcome[5]
    con = connect(workspace, read_only=True)
    try:
        notes = dict(
            con.execute(
                "select s.unit_code, any_value(v.note) from submitted_values v "
                "join submissions s using (submission_id) "
                "where s.unit_code in ('B33', 'B34', 'B36') "
                "group by 1"
            ).fetchall()
        )
    finally:
        con.close()
    for unit in ("B33", "B34", "B36"):
        assert notes[unit] == "Đã sáp nhập chi bộ Hòa Bình", unit
        assert unicodedata.is_normalized("NFC", notes[unit])


def _included(workspace):
    con = connect(workspace, read_only=True)
    try:
        return con.execute(
            "select unit_code, period from rpt_coverage__units where status = 'included'"
        ).fetchall()
    finally:
        con.close()


def test_rejected_json_names_each_file_its_status_and_the_limit_passed(outcome):
    from tonghop.pipeline import rejected_files

    collected, workspace = outcome[2], outcome[5]
    con = connect(workspace, read_only=True)
    try:
        listed = {r["file"]: r for r in rejected_files(con, collected.batch_id)}
    finally:
        con.close()
    # the same bytes as C21.xlsx, first received: the reason names this file
    assert "'empty.csv'" in listed["empty.csv"]["reason"]
    held = {name for name, r in listed.items() if r["status"] == "held"}
    assert held == {r["file"] for r in collected.held} >= {"B66.csv", "B68.xlsx"}
    assert listed["C15.csv"]["status"] == "unreadable"
    # a file named for B66 holding B05's values: a finding of both units
    units = {f.unit_code for f in outcome[3] if f.rule_id == "file_held_identity"}
    assert units >= {"B05", "B66", "B67", "B68", "B69"}
    assert "intake.max_file_bytes = 1000000" in listed["B46.csv"]["reason"]
    assert "intake.max_csv_lines = 200000" in listed["B63-trieu-dong.csv"]["reason"] or (
        "intake.read_over_limit_times" in listed["B63-trieu-dong.csv"]["reason"]
    )
    assert "intake.max_form_column" in listed["B60.xlsx"]["reason"]
