"""The Prefect API goes away in the middle of a run: the run stops with a clear message, the
workspace stays consistent, and a rerun finishes with exact totals and nothing counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port, sample_run_command
from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.db import connect
from tonghop.paths import SAMPLE_DIR
from tonghop.periods import PeriodRange
from tonghop.prefect_env import EMBEDDED_DEFAULTS


def _wait_until(ready, what: str, process: subprocess.Popen, seconds: float = 600) -> None:
    """Poll `ready()` until it holds; fail if `process` ends first or, against a hang, after
    `seconds` (a deadline far above what a loaded machine needs, never a guess at its speed)."""
    deadline = time.monotonic() + seconds
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"the process ended (code {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {seconds:.0f} s")
        time.sleep(0.05)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def _packs(archive: Path) -> int:
    """Archive packs made durable with their index (one a chunk of files)."""
    return sum(1 for _ in archive.rglob("*.idx")) if archive.exists() else 0


def test_api_lost_mid_run_then_rerun_gives_exact_totals(tmp_path, reliability):
    port = free_port()
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
    stderr = tmp_path / "run.stderr"  # a file, not a pipe nobody reads while the run goes on
    try:
        _wait_until(lambda: _healthy(api), "a healthy Prefect server", server)
        with open(stderr, "w", encoding="utf-8") as err_file:
            run = subprocess.Popen(
                sample_run_command("2020-H2..2023-H1", workspace, tmp_path / "out"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )
        try:
            # Mid-collect: a first pack of the sample's files archived.
            _wait_until(lambda: _packs(workspace / "archive") > 0, "collect", run)
            os.killpg(server.pid, signal.SIGKILL)  # the API is gone, mid-collect
            server.wait(timeout=60)
            run.wait(timeout=900)  # only against a hang: the run fails on its next API call
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    err = stderr.read_text(encoding="utf-8")
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
