"""The workspace's DuckDB file: how to open it and the tables tonghop keeps in it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

DB_NAME = "tonghop.duckdb"

# Raw tables: append-only records of what was received. Derived tables (validation frames,
# findings of a run, models in sql/) are rebuilt from these.
SCHEMA = """
create table if not exists received_files (
    sha256        varchar primary key,
    archive_path  varchar not null,
    original_name varchar not null,
    size_bytes    bigint not null,
    received_at   timestamp not null,
    status        varchar not null,          -- loaded | rejected
    reason        varchar,                   -- why it was rejected (Vietnamese)
    warnings      varchar[]                  -- how it was read, where that needs saying
);
create table if not exists file_sightings (  -- every time a file was seen at the source
    sha256        varchar not null,
    source_name   varchar not null,
    seen_at       timestamp not null,
    batch_id      varchar not null
);
create table if not exists file_notices (  -- a received file seen again, not loaded again
    sha256        varchar not null,
    source_name   varchar not null,
    seen_at       timestamp not null,
    batch_id      varchar not null,
    reason        varchar not null           -- what the steward is told (Vietnamese)
);
create table if not exists held_files (  -- a received file held for review, not loaded
    sha256        varchar not null,
    unit_code     varchar not null,          -- a unit and period the file holds values of
    period        varchar not null,
    kind          varchar not null,          -- identity | partial (tonghop.collect.identity)
    location      varchar,                   -- where the file says it (its first value's place)
    held_at       timestamp not null,
    batch_id      varchar not null
);
create table if not exists submissions (
    submission_id varchar primary key,       -- sha256 of the file + unit + period
    sha256        varchar not null,
    unit_code     varchar not null,
    period        varchar not null,
    file_format   varchar not null,
    original_name varchar not null,
    received_at   timestamp not null,
    batch_id      varchar not null,
    seq           bigint not null            -- arrival order: higher supersedes lower
);
create table if not exists submitted_values (
    submission_id  varchar not null,
    indicator_code varchar not null,
    raw_value      varchar not null,
    value          double,                   -- null when the text is not a number
    location       varchar not null,
    note           varchar
);
create table if not exists registry_units (
    unit_code  varchar primary key,
    name       varchar not null,
    sector     varchar not null,
    form       varchar not null,
    valid_from date not null,
    valid_to   date
);
create table if not exists findings (
    finding_key     varchar not null,        -- stable across runs: rule, unit, period, submission
    run_id          varchar not null,
    unit_code       varchar,
    period          varchar,
    submission_id   varchar,
    rule_id         varchar not null,
    kind            varchar not null,
    severity        varchar not null,
    message         varchar not null,
    indicators      varchar[] not null,
    observed        json,
    suspect         varchar,
    suggested_value double,
    file_name       varchar,
    location        varchar
);
create table if not exists registry_loaded (  -- the registry file last stored (registry.py)
    key       varchar not null,              -- sha256 of its bytes and of the reader's code
    signature varchar not null,              -- the stored units' and contacts' hashes then
    units     integer not null
);
create table if not exists validation_state (  -- the last validation (tonghop.validate)
    fingerprint  varchar not null,           -- rules, catalog, registry, periods in scope
    run_id       varchar not null,
    validated_at timestamptz not null,
    mode         varchar not null,           -- full | incremental
    units        integer,                    -- units validated again (incremental)
    max_seq      bigint                      -- highest submission seq it saw
);
create table if not exists consolidation_state (  -- the last consolidation (consolidate)
    fingerprint     varchar not null,        -- models' SQL, catalog, periods, registry
    consolidated_at timestamptz not null,
    mode            varchar not null,        -- full | incremental
    units           integer,                 -- units whose rows it rebuilt (incremental)
    max_seq         bigint                   -- highest submission seq it saw
);
create table if not exists trace_state (  -- the last trace kept (tonghop.explain.trace_context)
    basis   varchar not null,                -- what it was computed from (`_trace_basis`)
    figures varchar not null                 -- its explanations and skipped ids, as JSON
);
create table if not exists consolidation_corrections (  -- corrections the last one applied
    submission_id varchar not null,
    corrections   bigint not null,
    last_seq      bigint not null
);
create table if not exists letters_written (  -- what each feedback letter was written from
    folder varchar not null,                 -- the letters' folder (absolute)
    stem   varchar not null,                 -- the letter's file name without suffix
    key    varchar not null,                 -- sha256 of its content (tonghop.letters)
    primary key (folder, stem)
);
create table if not exists review_actions (  -- append-only audit of the review queue
    seq            bigint primary key,       -- 1, 2, 3, ...: a gap means a deleted row
    action_id      varchar not null unique,
    finding_key    varchar not null,
    unit_code      varchar,
    period         varchar,
    submission_id  varchar,
    rule_id        varchar,
    indicators     varchar[],
    action         varchar not null check (action in
                       ('accept', 'correct', 'reject', 'reopen', 'supersede')),
    state          varchar not null check (state in
                       ('open', 'accepted', 'corrected', 'rejected', 'moot')),
    indicator_code varchar,
    before_value   double,
    after_value    double,
    note           varchar,
    source         varchar,
    actor          varchar not null,
    acted_at       timestamp not null,
    prev_hash      varchar not null,         -- row_hash of seq - 1 ('' for the first)
    row_hash       varchar not null          -- sha256 of prev_hash and this row's content
);
create table if not exists value_corrections (  -- append-only; the latest per key applies
    seq            bigint primary key,
    action_id      varchar not null unique,  -- the review_actions row that made it
    submission_id  varchar not null,
    indicator_code varchar not null,
    before_value   double,
    after_value    double not null,
    reason         varchar not null,
    source         varchar not null,
    actor          varchar not null,
    acted_at       timestamp not null
);
create table if not exists review_pending (  -- derived: replaced by each run
    submission_id  varchar not null,
    finding_key    varchar not null
);
"""


def db_path(workspace: Path) -> Path:
    return workspace / DB_NAME


def _config() -> dict[str, str]:
    # duckdb_engine opens the file with its own `custom_user_agent`; DuckDB refuses a second
    # connection to the same file in one process with a different configuration, so every
    # connection tonghop opens uses the same one (see tonghop.validation.connection).
    from tonghop.validation.connection import duckdb_engine_config

    return duckdb_engine_config()


MEMORY_LIMIT_ENV = "TONGHOP_DUCKDB_MEMORY_LIMIT"
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def memory_limit() -> str | None:
    """The DuckDB memory limit the operator set (`TONGHOP_DUCKDB_MEMORY_LIMIT`, e.g. `3GB`).

    Unset: DuckDB's default, 80 % of the machine's memory. The validation frames live in
    memory too; a limit makes DuckDB spill to disk instead, the frames included (peak memory
    at scale: benchmarks/RESULTS.md).
    """
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not value:
        return None
    if not _MEMORY.match(value):
        raise ValueError(
            f"{MEMORY_LIMIT_ENV}='{value}' không hợp lệ: cần một dung lượng như 3GB hoặc 512MB"
        )
    return value


# What DuckDB says when another process holds the file: not damage, the file is in use.
LOCK_CONFLICT = "Could not set lock"


class DamagedDatabase(RuntimeError):
    """The workspace's DuckDB file exists but cannot be opened (truncated, emptied, overwritten):
    the message says which file and how to make it again from the archive."""

    def __init__(self, workspace: Path, cause: object) -> None:
        self.workspace = workspace
        super().__init__(
            f"Tệp dữ liệu '{db_path(workspace)}' bị hỏng, không mở được ({cause}). Các tệp đã "
            "nhận vẫn nguyên trong kho lưu trữ: dựng lại tệp dữ liệu bằng lệnh "
            f"`tonghop rebuild --workspace {workspace} --registry <tệp danh mục đơn vị>` "
            "(tệp hỏng được giữ lại bên cạnh, đổi tên); các quyết định rà soát đã ghi trong tệp "
            "hỏng cần được nhập lại."
        )


# DuckDB's file: three 4 KiB headers, then its blocks.
_HEADERS_BYTES = 3 * 4096
# Files whose size this process checked at its first opening (`_check_size`).
_checked: set[str] = set()


def _check_size(con: duckdb.DuckDBPyConnection, workspace: Path) -> None:
    """Refuse a file shorter than the blocks its header counts (a truncated copy or a disk
    that filled): DuckDB opens it and fails only on reading a missing block, mid-run.

    Checked at a process's first opening only: the one-writer rule means no other process
    writes the file then, while later, this process's own checkpoint may count blocks it
    has not yet written. The blocks in use, not all it counts: DuckDB cuts free blocks off the
    file's end (a portal's many small writes left a healthy file one free block short)."""
    _, _, block_size, total_blocks, used_blocks, *_ = con.execute("pragma database_size").fetchone()
    size = db_path(workspace).stat().st_size
    expected = _HEADERS_BYTES + block_size * used_blocks
    if total_blocks and size < expected:
        con.close()
        raise DamagedDatabase(
            workspace, f"tệp dài {size} byte, ngắn hơn {expected} byte các khối dữ liệu của nó"
        )


def connect(workspace: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the workspace database, creating its tables on first use."""
    workspace.mkdir(parents=True, exist_ok=True)
    path = db_path(workspace)
    limit = memory_limit()
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=_config())
    except duckdb.Error as exc:
        if not path.exists() or LOCK_CONFLICT in str(exc):
            raise
        raise DamagedDatabase(workspace, exc) from exc
    if str(path) not in _checked:
        _check_size(con, workspace)
        _checked.add(str(path))
    # DuckDB draws a progress bar on the terminal for a statement over 2 s; in a flow's log or
    # a scheduled run's output it is noise between the messages.
    con.execute("set enable_progress_bar = false")
    if limit:
        # a setting of the database instance, shared by GX's connection to the same file
        con.execute(f"set memory_limit = '{limit}'")
    if not read_only:
        con.execute(SCHEMA)
    return con


