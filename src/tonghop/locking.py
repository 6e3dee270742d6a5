"""One writer at a time, and who it is: a lock file in the workspace and a Prefect global
concurrency limit around the steps that write a workspace.

DuckDB lets one process open a file for writing, and a process reading it read-only still
conflicts with a writer in another process ("Could not set lock on file"). Two flow runs on
one workspace therefore take the writer slot for every step that opens the database; the
second waits instead of failing. Steps that do not open it (reading the source, rendering)
run outside the slot.

The slot is two locks taken in one order (so two waiters never hold one each):
- the workspace's lock file `.tonghop-writer.lock`, locked with `flock`: the kernel frees it
  the moment its holder dies, and it works without a Prefect server (two `tonghop run` on one
  workspace, each with its own temporary API). It holds the holder's record (flow run, since,
  lease), which the waiting run logs.
- the limit `tonghop-workspace-writer` (1 slot) on the Prefect API, for runs on other machines
  sharing the workspace. Its lease is short and renewed by the holder while it runs; a holder
  killed without releasing it is released by the next writer of its workspace (its lease is in
  the record); a writer of another workspace waiting for the limit reads the holder's record
  from the Prefect Variable `tonghop_writer` and releases the lease of a holder whose process
  is gone (same machine) or whose flow run is over; else the server does once the lease
  expires (60–75 s).

A record left in the lock file when the next writer gets the lock is a holder that died
holding the slot (one that ends empties it). That writer settles it: releases its lease, marks
its flow run Crashed when nothing did (no worker saw it die: `tonghop run` killed, or the
worker died too) and then tells the operator (`notify:`), so even a run killed with `kill -9`
is never silent.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from tonghop.settings import NotifySettings

WRITER_LIMIT = "tonghop-workspace-writer"
# The Prefect Variable naming the limit's holder, for waiters of other workspaces.
HOLDER_VARIABLE = "tonghop_writer"
HOLDER_FILE = ".tonghop-writer.lock"

# A writer waits at most this long: an hour covers the longest step group (validating a
# province's units) with room to spare, and stops a stuck holder from blocking the schedule.
WAIT_SECONDS = 3600
# The Prefect lease: the server's minimum, so a killed holder's slot frees within about a
# minute; renewed three times a lease, so one failed renewal does not lose it.
LEASE_SECONDS = 60
LOG_EVERY_SECONDS = 30
POLL_SECONDS = 1.0


class WriterBusy(TimeoutError):
    """The writer slot stayed taken for the whole wait; the message is Vietnamese."""


def ensure_writer_limit(name: str = WRITER_LIMIT) -> None:
    """Create the limit (1 slot) on the Prefect API if it does not exist; leave one that does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another run may have created it a moment ago.
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


def read_holder(workspace: Path) -> dict | None:
    """The record of the run holding (or, when it died, last holding) the workspace's slot."""
    try:
        text = (workspace / HOLDER_FILE).read_text(encoding="utf-8")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def describe_holder(holder: dict | None) -> str:
    """'<flow run> (<id>), từ <time>' for the waiting line; without a record, readers."""
    if not holder:
        return "một người đang đọc (tonghop status, review) hoặc chưa rõ"
    who = holder.get("flow_run") or f"tiến trình {holder.get('pid')}"
    if holder.get("flow_run_id"):
        who += f" ({holder['flow_run_id']})"
    if holder.get("host"):
        who += f" trên {holder['host']}"
    since = holder.get("since")
    with suppress(TypeError, ValueError):
        since = dt.datetime.fromisoformat(since).strftime("%H:%M:%S %d/%m/%Y")
    return f"{who}, từ {since}"


def _me() -> dict:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx is not None else None
    return {
        "flow": ctx.flow.name if ctx is not None and ctx.flow is not None else None,
        "flow_run": run.name if run is not None else None,
        "flow_run_id": str(run.id) if run is not None else None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "lease_id": None,
    }


