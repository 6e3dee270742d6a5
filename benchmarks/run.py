"""Time each stage of tonghop on synthetic blocs and compare it with its floor.

    python benchmarks/run.py                       # quick: 1,000 units
    python benchmarks/run.py --units 1000 6000 60000 --repeat 3

For each N a bloc is generated once (src/tonghop/generate.py, cached under --work), then every
repeat runs in a fresh Python process: the previous year is collected into an empty workspace
(timed on its own: the workspace's history), then the new year's files go through parse,
collect (sha256, archive, parse, load), validate (GX on DuckDB), consolidate (SQL models) and
render, each timed alone, with the process's peak resident memory after each stage. Floors are
measured in the same process: reading the bytes, Python's csv module, python-calamine alone, one
hand-written DuckDB query for the planted violations, and the compiled rules run straight on
DuckDB without GX. The naive pipeline (per-file pandas/openpyxl over both years' files, as the
issue measured it, GX on pandas frames, pandas group-by, Jinja2) runs only up to --naive-max
units. Medians of the repeats go to --results (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tonghop.generate import generate  # noqa: E402

NEW_YEAR, OLD_YEAR = "2024", "2023"
PACKAGES = (
    "duckdb",
    "great-expectations",
    "prefect",
    "pandas",
    "pyarrow",
    "openpyxl",
    "python-calamine",
)

HAND_WRITTEN = """
with subs as (
    select *, row_number() over (partition by unit_code, period order by seq desc) as rn,
        count(distinct sha256) over (partition by unit_code, period, batch_id) as files
    from submissions where period = $period
),
cur as (select * from subs where rn = 1),
v as (
    select c.unit_code, v.indicator_code, v.raw_value, v.value
    from cur c join submitted_values v using (submission_id)
),
w as (
    select unit_code,
        max(value) filter (where indicator_code = 'members_total') as total,
        max(value) filter (where indicator_code = 'members_official') as official,
        max(value) filter (where indicator_code = 'members_probationary') as probationary,
        max(value) filter (where indicator_code = 'tasks_assigned') as assigned,
        max(value) filter (where indicator_code = 'tasks_completed') as completed,
        max(value) filter (where indicator_code = 'members_rated') as rated,
        max(value) filter (where indicator_code = 'members_rated_excellent') as excellent,
        max(value) filter (where indicator_code = 'members_rated_good') as good,
        max(value) filter (where indicator_code = 'members_rated_good_pct') as good_pct,
    from v group by unit_code
)
select unit_code, 'type' as kind from v where value is null and trim(raw_value) <> ''
union all select unit_code, 'bounds' from v where value < 0
union all select unit_code, 'sum' from w where total <> official + probationary
union all select unit_code, 'part_le_whole' from w where completed > assigned
union all select unit_code, 'ratio' from w
    where abs(good_pct - 100 * (excellent + good) / rated) > 0.005
union all select unit_code, 'duplicate' from cur where files > 1
union all select r.unit_code, 'completeness' from registry_units r
    where r.valid_from <= $end and (r.valid_to is null or r.valid_to >= $end)
    and not exists (select 1 from cur c where c.unit_code = r.unit_code)
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Stage times (s) and the peak resident memory (MB) when each stage ended."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, float] = {}

    def time(self, stage: str, func, *args, **kwargs):  # noqa: ANN001, ANN201
        start = time.perf_counter()
        result = func(*args, **kwargs)
        self.seconds[stage] = time.perf_counter() - start
        self.peak[stage] = _peak_mb()
        return result


