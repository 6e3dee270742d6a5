"""The dbt project of `sql/` built and tested by dbt itself on the sample bloc's DuckDB file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tonghop.catalog import load_catalog
from tonghop.collect import SourceFile, collect
from tonghop.consolidate import run_models
from tonghop.db import connect, db_path
from tonghop.dbt_runner import DbtRunError, project_models, run_dbt
from tonghop.paths import SAMPLE_DIR, SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.registry import read_registry, store_registry


def _project_files() -> dict[str, int]:
    return {
        p.relative_to(SQL_DIR).as_posix(): p.stat().st_mtime_ns
        for p in SQL_DIR.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample bloc's 2022-H2 and 2023-H1 collected and consolidated once."""
    workspace = tmp_path_factory.mktemp("dbt-project")
    con = connect(workspace)
    try:
        store_registry(con, read_registry(SAMPLE_DIR / "registry.csv"))
        files = [
            SourceFile(f"{p.parent.name}/{p.name}", p.read_bytes())
            for period in ("2022-H2", "2023-H1")
            for p in sorted((SAMPLE_DIR / "submissions" / period).glob("*.csv"))
        ]
        assert collect(con, workspace, files).loaded
        run_models(con, load_catalog(), PeriodRange.parse("2022-H2..2023-H1"))
    finally:
        con.close()
    return workspace


def _dbt(workspace: Path, command: str, select: str | None = None):  # noqa: ANN202
    return run_dbt(command, db_path(workspace), workspace / "dbt", select=select)


@pytest.mark.slow  # every data and unit test of the project: out of `make check`
def test_dbt_build_builds_every_model_and_passes_every_test_on_the_sample(workspace: Path) -> None:
    before = _project_files()
    results = _dbt(workspace, "build")

    built = {r.name for r in results if r.resource_type == "model"}
    assert built == {m.name for m in project_models()}
    kinds = {r.resource_type for r in results}
    assert {"model", "test", "unit_test"} <= kinds
    assert [r for r in results if r.status not in ("success", "pass")] == []
    names = {r.name for r in results}
    assert "rpt_period__indicators_sectors_add_up_to_the_bloc" in names
    assert "the_latest_submission_supersedes_the_earlier_ones" in names
    # dbt wrote its target and logs in the workspace, nothing into the project
    assert _project_files() == before
    assert list((workspace / "dbt" / "target" / "run").rglob("*.sql"))


def test_a_sector_that_does_not_add_up_to_the_bloc_fails_its_test(workspace: Path) -> None:
    con = connect(workspace)
    try:
        (count,) = con.execute(
            "update rpt_period__indicators set value = value + 1 where group_type = 'sector' "
            "and group_value = 'agency' and indicator_code = 'members_total' "
            "and period = '2023-H1'"
        ).fetchone()
        assert count == 1
    finally:
        con.close()
    with pytest.raises(DbtRunError) as failure:
        _dbt(workspace, "test", select="rpt_period__indicators")
    failed = {n.name: n.failures for n in failure.value.failed}
    # the one figure changed: one row of the sectors' test, the forms' test still passes
    assert failed == {"rpt_period__indicators_sectors_add_up_to_the_bloc": 1}