def _logger():  # noqa: ANN202 - a logging.Logger or Prefect's run adapter
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_logger, get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("tonghop.locking")


class _Waiting:
    """Log the waiting line at once, then every LOG_EVERY_SECONDS, until the wait's deadline."""

    def __init__(
        self,
        workspace: Path | None,
        timeout_seconds: float,
        say: Callable[[str], None] | None = None,
        doing: str = "Đang chờ lượt ghi vào kho dữ liệu",
    ) -> None:
        self.workspace = workspace
        self.say = say
        self.doing = doing
        self.deadline = time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.next_line = 0.0

    def still(self, holder: Callable[[], str]) -> None:
        """Called while the slot is taken: log when a line is due, give up past the deadline."""
        now = time.monotonic()
        where = f" {self.workspace}" if self.workspace is not None else ""
        if now >= self.deadline:
            raise WriterBusy(
                f"Kho dữ liệu{where} vẫn đang được một lần chạy khác ghi sau "
                f"{self.timeout_seconds:.0f} giây chờ (đang giữ: {holder()}). "
                "Chạy lại khi lần chạy đó xong; nếu nó đã dừng hẳn, lượt ghi được trả lại "
                "trong khoảng một phút."
            )
        if now >= self.next_line:
            line = f"{self.doing}{where} (đang giữ: {holder()})"
            (self.say or _logger().info)(line)
            self.next_line = now + LOG_EVERY_SECONDS
        time.sleep(POLL_SECONDS)


@contextmanager
def _workspace_lock(workspace: Path, waiting: _Waiting, mode: int = fcntl.LOCK_EX) -> Iterator[int]:
    """Hold the workspace's lock file (flock): exclusive for a writer, shared for readers."""
    workspace.mkdir(parents=True, exist_ok=True)
    fd = os.open(workspace / HOLDER_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waiting.still(lambda: describe_holder(read_holder(workspace)))
        if mode == fcntl.LOCK_SH:
            yield fd
            return
        try:
            yield fd
        finally:
            os.ftruncate(fd, 0)  # released in order: no record left for the next writer
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _write_record(fd: int, me: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me, ensure_ascii=False).encode(), 0)


def _settle_dead_holder(
    client,  # noqa: ANN001 - a sync PrefectClient
    record: dict | None,
    workspace: Path,
    notify: NotifySettings | None,
) -> None:
    # The record survives only a holder that died holding the slot (one that finishes empties
    # it), and we hold the file lock: that run is gone, its lease can go at once. Only a holder
    # of this machine: on a network share another machine's file lock may not be seen here.
    if not record or record.get("host") != socket.gethostname():
        return
    if record.get("lease_id"):
        with suppress(Exception):  # already expired and revoked by the server
            client.release_concurrency_slots_with_lease(UUID(record["lease_id"]))
            _logger().warning(
                "Đã trả lại lượt ghi của lần chạy đã dừng đột ngột: %s", describe_holder(record)
            )
    if _mark_crashed(client, record.get("flow_run_id")):
        _tell_operator(record, workspace, notify)


def _mark_crashed(client, flow_run_id: str | None) -> bool:  # noqa: ANN001
    """Mark the dead holder's flow run Crashed unless something did (a worker, whose crash
    hook has told the operator): True when nobody has been told yet."""
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    if not flow_run_id:
        return True
    try:
        run = client.read_flow_run(UUID(flow_run_id))
    except ObjectNotFound:  # another API (a `tonghop run` with its own, gone with it)
        return True
    if run.state is not None and run.state.is_final():
        return False
    client.set_flow_run_state(
        run.id,
        Crashed(message="Tiến trình của lần chạy đã dừng đột ngột khi đang giữ lượt ghi"),
        force=True,
    )
    return True


