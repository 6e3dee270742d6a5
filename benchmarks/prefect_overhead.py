"""tonghop's `run` flow against a running Prefect server: the whole process, and Prefect's own cost.

    python benchmarks/prefect_overhead.py --units 1000 --repeat 5
    python benchmarks/prefect_overhead.py --units 60000 --repeat 3

Starts `prefect server start` on loopback (its own PREFECT_HOME, time to healthy reported and
not charged to any run), then in this process, as an operator's worker would:

1. collects the previous year without the flow (untimed: the workspace's history);
2. runs it on the new year (timed: "whole run", collect to render, every task through the API);
3. runs it `--repeat` times with nothing new at the source (every file skipped by sha256).

For each run, Prefect's overhead is the flow's wall time minus the time its task runs spent
running, read back from the server (`total_run_time`): creating runs, reporting states, logs,
artifacts and events. Medians go to a marked section of --results (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # benchmarks/unseen_bloc.py

NEW_YEAR, OLD_YEAR = "2024", "2023"
MARKER = "<!-- prefect overhead -->"
LATEST = "<!-- latest run -->"  # benchmarks/run.py's section
QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TELEMETRY_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str, float]:
    """`prefect server start` on loopback; the process, its API URL and seconds to healthy."""
    port = _free_port()
    env = os.environ | QUIET | {"PREFECT_HOME": str(home)}
    env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    started = time.perf_counter()
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
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    while time.perf_counter() - started < 300:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return server, url, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the Prefect server did not become healthy within 300 s")


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server started by `start_server` (killed if it has not stopped in 30 s)."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def _task_seconds(flow_run_id) -> tuple[float, int, list[str]]:  # noqa: ANN001 - a UUID
    """The task runs' time in all, their number, and the run's timeline as table rows: each
    task's start (from the flow's) and time, the parse_chunk runs in one row; collect, when the
    flow parsed itself, from load_registry's end to the next task's start."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    began = flow_run.start_time
    chunks = [r for r in runs if r.name.startswith("parse_chunk")]
    timeline = [
        (
            (r.start_time - began).total_seconds(),
            f"| {r.name.rsplit('-', 1)[0]} | {(r.start_time - began).total_seconds():.2f} | "
            f"{r.total_run_time.total_seconds():.2f} |",
        )
        for r in runs
        if r not in chunks and r.start_time is not None
    ]
    if chunks:
        first = (min(r.start_time for r in chunks) - began).total_seconds()
        last = (max(r.end_time for r in chunks) - began).total_seconds()
        seconds = sum(r.total_run_time.total_seconds() for r in chunks)
        timeline.append(
            (
                first,
                f"| {len(chunks)} × parse_chunk (collect; the last ends at {last:.2f}) | "
                f"{first:.2f} | {seconds:.2f} |",
            )
        )
    registry = [r for r in runs if r.name.startswith("load_registry") and r.end_time]
    if registry and not chunks:  # the flow parsed itself (collect.task_runner: flow)
        began_collect = (registry[0].end_time - began).total_seconds()
        after = [s for s, _ in timeline if s > began_collect]
        if after:
            timeline.append(
                (
                    began_collect,
                    f"| collect (in the flow itself, no task) | {began_collect:.2f} | "
                    f"{min(after) - began_collect:.2f} |",
                )
            )
    rows = [row for _, row in sorted(timeline)]
    print("\n".join(rows), file=sys.stderr)
    return sum(r.total_run_time.total_seconds() for r in runs), len(runs), rows


