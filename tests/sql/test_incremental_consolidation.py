"""Incremental consolidation: after a resubmission, a review decision or a correction the
incremental models rebuild only the changed units' rows (int_units_changed), and every model
table holds exactly what a full rebuild (`dbt run --full-refresh`) of the same workspace gives."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from tests.conftest import csv_values, generated_workspace
from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.consolidate import UNFINISHED, last_consolidation, run_models
from tonghop.db import open_db
from tonghop.dbt_runner import DbtRunError, project_models
from tonghop.generate import write_csv
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.registry import read_registry, store_registry
from tonghop.review import accept, correct

# each test consolidates three times or more (a full rebuild to compare with), some a changed
# copy of the dbt project: out of `make check`
pytestmark = pytest.mark.slow

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2024")
# every model stored, but the units the last run rebuilt (what a run did, not what it computed)
TABLES = [
    m.name
    for m in project_models()
    if m.materialized in ("table", "incremental") and m.name != "int_units_changed"
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A 40-unit bloc, both years collected, validated and consolidated once (in full)."""
    root = tmp_path_factory.mktemp("incremental-consolidation")
    bloc, workspace, batch_id = generated_workspace(root)
    pipeline.validate_scope(workspace, CATALOG, RANGE, batch_id, "t")
    pipeline.consolidate(workspace, CATALOG, RANGE)
    return bloc, workspace


@pytest.fixture()
def workspace(loaded, tmp_path) -> Path:
    shutil.copytree(loaded[1], tmp_path / "ws")
    return tmp_path / "ws"


def _consolidate(workspace: Path, sql_dir: Path = SQL_DIR) -> dict:
    """Consolidate (incrementally where it can); how it ran."""
    with open_db(workspace) as con:
        run_models(con, CATALOG, RANGE, sql_dir)
        return last_consolidation(con)


def _assert_same_as_full(workspace: Path) -> None:
    """Every model table as it stands equals a full rebuild of it, row for row."""
    with open_db(workspace) as con:
        kept = {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}
        run_models(con, CATALOG, RANGE, incremental=False)
        assert last_consolidation(con)["mode"] == "full"
        for table in TABLES:
            rebuilt = con.execute(f"select * from {table} order by all").fetchall()
            assert kept[table] == rebuilt, table


def _send_again(
    bloc, workspace: Path, folder: Path, units: list[str], added: dict[str, int]
) -> None:  # noqa: ANN001
    """The units send their 2024 report again with `added` to these indicators; collected and
    validated (incrementally), not consolidated."""
    source = bloc.source(2024)
    folder.mkdir()
    for unit in units:
        values = csv_values(source / f"{unit}.csv")
        for code, amount in added.items():
            values[code] = str(int(float(values[code])) + amount)
        write_csv(folder / f"{unit}-lai.csv", unit, "2024", values)
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(folder)))
    pipeline.validate_scope(workspace, CATALOG, RANGE, batch.batch_id, "again")


def _bloc_figure(workspace: Path, code: str) -> float:
    with duckdb.connect(str(workspace / "tonghop.duckdb"), read_only=True) as con:
        (value,) = con.execute(
            "select value from rpt_period__indicators where period = '2024' "
            "and group_type = 'bloc' and indicator_code = ?",
            [code],
        ).fetchone()
    return value


def _included(workspace: Path, unit: str) -> bool:
    with duckdb.connect(str(workspace / "tonghop.duckdb"), read_only=True) as con:
        (status,) = con.execute(
            "select status from rpt_coverage__units where unit_code = ? and period = '2024'",
            [unit],
        ).fetchone()
    return status == "included"


def test_the_first_consolidation_is_full_and_a_second_with_nothing_new_rebuilds_nothing(
    workspace: Path,
) -> None:
    with open_db(workspace) as con:
        assert last_consolidation(con)["mode"] == "full"
        _keep_a_trace(con)
    state = _consolidate(workspace)
    assert (state["mode"], state["units"]) == ("incremental", 0)
    with open_db(workspace) as con:  # no row rebuilt: the trace kept stays (tonghop.explain)
        assert con.execute("select basis from trace_state").fetchall() == [("kept",)]
    _assert_same_as_full(workspace)


def _keep_a_trace(con) -> None:  # noqa: ANN001
    con.execute("delete from trace_state")
    con.execute("insert into trace_state values ('kept', '{}')")


