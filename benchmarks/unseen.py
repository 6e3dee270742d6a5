"""tonghop's stages on an unseen bloc (benchmarks/unseen_bloc.py), each against its floor.

`benchmarks/run.py --unseen` calls `measure_unseen` in a fresh process per bloc and repeat:
both years new (nothing preloaded), the stages in the order of the `run` flow (read the source,
the registry, collect, validate with its Data Docs, publish the findings, consolidate, check
the marts, explain every figure of the draft (the trace), render, the review page and the
letters), each timed alone, then one unit's resubmission. The costs per finding (localization),
per letter and per figure are read from the same run. Floors are measured in the same process
after the stages, on the same files and tables. `unseen_table` makes the Markdown table: one
row per stage, one column per bloc.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import statistics
import time
from collections import defaultdict
from pathlib import Path

from run import Clock  # benchmarks/run.py

PERIOD = "2024"

# The stages of the run flow, in order, with the floor each is compared with (None: no floor
# measured) and what the floor is.
STAGES: tuple[tuple[str, str | None], ...] = (
    ("read_source", "floor: read bytes"),
    ("load_registry", None),
    ("collect", "floor: collect"),
    ("validate", "floor: frames + rules in one query"),
    ("publish findings", "floor: findings.json alone"),
    ("consolidate", "floor: marts in one group-by"),
    ("check consolidated", None),
    ("explain (trace)", "floor: figures in one scan"),
    ("render", None),
    ("review page and letters", "floor: create the letters' files"),
)
FLOOR_NOTES = {
    "floor: read bytes": "open and read every file",
    "floor: collect": "sha256 + one append of every byte, fsync + csv module + calamine + "
    "DuckDB load of the parsed rows (Arrow)",
    "floor: frames + rules in one query": "the frames validate reads, then the compiled rules "
    "as one `union all`, no GX",
    "floor: findings.json alone": "the findings written as JSON",
    "floor: marts in one group-by": "current values by period, sector, form and indicator in "
    "one query",
    "floor: figures in one scan": "every figure's total and count from the intermediate "
    "models in one group-by",
    "floor: create the letters' files": "as many new files as letters (.md and .docx), the "
    "same bytes",
}


def measure_unseen(bloc: Path, workspace: Path) -> dict:
    """One repeat: every stage of a run on both new years, then the floors."""
    from tonghop import letters, pipeline
    from tonghop.catalog import load_catalog
    from tonghop.db import open_db
    from tonghop.localize import BALANCE_KINDS
    from tonghop.periods import PeriodRange
    from tonghop.report.draft import render_report
    from tonghop.settings import load_settings
    from tonghop.trace import trace_context
    from tonghop.validation import run as validation_run

    shutil.rmtree(workspace, ignore_errors=True)
    out = workspace.parent / f"{workspace.name}-out"
    shutil.rmtree(out, ignore_errors=True)
    clock = Clock()
    catalog, settings = load_catalog(), load_settings(None)
    period_range = PeriodRange.parse(PERIOD)
    spent = _Spent()
    validation_run.localize_findings = spent.wrap("localize", validation_run.localize_findings)
    letters.write_letters = spent.wrap("letters", letters.write_letters)
    __import__("great_expectations")  # once per process, when a flow starts: not charged
    cpu_start = _cpu()

    files = clock.time("read_source", pipeline.read_source, str(bloc / "src"))
    clock.time("load_registry", pipeline.load_registry, workspace, bloc / "registry.csv")
    collected = clock.time("collect", pipeline.collect_files, workspace, files)
    docs = out / "validation-docs"  # the Data Docs, as the run flow writes them
    validate_args = (workspace, catalog, period_range, collected.batch_id, "bench", docs)
    findings = clock.time("validate", pipeline.validate_scope, *validate_args)

    def publish() -> list[dict]:
        pipeline.sync_reviews(workspace)
        queue = pipeline.review_queue(workspace)
        pipeline.findings_table(queue)
        pipeline.review_summary_markdown(queue, "bench", PERIOD)
        pipeline.mark_pending(workspace, [])
        return queue

    queue = clock.time("publish findings", publish)
    context = clock.time("consolidate", pipeline.consolidate, workspace, catalog, period_range)
    clock.time("check consolidated", pipeline.check_consolidated, workspace, catalog, "bench")

    def explain() -> dict:
        with open_db(workspace) as con:
            return trace_context(con, context, keep=True)

    context["trace"] = clock.time("explain (trace)", explain)
    clock.time("render", render_report, context, settings, out)
    clock.time(
        "review page and letters", pipeline.write_review_outputs, workspace, out, "bench", settings
    )
    stages_cpu = _cpu() - cpu_start  # the stages' processor time, the archive process's too
    letter_files = sorted((out / letters.LETTERS_DIR).iterdir())
    figures = len(context["trace"]["figures"])
    balance = sum(f.kind in BALANCE_KINDS for f in findings)
    resubmitted = _resubmit(clock, workspace, out, bloc, catalog, period_range, settings)

    floors = _floors(clock, bloc, workspace, files, collected.batch_id, findings, letter_files)
    return {
        "seconds": clock.seconds,
        "peak_mb": clock.peak,
        "stages_cpu": stages_cpu,
        "files": len(files),
        "bytes": floors["bytes"],
        "loaded": len(collected.loaded),
        "rejected": len(collected.rejected),
        "findings": len(findings),
        "errors": sum(f.severity == "error" for f in findings),
        "balance_findings": balance,
        "localize_s": spent.seconds["localize"],
        "letters": sum(p.suffix == ".docx" for p in letter_files),
        "letters_s": spent.seconds["letters"],
        "figures": figures,
        "queue": len(queue),
        "resubmission": resubmitted,
        "detection": detection(bloc, findings),
    }


def _cpu() -> float:
    """This process's processor time and its waited children's, user and system."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Spent:
    """Time spent inside wrapped functions, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, func):  # noqa: ANN001, ANN202
        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed


def _resubmit(clock, workspace, out, bloc, catalog, period_range, settings) -> str:  # noqa: ANN001
    """One unit sends its 2024 report again, one value changed: collect, validate, consolidate,
    the trace, render and the letters, as a run does; how much each took again."""
    from tonghop import pipeline
    from tonghop.db import open_db
    from tonghop.report.draft import render_report
    from tonghop.trace import trace_context

    again = workspace.parent / f"{workspace.name}-again"
    shutil.rmtree(again, ignore_errors=True)
    again.mkdir()
    first = next(p for p in sorted((bloc / "src" / PERIOD).iterdir()) if p.suffix == ".csv")
    text = first.read_text(encoding="utf-8-sig")
    lines = [
        line.replace(",candidates_trained,", ",candidates_trained,1", 1)
        for line in text.splitlines(keepends=True)
    ]
    (again / f"nop-lai-{first.name}").write_text("".join(lines), encoding="utf-8")

    def resubmit() -> None:
        batch = pipeline.collect_files(workspace, pipeline.read_source(str(again)))
        pipeline.validate_scope(workspace, catalog, period_range, batch.batch_id, "again")
        context = pipeline.consolidate(workspace, catalog, period_range)
        with open_db(workspace) as con:
            context["trace"] = trace_context(con, context, keep=True)
        render_report(context, settings, out)
        pipeline.write_review_outputs(workspace, out, "again", settings)

    clock.time("resubmission", resubmit)
    validated = pipeline.last_validation(workspace)
    consolidated = pipeline.last_consolidation(workspace)
    return (
        f"validated {validated['mode']}, {validated['units']} unit(s); consolidated "
        f"{consolidated['mode']}, {consolidated['units']} unit(s)"
    )


def _floors(clock, bloc, workspace, files, batch, findings, letter_files) -> dict:  # noqa: ANN001
    """The floors, on the same files and tables, after the stages (page cache warm for both)."""
    import duckdb
    import pyarrow as pa
    from python_calamine import CalamineWorkbook

    from tonghop.catalog import load_catalog
    from tonghop.db import open_db
    from tonghop.periods import PeriodRange
    from tonghop.rules import compile_rules, load_rules
    from tonghop.validate import group_rules, prepare_frames

    source = Path(bloc) / "src"
    datas = clock.time("floor: read bytes", lambda: [(source / f.name).read_bytes() for f in files])
    scratch = workspace.parent / f"{workspace.name}-floor"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()

    def hash_and_pack() -> None:
        with open(scratch / "pack", "ab") as pack:
            for data in datas:
                hashlib.sha256(data).hexdigest()
                pack.write(data)
            pack.flush()
            os.fsync(pack.fileno())

    def parse() -> list[list[str]]:
        rows: list[list[str]] = []
        for f in files:
            if f.name.endswith(".csv"):
                rows += list(csv.reader(io.StringIO(f.data.decode("utf-8-sig"))))[1:]
            elif f.name.endswith(".xlsx"):
                sheet = CalamineWorkbook.from_filelike(io.BytesIO(f.data)).get_sheet_by_index(0)
                rows += [[str(c) for c in r[:6]] for r in sheet.to_python()[9:]]
        return rows

    def load(rows: list[list[str]]) -> None:
        columns = list(zip(*(r[:4] + [""] * (4 - len(r[:4])) for r in rows), strict=True))
        table = pa.table({f"c{i}": pa.array(c, pa.string()) for i, c in enumerate(columns)})
        con = duckdb.connect(str(scratch / "floor.duckdb"))
        con.register("incoming", table)
        con.execute("create table v as select * from incoming")
        con.execute("checkpoint")
        con.close()

    start = time.perf_counter()
    hash_and_pack()
    rows = parse()
    load(rows)
    clock.seconds["floor: collect"] = time.perf_counter() - start
    clock.peak["floor: collect"] = clock.peak.get("floor: read bytes", 0)

    catalog = load_catalog()
    period_range = PeriodRange.parse(PERIOD)
    with open_db(workspace) as con:
        ruleset = load_rules()
        rules = compile_rules(catalog, ruleset)
        one_query = "\nunion all\n".join(
            f"select * from ({g.query.replace('{batch}', g.frame)})" for g in group_rules(rules)
        )

        def frames_and_rules() -> None:
            prepare_frames(
                con,
                catalog,
                period_range.periods,
                [period_range.baseline],
                batch,
                min_history=ruleset.min_history,
            )
            con.execute(one_query).fetchall()

        clock.time("floor: frames + rules in one query", frames_and_rules)
        clock.time("floor: marts in one group-by", lambda: con.execute(MARTS_FLOOR).fetchall())
        clock.time("floor: figures in one scan", lambda: con.execute(FIGURES_FLOOR).fetchall())

    def write_findings() -> None:
        (scratch / "findings.json").write_text(
            json.dumps([f.to_json() for f in findings], ensure_ascii=False, indent=2, default=str),
            encoding="utf-8",
        )

    clock.time("floor: findings.json alone", write_findings)
    letter_bytes = [(p.suffix, p.read_bytes()) for p in letter_files if p.is_file()]

    def create_files() -> None:
        folder = scratch / "letters"
        folder.mkdir()
        for i, (suffix, data) in enumerate(letter_bytes):
            (folder / f"{i}{suffix}").write_bytes(data)

    clock.time("floor: create the letters' files", create_files)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"bytes": sum(len(d) for d in datas)}


# The marts' sums, hand-written: each unit's current submission (the last by sequence) of the
# period and its baseline, summed by sector and by form.
MARTS_FLOOR = """
with cur as (
    select * from (
        select *, row_number() over (partition by unit_code, period order by seq desc) as rn
        from submissions where period in ('2023', '2024')
    ) where rn = 1
)
select c.period, grouping(r.sector, r.form) as g, r.sector, r.form, v.indicator_code,
    sum(v.value), count(*)