def timed_run(params) -> dict:  # noqa: ANN001 - flows.run.RunParameters
    from tonghop.flows.run import run

    started = time.perf_counter()
    state = run(params, return_state=True)
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"the run ended {state.type}: {state.message}")
    tasks, count, timeline = asyncio.run(_task_seconds(state.state_details.flow_run_id))
    return {
        "wall": wall,
        "tasks": tasks,
        "overhead": wall - tasks,
        "task_runs": count,
        "timeline": timeline,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The run flow against a running Prefect server.")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--excel-share", type=float, default=0.05)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tonghop-bench"))
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--unseen",
        type=float,
        metavar="SHARE",
        help="the unseen bloc (benchmarks/unseen_bloc.py) with this share of units carrying "
        "findings (0 for the clean one): both years new, nothing collected before the run",
    )
    args = parser.parse_args(argv)

    if args.unseen is not None:
        from unseen_bloc import generate_unseen

        bloc = args.work / f"unseen-{args.units}-{args.unseen}"
        if not (bloc / "truth.json").exists():
            generate_unseen(args.units, bloc, findings_share=args.unseen)
    else:
        from tonghop.generate import generate

        bloc = args.work / f"bloc-{args.units}-x{args.excel_share}"
        if not (bloc / "bloc.json").exists():
            generate(args.units, bloc, excel_share=args.excel_share)
    home = Path(tempfile.mkdtemp(prefix="tonghop-prefect-home-"))
    server, url, start_seconds = start_server(home)
    try:
        os.environ.update(QUIET | {"PREFECT_API_URL": url, "PREFECT_HOME": str(home)})
        from tonghop.flows.run import RunParameters

        workspace = args.work / f"ws-prefect-{args.units}"
        subprocess.run(["rm", "-rf", str(workspace)], check=True)

        def params(year: str) -> RunParameters:
            return RunParameters(
                source=str(bloc / "src" if args.unseen is not None else bloc / "src" / year),
                registry=bloc / "registry.csv",
                period=NEW_YEAR,
                workspace=workspace,
                out=workspace / "out",
            )

        # The previous year as history, outside the flow (through it, every unit would be
        # missing the new year and get a letter).
        from tonghop import pipeline

        if args.unseen is None:  # the unseen bloc's run collects both years
            pipeline.load_registry(workspace, bloc / "registry.csv")
            pipeline.collect_files(workspace, pipeline.read_source(str(bloc / "src" / OLD_YEAR)))
        whole = timed_run(params(NEW_YEAR))
        print(f"whole run: {whole['wall']:.2f} s", file=sys.stderr)
        idle = []
        for i in range(args.repeat):
            idle.append(timed_run(params(NEW_YEAR)))
            print(f"nothing new, run {i + 1}: {idle[-1]['wall']:.2f} s", file=sys.stderr)
    finally:
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # the runs' last logs reach the server before it stops
        stop_server(server)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in idle)

    unseen = f" --unseen {args.unseen}" if args.unseen is not None else ""
    lines = [
        f"`python benchmarks/prefect_overhead.py --units {args.units} --repeat {args.repeat}"
        f"{unseen}`: "
        f"`prefect server start` on loopback became healthy in {start_seconds:.1f} s (not "
        "charged to any run).",
        "",
        "| units | run | wall s | in tasks s | Prefect overhead s | task runs |",
        "|---:|---|---:|---:|---:|---:|",
        f"| {args.units:,} | whole run, new year (collect to render) | {whole['wall']:.2f} | "
        f"{whole['tasks']:.2f} | {whole['overhead']:.2f} | {whole['task_runs']} |",
        f"| {args.units:,} | nothing new (median of {args.repeat}) | {med('wall'):.2f} | "
        f"{med('tasks'):.2f} | {med('overhead'):.2f} | {idle[0]['task_runs']} |",
        "",
        "\"Prefect overhead\" is the flow's wall time less its task runs' time: Prefect's own "
        "cost, plus the flow's work outside tasks — collect archives and writes in the flow "
        "itself, where the CSVs are parsed too (`collect.task_runner: flow`, the default), and "
        "its archive process reads the forms; with nothing new it is hashing the source's files "
        "and Prefect. With new files the whole collect is in that difference, so it says "
        "nothing of Prefect's cost there: the nothing-new runs do.",
        "",
        f"The whole run's tasks (seconds from the flow's start; the flow took {whole['wall']:.2f} "
        "s; `explain_figures` runs beside `check_consolidated` and `write_review`, "
        "`write_review` beside `render` too):",
        "",
        "| task | starts at | takes |",
        "|---|---:|---:|",
        *whole["timeline"],
    ]
    report = "\n".join(lines)
    print(report)
    previous = args.results.read_text(encoding="utf-8") if args.results.exists() else ""
    key = f"{args.units}{unseen}"
    section = f"{MARKER} {key}\n\n{report}\n\n{MARKER} {key} end\n"
    start, end = f"{MARKER} {key}\n", f"{MARKER} {key} end\n"
    if start in previous and end in previous:
        before, rest = previous.split(start, 1)
        previous = before + section + rest.split(end, 1)[1]
    elif unseen:  # beside the unseen blocs' table of run.py --unseen, at the end
        previous = previous.rstrip("\n") + "\n\n" + section
    elif LATEST in previous:  # run.py rewrites what follows its marker: stay above it
        before, rest = previous.split(LATEST, 1)
        previous = f"{before}{section}\n{LATEST}{rest}"
    else:
        previous = previous.rstrip("\n") + "\n\n" + section
    args.results.write_text(previous, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
