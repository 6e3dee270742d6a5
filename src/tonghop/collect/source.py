"""Listing and reading the source folder: every file received as its bytes, nothing followed."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

import fsspec
import fsspec.implementations.local

from tonghop.numbers import thousands
from tonghop.settings import IntakeSettings

# The default limits (settings `intake:`, docs/intake.md); a report is kilobytes.
LIMITS = IntakeSettings()
MAX_FILE_BYTES = LIMITS.max_file_bytes


@dataclass(frozen=True)
class SourceFile:
    """A file seen at the source: its name relative to the source root and its bytes."""

    name: str
    data: bytes
    problem: str | None = None  # set when the file must not be parsed (a link, too large)
    limits: IntakeSettings = LIMITS  # what it was read within, and is parsed within


def read_source(source: str, limits: IntakeSettings = LIMITS) -> list[SourceFile]:
    """Every file below a folder or fsspec URL, sorted by name; hidden files skipped.

    A symbolic link is never followed (it could point anywhere on the machine): the link
    itself is received and rejected. A file over `limits.max_file_bytes` is received and
    rejected without being parsed: archived when it is within `read_over_limit_times` the
    limit, past that not even read, so that one runaway file cannot take the run's memory (the
    archive keeps a line saying what it was, the file stays in the source folder). Special
    files (pipes, sockets, devices) are received and rejected, never opened.
    """
    fs, root = fsspec.core.url_to_fs(source)
    if not fs.exists(root) or not fs.isdir(root):
        raise FileNotFoundError(f"Không đọc được nguồn dữ liệu: '{source}' không phải là thư mục")
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return _within(_read_local(root, limits), limits)
    root_path = PurePosixPath(root)
    files = []
    for path in sorted(fs.find(root)):
        relative = str(PurePosixPath(path).relative_to(root_path))
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        try:
            size = fs.size(path)
            if size is not None and size > limits.read_at_most_bytes:
                files.append(_too_large(relative, size, limits, "?"))
                continue
            with fs.open(path, "rb") as handle:
                data = _read_at_most(handle, limits, size)
        except FileNotFoundError:
            continue  # gone between listing and reading: see _read_local
        files.append(_source_file(relative, data, limits))
    return _within(files, limits)


def _within(files: list[SourceFile], limits: IntakeSettings) -> list[SourceFile]:
    """The files, each to be parsed within `limits` (a worker elsewhere parses it so too)."""
    if limits == LIMITS:
        return files
    return [dataclasses.replace(f, limits=limits) for f in files]


def _read_local(root: str, limits: IntakeSettings) -> list[SourceFile]:
    """`read_source` for a local folder, with plain system calls (a national batch is many
    files). Whatever one entry is (a pipe, a device, an unreadable or over-long path, a name
    that is not UTF-8), it becomes a received file with its problem, never a failed or hung
    run."""
    files = []
    for relative, path, kind in _local_files(root):
        name = _printable(relative)
        if kind == "file":
            files.append(_read_file(name, path, limits))
        elif kind == "link":
            files.append(_link_file(name, path))
        elif kind.startswith(_FOLDER):
            files.append(_unread(name, kind, f"Không đọc được thư mục '{name}' ({kind})."))
        else:
            files.append(_unread(name, kind, _SPECIAL_PROBLEM.format(name=name, kind=kind)))
        if files[-1] is None:
            files.pop()
        elif name != relative and files[-1].problem is None:
            files[-1] = SourceFile(name, files[-1].data, _NOT_UTF8.format(name=name))
    return files


_FOLDER = "thư mục không liệt kê được"
_NOT_UTF8 = (
    "Tên tệp '{name}' không phải chữ Unicode (UTF-8) hợp lệ, các byte lạ được ghi dạng \\x..; "
    "tệp được lưu nhưng không đọc. Đề nghị đơn vị đặt lại tên tệp và gửi lại."
)
_SPECIAL_PROBLEM = (
    "'{name}' không phải tệp thường ({kind}): tonghop không mở loại này vì có thể treo lần "
    "chạy; đề nghị gửi chính tệp báo cáo."
)
_KINDS = {
    stat.S_IFIFO: "ống dẫn có tên (named pipe)",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "thiết bị ký tự",
    stat.S_IFBLK: "thiết bị khối",
}


def _printable(relative: str) -> str:
    """A name as text: bytes that are not UTF-8 (kept by the OS as surrogates) as `\\xff`."""
    try:
        relative.encode()
    except UnicodeEncodeError:
        return os.fsencode(relative).decode("utf-8", "backslashreplace")
    return relative


def _read_file(name: str, path: str, limits: IntakeSettings) -> SourceFile | None:
    """A regular file's bytes; None when it is gone since it was listed."""
    try:
        # O_NOFOLLOW: a file made a link since it was listed is refused, not followed;
        # O_NONBLOCK: one made a pipe is not waited on (checked as not regular below)
        fd = _open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        # Gone between listing and reading (a unit took its file back): not received;
        # the next run picks up whatever is there then.
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _link_file(name, path)
        return _unread(name, "lỗi", f"Không đọc được tệp '{name}': {exc.strerror}.")
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "tệp đặc biệt")
            return _unread(name, kind, _SPECIAL_PROBLEM.format(name=name, kind=kind))
        if info.st_size > limits.read_at_most_bytes:
            return _too_large(name, info.st_size, limits, str(info.st_mtime_ns))
        try:
            data = _read_at_most(handle, limits, info.st_size)
            after = os.fstat(fd)
        except OSError as exc:
            return _unread(name, "lỗi", f"Không đọc được tệp '{name}': {exc.strerror}.")
        if len(data) <= limits.read_at_most_bytes and (
            len(data) != info.st_size
            or (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns)
        ):
            version = f"đang ghi, {after.st_size} byte, {after.st_mtime_ns}"
            return _unread(name, version, _CHANGING.format(name=name))
        return _source_file(name, data, limits)


