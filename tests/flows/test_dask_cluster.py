"""The collect deployment on an external Dask cluster, as an office runs it: `dask scheduler` and
two `dask worker`s started on loopback from the installed package (their working directory a
temporary folder, no checkout on their PYTHONPATH), the flow loaded from the deployment's own
entrypoint (a module of the installed package), its parse tasks run by those workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port
from tonghop.generate import generate
from tonghop.paths import DEPLOYMENTS_DIR

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")


def _entrypoint(name: str) -> str:
    deployments = yaml.safe_load((DEPLOYMENTS_DIR / "prefect.yaml").read_text("utf-8"))
    return next(d["entrypoint"] for d in deployments["deployments"] if d["name"] == name)


@pytest.fixture()
def cluster(tmp_path: Path):
    """A scheduler and two one-thread workers, each its own process group: the address."""
    address = f"tcp://127.0.0.1:{free_port()}"
    cwd = tmp_path / "dask"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    common = {"cwd": cwd, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    port = address.rsplit(":", 1)[1]
    scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
    worker = [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
    processes = [subprocess.Popen(scheduler, start_new_session=True, **common)]
    processes += [subprocess.Popen(worker, start_new_session=True, **common) for _ in range(2)]
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            yield address, client
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def test_the_collect_deployment_parses_on_an_external_cluster(prefect_api, cluster, tmp_path: Path):
    from prefect.flows import load_flow_from_entrypoint

    address, client = cluster
    entrypoint = _entrypoint("collect")
    assert entrypoint.startswith("tonghop.flows.")  # importable on a worker: no checkout needed
    collect = load_flow_from_entrypoint(entrypoint)
    # the workers import the flows from the installed package, not from a folder they run in
    where = client.run(lambda: __import__("tonghop.flows.tasks").flows.tasks.__name__)
    assert sorted(where.values()) == ["tonghop.flows.tasks"] * 2
    assert all("flows" not in p for p in client.run(lambda: os.environ.get("PYTHONPATH", "")))

    bloc = generate(30, tmp_path / "bloc", excel_share=0.1)
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "collect": {"task_runner": "dask", "dask_address": address, "chunk_files": 8},
                "paths": {"registry": str(bloc.registry), "workspace": str(tmp_path / "ws")},
            }
        ),
        encoding="utf-8",
    )
    state = collect(
        {"source": str(bloc.root / "src"), "period": "2024", "settings": str(settings)},
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    files = sum(bloc.files.values())
    assert summary["files_seen"] == files and summary["files_loaded"] == files
    # every chunk was parsed on the cluster: its scheduler ran one parse task a chunk
    done = client.run_on_scheduler(
        lambda dask_scheduler: {
            str(k): sum(p.state_counts[s] for s in ("memory", "released", "forgotten"))
            for k, p in dask_scheduler.task_prefixes.items()
        }
    )
    assert done.get("parse_chunk", 0) >= -(-files // 8), done
