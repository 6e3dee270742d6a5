"""Writing parsed files into DuckDB: received_files, submissions, values, sightings."""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from tonghop.collect.values import Groups
from tonghop.db import insert_columns, insert_rows, transaction


@dataclass
class _Rows:
    """Rows of whole files waiting to be written together."""

    files: list[list] = field(default_factory=list)
    sightings: list[list] = field(default_factory=list)
    submissions: list[list] = field(default_factory=list)
    notices: list[list] = field(default_factory=list)
    holds: list[list] = field(default_factory=list)
    # by column (VALUE_COLUMNS), as they go into DuckDB
    values: list[list] = field(default_factory=lambda: [[] for _ in VALUE_COLUMNS])


def _rows_of(
    sha256: str,
    name: str,
    file_format: str,
    groups: Groups,
    received_at: datetime,
    batch_id: str,
    seq: int,
    values: list[list],
) -> list[list]:
    """The submissions rows of one file's groups; their values are added to `values`, one list
    per column (VALUE_COLUMNS)."""
    submissions = []
    ids, *cells = values
    for offset, ((unit_code, period), rows) in enumerate(groups):
        submission_id = hashlib.sha256(f"{sha256}|{unit_code}|{period}".encode()).hexdigest()[:32]
        submissions.append(
            [
                submission_id,
                sha256,
                unit_code,
                period,
                file_format,
                name,
                received_at,
                batch_id,
                seq + offset,
            ]
        )
        ids += [submission_id] * len(rows)
        for column, column_cells in zip(cells, zip(*rows, strict=True), strict=True):
            column += column_cells
    return submissions


# Chunks are written together, in one transaction, once they hold this many values (and at the
# end): from a row group's worth (122,880 rows) DuckDB writes appended rows straight into the
# file, not into its log first to copy them again when it checkpoints.
WRITE_MIN_VALUES = 150_000

VALUE_COLUMNS = ("submission_id", "indicator_code", "raw_value", "value", "location", "note")


def _write(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    with transaction(con):
        insert_rows(con, "received_files", rows.files)
        insert_rows(con, "submissions", rows.submissions)
        insert_columns(con, "submitted_values", rows.values)
        insert_rows(con, "file_sightings", rows.sightings)
        insert_rows(con, "file_notices", rows.notices)
        insert_rows(con, "held_files", rows.holds)


# How much DuckDB may write to its log (WAL) during collect before it checkpoints.
COLLECT_CHECKPOINT_THRESHOLD = "1GB"


@contextlib.contextmanager
def _checkpoints_deferred(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB checkpoint after collect rather than every 16 MB of its log during it.

    Each commit is still durable in the log. At DuckDB's default, a big batch checkpointed
    every few chunks, rewriting the tables and their keys each time and competing with the
    archive for the disk; deferred, one checkpoint runs when the connection closes. Until then
    the rows loaded stay in memory too; the threshold bounds that.
    """
    (before,) = con.execute("select current_setting('checkpoint_threshold')").fetchone()
    con.execute(f"set checkpoint_threshold = '{COLLECT_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        # a connection broken by the failure being raised must not hide it
        with contextlib.suppress(duckdb.Error):
            con.execute(f"set checkpoint_threshold = '{before}'")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, as it was before afterwards.

    Collect makes millions of small lists (values) that live until their chunk is written;
    the collector scanning them again and again is a noticeable share of collect. They
    hold no cycles, so nothing waits on the collector meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
