"""The GX internals tonghop relies on (tonghop.validation.gx_adapter), each exercised for real.

A GX upgrade that changes one of them fails here with `GX upgrade changed <private name>:
<what tonghop relies on>`; fix the adapter (or drop the workaround if GX now does it itself)
and these tests with it. Every test runs Great Expectations on a real DuckDB file.
"""

from __future__ import annotations

import contextlib
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import great_expectations as gx
import pytest
from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tonghop.db import connect, db_path
from tonghop.rules import CompiledRule
from tonghop.validation import gx_adapter
from tonghop.validation.connection import connection_string
from tonghop.validation.data_docs import DATA_DOCS_SITE, add_data_docs_site, split_by_rule
from tonghop.validation.gx_adapter import (
    FailingRowsExpectation,
    RuleExpectation,
    close_datasource,
    enable_duckdb_in_gx,
    ephemeral_context,
    raised,
    render_validation_results,
)

# 250 rows failing rule `negative`, more than GX's own table metric keeps (200); 3 failing `big`.
VALUES = [float(v) for v in range(-250, 25)] + [1000.0, 2000.0, 3000.0]
GROUP = (
    "select case when v < 0 then 'negative' else 'big' end as rule_id, "
    "to_json(s)::varchar as failing_row from (select * from {batch}) s where v < 0 or v > 100"
)


@contextlib.contextmanager
def relied_on(name: str, what: str) -> Iterator[None]:
    """Turn any failure inside into one naming the private behaviour and what tonghop needs."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - any change of GX's internals is reported
        pytest.fail(f"GX upgrade changed {name}: tonghop relies on {what} ({error!r})")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    con = connect(tmp_path)
    try:
        con.execute("create table scores (k integer, v double)")
        con.executemany("insert into scores values (?, ?)", list(enumerate(VALUES)))
    finally:
        con.close()
    return tmp_path


class _Run:
    """A GX context on the workspace's file, one suite of the given expectations."""

    def __init__(self, workspace: Path, expectations: list) -> None:
        enable_duckdb_in_gx()
        self.context = ephemeral_context()
        self.datasource = self.context.data_sources.add_sql(
            "contract", connection_string=connection_string(db_path(workspace))
        )
        asset = self.datasource.add_table_asset("scores", table_name="scores")
        suite = self.context.suites.add(gx.ExpectationSuite(name="c", expectations=expectations))
        self.definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(
                name="c", data=asset.add_batch_definition_whole_table("all"), suite=suite
            )
        )

    def run(self, result_format: str = "COMPLETE") -> dict[str, dict]:
        outcomes = self.definition.run(result_format=result_format).results
        return {
            o.expectation_config.meta["name"]: {
                "success": o.success,
                "error": raised(o.exception_info),
                **o.result,
            }
            for o in outcomes
        }

    def close(self) -> None:
        close_datasource(self.datasource)


def _rule(rule_id: str, query: str = GROUP) -> RuleExpectation:
    return RuleExpectation(rule_id=rule_id, unexpected_rows_query=query, meta={"name": rule_id})


def _statements() -> tuple[list[str], object]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args) -> None:  # noqa: ANN001 - SQLAlchemy's event
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    return seen, listen


def test_persisted_connection_dialects(workspace: Path) -> None:
    name = "sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS"
    what = (
        "a tuple of dialect names that SqlAlchemyExecutionEngine.get_connection consults to keep "
        "one connection, without which every DuckDB result is closed before it is fetched"
    )
    with relied_on(name, what):
        enable_duckdb_in_gx()
        enable_duckdb_in_gx()
        dialects = engine_module._PERSISTED_CONNECTION_DIALECTS
        assert isinstance(dialects, tuple)
        assert [d.value for d in dialects if d == "duckdb"] == ["duckdb"]
        source = inspect.getsource(engine_module.SqlAlchemyExecutionEngine.get_connection)
        assert "_PERSISTED_CONNECTION_DIALECTS" in source
        run = _Run(workspace, [_rule("big")])
        try:
            engine = run.datasource.get_execution_engine()
            with engine.get_connection() as first, engine.get_connection() as second:
                assert first is second
            assert run.run()["big"]["observed_value"] == 3
        finally:
            run.close()


def test_enable_fails_loudly_when_gx_drops_the_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS")
    with pytest.raises(RuntimeError, match="_PERSISTED_CONNECTION_DIALECTS is gone"):
        enable_duckdb_in_gx()


def test_execution_engine_connection(workspace: Path) -> None:
    name = "SqlAlchemyExecutionEngine._connection"
    what = (
        "the persisted connection kept there, which close_datasource closes so that the file "
        "is released and a second run sees the rows committed since"
    )
    with relied_on(name, what):
        run = _Run(workspace, [_rule("big")])
        try:
            assert run.run()["big"]["observed_value"] == 3
            engine = run.datasource.get_execution_engine()
            assert engine._connection is not None
            run.close()
            assert engine._connection is None
            script = (
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                "c.execute('insert into scores values (-1, 500)'); c.close()"
            )
            other = subprocess.run(
                [sys.executable, "-c", script, str(db_path(workspace))],
                capture_output=True,
                text=True,
            )
            assert other.returncode == 0, other.stderr[-400:]
            assert run.run()["big"]["observed_value"] == 4
        finally:
            run.close()


