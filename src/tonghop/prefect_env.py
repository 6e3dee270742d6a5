"""Prefect for a run without a server: quiet, quick, private, and gone with the run.

Left at its defaults, Prefect's temporary local server starts services a single local run
does not need, which slow its start and log sqlite "database is locked" errors, and it logs
"Failed to send telemetry" errors on a closed network. Operators who point
PREFECT_API_URL at a server keep their own settings: only unset variables get these defaults
(set before Prefect is imported). The demo runs in a Prefect home of its own
(`private_prefect_home`), and a run's temporary server stops when the run's process ends, even
killed (`bound_api_server`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EMBEDDED_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PROACTIVE_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TELEMETRY_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def private_prefect_home() -> Path:
    """Point Prefect at a temporary home of its own, removed at exit, and at no server: the
    demo's runs never reach the operator's server or database (`prefect gcl create` there then
    finds nothing of the demo's). Call before Prefect is imported; drops every PREFECT_
    variable (API URL, profile, database) of the environment."""
    if "prefect" in sys.modules:
        raise RuntimeError("private_prefect_home() must run before Prefect is imported")
    home = Path(tempfile.mkdtemp(prefix="tonghop-prefect-"))
    # Registered first, so it runs last: after the temporary server has stopped.
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    for name in [n for n in os.environ if n.startswith("PREFECT_")]:
        del os.environ[name]
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_PROFILES_PATH"] = str(home / "profiles.toml")
    return home


def apply_embedded_defaults() -> None:
    """Set each default that the environment does not already set."""
    for name, value in EMBEDDED_DEFAULTS.items():
        os.environ.setdefault(name, value)


# Run beside a temporary API server: when the process that started the server ends without
# stopping it (killed: its child is then adopted by another process), stop the server too.
_GUARD = """
import os, signal, sys, time
parent, server = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:  # a zombie (ended, not yet reaped by its new parent) is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
while alive(server) and os.getppid() == parent:
    time.sleep(0.5)
if alive(server):
    os.kill(server, signal.SIGTERM)
    for _ in range(20):
        time.sleep(0.25)
        if not alive(server):
            break
    else:
        os.kill(server, signal.SIGKILL)
"""


def guard_server(pid: int) -> subprocess.Popen:
    """Start a small process that stops the server `pid` once this process is gone (even
    killed with SIGKILL, which runs no exit handler); it ends by itself with the server."""
    return subprocess.Popen(
        [sys.executable, "-I", "-c", _GUARD, str(os.getpid()), str(pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the run's terminal leaves it to do its job
    )


def bound_api_server():  # noqa: ANN201 - a prefect SubprocessASGIServer
    """Prefect's temporary API server for one run, that ends with the run's process."""
    from prefect.server.api.server import SubprocessASGIServer

    class BoundServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:
            process = super()._run_uvicorn_command()
            self.guard = guard_server(process.pid)
            return process

    return BoundServer()
