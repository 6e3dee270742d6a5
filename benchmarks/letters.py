"""Feedback letters: time to write one letter (.md and .docx), for a bloc of N units.

A workspace of N registry units, each with an error finding and a warning, a tenth of them
departed before the period (no letter), and N/10 findings of units outside the registry (no
letter): `write_letters` timed on a fresh folder (every letter written), then again with
nothing changed (every letter kept). Prints a Markdown table for RESULTS.md.

    .venv/bin/python benchmarks/letters.py --units 1000 30000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from tonghop.catalog import load_catalog
from tonghop.db import insert_rows, open_db
from tonghop.letters import write_letters
from tonghop.settings import load_settings

PERIOD = "2024"


def build_workspace(root: Path, units: int) -> tuple[Path, int]:
    """A workspace with the findings described above; the number of letters it must give."""
    workspace = root / f"ws-{units}"
    codes = [f"U{i:06d}" for i in range(units)]
    with open_db(workspace) as con:
        insert_rows(
            con,
            "registry_units",
            [
                [c, f"Chi bộ Công ty số {i}", "soe", "chi_bo", date(2015, 1, 1),
                 date(2023, 12, 31) if i % 10 == 9 else None]
                for i, c in enumerate(codes)
            ],
        )  # fmt: skip
        insert_rows(
            con,
            "submissions",
            [
                [f"s-{c}", f"h-{c}", c, PERIOD, "csv", f"{PERIOD}/{c}.csv",
                 datetime(2024, 7, 1), "b1", i]
                for i, c in enumerate(codes)
            ],
        )  # fmt: skip
        findings = []
        for i, c in enumerate(codes):
            findings.append(
                [f"e{i}", "r", c, PERIOD, f"s-{c}", "members_total_sum", "sum", "error",
                 "Tổng số đảng viên (25) khác đảng viên chính thức (20) cộng dự bị (3) = 23.",
                 ["members_total", "members_official", "members_probationary"],
                 '{"members_total": 25, "members_official": 20, "members_probationary": 3}',
                 "members_total", 23.0, f"{c}.csv", "dòng 3"]
            )  # fmt: skip
            findings.append(
                [f"w{i}", "r", c, PERIOD, f"s-{c}", "plausibility_members_admitted",
                 "plausibility", "warning", "Số kết nạp năm 2024 (45) cao gấp 5 lần mức thường "
                 "thấy của đơn vị: 6–9 mỗi năm từ 2021 đến 2023.", ["members_admitted"],
                 '{"members_admitted": 45}', None, None, f"{c}.csv", "dòng 7"]
            )  # fmt: skip
        for i in range(units // 10):
            findings.append(
                [f"x{i}", "r", f"X{i:06d}", PERIOD, None, "unknown_unit", "unknown_unit",
                 "error", "Mã đơn vị không có trong danh mục đơn vị.", [], "{}", None, None,
                 f"X{i:06d}.csv", None]
            )  # fmt: skip
        insert_rows(
            con,
            "findings (finding_key, run_id, unit_code, period, submission_id, rule_id, kind, "
            "severity, message, indicators, observed, suspect, suggested_value, file_name, "
            "location)",
            findings,
        )
    return workspace, sum(1 for i in range(units) if i % 10 != 9)


def time_letters(workspace: Path, out: Path) -> tuple[float, float, int]:
    """Wall time and this process's processor time (user + system) of `write_letters`, and
    the number of letters: on a shared machine the processor time is the steadier figure."""
    settings = load_settings(None)
    catalog = load_catalog()
    with open_db(workspace) as con:
        start, cpu = time.perf_counter(), time.process_time()
        paths = write_letters(con, out, settings, catalog, today=date(2024, 7, 20))
        return time.perf_counter() - start, time.process_time() - cpu, len(paths) // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    root = args.work or Path(tempfile.mkdtemp(prefix="tonghop-letters-"))
    print(
        "| units | letters | first write, median (s) | per letter (ms) | "
        "processor per letter (ms) | unchanged (s) | load average |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for units in args.units:
        workspace, expected = build_workspace(root, units)
        first, cpu, again = [], [], []
        for repeat in range(args.repeat):
            out = root / f"out-{units}-{repeat}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, processor, letters = time_letters(workspace, out)
            assert letters == expected, (letters, expected)
            first.append(seconds)
            cpu.append(processor)
            again.append(time_letters(workspace, out)[0])
        median = statistics.median(first)
        print(
            f"| {units:,} | {expected:,} | {median:.2f} | {1000 * median / expected:.2f} | "
            f"{1000 * statistics.median(cpu) / expected:.2f} | {statistics.median(again):.2f} | "
            f"{os.getloadavg()[0]:.1f} |"
        )


if __name__ == "__main__":
    main()