def test_query_table_helpers_fetch_every_row_in_one_statement(workspace: Path) -> None:
    name = (
        "QueryTable._get_query_from_metric_value_kwargs / "
        "_get_substituted_batch_subquery_from_query_and_batch_selectable / "
        "_get_sqlalchemy_records_from_substituted_batch_subquery(fetch_all=True)"
    )
    what = "the expectation's query, {batch} substituted, run once with every row fetched"
    negative = sorted(v for v in VALUES if v < 0)
    with relied_on(name, what):
        seen, listen = _statements()
        run = _Run(
            workspace,
            [_rule("negative", "select 'negative' as rule_id, k, v from {batch} where v < 0")],
        )
        try:
            result = run.run()["negative"]
        finally:
            event.remove(Engine, "before_cursor_execute", listen)
            run.close()
        assert result["error"] is None
        assert result["observed_value"] == len(negative) == 250
        assert sorted(r["v"] for r in result["details"]["unexpected_rows"]) == negative
        assert len([s for s in seen if "where v < 0" in s]) == 1, seen


@pytest.mark.parametrize("result_format", ["BOOLEAN_ONLY", "SUMMARY", "COMPLETE"])
def test_validate_hook_and_result_format(workspace: Path, result_format: str) -> None:
    name = "Expectation._validate / Expectation._get_result_format"
    what = (
        "_validate(metrics, runtime_configuration, execution_engine) deciding the verdict from "
        "the metrics, and _get_result_format giving the format the run asked for"
    )
    with relied_on(name, what):
        run = _Run(workspace, [_rule("negative"), _rule("none", GROUP.replace("100", "10000"))])
        try:
            results = run.run(result_format)
        finally:
            run.close()
        assert results["negative"]["success"] is False
        assert results["none"]["success"] is True
        if result_format == "BOOLEAN_ONLY":
            assert "observed_value" not in results["negative"]
        else:
            assert results["negative"]["observed_value"] == 250
        assert ("details" in results["negative"]) is (result_format == "COMPLETE")


def test_results_stored_by_hand_are_rendered(workspace: Path, tmp_path: Path) -> None:
    name = (
        "context.validation_results_store.set / build_data_docs(resource_identifiers=) with "
        "ValidationResultIdentifier and ExpectationSuiteIdentifier"
    )
    what = (
        "a validation result made by hand, stored under a run's identifiers, rendered by GX's "
        "site builder with its suite (each rule its own expectation in the Data Docs)"
    )
    with relied_on(name, what):
        docs = tmp_path / "docs"
        run = _Run(
            workspace,
            [FailingRowsExpectation(unexpected_rows_query=GROUP, meta={"name": "g", "group": 0})],
        )
        try:
            add_data_docs_site(run.context, docs)
            result = run.definition.run(result_format="COMPLETE")
            rules = tuple(
                CompiledRule(
                    rule_id, "bounds", "error", "scores", "", f"Quy tắc {rule_id} sai.", ()
                )
                for rule_id in ("negative", "big", "never")
            )
            group = SimpleNamespace(query=GROUP, rules=rules)
            suite, by_rule = split_by_rule(result, [group], None)
            render_validation_results(run.context, DATA_DOCS_SITE, [(suite, by_rule)])
        finally:
            run.close()
        assert [o.result["observed_value"] for o in by_rule.results] == [250, 3, 0]
        (page,) = (docs / "validations").rglob("*.html")
        text = page.read_text(encoding="utf-8")
        for rule_id in ("negative", "big", "never"):
            assert f"{rule_id}: Quy tắc {rule_id} sai." in text
        suite_page = (docs / "expectations" / "c.html").read_text(encoding="utf-8")
        assert "never: Quy tắc never sai." in suite_page
        assert "c" in (docs / "index.html").read_text(encoding="utf-8")


def test_progress_bars_config() -> None:
    name = "great_expectations.data_context.types.base.ProgressBarsConfig"
    what = "a config whose globally=False turns GX's progress bars off in an ephemeral context"
    with relied_on(name, what):
        context = ephemeral_context()
        assert context.variables.progress_bars.globally is False


def test_exception_info_shape(workspace: Path) -> None:
    name = "ExpectationValidationResult.exception_info"
    what = "an error of the query reported as raised_exception/exception_message, flat or by metric"
    with relied_on(name, what):
        run = _Run(workspace, [_rule("broken", "select no_such_column from {batch}")])
        try:
            result = run.run()["broken"]
        finally:
            run.close()
        assert result["error"] is not None
        assert "no_such_column" in result["error"]


def test_the_adapter_is_the_only_place_of_gx_internals() -> None:
    """No other file of tonghop, its flows or tests names a private GX attribute."""
    root = Path(__file__).resolve().parents[2]
    private = [
        "_PERSISTED_CONNECTION_DIALECTS",
        "._connection",
        "_get_substituted_batch_subquery",
        "_get_query_from_metric_value_kwargs",
        "_get_sqlalchemy_records",
        "_get_result_format",
        "data_context.types.base",
        "resource_identifiers",
        "sqlalchemy_execution_engine",
    ]
    allowed = {Path(gx_adapter.__file__).resolve(), Path(__file__).resolve()}
    offenders = [
        f"{path.relative_to(root)}: {needle}"
        for folder in ("src", "flows", "tests", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        if path.resolve() not in allowed
        for needle in private
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
