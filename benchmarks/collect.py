"""Time `collect` alone (sha256, archive, parse, load) on a generated bloc's new year.

    python benchmarks/collect.py --units 6000 --repeat 3 [--workers 1]

Each repeat runs in a fresh process on a fresh workspace with the previous year already
loaded. To time another version of tonghop, put its `src` first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tonghop.generate import generate  # noqa: E402


def once(bloc: Path, workspace: Path, workers: int | None) -> dict:
    import inspect

    from tonghop import pipeline
    from tonghop.collect import collect
    from tonghop.db import open_db

    shutil.rmtree(workspace, ignore_errors=True)
    pipeline.load_registry(workspace, bloc / "registry.csv")
    pipeline.collect_files(workspace, pipeline.read_source(str(bloc / "src" / "2023")))
    files = pipeline.read_source(str(bloc / "src" / "2024"))
    options = {"workers": workers} if "workers" in inspect.signature(collect).parameters else {}
    with open_db(workspace) as con:
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        result = collect(con, workspace, files, **options)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        # the collect process's processor time (the archive process is the forkserver's child)
        "user_s": after.ru_utime - before.ru_utime,
        "system_s": after.ru_stime - before.ru_stime,
        "files": len(files),
        "loaded": len(result.loaded),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time collect alone.")
    parser.add_argument("--units", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--excel-share", type=float, default=0.05)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tonghop-bench"))
    parser.add_argument("--once", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.once:
        print(json.dumps(once(args.once[0], args.once[1], args.workers)))
        return 0
    bloc = args.work / f"bloc-{args.units}-x{args.excel_share}"
    if not (bloc / "bloc.json").exists():
        generate(args.units, bloc, excel_share=args.excel_share)
    runs = []
    for _ in range(args.repeat):
        command = [sys.executable, __file__, "--once", str(bloc), str(args.work / "ws-collect")]
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    times = sorted(r["seconds"] for r in runs)
    print(
        json.dumps(
            {
                "units": args.units,
                "files": runs[0]["files"],
                "loaded": runs[0]["loaded"],
                "median_s": round(statistics.median(times), 3),
                "runs_s": [round(t, 3) for t in times],
                "collect_process_user_system_s": [
                    [round(r["user_s"], 1), round(r["system_s"], 1)] for r in runs
                ],
                "peak_mb": round(max(r["peak_mb"] for r in runs)),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
