"""A unit's upload: checked against its link, then collected and validated like any received file.

The upload goes through `tonghop.pipeline.collect_files`, the collect of the source folder
(archived by sha256, superseding the unit's earlier submission, nothing dropped), then the
review queue is synced and the unit validated (`pipeline.validate_scope`, incremental: only
the units touched), all while holding the workspace's lock file (`tonghop.locking`), so a
run writing the workspace is waited for and never meets a DuckDB lock error. With a source
folder (`tonghop serve --source`), the file is first written into it, under
`portal/<unit>/<period>/`, and the whole source is collected, as a scheduled collect would.

One worker thread takes the uploads in order; the page of an upload still waiting for its
turn says who holds the workspace and reloads itself until the result is there.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from tonghop import pipeline
from tonghop.collect import CollectResult, SourceFile, read_chunk
from tonghop.locking import WriterBusy, workspace_turn
from tonghop.periods import PeriodRange
from tonghop.portal.store import PORTAL_DIR, PortalStore

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a unit's report is kilobytes; a form, tens of them
ACCEPTED_SUFFIXES = (".csv", ".xlsx")
# An upload waits this long for the workspace (a run may be writing it), then fails with a
# message saying to send it again: the file itself is kept (UPLOADS_DIR).
WAIT_FOR_WORKSPACE_SECONDS = 1800
UPLOADS_DIR = "tep-da-nhan"  # every uploaded file's bytes, under its sha256, before anything
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


class UploadRefused(ValueError):
    """An upload not taken for this link; the message says why (Vietnamese)."""


def safe_name(name: str) -> str:
    """A file name reduced to letters, digits, dots, dashes (no folder, nothing hidden).

    >>> safe_name("../Báo cáo 2023.xlsx"), safe_name(".x.csv")
    ('Bao-cao-2023.xlsx', 'x.csv')
    """
    import unicodedata

    base = PurePosixPath(name.replace("\\", "/")).name
    ascii_name = unicodedata.normalize("NFKD", base.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    return _UNSAFE.sub("-", ascii_name).strip(".-") or "tep"


def check_upload(name: str, data: bytes, unit_code: str, period: str) -> None:
    """Refuse a file that is not this unit's report for this period (UploadRefused).

    A file that cannot be read at all is not refused here: collect archives it and records
    why, as for a file of the source folder, and the unit's page shows the reason."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UploadRefused(
            f"Tệp '{name}' không nhận: chỉ nhận biểu mẫu Excel (.xlsx) do tonghop tạo hoặc tệp "
            ".csv dạng dài (unit_code,period,indicator_code,value)."
        )
    if not data:
        raise UploadRefused(f"Tệp '{name}' rỗng.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            f"Tệp '{name}' lớn quá {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: không phải một báo cáo."
        )
    (outcome,) = read_chunk([(name, data, None)])
    if outcome[0] != "loaded":
        return
    keys = sorted({key for key, _ in outcome[2]})
    others = [f"đơn vị {u} kỳ {p}" for u, p in keys if (u, p) != (unit_code, period)]
    if others:
        raise UploadRefused(
            f"Tệp '{name}' có số liệu của {', '.join(others)}; đường dẫn này chỉ nhận báo cáo "
            f"của đơn vị {unit_code} kỳ {period}. Tệp không được nạp; đề nghị gửi đúng báo cáo "
            "của đơn vị mình, đúng kỳ."
        )


def validation_range(workspace: Path, period: str) -> PeriodRange:
    """The range the last run consolidated when it holds the period (so validation stays
    incremental: same scope, only the touched unit again), else the period alone."""
    from tonghop.db import open_db
    from tonghop.portal.views import consolidated_range

    with open_db(workspace) as con:
        found = consolidated_range(con)
    if found is not None and period in {p.code for p in found.periods}:
        return found
    return PeriodRange.parse(period)


@dataclass
class Job:
    """One upload waiting for the worker; `done` is set once `state` is final."""

    upload_id: int
    unit_code: str
    period: str
    name: str
    data: bytes
    done: threading.Event = field(default_factory=threading.Event)


def _outcome_message(
    result: CollectResult, name: str, sha256: str, findings: int, errors: int
) -> tuple[str, str]:
    """(state, message) for the unit, from what collect did with its file (`name` there)."""
    for item in result.rejected:
        if item.get("sha256") == sha256:
            return "refused", item["reason"]
    for item in result.notices:
        if item.get("sha256") == sha256:
            return "refused", item["reason"]
    if name not in result.loaded:
        return "done", (
            "Tệp này (cùng nội dung) đã nhận trước đây; kết quả kiểm tra bên dưới là của báo "
            "cáo hiện hành."
        )
    if not findings:
        return "done", "Đã nhận và kiểm tra: không có lỗi hay cảnh báo nào."
    return "done", (
        f"Đã nhận và kiểm tra: {errors} lỗi, {findings - errors} cảnh báo (xem bên dưới)."
    )


class Intake:
    """The portal's upload worker for one workspace (and its source folder, if any)."""

    def __init__(
        self,
        workspace: Path,
        store: PortalStore,
        source: Path | None = None,
        wait_seconds: float = WAIT_FOR_WORKSPACE_SECONDS,
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.source = source
        self.wait_seconds = wait_seconds
        self.kept = workspace / PORTAL_DIR / UPLOADS_DIR
        self._queue: queue.Queue[Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, unit_code: str, period: str, name: str, data: bytes) -> Job:
        """Keep the file's bytes, record the upload and queue it; refused uploads are recorded
        too (UploadRefused is raised after)."""
        sha256 = hashlib.sha256(data).hexdigest()
        self._keep(sha256, name, data)
        try:
            check_upload(name, data, unit_code, period)
        except UploadRefused as exc:
            upload_id = self.store.add_upload(unit_code, period, name, sha256, len(data), "refused")
            self.store.set_upload(upload_id, "refused", str(exc))
            raise
        upload_id = self.store.add_upload(unit_code, period, name, sha256, len(data), "queued")
        job = Job(upload_id, unit_code, period, name, data)
        self._ensure_worker()
        self._queue.put(job)
        return job

    def resume(self) -> int:
        """Queue again the uploads a stopped portal left unprocessed (their bytes were kept
        before they were queued); how many."""
        unfinished = self.store.unfinished_uploads()
        for upload in unfinished:
            data = self._kept_path(upload["sha256"], upload["file_name"]).read_bytes()
            self._ensure_worker()
            self._queue.put(
                Job(upload["upload_id"], upload["unit_code"], upload["period"],
                    upload["file_name"], data)
            )  # fmt: skip
        return len(unfinished)

    def _kept_path(self, sha256: str, name: str) -> Path:
        suffix = PurePosixPath(safe_name(name)).suffix.lower()
        return self.kept / f"{sha256}{suffix if suffix in ACCEPTED_SUFFIXES else '.bin'}"

    def _keep(self, sha256: str, name: str, data: bytes) -> None:
        path = self._kept_path(sha256, name)
        if not path.exists():
            self.kept.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(data)
            temporary.replace(path)

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="tonghop-portal-intake", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                state, message = self.process(job)
            except WriterBusy as exc:
                state, message = "failed", f"{exc} Tệp đã được giữ lại; đề nghị gửi lại sau."
            except Exception as exc:  # noqa: BLE001 - told to the unit and the operator, not lost
                state, message = (
                    "failed",
                    (
                        f"Chưa xử lý được tệp ({type(exc).__name__}: {exc}). Tệp đã được giữ lại "
                        "nguyên vẹn; đề nghị báo cho Văn phòng hoặc gửi lại sau."
                    ),
                )
            self.store.set_upload(job.upload_id, state, message)
            job.done.set()

    def process(self, job: Job) -> tuple[str, str]:
        """Collect and validate one upload, holding the workspace; (state, message)."""

        def waiting(line: str) -> None:
            self.store.set_upload(job.upload_id, "waiting", line)

        sha256 = hashlib.sha256(job.data).hexdigest()
        with workspace_turn(self.workspace, waiting, self.wait_seconds):
            self.store.set_upload(job.upload_id, "queued", "Đang kiểm tra…")
            name, files = self._files(job)
            result = pipeline.collect_files(self.workspace, files)
            scope = validation_range(self.workspace, job.period)
            pipeline.sync_reviews(self.workspace)
            findings = pipeline.validate_scope(
                self.workspace,
                pipeline.load_catalog(),
                scope,
                result.batch_id,
                f"portal-{pipeline.new_run_id()}",
            )
            pipeline.sync_reviews(self.workspace)
        mine = [f for f in findings if (f.unit_code, f.period) == (job.unit_code, job.period)]
        errors = sum(f.severity == "error" for f in mine)
        return _outcome_message(result, name, sha256, len(mine), errors)

    def _files(self, job: Job) -> tuple[str, list[SourceFile]]:
        """The upload's name at the source and the batch to collect: the upload alone, or
        (with a source folder) the whole source once the upload is written into it."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        relative = f"portal/{job.unit_code}/{job.period}/{stamp}-{safe_name(job.name)}"
        if self.source is None:
            return relative, [SourceFile(relative, job.data)]
        target = self.source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")  # hidden: collect skips it
        temporary.write_bytes(job.data)
        temporary.replace(target)
        return relative, pipeline.read_source(str(self.source))

    def wait(self, job: Job, seconds: float) -> bool:
        """Wait up to `seconds` for the job's result; whether it is there."""
        return job.done.wait(seconds)


def warm(say: Callable[[str], None] | None = None) -> None:
    """Start importing Great Expectations, which a first upload's validation needs, now."""
    from tonghop.validate import import_gx_meanwhile

    import_gx_meanwhile()
    if say:
        say("Đang nạp Great Expectations cho lần kiểm tra đầu tiên…")
