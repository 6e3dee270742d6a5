"""Listing and reading the source folder: every file received as its bytes, nothing followed."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec
import fsspec.implementations.local


@dataclass(frozen=True)
class SourceFile:
    """A file seen at the source: its name relative to the source root and its bytes."""

    name: str
    data: bytes
    problem: str | None = None  # set when the file must not be parsed (a link, too large)


MAX_FILE_BYTES = 20 * 1024 * 1024  # a report is kilobytes; 20 MB is not a report


def read_source(source: str, max_bytes: int = MAX_FILE_BYTES) -> list[SourceFile]:
    """Every file below a folder or fsspec URL, sorted by name; hidden files skipped.

    A symbolic link is never followed (it could point anywhere on the machine): the link
    itself is received and rejected. A file over `max_bytes` is received and rejected.
    """
    fs, root = fsspec.core.url_to_fs(source)
    if not fs.exists(root) or not fs.isdir(root):
        raise FileNotFoundError(f"Không đọc được nguồn dữ liệu: '{source}' không phải là thư mục")
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return _read_local(root, max_bytes)
    root_path = PurePosixPath(root)
    files = []
    for path in sorted(fs.find(root)):
        relative = str(PurePosixPath(path).relative_to(root_path))
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        try:
            with fs.open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue  # gone between listing and reading: see _read_local
        files.append(_source_file(relative, data, max_bytes))
    return files


def _read_local(root: str, max_bytes: int) -> list[SourceFile]:
    """`read_source` for a local folder: plain system calls, cheaper than fsspec's file objects
    and path objects for the many files of a national batch."""
    files = []
    for relative, path, is_link in _local_files(root):
        if not is_link:
            try:
                # O_NOFOLLOW: a file made a link since it was listed is refused, not followed
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except FileNotFoundError:
                # Gone between listing and reading (a unit took its file back): not received;
                # the next run picks up whatever is there then.
                continue
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
            else:
                with open(fd, "rb") as handle:
                    files.append(_source_file(relative, handle.read(), max_bytes))
                continue
        files.append(_link_file(relative, path))
    return files


def _link_file(relative: str, path: str) -> SourceFile:
    """A symbolic link, received as what it points to and never followed."""
    target = os.readlink(path)
    return SourceFile(
        relative,
        target.encode(),
        problem=(
            f"Tệp '{relative}' là liên kết tượng trưng tới '{target}': tonghop "
            "không đọc theo liên kết; đề nghị gửi chính tệp báo cáo."
        ),
    )


def _source_file(relative: str, data: bytes, max_bytes: int) -> SourceFile:
    problem = None
    if len(data) > max_bytes:
        problem = (
            f"Tệp '{relative}' dung lượng {len(data):,} byte, vượt giới hạn {max_bytes:,} "
            "byte của một báo cáo; tệp được lưu nhưng không đọc."
        )
    return SourceFile(relative, data, problem=problem)


def _local_files(root: str) -> list[tuple[str, str, bool]]:
    """The files below a local folder, hidden ones left out: (path relative to `root`, path,
    whether it is a symbolic link), sorted. Links (to files or folders) are listed, never
    followed."""
    root = root.rstrip("/") or "/"
    cut = len(root) + (0 if root.endswith("/") else 1)
    found, folders = [], [root]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                else:
                    found.append((entry.path[cut:], entry.path, entry.is_symlink()))
    return sorted(found)
