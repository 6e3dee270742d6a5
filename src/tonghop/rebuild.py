"""A workspace's database made again from its archive: every received file, in arrival order,
through collect's own load path (`tonghop rebuild`, docs/architecture.md "The workspace").

The order and names come from the old database when it can still be read (each file's first
batch kept: `received_files` by `received_at`); otherwise from the archive itself: loose files
by modification time, then the packs in the order they were written, each pack's files in the
order it holds them, a pack (a chunk of one collect) loaded as one batch. Without the old
database a file's name is not known: it is named by its sha256 and its kind (`.xlsx` for a
zip, else `.csv`), so nothing its name said is judged again. The old file is kept beside the
new one, renamed, never deleted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path

import duckdb

from tonghop.collect import SourceFile, collect, read_archived
from tonghop.collect.packs import pack_index
from tonghop.db import DB_NAME, LOCK_CONFLICT, db_path, open_db


@dataclass
class Rebuilt:
    """What a rebuild did: where the old file went, the order's source, the files reloaded."""

    old: Path | None
    order_from: str  # "database" | "archive"
    files: int = 0
    batches: int = 0
    unreadable: list[str] = field(default_factory=list)  # sha256s the archive did not give


def rebuild(workspace: Path, registry: Path) -> Rebuilt:
    """Move the workspace's database aside and load every archived file into a new one."""
    from tonghop.pipeline import load_registry

    order = _order_of_database(db_path(workspace))
    order_from = "database" if order is not None else "archive"
    if order is None:
        order = _order_of_archive(workspace)
    old = _move_aside(workspace)
    load_registry(workspace, registry)
    result = Rebuilt(old, order_from)
    with open_db(workspace) as con:
        for batch_id, items in groupby(order, key=lambda item: item[2]):
            files = []
            for sha256, name, _ in items:
                data = read_archived(workspace, sha256)
                if data is None:
                    result.unreadable.append(sha256)
                    continue
                files.append(SourceFile(name, data))
            collect(con, workspace, files, batch_id=batch_id)
            result.files += len(files)
            result.batches += 1
    return result


def _order_of_database(path: Path) -> list[tuple[str, str, str]] | None:
    """(sha256, name, first batch) of every received file in arrival order; None when the
    database cannot be read."""
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if LOCK_CONFLICT in str(exc):
            raise  # in use by another process: not damaged, and not to be moved aside
        return None
    try:
        return con.execute(
            "select r.sha256, r.original_name, "
            "coalesce(s.batch_id, 'rebuild') from received_files r "
            "left join (select sha256, arg_min(batch_id, seen_at) as batch_id "
            "from file_sightings group by sha256) s using (sha256) "
            "order by r.received_at, r.original_name"
        ).fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()


def _order_of_archive(workspace: Path) -> list[tuple[str, str, str]]:
    """Every archived file in the order it was archived, named by its sha256 and kind; a
    batch for each pack (a chunk of one collect), and for loose files each minute they were
    written in."""
    loose = []
    archive = workspace / "archive"
    for folder in sorted(archive.glob("[0-9a-f][0-9a-f]")):
        for path in folder.iterdir():
            sha256 = path.name.partition(".")[0]
            if len(sha256) == 64:
                loose.append((path.stat().st_mtime_ns, sha256, path.suffix))
    order = [
        (sha256, f"{sha256}{suffix}", f"loose-{mtime // 60_000_000_000}")
        for mtime, sha256, suffix in sorted(loose)
    ]
    known = {sha256 for sha256, _, _ in order}
    for sha256, location in pack_index(str(workspace)).items():
        if sha256 not in known:
            with open(location.path, "rb") as pack:
                pack.seek(location.offset)
                head = pack.read(2)
            kind = ".xlsx" if head == b"PK" else ".csv"
            order.append((sha256, f"{sha256}{kind}", Path(location.path).stem))
    return order


def _move_aside(workspace: Path) -> Path | None:
    """Rename the old database (and its log) out of the way; its new name, if it was there."""
    path = db_path(workspace)
    if not path.exists():
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    moved = workspace / f"{DB_NAME}.hong-{stamp}"
    os.replace(path, moved)
    wal = path.with_name(f"{DB_NAME}.wal")
    if wal.exists():
        os.replace(wal, moved.with_name(f"{moved.name}.wal"))
    return moved
