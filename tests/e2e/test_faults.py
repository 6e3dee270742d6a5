"""Faults: a collect killed mid-load, a full disk, a vanishing source file, a locked database.

Each time the workspace stays consistent and a rerun finishes the job with exact totals and
no value counted twice.
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import sample_run_command
from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.collect import read_archived
from tonghop.db import connect
from tonghop.paths import SAMPLE_DIR
from tonghop.periods import PeriodRange

RANGE = PeriodRange.parse("2020-H2..2023-H1")
COLLECT = """
import sys
from pathlib import Path
from tests.conftest import sample_run_command
from tonghop import pipeline
from tonghop.collect import collect
from tonghop.db import open_db


# The workspace's connection, which says so and waits for its kill before it commits.
class StopsBeforeCommit:
    def __init__(self, con):
        self.con = con

    def __getattr__(self, name):
        return getattr(self.con, name)

    def execute(self, sql, *args):
        if sql.strip().lower() == "commit":
            print("rows inserted, not committed", flush=True)
            sys.stdin.read()  # until the test kills this process
        return self.con.execute(sql, *args)


workspace = Path(sys.argv[1])
pipeline.load_registry(workspace, Path(sys.argv[2]))
files = pipeline.read_source(sys.argv[3])
half = len(files) // 2
with open_db(workspace) as con:
    collect(con, workspace, files[:half], chunk_files=40)
    collect(StopsBeforeCommit(con), workspace, files[half:], chunk_files=40)
"""


def _value_counts(workspace: Path) -> tuple[int, int, int]:
    con = connect(workspace, read_only=True)
    try:
        values = con.execute("select count(*) from submitted_values").fetchone()[0]
        duplicates = con.execute(
            "select count(*) from (select submission_id, indicator_code, location "
            "from submitted_values group by all having count(*) > 1)"
        ).fetchone()[0]
        orphans = con.execute(
            "select count(*) from submissions s where not exists "
            "(select 1 from received_files f where f.sha256 = s.sha256)"
        ).fetchone()[0]
    finally:
        con.close()
    return values, duplicates, orphans


def _record(reliability: dict, counts: tuple[int, int, int], reference_counts) -> None:
    reliability["faults injected"] += 1
    reliability["runs completed"] += 1
    reliability["values lost"] += max(0, reference_counts[0] - counts[0])
    reliability["values double-counted"] += max(0, counts[0] - reference_counts[0]) + counts[1]


def _finish_and_total(workspace: Path) -> tuple[dict, tuple[int, int, int]]:
    pipeline.load_registry(workspace, SAMPLE_DIR / "registry.csv")
    files = pipeline.read_source(str(SAMPLE_DIR / "submissions"))
    collected = pipeline.collect_files(workspace, files)
    pipeline.validate_scope(workspace, load_catalog(), RANGE, collected.batch_id, "rerun")
    context = pipeline.consolidate(workspace, load_catalog(), RANGE)
    return context, _value_counts(workspace)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sample collected once, undisturbed: the values every recovery must end with."""
    return _finish_and_total(tmp_path_factory.mktemp("reference"))


