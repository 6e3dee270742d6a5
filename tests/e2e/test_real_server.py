"""Against a real `prefect server start` (pytest -m real_server): an auth string keeps
unauthenticated clients out; the deployments of deployments/prefect.yaml run on a process
worker started outside any checkout, their paths from the settings file the Prefect Variable
names; collect's event triggers validate, consolidate-and-render writes the draft, remind runs
given only `today`, and a run killed with SIGKILL emails the operator (the worker's crash hook).
Everything started here is stopped by its process id."""

from __future__ import annotations

import base64
import email
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email import policy
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


@pytest.fixture(scope="module")
def inbox():
    """A real SMTP server (aiosmtpd) on loopback for the module: (inbox, port)."""
    from tests.conftest import smtp_inbox

    with smtp_inbox() as server:
        yield server


@pytest.fixture(scope="module")
def deployed(server, inbox, tmp_path_factory):
    """The deployments of deployments/prefect.yaml and a process worker, deployed and started
    as docs/operations.md says: the settings file (paths, due dates, SMTP) named by the
    Prefect Variable tonghop_settings, no TONGHOP_* variable anywhere."""
    api, client_env, home = server
    root = tmp_path_factory.mktemp("office")
    settings = root / "settings.yaml"
    settings.write_text(
        json.dumps(
            {
                "paths": {
                    "source": str(SAMPLE_DIR / "submissions"),
                    "registry": str(SAMPLE_DIR / "registry.csv"),
                    "workspace": str(root / "ws"),
                    "out": str(root / "out"),
                },
                "schedule": {"due_dates": {"2023-H1": "2023-06-20"}},
                "notify": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": inbox[1],
                    "operators": ["it@vp.vn"],
                },
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in client_env.items() if not k.startswith("TONGHOP_")}

    def prefect(*args: str) -> str:
        done = subprocess.run(
            [*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    prefect("work-pool", "create", "tonghop", "--type", "process")
    prefect("variable", "set", "tonghop_settings", str(settings))
    prefect("deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    worker_log = open(home / "worker.log", "w")  # noqa: SIM115 - closed after the worker stops
    worker = subprocess.Popen(
        [*PREFECT, "worker", "start", "--pool", "tonghop", "--type", "process"],
        env=env,
        cwd=root,  # anywhere: the flows are modules of the installed package
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield prefect, root
    finally:
        _stop(worker)
        worker_log.close()


# The deployments' periods roll with the date (current-5..current); the sample bloc's are fixed,
# so these runs name them, as an operator redoing an old report would. Nothing else is given:
# the paths come from the settings.
SAMPLE_PERIODS = _params({"period": "2020-H2..2023-H1"})


def test_deploy_worker_trigger_and_draft(server, deployed):
    api, _client_env, _home = server
    prefect, root = deployed
    prefect("deployment", "run", "tonghop-collect/collect", "--params", SAMPLE_PERIODS)
    collected = _wait_completed(api, "tonghop-collect", 120)
    validated = _wait_completed(api, "tonghop-validate", 120)  # started by the trigger
    assert validated["deployment_id"] and validated["created"] > collected["created"]
    assert validated["parameters"]["params"]["workspace"] == str((root / "ws").resolve())
    prefect(
        "deployment",
        "run",
        "tonghop-consolidate-render/consolidate-and-render",
        "--params",
        SAMPLE_PERIODS,
        "--watch",
        "--watch-timeout",
        "150",
    )
    _wait_completed(api, "tonghop-consolidate-render", 10)

    draft = (root / "out" / "bao-cao.md").read_text(encoding="utf-8")
    assert (
        "Đến nay, Đảng bộ có 121 TCCSĐ, trong đó: 93 đảng bộ cơ sở, 28 chi bộ cơ sở, "
        "1.117 chi bộ trực thuộc đảng ủy cơ sở và 14.103"
    ) in " ".join(draft.split())
    findings = json.loads((root / "out" / "findings.json").read_text(encoding="utf-8"))
    assert any(f["kind"] == "completeness" for f in findings)
    assert all({"unit_code", "rule_id", "severity", "message"} <= f.keys() for f in findings)

    # One parameter alone: the deployment's parameters are replaced by it, the rest comes from
    # the settings the Variable names.
    today = _params({"today": "2023-06-17"})
    prefect("deployment", "run", "tonghop-remind/remind", "--params", today, "--watch")
    _wait_completed(api, "tonghop-remind", 10)


def test_a_killed_deployed_run_tells_the_operator(server, deployed, inbox):
    from tonghop.locking import HOLDER_FILE

    api, _client_env, _home = server
    prefect, root = deployed
    received, _port = inbox
    before = len(received.envelopes)
    prefect("deployment", "run", "tonghop-run/run", "--params", SAMPLE_PERIODS)
    lock = root / "ws" / HOLDER_FILE
    deadline = time.monotonic() + 180
    while not (lock.is_file() and lock.read_text(encoding="utf-8").strip()):
        assert time.monotonic() < deadline, "the run never took the writer slot"
        time.sleep(0.2)
    holder = json.loads(lock.read_text(encoding="utf-8"))
    assert holder["flow"] == "tonghop-run"
    os.kill(holder["pid"], signal.SIGKILL)  # the flow run's process, as an out-of-memory kill
    deadline = time.monotonic() + 120
    while len(received.envelopes) == before:
        assert time.monotonic() < deadline, "no notice of the killed run"
        time.sleep(0.5)
    (run,) = [r for r in _flow_runs(api, "tonghop-run") if r["id"] == holder["flow_run_id"]]
    assert run["state_type"] == "CRASHED"
    assert received.envelopes[-1].rcpt_tos == ["it@vp.vn"]
    notice = email.message_from_bytes(received.envelopes[-1].content, policy=policy.default)
    assert (
        notice["Subject"]
        == f"[tonghop] Lần chạy tonghop-run/{holder['flow_run']} bị lỗi / run failed"
    )
