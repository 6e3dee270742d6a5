"""Great Expectations really validating a DuckDB file through tonghop.validation.gx_adapter.

GX's own expectations and tonghop's give the rows computed here from the same values; the
private names behind it are exercised in tests/contracts/test_gx_contract.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import pytest

from tonghop.db import connect, db_path
from tonghop.validation.connection import connection_string, duckdb_engine_config
from tonghop.validation.gx_adapter import (
    RuleExpectation,
    close_datasource,
    enable_duckdb_in_gx,
    ephemeral_context,
    raised,
)

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
        self.context = ephemeral_context()
        self.datasource = self.context.data_sources.add_sql(
            "guard", connection_string=connection_string(db_path(workspace))
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
            error = raised(outcome.exception_info)
            assert error is None, f"GX raised while validating DuckDB: {error}"
            out[outcome.expectation_config.meta["rule_id"]] = {
                "success": outcome.success,
                **outcome.result,
            }
        return out

    def close(self) -> None:
        close_datasource(self.datasource)


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


def test_rule_expectations_of_one_group_keep_their_own_rows(workspace: Path) -> None:
    """Each rule of a group gets the rows its group's query tags with its id, and only those."""
    group = (
        "select case when v < 0 then 'negative' else 'over' end as rule_id, "
        "to_json(s)::varchar as failing_row from (select * from {batch}) s where v < 0 or v > 100"
    )
    validation = _Validation(workspace)
    for rule_id in ("negative", "over", "never"):
        validation.definition.suite.add_expectation(
            RuleExpectation(rule_id=rule_id, unexpected_rows_query=group, meta={"rule_id": rule_id})
        )
    try:
        results = validation.run()
    finally:
        validation.close()
    negative = sorted(k for k, v in ROWS if v is not None and v < 0)
    over = sorted(k for k, v in ROWS if v is not None and v > 100)
    for rule_id, keys in (("negative", negative), ("over", over), ("never", [])):
        rows = results[rule_id]["details"]["unexpected_rows"]
        assert results[rule_id]["success"] is (not keys)
        assert results[rule_id]["observed_value"] == len(keys)
        assert {r["rule_id"] for r in rows} <= {rule_id}
        assert sorted(json.loads(r["failing_row"])["k"] for r in rows) == keys