def dead_holder_notice(record: dict, workspace: Path) -> tuple[str, str, dict]:
    """Subject, body and webhook payload telling the operator that a holder died."""
    from tonghop.notify import failure_message, run_link

    flow = record.get("flow") or "tonghop"
    run = record.get("flow_run") or f"tiến trình {record.get('pid')}"
    error = (
        f"tiến trình {record.get('pid')} trên {record.get('host')} đã dừng đột ngột (kill -9, "
        f"hết bộ nhớ) khi đang ghi kho dữ liệu {workspace}, từ {record.get('since')} / the "
        "process died (killed, out of memory) while writing the workspace"
    )
    link = run_link(record["flow_run_id"]) if record.get("flow_run_id") else str(workspace)
    subject, body = failure_message(flow, run, link, error)
    return subject, body, {"flow": flow, "run": run, "link": link, "error": error}


def _tell_operator(record: dict, workspace: Path, notify: NotifySettings | None) -> None:
    from tonghop.notify import notify as send

    subject, body, payload = dead_holder_notice(record, workspace)
    try:
        sent = send(notify, subject, body, payload) if notify is not None else []
    except Exception:  # our own run goes on; the log says the notice could not go
        _logger().exception("Không gửi được thông báo về lần chạy đã dừng đột ngột")
        return
    _logger().warning(
        "Lần chạy %s đã dừng đột ngột khi đang ghi; đã báo tới: %s",
        describe_holder(record),
        ", ".join(sent) or "(chưa đặt nơi nhận báo lỗi, notify:)",
    )


def _acquire_lease(client, name: str, me: dict, waiting: _Waiting) -> UUID:  # noqa: ANN001
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.exceptions import PrefectHTTPStatusError

    holder = (
        ConcurrencyLeaseHolder(type="flow_run", id=UUID(me["flow_run_id"]))
        if me["flow_run_id"]
        else None
    )
    while True:
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[name],
                slots=1,
                mode="concurrency",
                lease_duration=LEASE_SECONDS,
                holder=holder,
            )
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 423:  # 423 Locked: taken by another run
                raise
            current = server_holder()
            if _release_if_dead(client, current):
                continue  # its slot is free now: ask again at once
            unknown = f"một lần chạy khác; xem: prefect gcl inspect {name}"
            said = describe_holder(current) if current else unknown
            waiting.still(lambda said=said: said)
            continue
        body = response.json()
        if not body.get("limits"):
            raise RuntimeError(f"Chưa có giới hạn đồng thời '{name}' trên máy chủ Prefect")
        return UUID(body["lease_id"])


def server_holder() -> dict | None:
    """The record of the run holding the Prefect limit (the Variable `tonghop_writer`)."""
    from prefect.variables import Variable

    try:
        record = Variable.get(HOLDER_VARIABLE, default=None, _sync=True)
    except Exception:  # a blip: the waiting line says less this once
        return None
    return record if isinstance(record, dict) else None


def _publish_holder(record: dict | None) -> None:
    """Name the holder on the server for waiters of every workspace (None: clear it)."""
    from prefect.variables import Variable

    try:
        if record is None:
            Variable.unset(HOLDER_VARIABLE, _sync=True)
        else:
            Variable.set(HOLDER_VARIABLE, record, overwrite=True, _sync=True)
    except Exception:  # only the waiting line loses the name
        _logger().warning("Chưa ghi được tên lần chạy giữ lượt ghi lên máy chủ Prefect")


def _release_if_dead(client, record: dict | None) -> bool:  # noqa: ANN001
    """Release the lease of a holder that is gone: its process ended on this machine, or its
    flow run is over (a worker reported it Crashed). True when its slot was given back."""
    if not record or not record.get("lease_id") or not _is_dead(client, record):
        return False
    try:
        client.release_concurrency_slots_with_lease(UUID(record["lease_id"]))
    except Exception:  # already released, or expired and revoked by the server
        return False
    _logger().warning(
        "Đã trả lại lượt ghi của lần chạy đã dừng đột ngột: %s", describe_holder(record)
    )
    return True