from cur c join submitted_values v using (submission_id)
join registry_units r on r.unit_code = c.unit_code
group by grouping sets ((c.period, v.indicator_code, r.sector),
    (c.period, v.indicator_code, r.form), (c.period, v.indicator_code))
"""

# Every figure's total and count, from the intermediate model the marts aggregate, in one scan.
FIGURES_FLOOR = """
select group_type, group_value, indicator_code, role, ordinal, sum(value), count(*)
from int_values_grouped group by all
"""


def detection(bloc: Path, findings: list) -> dict:
    """What tonghop found against what was planted (truth.json): planted findings found (the
    planted rule at the planted unit and period), and units with no planted finding that got
    findings, by rule."""
    truth = json.loads((bloc / "truth.json").read_text(encoding="utf-8"))
    rules: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in findings:
        rules[(f.unit_code, f.period)].add(f.rule_id)
    planted = {(p["unit_code"], p["period"]) for p in truth["planted"]}
    missed = [
        f"{p['kind']} ({p['rule_id']}) at {p['unit_code']}"
        for p in truth["planted"]
        if not any(_is_rule(r, p["rule_id"]) for r in rules[(p["unit_code"], p["period"])])
    ]
    unplanted: dict[str, int] = defaultdict(int)
    for key, found in rules.items():
        if key not in planted:
            for rule in found:
                unplanted[rule] += 1
    return {
        "planted": len(truth["planted"]),
        "found": len(truth["planted"]) - len(missed),
        "missed": missed[:20],
        "unplanted_by_rule": dict(sorted(unplanted.items())),
        "registry_units": truth["registry_units"],
    }


def _is_rule(rule_id: str, planted: str) -> bool:
    """A finding's rule is the planted one or of its family (`bounds`: `bounds_org_rating`)."""
    return rule_id == planted or rule_id.startswith(f"{planted}_")