# A file whose size or time changed while it was read is still being written (a copy under
# way): what was read is not parsed, since its last line may be cut mid-number, nor received
# as its bytes, which may be whole already and would then be known as rejected; a line stands
# in for it, and the next run reads the file again.
_CHANGING = (
    "Tệp '{name}' thay đổi trong lúc đang được đọc (đang được chép hoặc ghi dở); tệp chưa "
    "được đọc vì dòng cuối có thể bị cắt giữa chừng. Lần chạy sau đọc lại tệp khi đã chép xong."
)


def _read_at_most(handle: BinaryIO, limits: IntakeSettings, size: int | None = None) -> bytes:
    """A file's bytes, at most one past `read_at_most_bytes`: a file that grows while it is
    read is cut there, and then is too large by its length. With `size` (the file's size when
    it was opened), at most one byte past it: more tells that the file grew while it was read.

    The read is asked for no more than that because Python allocates what it is asked for
    before it shrinks it to what it read: a request past malloc's threshold is a memory
    mapping of its own, kept by the bytes, and a national batch's 120,000 such files passed
    the kernel's limit of 65,530 mappings a process (no thread could start after)."""
    wanted = limits.read_at_most_bytes if size is None else min(size, limits.read_at_most_bytes)
    return handle.read(wanted + 1)


def _too_large(name: str, size: int, limits: IntakeSettings, version: str) -> SourceFile:
    """A file far past the size limit, not read: its size and `version` (its modification
    time) tell two such files apart in the archive."""
    return _unread(
        name,
        f"{size} byte, {version}",
        f"Tệp '{name}' dung lượng {thousands(size)} byte, vượt giới hạn {_size_limit(limits)} "
        f"hơn {limits.read_over_limit_times} lần (thiết lập intake.read_over_limit_times); tệp "
        "không được đọc, kho chỉ lưu một dòng ghi nhận thay cho tệp (tệp vẫn nằm ở thư mục "
        "nguồn).",
    )


def _size_limit(limits: IntakeSettings) -> str:
    """The size limit as a reason names it, with its setting."""
    return (
        f"{thousands(limits.max_file_bytes)} byte của một báo cáo (thiết lập "
        f"intake.max_file_bytes = {limits.max_file_bytes})"
    )


