"""Collect's orchestration: archive, parse and load every new file of a batch, in order."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from tonghop.collect.archive import (
    archive_files,
    archive_path,
    check_archive,
    discard_torn_packs,
    restore_files,
)
from tonghop.collect.identity import HELD, Hold, Intake
from tonghop.collect.load import (
    WRITE_MIN_VALUES,
    _checkpoints_deferred,
    _gc_paused,
    _Rows,
    _rows_of,
    _write,
)
from tonghop.collect.parsing import Outcome, ParseChunks, Received, _is_csv, read_chunk
from tonghop.collect.source import LIMITS, SourceFile
from tonghop.collect.values import Groups


@dataclass
class CollectResult:
    """What one collect run did, file by file."""

    batch_id: str
    seen: int = 0
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    # files held for review (`Intake.judge`): read, not loaded; also findings once validated
    held: list[dict] = field(default_factory=list)
    # old files seen again after a newer one superseded them (`Intake.restored`): not loaded
    notices: list[dict] = field(default_factory=list)
    # received files the archive no longer held at this run's check (`check_received`)
    archive: list[dict] = field(default_factory=list)


# Files archived and parsed together; also one parse task's share.
CHUNK_FILES = 500


def collect(
    con: duckdb.DuckDBPyConnection,
    workspace: Path,
    files: list[SourceFile],
    batch_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_files: int = CHUNK_FILES,
    parse: ParseChunks | None = None,
    parse_forms: bool = False,
) -> CollectResult:
    """Archive, parse and load every new file; a file already received (same sha256) is skipped.

    Every new file is archived: before it is parsed, or for a big batch by a process of its
    own while this one parses (`_archiver`). Its rows are written together with its
    `received_files` row, in one transaction for whole chunks of files (`WRITE_MIN_VALUES`),
    and only once those chunks' archived bytes are on disk: a crash leaves every file wholly
    loaded or not at all, and a rerun completes the job without counting twice. By default
    files are parsed here, one chunk at a time; with `parse`, the chunks of new files are
    parsed by it instead (on a task runner's workers); archiving, `seq` and every write still
    happen here, in file order, so the rows are the same whoever parsed them. The forms
    (every new file but CSV) are read by the archiver, after archiving them
    (`archive_and_read`), unless `parse_forms` says they are parsed with the CSVs (a cluster
    with cores to spare).
    """
    discard_torn_packs(workspace)
    with _gc_paused(), _checkpoints_deferred(con):
        result = _collect(
            con, workspace, files, batch_id, progress, chunk_files, parse, parse_forms
        )
    result.archive = check_received(con, workspace, files)
    result.rejected += [p for p in result.archive if not p["restored"]]
    return result


def check_received(
    con: duckdb.DuckDBPyConnection, workspace: Path, files: list[SourceFile]
) -> list[dict]:
    """Every received file the archive does not hold at its size, restored from `files` (the
    source) when they still have its bytes; one entry each, for the operator.

    A presence and length check, cheap enough for every run; `tonghop archive verify`
    re-hashes every byte."""
    received = con.execute(
        "select sha256, size_bytes, original_name, archive_path from received_files "
        "order by received_at, original_name"
    ).fetchall()
    missing = set(check_archive(workspace, [(sha256, size) for sha256, size, *_ in received]))
    if not missing:
        return []
    source, sizes = {}, {size for sha256, size, *_ in received if sha256 in missing}
    for file in files:
        if len(file.data) in sizes:
            sha256 = hashlib.sha256(file.data).hexdigest()
            if sha256 in missing:
                source[sha256] = file.data
    restore_files(workspace, list(source.items()))
    still = set(check_archive(workspace, [(s, len(d)) for s, d in source.items()]))
    return [
        {
            "file": name,
            "archived_as": archived,
            "sha256": sha256,
            "restored": sha256 in source and sha256 not in still,
            "reason": (
                ARCHIVE_RESTORED if sha256 in source and sha256 not in still else ARCHIVE_MISSING
            ),
        }
        for sha256, _, name, archived in received
        if sha256 in missing
    ]


ARCHIVE_MISSING = (
    "Tệp đã nhận không còn nguyên trong kho lưu trữ (bị mất hoặc bị thay đổi) và nguồn không "
    "còn đúng nội dung đó: cần khôi phục kho lưu trữ từ bản sao lưu hoặc đề nghị đơn vị gửi lại"
)
ARCHIVE_RESTORED = (
    "Tệp đã nhận không còn nguyên trong kho lưu trữ; đã lưu lại từ nguồn (cùng nội dung, cùng "
    "sha256)"
)


def _collect(
    con: duckdb.DuckDBPyConnection,
    workspace: Path,
    files: list[SourceFile],
    batch_id: str | None,
    progress: Callable[[int, int], None] | None,
    chunk_files: int,
    parse: ParseChunks | None,
    parse_forms: bool,
) -> CollectResult:
    result = CollectResult(batch_id=batch_id or uuid.uuid4().hex[:12])
    known = dict(con.execute("select sha256, status from received_files").fetchall())
    reasons = dict(
        con.execute(
            "select sha256, [reason, archive_path, original_name] from received_files "
            "where status = 'rejected'"
        ).fetchall()
    )
    seq = con.execute("select coalesce(max(seq), 0) + 1 from submissions").fetchone()[0]
    intake = Intake.of(con)
    pending = _Rows()
    windows = [files[start : start + chunk_files] for start in range(0, len(files), chunk_files)]
    window_hashes = [[hashlib.sha256(f.data).hexdigest() for f in w] for w in windows]
    window_new = _first_sightings(window_hashes, known)
    # Each window's new files: those parsed here or by `parse`, and the forms the archiver reads.
    split = [_split(w, new, parse_forms) for w, new in zip(windows, window_new, strict=True)]
    chunks = ([_received(w[i]) for i in here] for w, (here, _) in zip(windows, split, strict=True))
    # Lazy: the default parser reads a window only when the loop asks for its outcomes.
    outcomes = parse(chunks) if parse is not None else map(read_chunk, chunks)
    done = 0
    archiver = _archiver(sum(len(new) for new in window_new))
    jobs = (
        _archive_job(archiver, workspace, w, hashes, new, forms)
        for w, hashes, new, (_, forms) in zip(
            windows, window_hashes, window_new, split, strict=True
        )
    )
    ahead = deque(itertools.islice(jobs, ARCHIVE_AHEAD))
    archiving: list[Future] = []
    try:
        for window, hashes, new, (here, forms) in zip(
            windows, window_hashes, window_new, split, strict=True
        ):
            job = ahead.popleft()
            ahead.extend(itertools.islice(jobs, 1))
            archiving.append(job)
            archived = {hashes[i]: archive_path(hashes[i], window[i].name) for i in new}
            read = dict(zip(here, next(outcomes), strict=True))
            if forms:
                read.update(zip(forms, job.result(), strict=True))
            for i, (source_file, sha256) in enumerate(zip(window, hashes, strict=True)):
                result.seen += 1
                now = datetime.now()
                pending.sightings.append([sha256, source_file.name, now, result.batch_id])
                if i not in read:
                    result.skipped.append(source_file.name)
                    notice = intake.restored(sha256, source_file.name)
                    if notice:
                        entry = {"file": source_file.name, "sha256": sha256, "reason": notice}
                        result.notices.append(entry)
                        pending.notices.append(
                            [sha256, source_file.name, now, result.batch_id, notice]
                        )
                else:
                    warnings: list[str] = []
                    outcome = _judged(intake, source_file.name, read[i])
                    if outcome[0] == "held":  # recorded as rejected, and its holds kept
                        _, hold, groups = outcome
                        pending.holds += _holds_of(sha256, hold, groups, now, result.batch_id)
                        outcome = ("rejected", hold.reason)
                    if outcome[0] == "rejected":
                        status, reason = "rejected", outcome[1]
                        reasons[sha256] = [reason, archived[sha256], source_file.name]
                    else:
                        status, reason = "loaded", None
                        _, file_format, groups, warnings = outcome
                        subs = _rows_of(
                            sha256,
                            source_file.name,
                            file_format,
                            groups,
                            now,
                            result.batch_id,
                            seq,
                            pending.values,
                        )
                        seq += len(subs)
                        intake.loaded(sha256, source_file.name, now, groups)
                        pending.submissions += subs
                        result.loaded.append(source_file.name)
                    pending.files.append(
                        [
                            sha256,
                            archived[sha256],
                            source_file.name,
                            len(source_file.data),
                            now,
                            status,
                            reason,
                            warnings,
                        ]
                    )
                    known[sha256] = status
                if known[sha256] == "rejected":
                    reason, archived_as, first = reasons[sha256]
                    reason = reason.replace(f"'{first}'", f"'{source_file.name}'")
                    (result.held if reason.startswith(HELD) else result.rejected).append(
                        {
                            "file": source_file.name,
                            "archived_as": archived_as,
                            "sha256": sha256,
                            "reason": reason,
                        }
                    )
                done += 1
                if progress:
                    progress(done, len(files))
            if len(pending.values[0]) >= WRITE_MIN_VALUES:
                _wait(archiving)
                archiving = []
                _write(con, pending)
                pending = _Rows()
        _wait(archiving)
        _write(con, pending)
    except BaseException:
        # What was received is kept even when loading fails (the rerun loads it): the archive
        # finishes the files it was given.
        for future in [*archiving, *ahead]:
            with contextlib.suppress(Exception):
                future.result()
        raise
    finally:
        archiver.shutdown()
    return result


# From this many new files the archive is written by a process of its own (`_archiver`).
ARCHIVE_PROCESS_MIN_FILES = 2000


def _archiver(new_files: int) -> Executor:
    """Who writes the archive: a process of its own for a big batch, else this thread.

    A process writes the archive while this one parses and writes rows: it waits on the disk,
    this one on the processor, so the two overlap. Not a thread: it
    would wait for the interpreter lock after every system call, while parsing holds it. A
    chunk's rows are still written only once its files are durable in the archive.
    """
    if new_files < ARCHIVE_PROCESS_MIN_FILES:
        return _InThisThread()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))


class _InThisThread(Executor):
    """Runs what it is given at once, in the caller's thread (a done Future)."""

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to whoever waits, as a pool would; an interrupt is not
            future.set_exception(exc)
        return future


# Chunks given to the archiver before the loop reaches them, so that it is never idle.
ARCHIVE_AHEAD = 3


def _received(file: SourceFile) -> Received:
    """A file to parse; its limits only when they are not the defaults."""
    if file.limits is LIMITS:
        return (file.name, file.data, file.problem)
    return (file.name, file.data, file.problem, file.limits)


def _split(window: list[SourceFile], new: list[int], parse_forms: bool) -> tuple[list, list]:
    """The positions of a window's new files parsed by collect (or `parse`): the CSVs, or
    every one with `parse_forms`; and those the archiver reads: the forms."""
    here, forms = [], []
    for i in new:
        (here if parse_forms or _is_csv(window[i].name) else forms).append(i)
    return here, forms


def _archive_job(
    archiver: Executor,
    workspace: Path,
    window: list[SourceFile],
    hashes: list[str],
    new: list[int],
    forms: list[int],
) -> Future:
    """Give a window's new files to the archiver, and its `forms` to read as well: the
    future's result is their outcomes, in order, once every new file is archived."""
    received = [(hashes[i], window[i].name, window[i].data) for i in new]
    return archiver.submit(
        archive_and_read, workspace, received, [_received(window[i]) for i in forms]
    )


def archive_and_read(
    workspace: Path, received: list[tuple[str, str, bytes]], items: list[Received]
) -> list[Outcome]:
    """Archive received files (`archive_files`), then parse `items` (`read_chunk`).

    The archive process of a big batch reads its forms: a form costs many times a CSV to
    parse, and that process has a core of its own, so the two processes are about as busy."""
    archive_files(workspace, received)
    return read_chunk(items)


def _judged(intake: Intake, name: str, outcome: Outcome) -> Outcome:
    """A parsed file's outcome once judged against the workspace (`Intake.judge`): a file
    held for review is ("held", hold, groups); a loaded one gains the judge's warnings."""
    if outcome[0] != "loaded":
        return outcome
    _, file_format, groups, warnings = outcome
    held, more = intake.judge(name, groups)
    if held:
        return ("held", held, groups)
    return ("loaded", file_format, groups, [*warnings, *more])


def _holds_of(sha256: str, hold: Hold, groups: Groups, at: datetime, batch_id: str) -> list[list]:
    """The `held_files` rows of a held file: one per (unit, period) it holds values of, with
    the place of its first value there (where the file says whose it is), and one per unit
    its name names instead (`Hold.named`) and period it holds."""
    rows = [
        [sha256, unit, period, hold.kind, values[0][3] if values else None, at, batch_id]
        for (unit, period), values in groups
    ]
    periods = sorted({period for (_, period), _ in groups})
    return rows + [
        [sha256, unit, period, hold.kind, None, at, batch_id]
        for unit in hold.named
        for period in periods
    ]


def _wait(futures: list[Future]) -> None:
    for future in futures:
        future.result()


def _first_sightings(window_hashes: list[list[str]], known: dict[str, str]) -> list[list[int]]:
    """For each window, the positions of the files to parse: first sightings of a new hash.

    >>> _first_sightings([["a", "b", "a"], ["b", "c"]], {"a": "loaded"})
    [[1], [1]]
    """
    seen = set(known)
    out = []
    for hashes in window_hashes:
        new = []
        for i, sha256 in enumerate(hashes):
            if sha256 not in seen:
                seen.add(sha256)
                new.append(i)
        out.append(new)
    return out
