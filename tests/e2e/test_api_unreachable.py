"""The Prefect API goes away in the middle of a run: the run stops with a clear message, the
workspace stays consistent, and a rerun finishes with exact totals and nothing counted twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.db import connect
from tonghop.paths import SAMPLE_DIR
from tonghop.periods import PeriodRange
from tonghop.prefect_env import EMBEDDED_DEFAULTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"Prefect server at {url} did not start")


def test_api_lost_mid_run_then_rerun_gives_exact_totals(tmp_path, reliability):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = (
        os.environ
        | EMBEDDED_DEFAULTS
        | {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": api,
            "PREFECT_CLIENT_MAX_RETRIES": "1",
            "PREFECT_CLIENT_RETRY_JITTER_FACTOR": "0",
        }
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-services",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workspace = tmp_path / "ws"
    try:
        _wait_healthy(api, 120)
        run = subprocess.Popen(
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
                str(tmp_path / "out"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        archive = workspace / "archive"
        while time.monotonic() < deadline and run.poll() is None:
            if archive.exists() and any(archive.rglob("*.idx")):  # a first pack archived
                break
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)  # the API is gone, mid-collect
        server.wait(timeout=30)
        _out, err = run.communicate(timeout=300)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert run.returncode != 0, "the run cannot have finished without its API"
    assert "chạy lại đúng lệnh này" in err

    con = connect(workspace, read_only=True)  # opens: the DuckDB file is consistent
    try:
        orphans = con.execute(
            "select count(*) from submissions s where not exists "
            "(select 1 from received_files f where f.sha256 = s.sha256)"
        ).fetchone()[0]
    finally:
        con.close()
    assert orphans == 0

    period = PeriodRange.parse("2020-H2..2023-H1")
    pipeline.load_registry(workspace, SAMPLE_DIR / "registry.csv")
    files = pipeline.read_source(str(SAMPLE_DIR / "submissions"))
    collected = pipeline.collect_files(workspace, files)
    pipeline.validate_scope(workspace, load_catalog(), period, collected.batch_id, "rerun")
    context = pipeline.consolidate(workspace, load_catalog(), period)
    con = connect(workspace, read_only=True)
    try:
        duplicates = con.execute(
            "select count(*) from (select submission_id, indicator_code, location "
            "from submitted_values group by all having count(*) > 1)"
        ).fetchone()[0]
        received = con.execute("select count(*) from received_files").fetchone()[0]
    finally:
        con.close()
    reliability["faults injected"] += 1
    reliability["runs completed"] += 1
    reliability["values double-counted"] += duplicates
    assert duplicates == 0
    assert received == len({f.data for f in files})
    assert context["cutoff"]["members"] == 14103
    assert context["term"]["members_admitted"] == 2078
