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
   `Expectation._get_result_format`: `RuleExpectation` judges from that one metric.
5. GX resolves a metric once per validation for every expectation that asks for it with the
   same arguments: the expectations of the rules of one group share their group's query, so
   each rule is its own expectation in the Data Docs while DuckDB runs one query per group.
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


class RuleExpectation(UnexpectedRowsExpectation):
    """One rule: fails with the rows of its group's query that name it (`rule_id` column).

    `unexpected_rows_query` is the query of the rule's whole group; every rule of the group
    asks for the same metric, which GX runs once. The result's `observed_value` is the number
    of the rule's rows; with result format COMPLETE, `details.unexpected_rows` holds them all.
    """

    rule_id: str
    metric_dependencies: ClassVar[tuple[str, ...]] = (FAILING_ROWS_METRIC,)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: object = None,
    ) -> dict:
        rows = [row for row in metrics[FAILING_ROWS_METRIC] if row["rule_id"] == self.rule_id]
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": not rows}
        result: dict[str, Any] = {"observed_value": len(rows)}
        if result_format == ResultFormat.COMPLETE:
            result["details"] = {"unexpected_rows": rows}
        return {"success": not rows, "result": result}


def raised(exception_info: dict | None) -> str | None:
    """The first exception GX recorded for an expectation (flat, or keyed by metric)."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message"))
    return None
