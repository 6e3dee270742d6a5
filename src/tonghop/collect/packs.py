"""Append-only packs: received files stored end to end in one file, found by a sidecar index.

A pack `archive/packs/NAME.pack` holds the bytes of many files one after another; its index
`NAME.idx` has a line `sha256 offset length` a file. A pack is written and fsynced whole before
its index exists, and the index is written under a temporary name, fsynced and then renamed: an
index never names bytes that are not on disk. A crash leaves at most a pack without an index (a
torn pack), which nothing reads and `discard_torn` removes. Names begin with the time written,
so a later pack's copy of a file is found before an earlier one's.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

PACKS_DIR = "archive/packs"


@dataclass(frozen=True)
class Location:
    """Where a file's bytes are: a pack (at an offset) or a loose file (offset 0)."""

    path: str
    offset: int
    length: int


def write_pack(root: str, items: list[tuple[str, bytes]]) -> str:
    """Store (sha256, bytes) end to end in a new pack, durable with its index; its name."""
    folder = f"{root}/{PACKS_DIR}"
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    pack = f"{folder}/{name}.pack"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(pack, flags, 0o444)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        _fsync_dir(os.path.dirname(folder))
        fd = os.open(pack, flags, 0o444)
    lines, offset = [], 0
    try:
        for sha256, data in items:
            _write_all(fd, data)
            lines.append(f"{sha256} {offset} {len(data)}\n")
            offset += len(data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(pack)  # a full disk leaves no torn pack behind
        raise
    os.close(fd)
    # The pack's name must be on disk before an index can name it.
    _fsync_dir(folder)
    temporary = f"{folder}/.{name}.idx.tmp"
    fd = os.open(temporary, flags, 0o444)
    try:
        _write_all(fd, "".join(lines).encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        os.unlink(pack)
        raise
    os.close(fd)
    os.replace(temporary, f"{folder}/{name}.idx")
    _fsync_dir(folder)
    return name


def discard_torn(root: str) -> list[str]:
    """Remove packs without an index and half-written indexes (a crash's leftovers); their
    names. Only while nobody writes the archive (collect holds the workspace's writer slot)."""
    folder = f"{root}/{PACKS_DIR}"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    indexed = {n[: -len(".idx")] for n in names if n.endswith(".idx")}
    torn = [
        n
        for n in names
        if (n.endswith(".pack") and n[: -len(".pack")] not in indexed) or n.endswith(".tmp")
    ]
    for n in torn:
        os.unlink(f"{folder}/{n}")
    return torn


class PackIndex:
    """Every indexed file of a workspace's packs, read again only where packs were added."""

    def __init__(self, root: str) -> None:
        self.folder = f"{root}/{PACKS_DIR}"
        self.loaded: list[str] = []
        self.files: dict[str, Location] = {}

    def refresh(self) -> dict[str, Location]:
        """The index as the packs folder holds it now."""
        try:
            names = sorted(n[: -len(".idx")] for n in os.listdir(self.folder) if n.endswith(".idx"))
        except FileNotFoundError:
            names = []
        if names[: len(self.loaded)] != self.loaded:  # an index removed or an older one added
            self.loaded, self.files = [], {}
        for name in names[len(self.loaded) :]:
            pack = f"{self.folder}/{name}.pack"
            with open(f"{self.folder}/{name}.idx", encoding="ascii") as index:
                for line in index:
                    sha256, offset, length = line.split()
                    self.files[sha256] = Location(pack, int(offset), int(length))
            self.loaded.append(name)
        return self.files


_indexes: dict[str, PackIndex] = {}


def pack_index(root: str) -> dict[str, Location]:
    """The packs' index of the workspace at `root`, kept between calls in this process."""
    index = _indexes.get(root)
    if index is None:
        index = _indexes[root] = PackIndex(root)
    return index.refresh()


def read_location(location: Location) -> bytes | None:
    """The bytes at a location; None when its file is gone or shorter than the index says."""
    try:
        with open(location.path, "rb") as file:
            file.seek(location.offset)
            data = file.read(location.length)
    except FileNotFoundError:
        return None
    return data if len(data) == location.length else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
