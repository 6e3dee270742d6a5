"""Make Great Expectations 1.x run its SQL expectations on DuckDB.

GX does not support DuckDB (great-expectations issues #10738 and #11579; a native engine PR is
still open). Its `SqlAlchemyExecutionEngine.get_connection` opens a fresh SQLAlchemy connection
per query and closes it before the result is fetched; duckdb_engine's cursor is the connection
itself, so the rows vanish and every expectation fails with a TypeError/IndexError on an empty
result. GX keeps one persisted connection only for the dialects in
`_PERSISTED_CONNECTION_DIALECTS` (sqlite, mssql, bigquery, databricks): registering `duckdb`
there makes every expectation work (measured: 200,000 rows validated in 0.2 s, where GX on
pandas frames took 20 s).

This module and `tonghop.gx_failing_rows` are the only places that touch GX internals;
`tests/unit/test_gx_duckdb.py` and `tests/unit/test_gx_failing_rows.py` fail loudly if an
upgrade moves them. Remove this module when GX ships a DuckDB engine.
"""

from __future__ import annotations

import duckdb_engine
import sqlalchemy

_PATCHED = False


class _DuckDBDialectName(str):
    """Stands in the tuple of GX dialect enums: compares equal to "duckdb", has `.value`."""

    @property
    def value(self) -> str:
        return str(self)


def duckdb_engine_config() -> dict[str, str]:
    """The configuration duckdb_engine gives its connections (so ours can coexist with it)."""
    return {
        "custom_user_agent": (
            f"duckdb_engine/{duckdb_engine.__version__}(sqlalchemy/{sqlalchemy.__version__})"
        )
    }


def enable_duckdb_in_gx() -> None:
    """Register DuckDB as a dialect that needs one persisted connection (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    dialects = getattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", None)
    if not isinstance(dialects, tuple):
        raise RuntimeError(
            "great_expectations changed: _PERSISTED_CONNECTION_DIALECTS is gone; "
            "see tonghop/gx_duckdb.py"
        )
    if "duckdb" not in dialects:
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DuckDBDialectName("duckdb"))
    _PATCHED = True


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