def test_sigkill_mid_load_then_rerun_gives_exact_totals(tmp_path, reference, reliability):
    """Killed inside a write transaction, after half the files were loaded and committed."""
    workspace = tmp_path / "ws"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            COLLECT,
            str(workspace),
            str(SAMPLE_DIR / "registry.csv"),
            str(SAMPLE_DIR / "submissions"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # Waits for the line however slow the machine; an early exit ends the read with "".
        said = process.stdout.readline().strip()
        assert said == "rows inserted, not committed", f"collect ended first ({process.wait()})"
    finally:
        process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL

    values, duplicates, orphans = _value_counts(workspace)  # opens: the file is consistent
    assert duplicates == 0 and orphans == 0
    assert 0 < values < reference[1][0], "the first half committed, the second not"
    context, counts = _finish_and_total(workspace)
    for path in (p for p in (SAMPLE_DIR / "submissions").rglob("*") if p.is_file()):
        data = path.read_bytes()  # the rerun archived what the kill cut off
        assert read_archived(workspace, hashlib.sha256(data).hexdigest()) == data, path
    _record(reliability, counts, reference[1])
    assert counts == reference[1]
    assert context["cutoff"]["members"] == reference[0]["cutoff"]["members"] == 14103
    assert context["term"] == reference[0]["term"]


def test_disk_full_while_archiving_fails_cleanly_and_rerun_succeeds(
    tmp_path, reference, monkeypatch, reliability
):
    import tonghop.collect.packs as collect_module

    workspace = tmp_path / "ws"
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync_until_full(fd):
        calls["n"] += 1
        if calls["n"] > 5:  # the first pack is durable (its pack, index and folders), not more
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(collect_module.os, "fsync", fsync_until_full)
    pipeline.load_registry(workspace, SAMPLE_DIR / "registry.csv")
    files = pipeline.read_source(str(SAMPLE_DIR / "submissions"))
    with pytest.raises(OSError, match="No space left"):
        pipeline.collect_files(workspace, files)
    monkeypatch.undo()

    values, duplicates, orphans = _value_counts(workspace)
    assert duplicates == 0 and orphans == 0
    assert not list((workspace / "archive").rglob(".*.tmp")), "a half-written archive file"
    packs = workspace / "archive" / "packs"
    assert {p.stem for p in packs.glob("*.pack")} == {p.stem for p in packs.glob("*.idx")}
    context, counts = _finish_and_total(workspace)
    _record(reliability, counts, reference[1])
    assert counts == reference[1]
    assert context["cutoff"]["members"] == 14103


def test_a_file_that_vanishes_before_it_is_read_is_not_received(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("a.csv", "b.csv"):
        (source / name).write_text("unit_code,period,indicator_code,value\nU1,2023,x,1\n")
    import tonghop.collect.source as collect

    listed = collect._local_files

    def list_then_take_back(root):
        found = listed(root)
        (source / "b.csv").unlink()  # the unit took it back between listing and reading
        return found

    monkeypatch.setattr(collect, "_local_files", list_then_take_back)
    files = pipeline.read_source(str(source))
    assert [f.name for f in files] == ["a.csv"]


def test_a_file_that_grows_while_it_is_read_is_kept_unparsed_then_read_whole(
    tmp_path, monkeypatch, reliability
):
    """A copy still being written when it is read: its cut last line (`10` of `1049`) is
    never loaded; the next run reads the whole file."""
    source = tmp_path / "src"
    source.mkdir()
    path = source / "U1.csv"
    path.write_text("unit_code,period,indicator_code,value\nU1,2023,members_total,10")
    import tonghop.collect.source as collect

    read = collect._read_at_most

    def grow_while_read(handle, limits, size=None):
        with open(path, "a") as rest:  # the copy goes on while the file is read
            rest.write("49\nU1,2023,members_official,1040\n")
        return read(handle, limits, size)

    monkeypatch.setattr(collect, "_read_at_most", grow_while_read)
    workspace = tmp_path / "ws"
    first = pipeline.collect_files(workspace, pipeline.read_source(str(source)))
    monkeypatch.undo()
    (rejected,) = first.rejected
    assert "thay đổi trong lúc đang được đọc" in rejected["reason"]
    second = pipeline.collect_files(workspace, pipeline.read_source(str(source)))
    assert second.loaded == ["U1.csv"]
    con = connect(workspace, read_only=True)
    try:
        values = dict(con.execute("select indicator_code, value from submitted_values").fetchall())
    finally:
        con.close()
    reliability["faults injected"] += 1
    reliability["runs completed"] += 2
    reliability["values lost"] += 2 - len(values)
    reliability["values read otherwise without a finding"] += sum(
        values.get(code) != want
        for code, want in (("members_total", 1049), ("members_official", 1040))
    )
    assert values == {"members_total": 1049, "members_official": 1040}


def test_a_file_made_a_link_after_listing_is_received_as_a_link_not_followed(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu")
    (source / "a.csv").write_text("unit_code,period,indicator_code,value\nU1,2023,x,1\n")
    import tonghop.collect.source as collect

    listed = collect._local_files

    def list_then_swap(root):
        found = listed(root)
        (source / "a.csv").unlink()
        (source / "a.csv").symlink_to(secret)  # swapped for a link once listed as a file
        return found

    monkeypatch.setattr(collect, "_local_files", list_then_swap)
    (received,) = pipeline.read_source(str(source))
    assert received.name == "a.csv" and received.data == str(secret).encode()
    assert "liên kết tượng trưng" in received.problem


def test_a_locked_workspace_is_refused_with_a_clear_message(tmp_path):
    workspace = tmp_path / "ws"
    connect(workspace).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " sys.stdin.read()",  # holds the file until the test is done, however long
            str(workspace / "tonghop.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        result = subprocess.run(
            sample_run_command("2023-H1", workspace, tmp_path / "out"),
            capture_output=True,
            text=True,
            timeout=900,  # a deadline only against a hang: a loaded machine takes its time
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert "đang được một tiến trình khác ghi" in result.stderr
    assert "Traceback" not in result.stderr
