"""The archive: received bytes kept untouched, found by their sha256 (SPEC §4.5).

New files go into append-only packs (`tonghop.collect.packs`), made durable once a pack; a
workspace written before packs keeps its loose files (`archive/ab/<sha256>.csv`), read as well,
until `pack_loose` moves them into packs. Everything that reads archived bytes goes through
`read_archived`, `check_archive` or `verify_archive`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tonghop.collect.packs import (
    PACKS_DIR,
    Location,
    discard_torn,
    pack_index,
    read_location,
    write_pack,
)

_PLAIN_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def archive_path(sha256: str, name: str) -> str:
    """The archived name of received bytes, relative to the workspace: their hash, and the
    file's suffix when it is a plain one. Where a loose file lives; the name `rejected.json`
    gives whether the bytes are loose or in a pack. Text, not a path object: collect names
    every file of a national batch.

    >>> archive_path("ab12", "Báo cáo.CSV"), archive_path("ab12", "x.c$v")
    ('archive/ab/ab12.csv', 'archive/ab/ab12')
    >>> archive_path("ab12", "dir/.CSV"), archive_path("ab12", "Báo cáo..CSV")
    ('archive/ab/ab12', 'archive/ab/ab12.csv')
    """
    suffix = posixpath.splitext(posixpath.basename(name.rstrip("/")))[1].lower()
    if not _PLAIN_SUFFIX.fullmatch(suffix):
        suffix = ""
    return f"archive/{sha256[:2]}/{sha256}{suffix}"


def archive_files(workspace: Path, received: list[tuple[str, str, bytes]]) -> None:
    """Archive received (sha256, name, bytes) together in one pack, durable before this
    returns; bytes the archive already holds are not stored again."""
    root = os.fspath(workspace)
    packed = pack_index(root)
    new: dict[str, bytes] = {}
    for sha256, name, data in received:
        loose = f"{root}/{archive_path(sha256, name)}"
        if sha256 in packed or sha256 in new or os.path.exists(loose):
            continue
        new[sha256] = data
    if new:
        write_pack(root, list(new.items()))


def restore_files(workspace: Path, received: list[tuple[str, bytes]]) -> None:
    """Archive (sha256, bytes) again whatever the index says: a newer pack's copy is read first."""
    if received:
        write_pack(os.fspath(workspace), received)


def discard_torn_packs(workspace: Path) -> list[str]:
    """Remove what a crash left half-written in the archive (nothing indexed names it)."""
    return discard_torn(os.fspath(workspace))


def read_archived(
    workspace: Path, sha256: str, packed: dict | None = None, loose: dict | None = None
) -> bytes | None:
    """The archived bytes of a sha256: a copy whose hash matches, else an altered copy, else
    None (`packed`, `loose`: as `_locations`)."""
    altered = None
    for location in _locations(os.fspath(workspace), sha256, packed, loose):
        data = read_location(location)
        if data is None:
            continue
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
        altered = data
    return altered


def check_archive(workspace: Path, expected: Iterable[tuple[str, int]]) -> list[str]:
    """The sha256s among (sha256, size) the archive does not hold at their size: a cheap check
    (a stat a pack or loose file), run by every collect; `verify_archive` re-hashes."""
    root = os.fspath(workspace)
    packed, loose = pack_index(root), _loose_files(root)
    sizes: dict[str, int] = {}
    missing = []
    for sha256, size in expected:
        if not any(
            location.length == size and location.offset + size <= _size(sizes, location.path)
            for location in _locations(root, sha256, packed, loose)
        ):
            missing.append(sha256)
    return missing


def verify_archive(workspace: Path, expected: Iterable[str]) -> dict[str, str]:
    """Re-hash every expected file: `missing` or `altered` for those the archive does not hold
    byte for byte."""
    root = os.fspath(workspace)
    packed, loose = pack_index(root), _loose_files(root)
    problems = {}
    for sha256 in expected:
        data = read_archived(workspace, sha256, packed, loose)
        if data is None:
            problems[sha256] = "missing"
        elif hashlib.sha256(data).hexdigest() != sha256:
            problems[sha256] = "altered"
    return problems


# A migration's pack is sealed once it holds this many bytes: memory stays bounded.
PACK_MAX_BYTES = 64 * 1024 * 1024


def pack_loose(workspace: Path) -> tuple[int, list[str]]:
    """Move loose archived files into packs, each removed once its pack is durable; the number
    moved and the loose files left because their bytes no longer match their name."""
    root = os.fspath(workspace)
    discard_torn(root)
    moved, altered, size = 0, [], 0
    batch: list[tuple[str, bytes]] = []
    paths: list[str] = []
    packed = pack_index(root)
    for sha256, path in sorted(_loose_files(root).items()):
        with open(path, "rb") as file:
            data = file.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            altered.append(path)
            continue
        if sha256 not in packed:
            batch.append((sha256, data))
            size += len(data)
        paths.append(path)
        if size >= PACK_MAX_BYTES:
            moved += _seal(root, batch, paths)
            batch, paths, size = [], [], 0
    moved += _seal(root, batch, paths)
    for folder in Path(root, "archive").glob("??"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return moved, altered


def _seal(root: str, batch: list[tuple[str, bytes]], paths: list[str]) -> int:
    if batch:
        write_pack(root, batch)
    for path in paths:
        os.unlink(path)
    return len(paths)


def _locations(
    root: str, sha256: str, packed: dict | None = None, loose: dict | None = None
) -> Iterator[Location]:
    """Where a sha256's bytes may be, the newest pack first, then a loose file (`packed` and
    `loose`: the archive's contents listed once for many files)."""
    location = (pack_index(root) if packed is None else packed).get(sha256)
    if location is not None:
        yield location
    path = _loose_file(root, sha256) if loose is None else loose.get(sha256)
    if path is not None:
        yield Location(path, 0, os.stat(path).st_size)


def _loose_file(root: str, sha256: str) -> str | None:
    folder = f"{root}/archive/{sha256[:2]}"
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for name in names:
        if name == sha256 or name.startswith(f"{sha256}."):
            return f"{folder}/{name}"
    return None


def _loose_files(root: str) -> dict[str, str]:
    """Every loose archived file, by the sha256 its name gives."""
    found = {}
    archive = f"{root}/archive"
    folders = os.listdir(archive) if os.path.isdir(archive) else []
    for folder in folders:
        if len(folder) != 2 or f"archive/{folder}" == PACKS_DIR:
            continue
        for name in os.listdir(f"{archive}/{folder}"):
            if not name.startswith("."):
                found[name.partition(".")[0]] = f"{archive}/{folder}/{name}"
    return found


def _size(sizes: dict[str, int], path: str) -> int:
    if path not in sizes:
        try:
            sizes[path] = os.stat(path).st_size
        except FileNotFoundError:
            sizes[path] = -1
    return sizes[path]
