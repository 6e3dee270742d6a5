"""Parsing on a Dask cluster against the flow parsing itself, on this machine (issue 27, 5).

    python benchmarks/dask_cluster.py --bloc /work/bench/unseen-6000-0.0 --pairs 3

Starts `prefect server start`, a `dask scheduler` and two `dask worker` processes (one process,
one thread each), all on loopback, then runs the whole `tonghop run` on the bloc (both years
new, an empty workspace) in alternating pairs: with the default settings (`collect.task_runner:
flow`: the flow's process parses the CSVs, its archive process reads the forms) and with
`collect.task_runner: dask` at the scheduler's address (one `parse_chunk` task a chunk on the
workers; archiving and every DuckDB write stay in the flow's process). For each: the command's
wall time and processor time (the Dask processes' not included: they are not its children),
and collect's time read back from the server (from the registry's load to the next task).
Prints a Markdown table of the medians; each run's JSON goes under --scratch.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prefect_overhead import QUIET, start_server, stop_server  # noqa: E402
from unseen_server import whole_run  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int, env: dict[str, str]) -> tuple[list[subprocess.Popen], str]:
    """A `dask scheduler` and `workers` `dask worker` processes on loopback; their processes and
    the scheduler's address, once every worker has joined."""
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **quiet,
    )
    processes = [scheduler]
    for _ in range(workers):
        processes.append(
            subprocess.Popen(
                [dask, "worker", address, "--nworkers", "1", "--nthreads", "1"]
                + ["--memory-limit", "2GiB", "--no-dashboard", "--host", "127.0.0.1"],
                **quiet,
            )
        )
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return processes, address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parsing on a local Dask cluster vs the flow.")
    parser.add_argument("--bloc", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/tonghop-bench-dask"))
    parser.add_argument("--api-url", help="a Prefect server already running (default: one started)")
    args = parser.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="tonghop-dask-prefect-"))
    server, url, _ = (None, args.api_url, 0) if args.api_url else start_server(home)
    env = os.environ | QUIET | {"PREFECT_API_URL": url, "PREFECT_HOME": str(home)}
    processes, address = start_cluster(args.workers, env)
    settings = args.scratch / "dask.yaml"
    settings.write_text(
        f"collect:\n  task_runner: dask\n  dask_address: {address}\n", encoding="utf-8"
    )
    runs: dict[str, list[dict]] = {"flow": [], "dask": []}
    try:
        for i in range(args.pairs):
            for name in ("flow", "dask") if i % 2 == 0 else ("dask", "flow"):
                run = whole_run(
                    args.bloc,
                    args.scratch,
                    url,
                    home,
                    settings=settings if name == "dask" else None,
                    resubmit=False,
                )["whole"]
                runs[name].append(run)
                (args.scratch / f"{name}-{time.time_ns()}.json").write_text(
                    json.dumps(run, default=str), encoding="utf-8"
                )
                print(
                    f"{name}: {run['wall']:.1f} s, collect {run['collect_s']:.1f} s, "
                    f"cpu {run['cpu']:.1f} s, load {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            stop_server(server)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    lines = [
        "| collect.task_runner | whole `tonghop run` s | collect s | command's processor s | "
        "runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (
        ("flow", "flow (default): one process parses, its archive process reads the forms"),
        ("dask", f"dask: `dask scheduler` + {args.workers} `dask worker` on loopback"),
    ):
        lines.append(
            f"| {label} | {med(name, 'wall'):.2f} | {med(name, 'collect_s'):.2f} | "
            f"{med(name, 'cpu'):.2f} | {len(runs[name])} |"
        )
    lines.append(
        f"\ndask / flow: whole {med('dask', 'wall') / med('flow', 'wall'):.2f}×, collect "
        f"{med('dask', 'collect_s') / med('flow', 'collect_s'):.2f}×; load average at the end "
        f"{os.getloadavg()[0]:.1f}."
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
