"""The guard for tonghop.gx_duckdb: Great Expectations really validating a DuckDB file.

If a GX upgrade moves the internals the fix relies on, these fail loudly (see the module's
docstring); when GX ships a DuckDB engine, the fix and these tests go together.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import great_expectations as gx
import pytest
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

from tonghop import gx_duckdb
from tonghop.db import connect, db_path
from tonghop.gx_duckdb import close_datasource, duckdb_engine_config, enable_duckdb_in_gx

ROWS = [("a", 1.0), ("b", -2.0), ("c", 150.0), ("d", 50.0), ("e", None)]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    con = connect(tmp_path)
    try:
        con.execute("create table scores (k varchar, v double)")
        con.executemany("insert into scores values (?, ?)", ROWS)
    finally:
        con.close()
    return tmp_path


def _out_of_range(rows: list[tuple[str, float | None]]) -> list[tuple[str, float]]:
    return sorted((k, v) for k, v in rows if v is not None and not 0 <= v <= 100)


class _Validation:
    """One GX context over the workspace file, with both expectations in one suite."""

    def __init__(self, workspace: Path) -> None:
        enable_duckdb_in_gx()
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = self.context.data_sources.add_sql(
            "guard", connection_string=f"duckdb:///{db_path(workspace)}"
        )
        batch = self.datasource.add_table_asset("scores", table_name="scores")
        definition = batch.add_batch_definition_whole_table("all")
        suite = self.context.suites.add(gx.ExpectationSuite(name="guard"))
        suite.add_expectation(
            gx.expectations.UnexpectedRowsExpectation(
                unexpected_rows_query="select k, v from {batch} where v < 0 or v > 100",
                meta={"rule_id": "rows"},
            )
        )
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="v", min_value=0, max_value=100, meta={"rule_id": "between"}
            )
        )
        self.definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name="guard", data=definition, suite=suite)
        )

    def run(self) -> dict[str, dict]:
        result = self.definition.run(result_format="COMPLETE")
        out = {}
        for outcome in result.results:
            info = outcome.exception_info or {}
            raised = [
                i
                for i in ([info] if "raised_exception" in info else info.values())
                if isinstance(i, dict) and i.get("raised_exception")
            ]
            assert not raised, f"GX raised while validating DuckDB: {raised}"
            out[outcome.expectation_config.meta["rule_id"]] = {
                "success": outcome.success,
                **outcome.result,
            }
        return out

    def close(self) -> None:
        close_datasource(self.datasource)


def test_gx_still_exposes_persisted_connection_dialects_as_a_tuple() -> None:
    dialects = getattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", None)
    assert isinstance(dialects, tuple), "GX moved _PERSISTED_CONNECTION_DIALECTS"
    # GX's get_connection still consults it (the fix depends on this very check)
    import inspect

    source = inspect.getsource(engine_module.SqlAlchemyExecutionEngine.get_connection)
    assert "_PERSISTED_CONNECTION_DIALECTS" in source


def test_enable_registers_duckdb_once() -> None:
    enable_duckdb_in_gx()
    enable_duckdb_in_gx()
    dialects = engine_module._PERSISTED_CONNECTION_DIALECTS
    assert isinstance(dialects, tuple)
    assert [d for d in dialects if d == "duckdb"] == ["duckdb"]
    duckdb_entry = next(d for d in dialects if d == "duckdb")
    assert duckdb_entry.value == "duckdb"


def test_enable_fails_loudly_when_gx_drops_the_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gx_duckdb, "_PATCHED", False)
    monkeypatch.delattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS")
    with pytest.raises(RuntimeError, match="_PERSISTED_CONNECTION_DIALECTS is gone"):
        enable_duckdb_in_gx()


def test_gx_engine_on_duckdb_keeps_one_connection(workspace: Path) -> None:
    validation = _Validation(workspace)
    try:
        engine = validation.datasource.get_execution_engine()
        assert engine.dialect_name == "duckdb"
        assert engine.dialect_name in engine_module._PERSISTED_CONNECTION_DIALECTS
        with engine.get_connection() as first, engine.get_connection() as second:
            assert first is second
    finally:
        validation.close()


def test_expectations_on_duckdb_return_the_right_rows(workspace: Path) -> None:
    expected = _out_of_range(ROWS)
    validation = _Validation(workspace)
    try:
        results = validation.run()
    finally:
        validation.close()

    rows = results["rows"]
    assert rows["success"] is False
    assert rows["observed_value"] == len(expected) == 2
    got = sorted((r["k"], r["v"]) for r in rows["details"]["unexpected_rows"])
    assert got == expected

    between = results["between"]
    assert between["success"] is False
    assert between["element_count"] == len(ROWS)
    assert between["missing_count"] == sum(v is None for _, v in ROWS)
    assert between["unexpected_count"] == len(expected)
    assert sorted(between["unexpected_list"]) == sorted(v for _, v in expected)


def test_clean_table_passes(workspace: Path) -> None:
    con = connect(workspace)
    try:
        con.execute("delete from scores where v < 0 or v > 100")
    finally:
        con.close()
    validation = _Validation(workspace)
    try:
        results = validation.run()
    finally:
        validation.close()
    assert results["rows"]["success"] is True
    assert results["rows"]["observed_value"] == 0
    assert results["between"]["success"] is True
    assert results["between"]["unexpected_count"] == 0


def test_after_close_datasource_a_second_run_sees_new_rows(workspace: Path) -> None:
    validation = _Validation(workspace)
    try:
        first = validation.run()
        validation.close()
        con = connect(workspace)
        try:
            con.execute("begin transaction")
            con.execute("insert into scores values ('f', 101.5), ('g', -0.5), ('h', 99)")
            con.execute("commit")
        finally:
            con.close()
        second = validation.run()
    finally:
        validation.close()
    assert first["rows"]["observed_value"] == 2
    after = ROWS + [("f", 101.5), ("g", -0.5), ("h", 99.0)]
    expected = _out_of_range(after)
    assert second["rows"]["observed_value"] == len(expected) == 4
    assert sorted((r["k"], r["v"]) for r in second["rows"]["details"]["unexpected_rows"]) == (
        expected
    )
    assert second["between"]["unexpected_count"] == 4


def test_our_connection_stays_open_while_gx_validates(workspace: Path) -> None:
    con = connect(workspace)  # same configuration as duckdb_engine's (custom_user_agent)
    try:
        con.execute("insert into scores values ('z', 1000)")  # committed (autocommit)
        validation = _Validation(workspace)
        try:
            results = validation.run()
        finally:
            validation.close()
        expected = _out_of_range(ROWS + [("z", 1000.0)])
        assert results["rows"]["observed_value"] == len(expected) == 3
        assert (
            sorted((r["k"], r["v"]) for r in results["rows"]["details"]["unexpected_rows"])
            == expected
        )
        # and ours still works afterwards, reading and writing
        con.execute("insert into scores values ('y', 5)")
        assert con.execute("select count(*) from scores").fetchone()[0] == len(ROWS) + 2
    finally:
        con.close()


def test_engine_config_matches_duckdb_engine() -> None:
    import duckdb_engine
    import sqlalchemy

    agent = duckdb_engine_config()["custom_user_agent"]
    assert agent.startswith(f"duckdb_engine/{duckdb_engine.__version__}")
    assert f"sqlalchemy/{sqlalchemy.__version__}" in agent


def test_close_datasource_releases_the_database_file(workspace: Path) -> None:
    validation = _Validation(workspace)
    try:
        validation.run()
    finally:
        validation.close()
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute(\"insert into scores values ('p', -1)\"); c.close()"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(db_path(workspace))], capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr[-400:]
