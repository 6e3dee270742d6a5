"""How tonghop's DuckDB connections match the ones GX opens through duckdb_engine.

DuckDB refuses a second connection to a file in one process with a different configuration,
and duckdb_engine opens the file with its own `custom_user_agent`: every connection tonghop
opens (tonghop.db) uses the same configuration, so it can sit beside GX's.
"""

from __future__ import annotations

from pathlib import Path

import duckdb_engine
import sqlalchemy


def duckdb_engine_config() -> dict[str, str]:
    """The configuration duckdb_engine gives its connections (so ours can coexist with it)."""
    return {
        "custom_user_agent": (
            f"duckdb_engine/{duckdb_engine.__version__}(sqlalchemy/{sqlalchemy.__version__})"
        )
    }


def connection_string(database: Path) -> str:
    """The SQLAlchemy URL GX opens the workspace's database with."""
    return f"duckdb:///{database}"