def measure(bloc: Path, workspace: Path) -> dict:
    """One repeat of tonghop's stages and their floors on a generated bloc."""
    import shutil

    import duckdb
    from python_calamine import CalamineWorkbook

    from tonghop import pipeline
    from tonghop.catalog import load_catalog
    from tonghop.collect import read_chunk
    from tonghop.db import open_db
    from tonghop.periods import PeriodRange
    from tonghop.report.draft import render_report
    from tonghop.rules import compile_rules, load_rules
    from tonghop.settings import load_settings
    from tonghop.validate import group_rules, prepare_frames

    shutil.rmtree(workspace, ignore_errors=True)
    clock = Clock()
    source = bloc / "src" / NEW_YEAR
    paths = sorted(p for p in source.iterdir() if p.is_file())

    def read_bytes() -> int:
        total = 0
        for path in paths:
            with open(path, "rb") as handle:
                total += len(handle.read())
        return total

    size = clock.time("floor: read bytes", read_bytes)
    files = clock.time("read_source", pipeline.read_source, str(source))
    csvs = [f for f in files if f.name.endswith(".csv")]
    xlsxs = [f for f in files if f.name.endswith(".xlsx")]
    clock.time(
        "floor: csv module",
        lambda: [list(csv.reader(io.StringIO(f.data.decode("utf-8")))) for f in csvs],
    )
    clock.time(
        "floor: calamine alone",
        lambda: [
            CalamineWorkbook.from_filelike(io.BytesIO(f.data)).get_sheet_by_index(0).to_python()
            for f in xlsxs
        ],
    )
    # What collect does with a file's bytes: parse it and read its numbers (read_chunk).
    clock.time("parse csv", lambda: read_chunk([(f.name, f.data, None) for f in csvs]))
    clock.time("parse xlsx", lambda: read_chunk([(f.name, f.data, None) for f in xlsxs]))
    clock.time("parse xlsx, 2 processes", _parse_in_processes, xlsxs, 2)

    catalog = load_catalog()
    period_range = PeriodRange.parse(NEW_YEAR)
    # Once per process (the flows import it when they start): not charged to validate.
    clock.time("import GX", __import__, "great_expectations")
    pipeline.load_registry(workspace, bloc / "registry.csv")
    clock.time(  # the workspace's history; with the rest, what a first run would cost
        "collect, previous year",
        lambda: pipeline.collect_files(
            workspace, pipeline.read_source(str(bloc / "src" / OLD_YEAR))
        ),
    )
    collected = clock.time("collect", pipeline.collect_files, workspace, files)
    findings = clock.time(
        "validate",
        pipeline.validate_scope,
        workspace,
        catalog,
        period_range,
        collected.batch_id,
        "bench",
    )
    with open_db(workspace) as con:
        # validate's frames lived in memory while it ran: built again here (timed: the part of
        # the floor "DuckDB alone from the stored tables") for the floors that read them
        ruleset = load_rules()
        clock.time(
            "floor: frames",
            prepare_frames,
            con,
            catalog,
            period_range.periods,
            [period_range.baseline],
            collected.batch_id,
            min_history=ruleset.min_history,
        )
        violations = clock.time(
            "floor: hand-written query",
            lambda: con.execute(
                HAND_WRITTEN, {"period": NEW_YEAR, "end": period_range.periods[-1].end}
            ).fetchall(),
        )
        rules = compile_rules(catalog, ruleset)
        clock.time(
            "floor: compiled rules, no GX",
            lambda: [con.execute(r.query.replace("{batch}", r.frame)).fetchall() for r in rules],
        )
        one_query = "\nunion all\n".join(
            f"select * from ({g.query.replace('{batch}', g.frame)})" for g in group_rules(rules)
        )
        clock.time("floor: rules in one query", lambda: con.execute(one_query).fetchall())
    context = clock.time("consolidate", pipeline.consolidate, workspace, catalog, period_range)
    clock.time("render", render_report, context, load_settings(None), workspace / "out")

    # One unit sends its report again, corrected: collect, validate (incremental), consolidate.
    again = workspace.parent / f"{workspace.name}-resubmission"
    shutil.rmtree(again, ignore_errors=True)
    again.mkdir()
    unit = csvs[len(csvs) // 2]
    text = unit.data.decode("utf-8").replace(",candidates_trained,", ",candidates_trained,1")
    (again / f"nop-lai-{unit.name}").write_text(text, encoding="utf-8")

    def resubmit() -> None:
        batch = pipeline.collect_files(workspace, pipeline.read_source(str(again)))
        pipeline.validate_scope(workspace, catalog, period_range, batch.batch_id, "again")
        pipeline.consolidate(workspace, catalog, period_range)

    clock.time("resubmission", resubmit)
    resubmitted = pipeline.last_validation(workspace)
    reconsolidated = pipeline.last_consolidation(workspace)
    return {
        "seconds": clock.seconds,
        "peak_mb": clock.peak,
        "files": len(files),
        "csv_files": len(csvs),
        "xlsx_files": len(xlsxs),
        "bytes": size,
        "loaded": len(collected.loaded),
        "errors": sum(f.severity == "error" for f in findings),
        "hand_written_violations": len(violations),
        "resubmission_validated": f"{resubmitted['mode']}, {resubmitted['units']} unit(s)",
        "resubmission_consolidated": (
            f"{reconsolidated['mode']}, {reconsolidated['units']} unit(s)"
        ),
        "duckdb": duckdb.__version__,
    }


def _parse_in_processes(files: list, workers: int) -> int:
    """Parse the files in `workers` forked processes (tonghop.collect.read_chunk, as collect's
    pool and task runners do), in chunks of 25; the number of outcomes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tonghop.collect import read_chunk

    items = [(f.name, f.data, None) for f in files]
    chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return sum(len(done) for done in pool.map(read_chunk, chunks))


def measure_naive(bloc: Path, out: Path) -> dict:
    """The pipeline as most teams would first write it, on the same files: both years', as the
    issue measured it (it keeps nothing between runs, so the previous year is read again for the
    look-back rule and the term's totals)."""
    import great_expectations as gx
    import jinja2
    import openpyxl
    import pandas as pd

    # pandas' strings held by Python, as when pyarrow is not installed: with pyarrow (a
    # dependency of tonghop) pandas 3 holds them in Arrow arrays, which makes this per-file loop
    # slower. The baseline is kept at its faster setting, as every earlier run measured it.
    pd.set_option("mode.string_storage", "python")
    clock = Clock()

    def read_all(year: str) -> pd.DataFrame:
        frames = []
        for path in sorted(p for p in (bloc / "src" / year).iterdir() if p.is_file()):
            if path.suffix == ".csv":
                frame = pd.read_csv(path, dtype=str)
            else:
                sheet = openpyxl.load_workbook(path, data_only=True)["BaoCao"]
                unit, period = sheet["C3"].value, str(sheet["C5"].value)
                rows = [
                    (unit, period, row[1], row[4])
                    for row in sheet.iter_rows(min_row=10, values_only=True)
                    if row[1]
                ]
                frame = pd.DataFrame(
                    rows, columns=["unit_code", "period", "indicator_code", "value"]
                )
            frame["file"] = path.name
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    previous = clock.time(f"naive: read {OLD_YEAR} (pandas, openpyxl)", read_all, OLD_YEAR)
    long = clock.time(f"naive: read {NEW_YEAR} (pandas, openpyxl)", read_all, NEW_YEAR)

    def pivot(frame: pd.DataFrame) -> pd.DataFrame:
        frame["number"] = pd.to_numeric(frame["value"], errors="coerce")
        return frame.pivot_table(
            index="unit_code", columns="indicator_code", values="number", aggfunc="last"
        )

    def check(long: pd.DataFrame, previous: pd.DataFrame) -> int:
        wide = pivot(long).reset_index()
        before = pivot(previous)["members_total"].rename("previous_members_total")
        wide = wide.merge(before, left_on="unit_code", right_index=True, how="left")
        wide["sum_gap"] = (
            wide["members_total"] - wide["members_official"] - wide["members_probationary"]
        )
        wide["ratio_gap"] = (
            wide["members_rated_good_pct"]
            - 100
            * (wide["members_rated_excellent"] + wide["members_rated_good"])
            / wide["members_rated"]
        )
        flows = ["members_admitted", "members_transferred_in"]
        leaves = [
            "members_transferred_out",
            "members_deceased",
            "members_struck_off",
            "members_removed",
            "discipline_expulsion",
        ]
        wide["stock_flow_gap"] = (
            wide["members_total"]
            - wide["previous_members_total"]
            - wide[flows].fillna(0).sum(axis=1)
            + wide[leaves].fillna(0).sum(axis=1)
        )
        context = gx.get_context(mode="ephemeral")
        asset = context.data_sources.add_pandas("naive").add_dataframe_asset("wide")
        batch = asset.add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name="naive"))
        counts = [c for c in wide.columns if c.startswith(("members_", "tasks_"))]
        for column in counts:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0)
            )
            suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=column))
        for column, tolerance in (("sum_gap", 0), ("ratio_gap", 0.005), ("stock_flow_gap", 0)):
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=column, min_value=-tolerance, max_value=tolerance
                )
            )
        suite.add_expectation(
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="tasks_assigned", column_B="tasks_completed", or_equal=True
            )
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="naive", data=batch, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": wide}, result_format="COMPLETE")
        return sum(not r.success for r in result.results)

    clock.time("naive: validate (GX on pandas)", check, long, previous)
    registry = pd.read_csv(bloc / "registry.csv", dtype=str)

    def aggregate() -> pd.DataFrame:
        both = pd.concat([previous, long], ignore_index=True)
        merged = both.merge(registry[["unit_code", "sector"]], on="unit_code")
        # the new year's figures and the term's (both years) by sector
        return merged.groupby(["sector", "period", "indicator_code"])["number"].sum().reset_index()

    totals = clock.time("naive: consolidate (pandas)", aggregate)

    def render() -> None:
        template = jinja2.Template(
            "{% for r in rows %}| {{ r.sector }} | {{ r.period }} | {{ r.indicator_code }} | "
            "{{ r.number }} |\n{% endfor %}"
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "naive.md").write_text(template.render(rows=totals.to_dict("records")))

    clock.time("naive: render (Jinja2)", render)
    return {"seconds": clock.seconds, "peak_mb": clock.peak}


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{p} {version(p)}" for p in PACKAGES)
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB memory, Python "
        f"{platform.python_version()} on {platform.system()} {platform.release()}; {versions}"
    )


