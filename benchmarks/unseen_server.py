"""The whole `tonghop run` against a running Prefect server, as an operator runs it.

`benchmarks/run.py --unseen` starts one `prefect server start` on loopback (its own
PREFECT_HOME; its time to healthy reported, charged to no run) and, for each unseen bloc, runs
the `tonghop` command in a fresh process (`tonghop run --source BLOC/src --registry … --period
2024`, both years new, an empty workspace), then one unit's resubmission through the same
command (a source folder holding only that unit's corrected 2024 CSV, the workspace of the
whole run). Each is timed from the command's start to its exit (interpreter start and imports
included), with the peak resident memory of the command's process tree (`wait4`: the largest
process, the archive process included). The flow's task runs are read back from the server:
the time in each task, and the flow's time outside them (collect, which archives in the flow
itself, and Prefect's own cost).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from prefect_overhead import QUIET, start_server  # noqa: F401 - re-exported for run.py

PERIOD = "2024"


def tonghop_command() -> list[str]:
    """The `tonghop` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "tonghop"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tonghop.cli import app; app()"]


def run_command(args: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `tonghop …` to its end: wall seconds, peak MB of its process tree, exit status."""
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen([*tonghop_command(), *args], env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"tonghop {args[0]} ended {process.returncode}:\n{tail}")
    return {
        "wall": wall,
        "peak_mb": usage.ru_maxrss / 1024,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def corrected_unit(bloc: Path, folder: Path) -> Path:
    """One unit's 2024 CSV sent again with one value changed (as unseen._resubmit writes it)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = next(p for p in sorted((bloc / "src" / PERIOD).iterdir()) if p.suffix == ".csv")
    text = first.read_text(encoding="utf-8-sig")
    lines = [
        line.replace(",candidates_trained,", ",candidates_trained,1", 1)
        for line in text.splitlines(keepends=True)
    ]
    path = folder / f"nop-lai-{first.name}"
    path.write_text("".join(lines), encoding="utf-8")
    return path


async def _flow_tasks(api_url: str, workspace: Path) -> dict:
    """The latest flow run on this workspace: its time and the seconds in its task runs, by
    task name."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    async with PrefectClient(api_url) as client:
        recent = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=20)
        flow_run = next(r for r in recent if str(workspace) in str(r.parameters))
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    by_task: dict[str, float] = defaultdict(float)
    for r in runs:
        by_task[r.name.rsplit("-", 1)[0]] += r.total_run_time.total_seconds()
    flow_s = flow_run.total_run_time.total_seconds()
    # collect: from the registry's load to the first task after it (validate's sync)
    registry = [r.end_time for r in runs if r.name.startswith("load_registry") and r.end_time]
    after = [
        r.start_time
        for r in runs
        if r.start_time
        and registry
        and r.start_time > registry[0]
        and not r.name.startswith("parse_chunk")
    ]
    collect_s = (min(after) - registry[0]).total_seconds() if after else None
    return {
        "state": flow_run.state_type.value if flow_run.state_type else "",
        "flow_s": flow_s,
        "collect_s": collect_s,
        "task_runs": len(runs),
        "tasks": dict(by_task),
    }


def whole_run(
    bloc: Path,
    scratch: Path,
    api_url: str,
    home: Path,
    settings: Path | None = None,
    resubmit: bool = True,
    env: dict[str, str] | None = None,
) -> dict:
    """One whole `tonghop run` on the bloc (both years new, an empty workspace), then one
    unit's resubmission through the same command; their times, peaks and task runs."""
    name = bloc.name
    workspace, out = scratch / f"ws-run-{name}", scratch / f"ws-run-{name}-out"
    for folder in (workspace, out):
        shutil.rmtree(folder, ignore_errors=True)
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") and k != "TONGHOP_SETTINGS"
    }
    environment |= QUIET | {"PREFECT_API_URL": api_url, "PREFECT_HOME": str(home)}
    environment |= env or {}
    common = ["--registry", str(bloc / "registry.csv"), "--period", PERIOD]
    common += ["--workspace", str(workspace), "--out", str(out)]
    if settings is not None:
        common += ["--settings", str(settings)]
    logs = scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.time_ns()
    whole = run_command(
        ["run", "--source", str(bloc / "src"), *common], environment, logs / f"{name}-{stamp}.log"
    )
    whole |= asyncio.run(_flow_tasks(api_url, workspace))
    if not resubmit:
        return {"whole": whole}
    again = corrected_unit(bloc, scratch / f"again-{name}")
    resubmission = run_command(
        ["run", "--source", str(again.parent), *common],
        environment,
        logs / f"{name}-{stamp}-again.log",
    )
    resubmission |= asyncio.run(_flow_tasks(api_url, workspace))
    return {"whole": whole, "resubmission": resubmission}


