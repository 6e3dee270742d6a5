"""Against a real `prefect server start` (pytest -m real_server): an auth string keeps
unauthenticated clients out; the deployments of deployments/prefect.yaml run on a process
worker, collect's event triggers validate, and consolidate-and-render writes the draft.
Everything started here is stopped by its process id."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tonghop.paths import SAMPLE_DIR

pytestmark = pytest.mark.real_server

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
AUTH = "tonghop-ci:" + base64.urlsafe_b64encode(os.urandom(12)).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: dict | None = None, auth: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:  # not listening yet
        return 0, None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Prefect server on a free loopback port, temporary PREFECT_HOME, an auth string."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    # A real office server keeps its services (the triggers start `validate`): drop the
    # embedded-run defaults an earlier test of the session may have put in the environment.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_")}
    env = inherited | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_AUTH_STRING": AUTH,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        # No schedules fire during the test: runs are started by the test and the trigger.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _request(f"{api}/health")[0] != 200:
            assert process.poll() is None, (home / "server.log").read_text()
            assert time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(0.5)
        client_env = os.environ | {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": api,
            "PREFECT_API_AUTH_STRING": AUTH,
            "PREFECT_CLI_PROMPT": "false",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        }
        yield api, client_env, home
    finally:
        _stop(process)
        log.close()


def test_unauthenticated_client_is_refused(server):
    api, client_env, _home = server
    assert _request(f"{api}/flows/filter", {})[0] == 401
    assert _request(f"{api}/flows/filter", {}, auth="tonghop-ci:wrong")[0] == 401
    assert _request(f"{api}/flows/filter", {}, auth=AUTH)[0] == 200

    without = {k: v for k, v in client_env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run(
        [*PREFECT, "work-pool", "ls"], env=without, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr
    allowed = subprocess.run(
        [*PREFECT, "work-pool", "ls"], env=client_env, capture_output=True, text=True, timeout=60
    )
    assert allowed.returncode == 0, allowed.stderr


def _flow_runs(api: str, flow_name: str) -> list[dict]:
    status, runs = _request(
        f"{api}/flow_runs/filter",
        {"flows": {"name": {"any_": [flow_name]}}, "sort": "EXPECTED_START_TIME_DESC"},
        auth=AUTH,
    )
    assert status == 200
    return runs


def _params(params: dict) -> str:
    return json.dumps({"params": params})


def _wait_completed(api: str, flow_name: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = _flow_runs(api, flow_name)
        if runs and runs[0]["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            assert runs[0]["state_type"] == "COMPLETED", runs[0]["state"]
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"no completed run of {flow_name} within {seconds} s")


def test_deploy_worker_trigger_and_draft(server, tmp_path):
    api, client_env, home = server
    env = client_env | {
        "TONGHOP_HOME": str(REPO),
        "TONGHOP_SOURCE": str(SAMPLE_DIR / "submissions"),
        "TONGHOP_REGISTRY": str(SAMPLE_DIR / "registry.csv"),
        "TONGHOP_WORKSPACE": str(tmp_path / "ws"),
        "TONGHOP_OUT": str(tmp_path / "out"),
    }

    def prefect(*args: str) -> str:
        done = subprocess.run(
            [*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    prefect("work-pool", "create", "tonghop", "--type", "process")
    prefect("deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    worker_log = open(home / "worker.log", "w")  # noqa: SIM115 - closed after the worker stops
    worker = subprocess.Popen(
        [*PREFECT, "worker", "start", "--pool", "tonghop", "--type", "process"],
        env=env,
        cwd=REPO,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The deployments' periods roll with the date (current-5..current); the sample bloc's
        # are fixed, so these runs name them, as an operator redoing an old report would.
        bloc = {
            "source": env["TONGHOP_SOURCE"],
            "registry": env["TONGHOP_REGISTRY"],
            "workspace": env["TONGHOP_WORKSPACE"],
            "period": "2020-H2..2023-H1",
        }
        prefect("deployment", "run", "tonghop-collect/collect", "--params", _params(bloc))
        collected = _wait_completed(api, "tonghop-collect", 120)
        validated = _wait_completed(api, "tonghop-validate", 120)  # started by the trigger
        assert validated["deployment_id"] and validated["created"] > collected["created"]
        assert validated["parameters"]["params"]["workspace"] == str((tmp_path / "ws").resolve())
        prefect(
            "deployment",
            "run",
            "tonghop-consolidate-render/consolidate-and-render",
            "--params",
            _params(
                {
                    "workspace": bloc["workspace"],
                    "period": bloc["period"],
                    "out": env["TONGHOP_OUT"],
                }
            ),
            "--watch",
            "--watch-timeout",
            "150",
        )
        _wait_completed(api, "tonghop-consolidate-render", 10)
    finally:
        _stop(worker)
        worker_log.close()

    draft = (tmp_path / "out" / "bao-cao.md").read_text(encoding="utf-8")
    assert (
        "Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở, "
        "1.117 chi bộ trực thuộc đảng ủy cơ sở và 14.103"
    ) in " ".join(draft.split())
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert any(f["kind"] == "completeness" for f in findings)
    assert all({"unit_code", "rule_id", "severity", "message"} <= f.keys() for f in findings)