def _unread(name: str, kind: str, problem: str) -> SourceFile:
    """A file received without its bytes: what stands in the archive for it says what it was
    (distinct for each name and kind, so two such files are never taken for one)."""
    return SourceFile(name, f"tonghop: không đọc được '{name}' ({kind})".encode(), problem)


def _open(path: str, flags: int) -> int:
    """`os.open`, also for a path longer than the system allows (PATH_MAX): then opened
    folder by folder, each relative to the one before, holding one folder open at a time."""
    try:
        return os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
    *folders, last = path.split("/")
    fd = os.open(folders[0] or "/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for folder in folders[1:]:
            if folder:
                inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = inner
        return os.open(last, flags, dir_fd=fd)
    finally:
        os.close(fd)


def _link_file(relative: str, path: str) -> SourceFile:
    """A symbolic link, received as what it points to and never followed."""
    try:
        target = os.readlink(path)
    except OSError:
        target = ""
    return SourceFile(
        relative,
        os.fsencode(target) or f"tonghop: liên kết '{relative}'".encode(),
        problem=(
            f"Tệp '{relative}' là liên kết tượng trưng tới '{_printable(target)}': tonghop "
            "không đọc theo liên kết; đề nghị gửi chính tệp báo cáo."
        ),
    )


def _source_file(relative: str, data: bytes, limits: IntakeSettings) -> SourceFile:
    problem = None
    if len(data) > limits.read_at_most_bytes:
        problem = (
            f"Tệp '{relative}' lớn dần khi đang được đọc, đã quá "
            f"{thousands(limits.read_at_most_bytes)} byte ({limits.read_over_limit_times} lần "
            f"giới hạn {_size_limit(limits)}); phần đã đọc được lưu nhưng không đọc. Lần chạy "
            "sau đọc lại tệp khi đã chép xong."
        )
    elif len(data) > limits.max_file_bytes:
        problem = (
            f"Tệp '{relative}' dung lượng {thousands(len(data))} byte, vượt giới hạn "
            f"{_size_limit(limits)}; tệp được lưu nhưng không đọc."
        )
    return SourceFile(relative, data, problem=problem)


def _local_files(root: str) -> list[tuple[str, str, str]]:
    """The entries below a local folder, hidden ones left out: (path relative to `root`, path,
    kind), sorted; kind is "file", "link" (to a file or a folder: listed, never followed),
    "folder" (one that cannot be listed) or a special file's kind (a pipe, a socket, a
    device), told by the entry's own type without opening it."""
    root = root.rstrip("/") or "/"
    cut = len(root) + (0 if root.endswith("/") else 1)
    found, folders = [], [root]
    while folders:
        folder = folders.pop()
        try:
            entries = _entries(folder)
        except OSError as exc:
            if folder == root:
                raise  # the source itself: the run cannot start, and says so
            found.append((folder[cut:], folder, f"{_FOLDER}: {exc.strerror}"))
            continue
        for name, entry in entries:
            if name.startswith("."):
                continue
            path = f"{folder}/{name}"
            if entry.is_symlink():
                found.append((path[cut:], path, "link"))
            elif entry.is_dir(follow_symlinks=False):
                folders.append(path)
            elif entry.is_file(follow_symlinks=False):
                found.append((path[cut:], path, "file"))
            else:
                mode = entry.stat(follow_symlinks=False).st_mode
                found.append((path[cut:], path, _KINDS.get(stat.S_IFMT(mode), "tệp đặc biệt")))
    return sorted(found)


def _entries(folder: str) -> list[tuple[str, os.DirEntry]]:
    """A folder's entries by name; a folder deeper than PATH_MAX is listed through its fd."""
    try:
        with os.scandir(folder) as entries:
            return [(e.name, e) for e in entries]
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
    fd = _open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        with os.scandir(fd) as entries:
            listed = [(e.name, e) for e in entries]
            for _, e in listed:  # cache each entry's type while the fd is open
                e.is_symlink()
                e.is_dir(follow_symlinks=False)
                e.is_file(follow_symlinks=False)
                e.stat(follow_symlinks=False)
            return listed
    finally:
        os.close(fd)