def test_a_resubmission_rebuilds_its_unit_only_and_moves_the_total_by_its_change(
    loaded, workspace: Path, tmp_path: Path
) -> None:
    bloc, _ = loaded
    source = bloc.source(2024)
    unit = next(u for u in sorted(p.stem for p in source.glob("U*.csv")) if u not in bloc.planted)
    before = _bloc_figure(workspace, "members_admitted")
    added = {"members_admitted": 5, "members_total": 5, "members_official": 5}  # still balanced
    _send_again(bloc, workspace, tmp_path / "batch", [unit], added)
    with open_db(workspace) as con:
        _keep_a_trace(con)
    state = _consolidate(workspace)

    assert (state["mode"], state["units"]) == ("incremental", 1)
    with open_db(workspace) as con:  # one unit's rows rebuilt: the trace kept is dropped
        assert con.execute("select count(*) from trace_state").fetchone() == (0,)
    assert _included(workspace, unit)
    assert _bloc_figure(workspace, "members_admitted") == before + 5
    _assert_same_as_full(workspace)


def test_review_decisions_and_corrections_rebuild_their_units(loaded, workspace: Path) -> None:
    with open_db(workspace) as con:
        errors = con.execute(
            "select unit_code, finding_key from findings where severity = 'error' "
            "and submission_id is not null and period = '2024' order by unit_code, finding_key"
        ).fetchall()
    by_unit: dict[str, list[str]] = {}
    for unit, key in errors:
        by_unit.setdefault(unit, []).append(key)
    accepted_unit, corrected_unit = sorted(by_unit)[:2]
    assert not _included(workspace, accepted_unit)
    with open_db(workspace) as con:
        for key in by_unit[accepted_unit]:
            accept(con, key, "Đơn vị xác nhận số liệu đúng", "thu")
        for key in by_unit[corrected_unit]:
            correct(con, key, 7, "Gõ nhầm", "điện thoại", "members_admitted", "thu")
    state = _consolidate(workspace)

    assert (state["mode"], state["units"]) == ("incremental", 2)
    assert _included(workspace, accepted_unit)
    with duckdb.connect(str(workspace / "tonghop.duckdb"), read_only=True) as con:
        (value,) = con.execute(
            "select value from int_values_accepted where unit_code = ? and period = '2024' "
            "and indicator_code = 'members_admitted'",
            [corrected_unit],
        ).fetchone()
    assert value == 7
    _assert_same_as_full(workspace)


def test_a_changed_registry_period_range_or_model_rebuilds_everything(
    loaded, workspace: Path, tmp_path: Path
) -> None:
    units = read_registry(loaded[0].registry)
    moved = next(u for u in units if u.sector != "soe")
    units = [replace(u, sector="soe") if u == moved else u for u in units]
    with open_db(workspace) as con:
        assert store_registry(con, units)
    assert _consolidate(workspace)["mode"] == "full"
    assert _consolidate(workspace)["mode"] == "incremental"

    with open_db(workspace) as con:
        run_models(con, CATALOG, PeriodRange.parse("2023..2024"))
        assert last_consolidation(con)["mode"] == "full"

    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    model = sql_dir / "marts" / "rpt_term__units.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- changed\n", encoding="utf-8")
    assert _consolidate(workspace, sql_dir)["mode"] == "full"


def test_a_failed_consolidation_is_followed_by_a_full_one_that_is_right(
    loaded, workspace: Path, tmp_path: Path
) -> None:
    """dbt builds model by model: a run that fails half-way leaves some rebuilt; the state says
    so, and the next consolidation rebuilds everything."""
    bloc, _ = loaded
    unit = sorted(p.stem for p in bloc.source(2024).glob("U*.csv"))[-1]
    _send_again(bloc, workspace, tmp_path / "batch", [unit], {"members_admitted": 1})

    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "marts" / "rpt_zz_broken.sql").write_text(
        "select * from {{ ref('rpt_year__indicators') }} where error('hỏng') is null\n",
        encoding="utf-8",
    )
    with pytest.raises(DbtRunError, match="rpt_zz_broken"), open_db(workspace) as con:
        run_models(con, CATALOG, RANGE, sql_dir)
    with open_db(workspace) as con:
        assert last_consolidation(con)["fingerprint"] == UNFINISHED
    assert _consolidate(workspace)["mode"] == "full"
    assert _included(workspace, unit)
    _assert_same_as_full(workspace)


def test_many_units_changed_are_rebuilt_incrementally_and_right(
    loaded, workspace: Path, tmp_path: Path
) -> None:
    bloc, _ = loaded
    units = sorted(p.stem for p in bloc.source(2024).glob("U*.csv"))
    changed = units[: len(units) // 2]
    before = _bloc_figure(workspace, "members_admitted")
    _send_again(bloc, workspace, tmp_path / "batch", changed, {"members_admitted": 1})
    state = _consolidate(workspace)
    assert state["mode"] == "incremental"
    assert state["units"] == len(changed)
    included = sum(_included(workspace, u) for u in changed)
    assert _bloc_figure(workspace, "members_admitted") == before + included
    _assert_same_as_full(workspace)
