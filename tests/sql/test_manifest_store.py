"""dbt's parse of the project kept across processes (tonghop.dbt_runner.parsed_project)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tonghop import dbt_runner
from tonghop.db import DB_NAME
from tonghop.paths import SQL_DIR


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """As a new process sees it: no parse in memory, the user's cache in `tmp_path`."""
    monkeypatch.setattr(dbt_runner, "_MANIFESTS", {})
    monkeypatch.setattr(dbt_runner, "_SPARE", {})
    monkeypatch.setenv("TONGHOP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _stored(folder: Path) -> Path:
    key = dbt_runner.manifest_key(SQL_DIR, DB_NAME)
    return folder / dbt_runner.MANIFEST_FILE.format(key=key)


def _no_parse(*args: object) -> None:
    raise AssertionError("dbt parsed the project again")


def test_a_new_process_loads_the_stored_parse_instead_of_parsing(
    new_process: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = dbt_runner.parsed_project()
    assert _stored(new_process).exists()

    monkeypatch.setattr(dbt_runner, "_MANIFESTS", {})
    monkeypatch.setattr(dbt_runner, "_parse", _no_parse)
    loaded = dbt_runner.parsed_project()

    # every field dbt parsed, as it parsed it (dbt's own pickling shifts them since `fixtures`)
    assert set(loaded.nodes) == set(parsed.nodes)
    assert set(loaded.macros) == set(parsed.macros)
    assert set(loaded.sources) == set(parsed.sources)
    assert set(loaded.unit_tests) == set(parsed.unit_tests)
    assert loaded.fixtures == parsed.fixtures
    assert loaded.flat_graph.keys() == parsed.flat_graph.keys()
    node = "model.tonghop.rpt_period__indicators"
    assert loaded.nodes[node].raw_code == parsed.nodes[node].raw_code
    assert loaded.nodes[node].depends_on.nodes == parsed.nodes[node].depends_on.nodes
    assert loaded.ref_lookup.find("rpt_period__indicators", None, None, loaded) is not None
    # each call gives a copy of its own: a run compiles into its manifest's nodes
    assert dbt_runner.parsed_project() is not dbt_runner.parsed_project()


def test_a_damaged_stored_parse_is_parsed_again(new_process: Path) -> None:
    dbt_runner.parsed_project()
    _stored(new_process).write_bytes(b"not a manifest")
    dbt_runner._MANIFESTS.clear()
    manifest = dbt_runner.parsed_project()
    assert "model.tonghop.rpt_period__indicators" in manifest.nodes
    assert _stored(new_process).read_bytes() != b"not a manifest"


def test_a_copy_of_the_project_is_kept_in_its_work_dir_only(
    new_process: Path, tmp_path: Path
) -> None:
    project = tmp_path / "sql"
    project.mkdir()
    for path in SQL_DIR.rglob("*"):
        if path.is_file():
            (project / path.relative_to(SQL_DIR)).parent.mkdir(parents=True, exist_ok=True)
            (project / path.relative_to(SQL_DIR)).write_bytes(path.read_bytes())
    work = tmp_path / "dbt"
    dbt_runner.parsed_project(project, tmp_path / DB_NAME, work)
    key = dbt_runner.manifest_key(project, DB_NAME)
    assert (work / dbt_runner.MANIFEST_FILE.format(key=key)).exists()
    assert not new_process.exists()


def test_started_in_background_the_next_run_takes_its_manifest(
    new_process: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbt_runner.start_in_background().join()
    assert len(dbt_runner._SPARE) == 1
    monkeypatch.setattr(dbt_runner, "_parse", _no_parse)
    manifest = dbt_runner.parsed_project()
    assert "model.tonghop.rpt_period__indicators" in manifest.nodes
    assert dbt_runner._SPARE == {}
