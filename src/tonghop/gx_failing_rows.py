"""A Great Expectations expectation that runs its query once and keeps every failing row.

GX's `UnexpectedRowsExpectation` depends on two metrics over the same query: a row count
(`SELECT COUNT(*) FROM (query)`) and the rows (the query again, of which it keeps 200). On
DuckDB each is the whole query: the rules' grouped queries ran twice, and a third time here
where more than 200 rows failed (at 60,000 units, 4.7 s of queries where 2.3 s would do).

`FailingRowsExpectation` is the same expectation (same query, `{batch}` parameter, result and
Data Docs rendering) with one metric, `failing_rows_query.table`: the query run once, every row
fetched. Its result's `observed_value` is the number of rows, as before. Imported only where
GX runs (importing GX takes seconds).
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metrics.query_table.query_table import (
    QueryTable,
)


class FailingRowsQueryTable(QueryTable):
    """Every row the expectation's query returns (GX's own table metric keeps 200)."""

    metric_name = "failing_rows_query.table"
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
    """Succeeds when the query returns no row; its result holds every row it returned."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("failing_rows_query.table",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: object = None,
    ) -> dict:
        rows = metrics["failing_rows_query.table"]
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": not rows}
        result: dict[str, Any] = {"observed_value": len(rows)}
        if result_format == ResultFormat.COMPLETE:
            result["details"] = {"unexpected_rows": rows}
        return {"success": not rows, "result": result}
