"""FailingRowsExpectation: GX runs the rule's query once and keeps every row it returns."""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import pytest
from great_expectations.data_context.types.base import ProgressBarsConfig
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tonghop.db import connect, db_path
from tonghop.gx_duckdb import close_datasource, enable_duckdb_in_gx
from tonghop.gx_failing_rows import FailingRowsExpectation

# 250 failing rows, more than GX's own table metric keeps (200), and 25 that pass.
VALUES = [float(v) for v in range(-250, 25)]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    con = connect(tmp_path)
    try:
        con.execute("create table scores (k integer, v double)")
        con.executemany("insert into scores values (?, ?)", list(enumerate(VALUES)))
    finally:
        con.close()
    return tmp_path


def _run(workspace: Path, queries: dict[str, str], result_format: str) -> dict[str, dict]:
    enable_duckdb_in_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(
        "t", connection_string=f"duckdb:///{db_path(workspace)}"
    )
    try:
        batch = datasource.add_table_asset("scores", table_name="scores")
        suite = context.suites.add(
            gx.ExpectationSuite(
                name="t",
                expectations=[
                    FailingRowsExpectation(unexpected_rows_query=query, meta={"name": name})
                    for name, query in queries.items()
                ],
            )
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name="t", data=batch.add_batch_definition_whole_table("all"), suite=suite
            )
        )
        result = definition.run(result_format=result_format)
    finally:
        close_datasource(datasource)
    out = {}
    for outcome in result.results:
        assert not outcome.exception_info.get("raised_exception"), outcome.exception_info
        out[outcome.expectation_config.meta["name"]] = {
            "success": outcome.success,
            **outcome.result,
        }
    return out


def test_every_failing_row_comes_back_from_one_run_of_the_query(workspace: Path) -> None:
    negative = [v for v in VALUES if v < 0]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # noqa: ANN001 - SQLAlchemy's event
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        results = _run(
            workspace,
            {
                "negative": "select k, v from {batch} where v < 0",
                "none": "select k, v from {batch} where v > 1000",
            },
            "COMPLETE",
        )
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    failing = results["negative"]
    assert failing["success"] is False
    assert failing["observed_value"] == len(negative) == 250
    rows = failing["details"]["unexpected_rows"]
    assert sorted(row["v"] for row in rows) == sorted(negative)
    # GX's UnexpectedRowsExpectation runs it twice (a count, then 200 rows); this one once
    assert len([s for s in statements if "where v < 0" in s]) == 1, statements
    assert results["none"] == {
        "success": True,
        "observed_value": 0,
        "details": {"unexpected_rows": []},
    }


@pytest.mark.parametrize("result_format", ["BOOLEAN_ONLY", "SUMMARY"])
def test_shorter_result_formats_leave_the_rows_out(workspace: Path, result_format: str) -> None:
    result = _run(workspace, {"negative": "select k from {batch} where v < 0"}, result_format)
    assert result["negative"]["success"] is False
    assert "details" not in result["negative"]
    if result_format == "SUMMARY":
        assert result["negative"]["observed_value"] == 250