def _median(runs: list[dict], key: str) -> float | None:
    values = [r["seconds"][key] for r in runs if key in r["seconds"]]
    return statistics.median(values) if values else None


def unseen_table(units: int, blocs: dict[str, list[dict]], naive: dict[str, list[dict]]) -> str:
    """One table for N units: every stage, its floor, and for each bloc (clean, with findings)
    the stage's median, its ratio to the floor and the ratio between the blocs."""
    names = list(blocs)
    head = ["units", "stage"] + [f"{n}: s (× floor)" for n in names] + ["findings / clean", "floor"]
    lines = ["| " + " | ".join(head) + " |", "|---:|---|" + "---:|" * len(names) + "---:|---|"]

    def cell(runs: list[dict], stage: str, floor: str | None) -> str:
        t = _median(runs, stage)
        if t is None:
            return ""
        f = _median(runs, floor) if floor else None
        return f"{t:.2f}" + (f" ({t / f:.1f}×)" if f else "")

    def ratio(stage: str) -> str:
        if len(names) < 2:
            return ""
        a, b = _median(blocs[names[0]], stage), _median(blocs[names[1]], stage)
        return f"{b / a:.2f}×" if a and b else ""

    for stage, floor in STAGES:
        cells = [cell(blocs[n], stage, floor) for n in names]
        note = (
            f"{floor}: " + " / ".join(cell(blocs[n], floor, None) for n in names) if floor else ""
        )
        if floor:
            note += f" s ({FLOOR_NOTES[floor]})"
        lines.append(
            f"| {units:,} | {stage} | " + " | ".join(cells) + f" | {ratio(stage)} | {note} |"
        )
    whole = {n: [sum(r["seconds"][s] for s, _ in STAGES) for r in blocs[n]] for n in names}
    whole_cells = [f"**{statistics.median(whole[n]):.2f}**" for n in names]
    lines.append(
        f"| {units:,} | **whole (the stages above)** | "
        + " | ".join(whole_cells)
        + (
            f" | {statistics.median(whole[names[1]]) / statistics.median(whole[names[0]]):.2f}× |"
            if len(names) > 1
            else " | |"
        )
        + " peak "
        + " / ".join(
            f"{max(r['peak_mb']['review page and letters'] for r in blocs[n]):.0f}" for n in names
        )
        + " MB |"
    )
    if naive:
        naive_cells = []
        for n in names:
            if naive.get(n):
                t = statistics.median(sum(x["seconds"].values()) for x in naive[n])
                naive_cells.append(f"{t:.2f} ({t / statistics.median(whole[n]):.1f}× tonghop)")
            else:
                naive_cells.append("")
        lines.append(
            f"| {units:,} | naive pipeline, both years | " + " | ".join(naive_cells) + " | | "
            "per-file pandas / openpyxl, GX on pandas, group-by, Jinja2 |"
        )
    lines.append(
        f"| {units:,} | resubmission of one unit | "
        + " | ".join(cell(blocs[n], "resubmission", None) for n in names)
        + " | | collect, validate, consolidate, trace, render, letters: "
        + blocs[names[0]][0]["resubmission"]
        + " |"
    )
    per = []
    for n in names:
        runs = blocs[n]
        first = runs[0]
        localize = statistics.median(r["localize_s"] for r in runs)
        letters_s = statistics.median(r["letters_s"] for r in runs)
        explain = _median(runs, "explain (trace)")
        per.append(
            f"{n}: {first['balance_findings']:,} balance findings, localization "
            f"{1000 * localize / max(1, first['balance_findings']):.2f} ms each "
            f"({localize:.2f} s); {first['letters']:,} letters, "
            f"{1000 * letters_s / max(1, first['letters']):.2f} ms each ({letters_s:.2f} s); "
            f"{first['figures']} figures explained, "
            f"{1000 * explain / max(1, first['figures']):.1f} ms "
            f"each; {first['findings']:,} findings ({first['errors']:,} errors), "
            f"{first['files']:,} files ({first['bytes'] / 2**20:.1f} MB), "
            f"{first['rejected']} rejected"
        )
    lines += ["", "Costs per finding, letter and figure (medians): " + "; ".join(per) + "."]
    det = []
    for n in names:
        d = blocs[n][0]["detection"]
        unplanted = ", ".join(f"{k} {v}" for k, v in d["unplanted_by_rule"].items()) or "none"
        det.append(
            f"{n}: {d['found']} of {d['planted']} planted findings found"
            + (f" (missed: {'; '.join(d['missed'][:6])})" if d["missed"] else "")
            + f"; reports (unit, period) with findings nobody planted, by rule: {unplanted}"
        )
    lines += ["", "Detection against the bloc's truth.json: " + "; ".join(det) + "."]
    return "\n".join(lines)


