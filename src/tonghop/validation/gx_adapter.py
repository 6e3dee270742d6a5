"""Every use tonghop makes of Great Expectations' internals, in one place.

GX 1.x has no DuckDB engine (great-expectations issues #10738 and #11579) and keeps at most 200
failing rows of an `UnexpectedRowsExpectation` (its maintainers will not raise the cap).
tonghop needs DuckDB and every failing row, and both go through names GX does not publish.
Each is listed here with what tonghop relies on; `tests/contracts/test_gx_contract.py`
exercises every one of them and names it when a GX upgrade changes it. Nothing else in
tonghop may import a private name of GX or patch GX: remove a workaround here when GX ships
what it stands in for.

1. `sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS`: GX opens a fresh SQLAlchemy
   connection per query and closes it before fetching, except for these dialects, which keep
   one persisted connection. duckdb_engine's cursor is its connection, so without `duckdb` in
   the tuple every result vanishes and every expectation fails (`enable_duckdb_in_gx`).
2. `SqlAlchemyExecutionEngine._connection`: that persisted connection, closed by
   `close_datasource` so the next run sees committed data.
3. `QueryTable._get_query_from_metric_value_kwargs`,
   `_get_substituted_batch_subquery_from_query_and_batch_selectable` and
   `_get_sqlalchemy_records_from_substituted_batch_subquery(fetch_all=True)`: the query of an
   `UnexpectedRowsExpectation` with `{batch}` substituted, run once with every row fetched
   (GX's own table metric keeps 200 and its row count runs the query a second time).
4. `Expectation._validate` (GX's hook for a custom expectation's verdict) and
   `Expectation._get_result_format`: `FailingRowsExpectation` judges from that one metric.
5. `context.validation_results_store.set` and `context.build_data_docs(resource_identifiers=)`
   with `ValidationResultIdentifier` / `ExpectationSuiteIdentifier`
   (`great_expectations.data_context.types.resource_identifiers`): GX validates one
   expectation per group of rules, and the Data Docs show the results split by rule, stored by
   hand under the run's identifiers and rendered by GX's own site builder
   (`render_validation_results`).
6. `great_expectations.data_context.types.base.ProgressBarsConfig` (no public import path):
   progress bars off, so a flow's log is not flooded.
7. The shape of `ExpectationValidationResult.exception_info` (flat, or keyed by metric), read
   by `raised`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import great_expectations as gx
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module
from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metrics.query_table.query_table import (
    QueryTable,
)

FAILING_ROWS_METRIC = "failing_rows_query.table"


class _DuckDBDialectName(str):
    """Stands in the tuple of GX dialect enums: compares equal to "duckdb", has `.value`."""

    @property
    def value(self) -> str:
        return str(self)


def enable_duckdb_in_gx() -> None:
    """Register DuckDB as a dialect that needs one persisted connection (idempotent)."""
    dialects = getattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", None)
    if not isinstance(dialects, tuple):
        raise RuntimeError(
            "great_expectations changed: _PERSISTED_CONNECTION_DIALECTS is gone; "
            "see tonghop/validation/gx_adapter.py"
        )
    if "duckdb" not in dialects:
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DuckDBDialectName("duckdb"))


def close_datasource(datasource) -> None:  # noqa: ANN001 - a GX SQLDatasource
    """Close every connection GX holds on the file, so the next run sees committed data.

    The datasource keeps two engines (its own, used to test the connection, and its execution
    engine's), each with a StaticPool holding one DuckDB connection until disposed.
    """
    engine = datasource.get_execution_engine()
    connection = getattr(engine, "_connection", None)
    if connection is not None:
        connection.close()
        engine._connection = None
    engine.close()
    datasource.get_engine().dispose()


def ephemeral_context():  # noqa: ANN201 - a GX EphemeralDataContext
    """A GX context kept in memory, its progress bars off."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


class FailingRowsQueryTable(QueryTable):
    """Every row the expectation's query returns (GX's own table metric keeps 200)."""

    metric_name = FAILING_ROWS_METRIC
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> list[dict]:
        batch_selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        query = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=cls._get_query_from_metric_value_kwargs(metric_value_kwargs),
            batch_selectable=batch_selectable,
            execution_engine=execution_engine,
        )
        return cls._get_sqlalchemy_records_from_substituted_batch_subquery(
            substituted_batch_subquery=query,
            execution_engine=execution_engine,
            fetch_all=True,
        )


class FailingRowsExpectation(UnexpectedRowsExpectation):
    """Succeeds when the query returns no row; its result holds every row it returned.

    The result's `observed_value` is the number of rows; with result format COMPLETE,
    `details.unexpected_rows` holds them all.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = (FAILING_ROWS_METRIC,)

    def _kept(self, rows: list[dict]) -> list[dict]:
        return rows

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: object = None,
    ) -> dict:
        rows = self._kept(metrics[FAILING_ROWS_METRIC])
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": not rows}
        result: dict[str, Any] = {"observed_value": len(rows)}
        if result_format == ResultFormat.COMPLETE:
            result["details"] = {"unexpected_rows": rows}
        return {"success": not rows, "result": result}


class RuleExpectation(FailingRowsExpectation):
    """One rule of a group: the rows of its group's query that name it (`rule_id` column)."""

    rule_id: str

    def _kept(self, rows: list[dict]) -> list[dict]:
        return [row for row in rows if row["rule_id"] == self.rule_id]


def render_validation_results(context, site_name: str, runs: list) -> None:  # noqa: ANN001
    """Write validation results made by hand to a Data Docs site, with their suites.

    `runs`: (suite, result) pairs, each result under the run id and batch of a result GX made;
    the suite replaces the one of that name in the context, so its page shows these expectations.
    """
    identifiers: list = []
    for suite, result in runs:
        context.suites.delete(suite.name)
        context.suites.add(suite)
        suite_id = ExpectationSuiteIdentifier(name=suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id,
            run_id=result.meta["run_id"],
            batch_identifier=result.batch_id,
        )
        context.validation_results_store.set(key, result)
        identifiers += [key, suite_id]
    context.build_data_docs(site_names=[site_name], resource_identifiers=identifiers)


def raised(exception_info: dict | None) -> str | None:
    """The first exception GX recorded for an expectation (flat, or keyed by metric)."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message"))
    return None