def _is_dead(client, record: dict) -> bool:  # noqa: ANN001
    if record.get("host") == socket.gethostname() and record.get("pid"):
        try:
            os.kill(int(record["pid"]), 0)
        except ProcessLookupError:
            return True
        except OSError:  # another user's process: alive
            pass
    if not record.get("flow_run_id"):
        return False
    try:
        run = client.read_flow_run(UUID(record["flow_run_id"]))
    except Exception:  # another API, or a blip: not known to be dead
        return False
    return run.state is not None and run.state.is_final()


def _renew(name: str, lease_id: UUID, stop: threading.Event) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                client.renew_concurrency_lease(lease_id, LEASE_SECONDS)
            except Exception:  # a blip: the next renewal, well within the lease, tries again
                _logger().warning("Chưa gia hạn được lượt ghi (%s); sẽ thử lại", name)


@contextmanager
def writer_slot(
    workspace: Path | None = None,
    name: str = WRITER_LIMIT,
    timeout_seconds: float = WAIT_SECONDS,
    notify: NotifySettings | None = None,
) -> Iterator[None]:
    """Hold the writer slot (the workspace's lock file, then the Prefect limit) for a `with`
    block, logging who holds it while we wait; WriterBusy after `timeout_seconds`. A holder
    found dead is settled, the operator told through `notify`."""
    from prefect.client.orchestration import get_client

    me = _me()
    waiting = _Waiting(workspace, timeout_seconds)
    held = _workspace_lock(workspace, waiting) if workspace is not None else _no_file()
    with held as fd, get_client(sync_client=True) as client:
        if fd is not None:
            _settle_dead_holder(client, read_holder(workspace), workspace, notify)
            _write_record(fd, me)
        lease_id = _acquire_lease(client, name, me, waiting)
        record = me | {"lease_id": str(lease_id)}
        if fd is not None:
            _write_record(fd, record)
        _publish_holder(record)
        stop = threading.Event()
        renewer = threading.Thread(target=_renew, args=(name, lease_id, stop), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            _publish_holder(None)  # before the release: a record never names the next holder
            try:
                client.release_concurrency_slots_with_lease(lease_id)
            except Exception:  # the server frees it when the lease expires
                _logger().warning("Chưa trả lại được lượt ghi; máy chủ sẽ tự trả sau một phút")


@contextmanager
def _no_file() -> Iterator[None]:
    yield None


@contextmanager
def workspace_turn(
    workspace: Path, say: Callable[[str], None], timeout_seconds: float = WAIT_SECONDS
) -> Iterator[None]:
    """Hold the workspace's lock file alone for a `with` block, without the Prefect limit: for
    a check before a run's API is up (`tonghop run`), waiting for a running write meanwhile."""
    with _workspace_lock(workspace, _Waiting(workspace, timeout_seconds, say)):
        yield


# A reader waits for a running write this long, then says to try later.
READ_WAIT_SECONDS = 600


@contextmanager
def reader_slot(
    workspace: Path, say: Callable[[str], None], timeout_seconds: float = READ_WAIT_SECONDS
) -> Iterator[None]:
    """Share the workspace's lock file with other readers for a `with` block: wait (saying so
    through `say`) while a run writes, and make the next writer wait until we are done, as
    DuckDB refuses a writer while another process reads the file."""
    waiting = _Waiting(workspace, timeout_seconds, say, "Đang chờ lần chạy đang ghi kho dữ liệu")
    with _workspace_lock(workspace, waiting, fcntl.LOCK_SH):
        yield


def lock_error_message(workspace: Path) -> str:
    """DuckDB's "Could not set lock on file", in Vietnamese, for the workspace and what to do."""
    return (
        f"Tệp dữ liệu của kho {workspace} đang được một tiến trình khác ghi hoặc mở (duckdb, "
        "DBeaver, Python hay một lần chạy ngoài tonghop). Đóng tiến trình đó rồi chạy lại; "
        "các lần chạy của tonghop tự chờ nhau, không cần mở tệp bằng tay khi đang chạy."
    )
