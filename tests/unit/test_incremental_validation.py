"""Incremental validation: after a resubmission only the touched units are validated again, and
the findings are exactly those a full validation of the same workspace gives."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import csv_values, generated_workspace
from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.db import open_db
from tonghop.generate import write_csv
from tonghop.periods import PeriodRange
from tonghop.validate import last_validation

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2024")
STORED = (
    "select finding_key, unit_code, period, rule_id, severity, message, suspect, "
    "suggested_value from findings order by all"
)


def _validate(workspace: Path, batch_id: str, incremental: bool = True) -> list:
    return pipeline.validate_scope(workspace, CATALOG, RANGE, batch_id, "t", None, incremental)


def _stored(workspace: Path) -> list[tuple]:
    with duckdb.connect(str(workspace / "tonghop.duckdb"), read_only=True) as con:
        return con.execute(STORED).fetchall()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A 40-unit bloc, both years collected and validated once (a full validation)."""
    root = tmp_path_factory.mktemp("incremental")
    bloc, workspace, batch_id = generated_workspace(root)
    _validate(workspace, batch_id)
    return bloc, workspace


def _resubmit(bloc, folder: Path) -> set[str]:
    """A new error for a clean unit, a fixed sum for the planted one, a file seen again."""
    folder.mkdir(parents=True)
    source = bloc.source(2024)
    clean = next(u for u in sorted(p.stem for p in source.glob("U*.csv")) if u not in bloc.planted)
    broken = csv_values(source / f"{clean}.csv")
    broken["members_total"] = str(int(broken["members_total"]) + 10)
    write_csv(folder / f"{clean}-sua.csv", clean, "2024", broken)
    fixed_unit = next(u for u, kind in bloc.planted.items() if kind == "sum")
    fixed = csv_values(source / f"{fixed_unit}.csv")
    fixed["members_total"] = str(int(fixed["members_total"]) - 10)
    write_csv(folder / f"{fixed_unit}-sua.csv", fixed_unit, "2024", fixed)
    again = next(u for u in sorted(p.stem for p in source.glob("U*.csv")) if u != clean)
    shutil.copy(source / f"{again}.csv", folder / f"{again}-gui-lai.csv")
    return {clean, fixed_unit, again}


def test_a_resubmission_validates_its_units_only_and_finds_what_a_full_run_finds(loaded, tmp_path):
    bloc, base = loaded
    workspace = tmp_path / "ws"
    shutil.copytree(base, workspace)
    with open_db(workspace) as con:
        assert last_validation(con)["mode"] == "full"
    touched = _resubmit(bloc, tmp_path / "batch")
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(tmp_path / "batch")))
    before = _stored(workspace)
    full = tmp_path / "full"
    shutil.copytree(workspace, full)

    incremental = _validate(workspace, batch.batch_id)
    with open_db(workspace) as con:
        state = last_validation(con)
    assert state["mode"] == "incremental"
    assert state["units"] == len(touched)
    expected = _validate(full, batch.batch_id, incremental=False)

    assert _stored(workspace) == _stored(full) != before
    key = [(f.finding_key, f.message, f.suspect, f.suggested_value) for f in incremental]
    assert key == [(f.finding_key, f.message, f.suspect, f.suggested_value) for f in expected]
    errors = {(f.unit_code, f.rule_id) for f in incremental if f.severity == "error"}
    fixed = next(u for u, kind in bloc.planted.items() if kind == "sum")
    (clean,) = {u for u in touched if u not in bloc.planted and (u, "members_total_sum") in errors}
    assert (fixed, "members_total_sum") not in errors
    assert any(f.rule_id == "duplicate_file" for f in incremental)


def test_a_validation_that_never_ran_is_made_up_for_by_the_next(loaded, tmp_path):
    bloc, base = loaded
    workspace = tmp_path / "ws"
    shutil.copytree(base, workspace)
    _resubmit(bloc, tmp_path / "batch")
    # the first batch is collected but its validation never runs (a crash, a cancelled run)
    pipeline.collect_files(workspace, pipeline.read_source(str(tmp_path / "batch")))
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    empty = pipeline.collect_files(workspace, pipeline.read_source(str(nothing)))
    full = tmp_path / "full"
    shutil.copytree(workspace, full)
    _validate(workspace, empty.batch_id)
    _validate(full, empty.batch_id, incremental=False)
    assert _stored(workspace) == _stored(full)
    with open_db(workspace) as con:
        assert last_validation(con)["units"] >= 2


def test_a_changed_registry_validates_everything_again(loaded, tmp_path):
    bloc, base = loaded
    workspace = tmp_path / "ws"
    shutil.copytree(base, workspace)
    registry = tmp_path / "registry.csv"
    text = bloc.registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("Chi bộ Đơn vị tổng hợp số 1,", "Chi bộ Số 1,"), "utf-8")
    pipeline.load_registry(workspace, registry)
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(nothing)))
    _validate(workspace, batch.batch_id)
    with open_db(workspace) as con:
        assert last_validation(con)["mode"] == "full"
    # the source read again as it was: nothing touched, nothing re-validated, findings kept
    again = pipeline.collect_files(workspace, pipeline.read_source(str(bloc.source(2024))))
    assert again.loaded == [] and again.seen > 0
    before = _stored(workspace)
    kept = _validate(workspace, again.batch_id)
    with open_db(workspace) as con:
        state = last_validation(con)
    assert (state["mode"], state["units"]) == ("incremental", 0)
    assert _stored(workspace) == before and len(kept) == len(before)


_FRESH_PROCESS = """
import sys, threading
from pathlib import Path
from tonghop import pipeline
from tonghop.validation import run
from tonghop.periods import PeriodRange

assert "great_expectations" not in sys.modules
imported_on = []
import_gx = run._import_gx
run._import_gx = lambda: (imported_on.append(threading.current_thread().name), import_gx())
pipeline.validate_scope(
    Path(sys.argv[1]), pipeline.load_catalog(), PeriodRange.parse("2024"), sys.argv[2], "t",
    None, False,
)
print(imported_on)
"""


@pytest.mark.slow  # a fresh interpreter imports GX: out of `make check`
def test_a_process_without_gx_imports_it_while_the_frames_are_built(loaded, tmp_path):
    # A flow run on a worker starts without GX: validate imports it on a thread of its own
    # while DuckDB builds the frames, and finds what a full validation found before.
    _, base = loaded
    workspace = tmp_path / "ws"
    shutil.copytree(base, workspace)
    expected = _stored(workspace)
    with open_db(workspace) as con:
        (batch_id,) = con.execute("select max_by(batch_id, seq) from submissions").fetchone()
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(workspace), batch_id],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "['tonghop-import-gx']"
    assert _stored(workspace) == expected