def _child(args: list[str]) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _median(runs: list[dict], stage: str) -> float:
    return statistics.median(r["seconds"][stage] for r in runs)


def table(units: int, runs: list[dict], naive: list[dict]) -> list[str]:
    """The Markdown rows for one N: each stage, its median time, peak memory and floor ratio."""
    first = runs[0]
    peak = max(r["peak_mb"]["render"] for r in runs)

    def row(stage: str, floor: str | None = None, note: str = "", label: str = "") -> str:
        t = _median(runs, stage)
        ratio = f"{t / _median(runs, floor):.1f}× {floor}" if floor else ""
        mb = statistics.median(r["peak_mb"][stage] for r in runs)
        return f"| {units:,} | {label or stage} | {t:.2f} | {mb:.0f} | {ratio} | {note} |"

    for r in runs:  # the violations computed by DuckDB alone from the stored tables
        r["seconds"]["floor: frames + rules in one query"] = (
            r["seconds"]["floor: frames"] + r["seconds"]["floor: rules in one query"]
        )
        r["peak_mb"]["floor: frames + rules in one query"] = r["peak_mb"][
            "floor: rules in one query"
        ]
    whole = ("collect", "validate", "consolidate", "render")
    total = sum(_median(runs, s) for s in whole)
    lines = [
        row("floor: read bytes", note=f"{first['files']:,} files, {first['bytes'] / 2**20:.1f} MB"),
        row("read_source", "floor: read bytes"),
        row("floor: csv module", note=f"{first['csv_files']:,} CSV"),
        row("parse csv", "floor: csv module"),
    ]
    if first["xlsx_files"]:
        lines += [
            row("floor: calamine alone", note=f"{first['xlsx_files']:,} forms"),
            row(
                "parse xlsx",
                "floor: calamine alone",
                f"{first['xlsx_files'] / _median(runs, 'parse xlsx'):.0f} forms/s, one process",
            ),
            row(
                "parse xlsx, 2 processes",
                "floor: calamine alone",
                f"{first['xlsx_files'] / _median(runs, 'parse xlsx, 2 processes'):.0f} forms/s "
                "(pool start included)",
            ),
        ]
    lines += [
        row("collect, previous year", note="read and collected into an empty workspace"),
        row("collect", note=f"sha256, archive, parse, load; {first['loaded']:,} files"),
        row("import GX", note="once per process, when a flow starts"),
        row("floor: hand-written query", note=f"{first['hand_written_violations']} violations"),
        row("floor: compiled rules, no GX", note="one query per rule"),
        row("floor: rules in one query", note="the same violations, no GX"),
        row("validate", "floor: rules in one query", f"{first['errors']} error findings"),
        row("floor: frames", note="the frames the rules read (DuckDB statements), no GX"),
        row("floor: frames + rules in one query", note="DuckDB alone, from the stored tables"),
        row(
            "validate",
            "floor: frames + rules in one query",
            "the same run, this floor",
            label="validate ",  # the same stage, against the second floor
        ),
        row("consolidate"),
        row("render"),
        row(
            "resubmission",
            note="one unit again: collect, validate, consolidate; validated: "
            + first["resubmission_validated"]
            + "; consolidated: "
            + first["resubmission_consolidated"],
        ),
    ]
    whole_note = f"collect + validate + consolidate + render; peak {peak:.0f} MB"
    first_run = total + _median(runs, "collect, previous year")
    first_note = "the previous year's collect + the whole above (the previous year not validated)"
    if naive:
        naive_total = statistics.median(sum(n["seconds"].values()) for n in naive)
        new_year_only = statistics.median(
            sum(n["seconds"].values()) - n["seconds"][f"naive: read {OLD_YEAR} (pandas, openpyxl)"]
            for n in naive
        )
        for stage in naive[0]["seconds"]:
            t = statistics.median(n["seconds"][stage] for n in naive)
            mb = statistics.median(n["peak_mb"][stage] for n in naive)
            lines.append(f"| {units:,} | {stage} | {t:.2f} | {mb:.0f} |  |  |")
        lines.append(f"| {units:,} | naive: whole | {naive_total:.2f} |  |  | both years read |")
        lines.append(
            f"| {units:,} | naive: without reading {OLD_YEAR} | {new_year_only:.2f} |  |  | "
            "the whole less the previous year's read (the naive pipeline of earlier runs read "
            "only the new year) |"
        )
        whole_note += (
            f"; naive / tonghop = {naive_total / total:.1f}× "
            f"({new_year_only / total:.1f}× without reading {OLD_YEAR})"
        )
        first_note += f"; naive / this = {naive_total / first_run:.1f}×"
    lines.append(f"| {units:,} | **tonghop: whole** | **{total:.2f}** |  |  | {whole_note} |")
    lines.append(f"| {units:,} | tonghop: a first run | {first_run:.2f} |  |  | {first_note} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time tonghop's stages against their floors.")
    parser.add_argument("--units", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-max", type=int, default=6000, help="naive pipeline up to N")
    parser.add_argument("--naive-repeat", type=int, default=1)
    parser.add_argument("--excel-share", type=float, default=0.05)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tonghop-bench"))
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--one", nargs=2, metavar=("BLOC", "WORKSPACE"), help=argparse.SUPPRESS)
    parser.add_argument("--naive", type=Path, metavar="BLOC", help=argparse.SUPPRESS)
    parser.add_argument(
        "--unseen",
        action="store_true",
        help="the unseen blocs (benchmarks/unseen_bloc.py), clean and with findings, both "
        "years new: every stage of a run against its floor, in one table per N",
    )
    parser.add_argument("--findings-share", type=float, default=0.05, help="with --unseen")
    parser.add_argument(
        "--stages-repeat",
        type=int,
        default=1,
        help="with --unseen: fresh processes timing every stage alone, per bloc (--repeat: "
        "whole `tonghop run`s against the server, per bloc)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=0,
        metavar="SECONDS",
        help="with --unseen: leave out (and say so) each run that would end past this many "
        "seconds, most needed first (0: no budget)",
    )
    parser.add_argument(
        "--api-url",
        help="with --unseen: the API of a Prefect server already running (default: one started "
        "on loopback for the benchmark)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        help="with --unseen: where workspaces and runs are written (default: --work, where the "
        "blocs are read)",
    )
    parser.add_argument("--unseen-one", nargs=2, metavar=("BLOC", "WS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.unseen_one:
        from unseen import measure_unseen

        print(json.dumps(measure_unseen(Path(args.unseen_one[0]), Path(args.unseen_one[1]))))
        return 0
    if args.unseen:
        return run_unseen(args)
    if args.one:
        print(json.dumps(measure(Path(args.one[0]), Path(args.one[1])), default=str))
        return 0
    if args.naive:
        print(json.dumps(measure_naive(args.naive, args.work / "naive-out")))
        return 0

    lines = [
        "| units | stage | median s | peak MB | ratio to floor | note |",
        "|---:|---|---:|---:|---|---|",
    ]
    for units in args.units:
        bloc = args.work / f"bloc-{units}-x{args.excel_share}"
        if not (bloc / "bloc.json").exists():
            print(f"generating {units} units …", file=sys.stderr)
            generate(units, bloc, excel_share=args.excel_share)
        runs = []
        for i in range(args.repeat):
            runs.append(_child(["--one", str(bloc), str(args.work / f"ws-{units}")]))
            print(f"{units} units, run {i + 1}: {runs[-1]['seconds']}", file=sys.stderr)
        naive = []
        if units <= args.naive_max:
            for _ in range(args.naive_repeat):
                naive.append(_child(["--naive", str(bloc), "--work", str(args.work)]))
                print(f"{units} units, naive: {naive[-1]['seconds']}", file=sys.stderr)
        lines += table(units, runs, naive)
    report = "\n".join(lines)
    print(report)
    header = (
        f"Run {date.today().isoformat()} on {machine()}.\n\n"
        f"`python benchmarks/run.py --units {' '.join(map(str, args.units))} --repeat "
        f"{args.repeat}`: medians of {args.repeat} fresh processes (naive: "
        f"{args.naive_repeat}, only up to {args.naive_max:,} units); Excel share "
        f"{args.excel_share}. Peak MB is the process's peak resident memory when the stage "
        "ended (it only grows).\n\n"
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    marker, end = "<!-- latest run -->", "<!-- latest run end -->"
    previous = args.results.read_text(encoding="utf-8") if args.results.exists() else ""
    kept = previous.split(marker)[0] if marker in previous else previous
    after = previous.split(end, 1)[1] if end in previous else "\n"  # sections below it stay
    heading = "## Every stage against its floor\n\n"
    args.results.write_text(
        f"{kept}{marker}\n\n{heading}{header}{report}\n\n{end}{after}", encoding="utf-8"
    )
    return 0


def run_unseen(args: argparse.Namespace) -> int:
    """The unseen blocs, clean and with findings (both years new), for each N: the whole `tonghop
    run` against a running Prefect server and one unit's resubmission through it, every stage
    alone against its floor, the naive pipeline; in one table per N, written to a marked part of
    --results. With --budget, what does not fit is left out (said in the report), most needed
    first: one whole run per bloc, the naive pipeline on the clean bloc, the stages alone per
    bloc, the naive pipeline on the other, then the repeats."""
    import tempfile

    from unseen import unseen_table
    from unseen_bloc import generate_unseen
    from unseen_server import server_table, start_server, whole_run

    scratch = args.scratch or args.work
    kept = scratch / "unseen-runs" / time.strftime("%Y%m%dT%H%M%S")  # this invocation's runs
    kept.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="tonghop-bench-prefect-"))
    if args.api_url:  # a server already running
        server, url, healthy = None, args.api_url, 0.0
    else:
        server, url, healthy = start_server(home)
    print(f"prefect server start: healthy after {healthy:.1f} s ({url})", file=sys.stderr)
    began = time.monotonic()
    spent: dict[tuple[str, str], list[float]] = {}
    skipped: list[str] = []
    failed: list[str] = []
    tables = []
    try:
        for units in args.units:
            blocs = {
                "clean": args.work / f"unseen-{units}-0.0",
                f"{args.findings_share:.0%} findings": args.work
                / f"unseen-{units}-{args.findings_share}",
            }
            for name, bloc in blocs.items():
                if not (bloc / "truth.json").exists():
                    print(f"generating the unseen bloc {bloc} …", file=sys.stderr)
                    share = 0.0 if name == "clean" else args.findings_share
                    generate_unseen(units, bloc, findings_share=share, excel_share=args.excel_share)
            results = {n: {"server": [], "stages": [], "naive": []} for n in blocs}
            clean, findings = list(blocs)
            naive_plan = [("naive", n) for _ in range(args.naive_repeat) for n in blocs]
            if units > args.naive_max:
                naive_plan = []
            # the naive pipeline on the clean bloc before the stages: the headline ratio
            plan = [("server", clean), ("server", findings), *naive_plan[:1]]
            plan += [("stages", clean), ("stages", findings), *naive_plan[1:]]
            plan += [("server", n) for _ in range(args.repeat - 1) for n in blocs]
            plan += [("stages", n) for _ in range(args.stages_repeat - 1) for n in blocs]
            for kind, name in plan:
                key = (f"{units}:{kind}", name)
                estimate = _estimate(spent, key)
                elapsed = time.monotonic() - began
                if args.budget and elapsed + estimate > args.budget:
                    skipped.append(f"{units:,} {name} {kind} (about {estimate:.0f} s)")
                    print(f"over the budget, left out: {skipped[-1]}", file=sys.stderr)
                    continue
                bloc = blocs[name]
                started = time.monotonic()
                try:
                    if kind == "server":
                        run = whole_run(bloc, scratch, url, home)
                    elif kind == "stages":
                        ws = scratch / f"ws-unseen-{units}"
                        run = _child(["--unseen-one", str(bloc), str(ws)])
                    else:
                        run = _child(["--naive", str(bloc), "--work", str(scratch)])
                except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
                    # one failed run is reported; the others still make the table
                    detail = getattr(exc, "stderr", None) or str(exc)
                    failed.append(f"{units:,} {name} {kind}: {str(detail)[-300:]}")
                    print(f"failed: {failed[-1]}", file=sys.stderr)
                    continue
                spent.setdefault(key, []).append(time.monotonic() - started)
                results[name][kind].append(run)
                (kept / f"{units}-{bloc.name}-{kind}-{time.time_ns()}.json").write_text(
                    json.dumps(run, default=str), encoding="utf-8"
                )
                print(
                    f"{units:,} {name} {kind}: {spent[key][-1]:.1f} s "
                    f"(elapsed {time.monotonic() - began:.0f} s)",
                    file=sys.stderr,
                )
            stages = {n: r["stages"] for n, r in results.items() if r["stages"]}
            naive = {n: r["naive"] for n, r in results.items()}
            parts = [
                server_table(units, {n: r["server"] for n, r in results.items()}, stages, naive)
            ]
            if stages:
                parts.append(unseen_table(units, stages, naive))
            tables.append("\n\n".join(parts))
    finally:
        from prefect_overhead import stop_server

        if server is not None:
            stop_server(server)
    report = "\n\n".join(tables)
    print(report)
    counts = "; ".join(
        f"{n}: "
        + ", ".join(
            f"{kind} {len(spent.get((f'{args.units[-1]}:{kind}', n), []))}"
            for kind in ("server", "stages", "naive")
        )
        for n in blocs
    )
    header = (
        f"Run {date.today().isoformat()} on {machine()}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min).\n\n"
        f"`python benchmarks/run.py --unseen --units {' '.join(map(str, args.units))} --repeat "
        f"{args.repeat} --stages-repeat {args.stages_repeat} --naive-repeat {args.naive_repeat}"
        + (f" --budget {args.budget:.0f}" if args.budget else "")
        + f"` (`make bench-unseen`), {time.monotonic() - began:.0f} s in all; `prefect server "
        f"start` on loopback healthy in {healthy:.1f} s (charged to no run). Runs per bloc at "
        f"the last N: {counts}. "
        + (f"Left out to stay within the budget: {'; '.join(skipped)}. " if skipped else "")
        + (f"Failed: {'; '.join(failed)}. " if failed else "")
        + f"Excel share {args.excel_share}.\n\n"
    )
    _write_marked(args.results, "<!-- unseen blocs -->", header + report)
    return 0


def _estimate(spent: dict[tuple[str, str], list[float]], key: tuple[str, str]) -> float:
    """A job's expected seconds: its last run; else the same kind on another bloc; else 1.5× the
    whole run's for the stages alone (floors and a resubmission included), the whole run's for
    the naive pipeline (0 when nothing is known yet)."""
    if key in spent:
        return spent[key][-1]
    kind, name = key
    same_kind = [t[-1] for (k, _), t in spent.items() if k == kind]
    if same_kind:
        return max(same_kind)
    units, what = kind.split(":")
    whole = [t[-1] for (k, _), t in spent.items() if k == f"{units}:server"]
    return (1.5 if what == "stages" else 1.0) * max(whole) if whole else 0.0


def _write_marked(results: Path, marker: str, text: str) -> None:
    """Replace the part of RESULTS.md between `marker` and its end marker, or add it at the end."""
    previous = results.read_text(encoding="utf-8") if results.exists() else ""
    start, end = f"{marker}\n", f"{marker} end\n"
    section = f"{start}\n{text}\n\n{end}"
    if start in previous and end in previous:
        before, rest = previous.split(start, 1)
        previous = before + section + rest.split(end, 1)[1]
    else:
        previous = previous.rstrip("\n") + "\n\n" + section
    results.write_text(previous, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
