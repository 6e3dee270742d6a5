"""Two runs on one workspace at once: the writer slot serialises them; both complete, no lock
error, nothing counted twice. A waiting writer says who holds the slot; a killed holder's slot
is free again at once."""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path
from uuid import UUID

import pytest

from tests.conftest import sample_run_command
from tonghop.db import connect
from tonghop.locking import WRITER_LIMIT
from tonghop.paths import SAMPLE_DIR
from tonghop.prefect_env import EMBEDDED_DEFAULTS

RUN = """
import json, sys
from pathlib import Path
from tonghop.flows.run import RunParameters, run
s = run(RunParameters(source=sys.argv[1], registry=Path(sys.argv[2]), period=sys.argv[3],
                      workspace=Path(sys.argv[4]), out=Path(sys.argv[5])))
print("SUMMARY" + json.dumps({"loaded": s.files_loaded, "skipped": s.files_skipped,
                              "included": s.units_included}))
"""


@pytest.mark.slow
def test_two_runs_at_once_both_complete_without_duplicates(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = os.environ | EMBEDDED_DEFAULTS | {"PREFECT_API_URL": PREFECT_API_URL.value()}
    workspace = tmp_path / "ws"
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RUN,
                str(SAMPLE_DIR / "submissions"),
                str(SAMPLE_DIR / "registry.csv"),
                "2020-H2..2023-H1",
                str(workspace),
                str(tmp_path / f"out{i}"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [r.communicate(timeout=600) for r in runs]
    for run, (_out, err) in zip(runs, results, strict=True):
        assert "Could not set lock" not in err
        assert run.returncode == 0, err[-3000:]
    summaries = [
        json.loads(next(line for line in out.splitlines() if line.startswith("SUMMARY"))[7:])
        for out, _ in results
    ]
    # Serialised: the first loads every file, the second finds them all known.
    first, second = sorted(summaries, key=lambda s: -s["loaded"])
    assert first["loaded"] > 1000 and first["skipped"] == 0
    assert second["loaded"] == 0 and second["skipped"] >= first["loaded"]
    assert first["included"] == second["included"] > 100  # the same draft from both runs

    con = connect(workspace, read_only=True)
    try:
        duplicated_values = con.execute(
            "select count(*) from (select submission_id, indicator_code, location "
            "from submitted_values group by all having count(*) > 1)"
        ).fetchone()[0]
        duplicated_submissions = con.execute(
            "select count(*) from (select sha256, unit_code, period from submissions "
            "group by all having count(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    assert duplicated_values == 0
    assert duplicated_submissions == 0
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
    assert limit.limit == 1
    assert limit.active_slots == 0  # both runs released the slot


HOLD = """
import sys, time
from pathlib import Path
from prefect import flow
from prefect.context import get_run_context
from tonghop.locking import ensure_writer_limit, writer_slot
from tonghop.settings import NotifySettings

@flow(name="hold-writer-slot")
def hold(workspace: str, timeout: float, seconds: float, smtp_port: int) -> None:
    ensure_writer_limit()
    notify = NotifySettings(smtp_host="127.0.0.1", smtp_port=smtp_port, operators=["it@duk.vn"])
    with writer_slot(Path(workspace), timeout_seconds=timeout, notify=notify):
        run = get_run_context().flow_run
        print("HELD", run.name, run.id, flush=True)
        time.sleep(seconds)

hold(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
print("DONE", flush=True)
"""


def _hold(workspace, env, timeout: float, hold: float, smtp_port: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workspace), str(timeout), str(hold), str(smtp_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_waiting_writer_names_the_holder_and_a_killed_holder_frees_the_slot(
    prefect_api, smtp_server, tmp_path
):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = os.environ | EMBEDDED_DEFAULTS | {"PREFECT_API_URL": PREFECT_API_URL.value()}
    workspace, other = tmp_path / "ws", tmp_path / "ws2"
    holder = _hold(workspace, env, 60, 600)
    try:
        held, name, run_id = holder.stdout.readline().split()
        assert held == "HELD", holder.stderr.read()

        impatient = _hold(workspace, env, 3, 0)
        _out, err = impatient.communicate(timeout=120)
        assert impatient.returncode == 1
        assert "Đang chờ lượt ghi vào kho dữ liệu" in err
        assert f"(đang giữ: {name} (" in err  # the holder's flow run named while waiting
        assert "vẫn đang được một lần chạy khác ghi sau 3 giây chờ" in err

        # A writer of another workspace waits for the server's limit and names the holder too.
        elsewhere = _hold(other, env, 300, 0)
        waiting_line = next(line for line in elsewhere.stderr if "Đang chờ lượt ghi" in line)
        assert f"{other} (đang giữ: {name} (" in waiting_line
        killed_at = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        out, err = elsewhere.communicate(timeout=120)
        waited = time.monotonic() - killed_at

        # The next writer of its own workspace finds its record in the lock file.
        inbox, port = smtp_server
        patient = _hold(workspace, env, 300, 0, port)
        patient_out, patient_err = patient.communicate(timeout=120)
    finally:
        holder.kill()
    assert elsewhere.returncode == 0, err[-3000:]
    assert [line.split()[0] for line in out.splitlines()] == ["HELD", "DONE"]
    assert f"Đã trả lại lượt ghi của lần chạy đã dừng đột ngột: {name} (" in err
    assert waited < 60  # not the lease's expiry: the dead holder's lease was released at once
    assert patient.returncode == 0, patient_err[-3000:]
    assert [line.split()[0] for line in patient_out.splitlines()] == ["HELD", "DONE"]
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(WRITER_LIMIT).active_slots == 0
        killed = client.read_flow_run(UUID(run_id))
    # No worker saw it die: its workspace's next writer marked it Crashed, told the operator.
    assert killed.state.is_crashed()
    assert [e.rcpt_tos for e in inbox.envelopes] == [["it@duk.vn"]]
    notice = email.message_from_bytes(inbox.envelopes[0].content, policy=policy.default)
    assert f"hold-writer-slot/{name} bị lỗi" in notice["Subject"]
    assert "đã dừng đột ngột (kill -9, hết bộ nhớ) khi đang ghi kho dữ liệu" in notice.get_content()


@pytest.mark.slow
def test_status_waits_for_a_running_write_and_a_reader_holds_writers_back(prefect_api, tmp_path):
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from tonghop import pipeline
    from tonghop.cli import app
    from tonghop.locking import reader_slot

    env = os.environ | EMBEDDED_DEFAULTS | {"PREFECT_API_URL": PREFECT_API_URL.value()}
    workspace = tmp_path / "ws"
    pipeline.load_registry(workspace, SAMPLE_DIR / "registry.csv")

    writer = _hold(workspace, env, 60, 8)
    held, name, _run_id = writer.stdout.readline().split()
    assert held == "HELD", writer.stderr.read()
    result = CliRunner().invoke(
        app, ["status", "--workspace", str(workspace), "--period", "2023-H1"]
    )
    writer.communicate(timeout=60)
    # review list waits the same way for a running write (here a second holder)
    writer = _hold(workspace, env, 60, 4)
    assert writer.stdout.readline().startswith("HELD")
    listed = CliRunner().invoke(app, ["review", "list", "--workspace", str(workspace)])
    writer.communicate(timeout=60)
    assert listed.exit_code == 0, listed.output
    assert "Đang chờ lần chạy đang ghi kho dữ liệu" in listed.output
    assert "Không có phát hiện nào phù hợp." in listed.output  # answered once the write ended
    assert "Could not set lock" not in listed.output and "Traceback" not in listed.output
    assert result.exit_code == 0, result.output
    assert "Đang chờ lần chạy đang ghi kho dữ liệu" in result.output
    assert f"đang giữ: {name} (" in result.output
    assert "Could not set lock" not in result.output
    assert "TCCS001" in result.output

    lines: list[str] = []
    with reader_slot(workspace, lines.append):
        blocked = _hold(workspace, env, 3, 0)
        _out, err = blocked.communicate(timeout=120)
    assert lines == []  # nothing was writing
    assert blocked.returncode == 1
    assert "đang giữ: một người đang đọc" in err
    assert "Could not set lock" not in err


@pytest.mark.slow
def test_two_tonghop_run_without_a_server_wait_for_each_other(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    workspace = tmp_path / "ws"

    def tonghop_run(out: str) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tonghop.cli",
                "run",
                "--source",
                str(SAMPLE_DIR / "submissions"),
                "--registry",
                str(SAMPLE_DIR / "registry.csv"),
                "--period",
                "2020-H2..2023-H1",
                "--workspace",
                str(workspace),
                "--out",
                str(tmp_path / out),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    runs = [tonghop_run("out1"), tonghop_run("out2")]
    outputs = [r.communicate(timeout=900)[0] for r in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
        assert "Traceback" not in output and "Could not set lock" not in output
    # each has its own temporary API: the workspace's lock file made them take turns, and the
    # one waiting said so. Both may have waited: the command's check of the workspace before its
    # API starts takes a turn too, so which run waits for the flow's slot is the other race's.
    assert sum("Đang chờ lượt ghi vào kho dữ liệu" in output for output in outputs) >= 1


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines (Linux's /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_text()
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return found


def _ended(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_a_killed_tonghop_run_takes_its_api_server_with_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    run = subprocess.Popen(
        sample_run_command("2020-H2..2023-H1", tmp_path / "ws", tmp_path / "out"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while len(started := _children(run.pid)) < 2:  # the server and its guard
            assert run.poll() is None and time.monotonic() < deadline, "no API server started"
            time.sleep(0.2)
        (server,) = (pid for pid, cmd in started.items() if "uvicorn" in cmd)
        run.send_signal(signal.SIGKILL)  # no exit handler runs
        run.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not all(_ended(pid) for pid in started):
            assert time.monotonic() < deadline, f"left running: {started}"
            time.sleep(0.2)
    finally:
        run.kill()
        run.wait()
    assert _ended(server)