# The validation frames' tables, kept in the workspace's file by versions before the frames
# moved to memory (`attach_frames`): dropped when the frames are next built.
FORMER_FRAME_TABLES = (
    "val_scope_units", "val_periods", "val_expected_periods", "val_submissions", "val_values",
    "val_period_index", "val_current_values", "val_current_submissions", "val_current_wide",
    "val_wide", "val_expected", "val_sightings", "val_previous", "val_year", "val_history",
)  # fmt: skip


def attach_frames(con: duckdb.DuckDBPyConnection) -> None:
    """Attach the in-memory database `frames`, where validation builds its frames.

    The frames are rebuilt by every validation and read only while it runs, by this connection
    and by GX's connection to the same file (the same DuckDB instance, so the same attached
    databases). Writing them into the file cost more than building them, and nothing reads
    them after the validation. They vanish with `detach_frames`, or when the last connection
    to the file in the process closes.
    """
    con.execute("attach if not exists ':memory:' as frames")


def detach_frames(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the in-memory frames (they grow with the units), even while another connection
    to the file stays open in the process; a connection a failure left broken is let be."""
    with suppress(duckdb.Error):
        con.execute("detach database if exists frames")


@contextmanager
def open_db(workspace: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the workspace database for the length of a `with` block."""
    con = connect(workspace, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it is written, or none."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def state_row(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    """The one row of a state table (`validation_state`, `consolidation_state`) by column name;
    empty when there is none yet."""
    cursor = con.execute(f"select * from {table}")
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else {}


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[list]) -> None:
    """Insert many rows, each a list of the table's columns in order, in one statement.

    DuckDB's `executemany` runs one insert a row, which costs more than the file's parsing.
    """
    if rows:
        insert_columns(con, table, [list(c) for c in zip(*rows, strict=True)])


def insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: list[list]) -> None:
    """`insert_rows` for rows given by column, one list per column of the table.

    The lists go to DuckDB as an Arrow table: pyarrow converts each list in C++ and DuckDB
    reads the arrays without the interpreter; unnesting the lists as statement parameters
    converted every value through Python, a cost that grows with every value collect writes.
    Each column is converted to the Arrow type of the table's column (`_arrow_types`), so that
    pyarrow does not look at every value to guess it; a column whose values do not convert to
    it (or of a type not mapped) has its type inferred from its values and cast by the insert
    (a column of None alone is Arrow's null type: NULL in any column).
    """
    if not columns or not columns[0]:
        return
    import pyarrow as pa

    types = _arrow_types(con, table, len(columns))
    rows = pa.table({f"c{i}": _arrow_array(c, types[i]) for i, c in enumerate(columns)})
    # Registering is refused while the connection holds a result not fetched to its end: run
    # it to its end first, as the insert's own statement would. (Not DuckDB's replacement scan
    # of the caller's variables: it looks in the frame that called `execute`, which a
    # connection wrapped for tracing or timing is not.)
    con.complete()
    name = f"_tonghop_rows_{id(rows)}"
    con.register(name, rows)
    try:
        con.execute(f"insert into {table} select * from {name}")
    finally:
        # after a failed insert the transaction refuses even this: the insert's error is the one
        # to raise (the name, unique, goes with the connection)
        with suppress(duckdb.Error):
            con.unregister(name)


def _arrow_types(con: duckdb.DuckDBPyConnection, table: str, width: int) -> list:
    """The Arrow type of each of `table`'s columns, None where it is not one of the simple
    types below (or the table's width is not `width`): such a column's type is inferred."""
    import pyarrow as pa

    simple = {
        "VARCHAR": pa.string(),
        "DOUBLE": pa.float64(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
        "VARCHAR[]": pa.list_(pa.string()),
    }
    con.complete()
    declared = con.execute(
        "select data_type from duckdb_columns() where table_name = ? "
        "and schema_name = current_schema() order by column_index",
        [table],
    ).fetchall()
    if len(declared) != width:
        return [None] * width
    return [simple.get(t) for (t,) in declared]


def _arrow_array(values: list, arrow_type: Any) -> Any:
    """`values` as an Arrow array of `arrow_type`; inferred from the values when there is no
    type or they do not convert to it exactly (the insert casts them as before)."""
    import pyarrow as pa

    if arrow_type is not None:
        with suppress(pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            return pa.array(values, type=arrow_type)
    return pa.array(values)
