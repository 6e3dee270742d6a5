"""The archive: received bytes stored untouched under their sha256, durable before use."""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StagedFile:
    """Bytes written to a temporary file beside their archive name, not yet durable."""

    temporary: str
    target: str


_PLAIN_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def archive_path(sha256: str, name: str) -> str:
    """Where received bytes are archived, relative to the workspace: their hash, and the
    file's suffix when it is a plain one. Text, not a path object: collect names every file of a
    national batch.

    >>> archive_path("ab12", "Báo cáo.CSV"), archive_path("ab12", "x.c$v")
    ('archive/ab/ab12.csv', 'archive/ab/ab12')
    >>> archive_path("ab12", "dir/.CSV"), archive_path("ab12", "Báo cáo..CSV")
    ('archive/ab/ab12', 'archive/ab/ab12.csv')
    """
    suffix = posixpath.splitext(posixpath.basename(name.rstrip("/")))[1].lower()
    if not _PLAIN_SUFFIX.fullmatch(suffix):
        suffix = ""
    return f"archive/{sha256[:2]}/{sha256}{suffix}"


def stage_file(root: str, relative: str, data: bytes, tag: str) -> StagedFile | None:
    """Write received bytes beside their archive name (`relative` to the workspace `root`);
    `make_durable` puts them in place. None when the archive already holds them.

    Plain strings and system calls: the archive process stages every file of a big batch.
    The temporary file is named with `tag`, unique to it in its folder, and created read-only,
    as its archive name will be (this process still writes through its descriptor); its folder
    is made only when creating the file finds none."""
    target = f"{root}/{relative}"
    if os.path.exists(target):
        return None
    folder, _, base = target.rpartition("/")
    temporary = f"{folder}/.{base}.{tag}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(temporary, flags, 0o444)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temporary, flags, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(temporary)  # a full disk leaves no half-written file behind
        raise
    os.close(fd)
    return StagedFile(temporary, target)


# fsync one file after another costs a journal commit each; fsyncs issued together from a
# few threads share commits.
_FSYNC_THREADS = 8


def make_durable(staged: list[StagedFile]) -> None:
    """fsync every staged file, then give each its archive name, read-only.

    A file gets its archive name only once its bytes are on disk, so a name in the archive
    always holds the whole file; on any failure no temporary file is left behind.
    """
    if not staged:
        return
    try:
        if len(staged) == 1:
            _fsync(staged[0].temporary)
        elif not (len(staged) >= _SYNCFS_MIN_FILES and _syncfs(os.path.dirname(staged[0].target))):
            with ThreadPoolExecutor(min(_FSYNC_THREADS, len(staged))) as pool:
                list(pool.map(_fsync, [s.temporary for s in staged]))
        for s in staged:
            os.replace(s.temporary, s.target)
    except BaseException:
        for s in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(s.temporary)
        raise


# From this many files, one syncfs (Linux) instead of an fsync a file: while DuckDB writes
# beside the archive, each fsync also waits for DuckDB's data (ext4 data=ordered).
_SYNCFS_MIN_FILES = 50


def _syncfs(folder: str) -> bool:
    """Flush the whole file system holding `folder` (Linux syncfs); False where there is none."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """The C library's syncfs, looked up once (the symbols this process already loaded)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux
        return None


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def archive_files(workspace: Path, received: list[tuple[str, str, bytes]]) -> None:
    """Archive received (sha256, name, bytes) together: staged, then made durable at once."""
    staged: list[StagedFile] = []
    root, tag = os.fspath(workspace), uuid.uuid4().hex
    try:
        for n, (sha256, name, data) in enumerate(received):
            file = stage_file(root, archive_path(sha256, name), data, f"{tag}.{n}")
            if file:
                staged.append(file)
    except BaseException:
        with contextlib.suppress(OSError):
            make_durable(staged)
        raise
    make_durable(staged)