def measure_localization(bloc: Path, workspace: Path) -> dict:
    """Collect and validate only, on a bloc with many findings: localization's cost per balance
    finding (`python benchmarks/unseen.py BLOC WORKSPACE`)."""
    from tonghop import pipeline
    from tonghop.catalog import load_catalog
    from tonghop.localize import BALANCE_KINDS
    from tonghop.periods import PeriodRange
    from tonghop.validation import run as validation_run

    shutil.rmtree(workspace, ignore_errors=True)
    spent = _Spent()
    validation_run.localize_findings = spent.wrap("localize", validation_run.localize_findings)
    pipeline.load_registry(workspace, bloc / "registry.csv")
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(bloc / "src"))).batch_id
    start = time.perf_counter()
    findings = pipeline.validate_scope(
        workspace, load_catalog(), PeriodRange.parse(PERIOD), batch, "bench"
    )
    validate = time.perf_counter() - start
    balance = sum(f.kind in BALANCE_KINDS for f in findings)
    return {
        "findings": len(findings),
        "balance_findings": balance,
        "validate_s": round(validate, 2),
        "localize_s": round(spent.seconds["localize"], 3),
        "ms_per_balance_finding": round(1000 * spent.seconds["localize"] / max(1, balance), 3),
        "with_suspect": sum(bool(getattr(f, "suspect", None)) for f in findings),
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(measure_localization(Path(sys.argv[1]), Path(sys.argv[2]))))
