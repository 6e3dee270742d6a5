"""Collect: list a source, archive every file untouched, parse it, load it into DuckDB.

One module a step: `source` (listing and reading the source), `archive` (bytes kept under
their sha256, in the append-only packs of `packs`), `csv_long` (the long CSV), `parsing` (one
file by its kind; the Excel form is read by `tonghop.forms`), `values` (raw text read as
numbers), `load` (rows into DuckDB) and `batch` (the orchestration, `collect`). The names other
modules use are imported here.
"""

from tonghop.collect.archive import (
    archive_files,
    archive_path,
    check_archive,
    pack_loose,
    read_archived,
    verify_archive,
)
from tonghop.collect.batch import CHUNK_FILES, CollectResult, archive_and_read, collect
from tonghop.collect.csv_long import (
    CSV_COLUMNS,
    _plain_csv_groups,
    _regular_csv_groups,
    parse_csv,
)
from tonghop.collect.parsing import Outcome, ParseChunks, Received, parse_file, read_chunk
from tonghop.collect.source import MAX_FILE_BYTES, SourceFile, read_source
from tonghop.collect.values import nfc, parse_number, read_values

__all__ = [
    "CHUNK_FILES",
    "CSV_COLUMNS",
    "MAX_FILE_BYTES",
    "CollectResult",
    "Outcome",
    "ParseChunks",
    "Received",
    "SourceFile",
    "_plain_csv_groups",
    "_regular_csv_groups",
    "archive_and_read",
    "archive_files",
    "archive_path",
    "check_archive",
    "collect",
    "nfc",
    "pack_loose",
    "parse_csv",
    "parse_file",
    "parse_number",
    "read_chunk",
    "read_source",
    "read_archived",
    "read_values",
    "verify_archive",
]