def _med(values: list[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


def _s(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def server_table(
    units: int,
    server: dict[str, list[dict]],
    stages: dict[str, list[dict]],
    naive: dict[str, list[dict]],
) -> str:
    """The issue's table for N units: for each bloc the whole `tonghop run` against the server
    (median), the sum of its stages timed alone, the naive pipeline and the ratio, one unit's
    resubmission, peak memory; the findings bloc against the clean one; each target."""
    from unseen import STAGES

    names = list(server)
    whole = {n: _med([r["whole"]["wall"] for r in server[n]]) for n in names}
    flow = {n: _med([r["whole"]["flow_s"] for r in server[n]]) for n in names}
    cpu = {n: _med([r["whole"]["cpu"] for r in server[n]]) for n in names}
    again_cpu = {n: _med([r["resubmission"]["cpu"] for r in server[n]]) for n in names}
    again = {n: _med([r["resubmission"]["wall"] for r in server[n]]) for n in names}
    peak = {n: max((r["whole"]["peak_mb"] for r in server[n]), default=None) for n in names}
    alone = {
        n: _med([sum(r["seconds"][s] for s, _ in STAGES) for r in stages.get(n, [])]) for n in names
    }
    naive_s = {n: _med([sum(r["seconds"].values()) for r in naive.get(n, [])]) for n in names}
    alone_cpu = {
        n: _med([r["stages_cpu"] for r in stages.get(n, []) if "stages_cpu" in r]) for n in names
    }
    beyond_cpu = {
        n: cpu[n] - alone_cpu[n] if cpu[n] is not None and alone_cpu[n] is not None else None
        for n in names
    }

    def ratio(values: dict) -> str:
        a, b = (values[n] for n in names[:2]) if len(names) > 1 else (None, None)
        return f"{b / a:.2f}×" if a and b else ""

    def row(label: str, values: dict, target: str = "", digits: int = 2, note: str = "") -> str:
        cells = " | ".join(_s(values[n], digits) for n in names)
        return f"| {units:,} | {label} | {cells} | {ratio(values)} | {target} | {note} |"

    runs = ", ".join(f"{n}: {len(server[n])}" for n in names)
    beyond = {
        n: whole[n] - alone[n] if whole[n] is not None and alone[n] is not None else None
        for n in names
    }
    speedup = {n: naive_s[n] / whole[n] if naive_s[n] and whole[n] else None for n in names}
    head = " | ".join(names)
    lines = [
        f"| units | | {head} | {names[-1]} / {names[0]} | target | note |",
        "|---:|---|" + "---:|" * len(names) + "---:|---|---|",
        row(
            "**whole `tonghop run`** against the server, s",
            whole,
            "≤ 30 s; findings ≤ 1.3× clean",
            note=f"median of {runs}; from the command's start to its exit",
        ),
        row("the flow run (the server's time), s", flow, note="from the flow's start to its end"),
        row(
            "the command's processor time, s",
            cpu,
            note="user + sys of the command and its waited children (the archive process); "
            "not the server's",
        ),
        row(
            "sum of the stages timed alone, s",
            alone,
            note="the stages of the table below, each alone in one process",
        ),
        row(
            "the run beyond its stages, s",
            beyond,
            note="whole − stages alone: imports, settings, Prefect's task runs, logs, artifacts, "
            "the Data Docs' and draft's companions",
        ),
        row(
            "the stages' processor time, s",
            alone_cpu,
            note="user + sys of the stages alone (the archive process's included)",
        ),
        row(
            "the run beyond its stages, processor s",
            beyond_cpu,
            note="the command's processor time − the stages': the same difference, "
            "insensitive to load",
        ),
        row(
            "naive pipeline, both years, s",
            naive_s,
            note="per-file pandas / openpyxl, GX on pandas, group-by, Jinja2",
        ),
        row("naive / tonghop", speedup, "≥ 4× (clean)", digits=1),
        row(
            "resubmission of one unit (`tonghop run`), s",
            again,
            "≤ 3 s",
            note="the source holding only the unit's corrected 2024 CSV, the whole run's workspace",
        ),
        row("the resubmission's processor time, s", again_cpu),
        row(
            "peak memory, MB",
            peak,
            "≤ 2,048 MB",
            digits=0,
            note="the whole run's largest process (wait4's ru_maxrss)",
        ),
    ]
    tasks = []
    for n in names:
        if not server[n]:
            continue
        names_ = sorted({t for r in server[n] for t in r["whole"]["tasks"]})
        spent = {t: _med([r["whole"]["tasks"].get(t, 0.0) for r in server[n]]) for t in names_}
        in_tasks = sum(spent.values())
        items = ", ".join(f"{t} {s:.2f}" for t, s in sorted(spent.items(), key=lambda x: -x[1]))
        tasks.append(
            f"{n}: {items}; outside the tasks (collect in the flow itself, Prefect) "
            f"{flow[n] - in_tasks:.2f} s"
        )
    if tasks:
        lines += [
            "",
            "The whole run's task runs (s, median; read back from the server): "
            + "; ".join(tasks)
            + ".",
        ]
    return "\n".join(lines)
