"""tonghop.db.insert_rows: many rows in one statement, whatever the connection was doing."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tonghop.db import connect, insert_rows


class _Traced:
    """A connection wrapped as tracing or timing code wraps one: every call goes through it."""

    def __init__(self, con) -> None:  # noqa: ANN001 - a DuckDB connection
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: object):  # noqa: ANN201 - the connection
        self.statements.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_rows_of_every_column_type_go_in_as_given(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        con.execute(
            "create table t (a varchar, b double, c varchar[], d timestamp, e date, f boolean)"
        )
        rows = [
            ["Đảng bộ Khối", 1, ["x", "y"], datetime(2024, 7, 1, 8, 30), date(2024, 6, 30), True],
            [None, 2.5, [], None, None, None],
        ]
        insert_rows(con, "t", rows)
        assert [list(r) for r in con.execute("select * from t order by b").fetchall()] == [
            ["Đảng bộ Khối", 1.0, ["x", "y"], datetime(2024, 7, 1, 8, 30), date(2024, 6, 30), True],
            [None, 2.5, [], None, None, None],
        ]
    finally:
        con.close()


def test_values_not_of_the_columns_type_go_in_as_the_insert_casts_them(tmp_path: Path) -> None:
    """A column is converted to the table's Arrow type; one whose values do not convert to it
    (Decimals for a double, ints for a varchar, a column of None alone)
    goes in as before, cast by the insert."""
    from decimal import Decimal

    con = connect(tmp_path)
    try:
        con.execute("create table t (a double, b varchar, c bigint, d varchar)")
        insert_rows(con, "t", [[Decimal("1.5"), 7, 3, None], [Decimal("2"), 8, None, None]])
        assert con.execute("select * from t order by a").fetchall() == [
            (1.5, "7", 3, None),
            (2.0, "8", None, None),
        ]
    finally:
        con.close()


def test_rows_go_in_after_a_result_left_unread_and_through_a_wrapped_connection(
    tmp_path: Path,
) -> None:
    con = connect(tmp_path)
    try:
        con.execute("create table t (code varchar, n integer)")
        insert_rows(con, "t", [["a", 1], ["b", 2]])
        con.execute("select * from t")  # a result nobody reads to its end
        traced = _Traced(con)
        insert_rows(traced, "t", [["c", 3]])
        assert con.execute("select * from t order by n").fetchall() == [
            ("a", 1),
            ("b", 2),
            ("c", 3),
        ]
        assert any(s.startswith("insert into t") for s in traced.statements)
    finally:
        con.close()


def test_a_failed_insert_raises_its_own_error(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        con.execute("create table t (code varchar primary key)")
        con.execute("begin")
        with pytest.raises(duckdb.ConstraintException):
            insert_rows(con, "t", [["a"], ["a"]])
        con.execute("rollback")
        insert_rows(con, "t", [["a"]])
        assert con.execute("select * from t").fetchall() == [("a",)]
    finally:
        con.close()
