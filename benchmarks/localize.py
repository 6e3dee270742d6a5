"""Error localization's cost per finding (tonghop.localize), on a workload like an unseen bloc's.

    .venv/bin/python benchmarks/localize.py                 # 10,000 findings, 3 repeats
    .venv/bin/python benchmarks/localize.py --findings 2000 --repeat 1

Submissions are made by `tonghop.generate.clean_values` (a year and the year before it), then
one fault planted in each, in turn: a stock-flow gap (a flow left out: the warning alone, as
most of an unseen bloc's findings are), a wrong total (its sum and the stock-flow), a digit
slip in a part, a rate off its parts, a part above its whole. Every broken rule of a submission
is a finding, as validation makes them; `apply_localization` is timed over all of them (the
search only: validation's read of the frames is one query for every finding). Prints the
milliseconds per finding (median of the repeats) and how many findings got a suspect, a
suggestion, or candidates.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, field

from tonghop.catalog import load_catalog
from tonghop.generate import clean_values
from tonghop.localize import (
    BALANCE_KINDS,
    SubmissionValues,
    _applies,
    _fields,
    _holds,
    apply_localization,
    balance_checks,
)
from tonghop.rules import load_rules

FAULTS = ("stock_flow", "total", "part_slip", "rate", "part_le_whole")
SECTORS = ("agency", "soe", "private", "industrial_zone")


@dataclass
class BenchFinding:
    rule_id: str
    kind: str
    submission_id: str
    indicators: list[str]
    suspect: str | None = None
    suggested_value: float | None = None
    candidates: list[str] = field(default_factory=list)


def plant(fault: str, values: dict[str, float]) -> dict[str, float]:
    """One fault of each kind, as units make them."""
    out = dict(values)
    if fault == "stock_flow":
        out["members_admitted"] = out["members_admitted"] + 2  # a flow that never happened
    elif fault == "total":
        out["members_total"] = out["members_total"] + 10
    elif fault == "part_slip":
        official = int(out["members_official"])
        out["members_official"] = float(str(official)[::-1]) if official > 10 else official + 1
    elif fault == "rate":
        out["members_rated_good_pct"] = round(out["members_rated_good_pct"] - 3.5, 2)
    elif fault == "part_le_whole":
        out["tasks_completed"] = out["tasks_assigned"] + 7
    return out


def workload(count: int, seed: int) -> tuple[dict[str, SubmissionValues], list[BenchFinding]]:
    """Submissions with one planted fault each, and their findings, until `count` findings."""
    rng = random.Random(seed)
    catalog = load_catalog()
    checks = [c for c in balance_checks(catalog) if c.kind in BALANCE_KINDS]
    values: dict[str, SubmissionValues] = {}
    findings: list[BenchFinding] = []
    i = 0
    while len(findings) < count:
        sector, form = SECTORS[i % 4], "dang_bo" if i % 3 else "chi_bo"
        before = clean_values(rng, sector, form)
        now = plant(FAULTS[i % len(FAULTS)], clean_values(rng, sector, form, before))
        sid = f"s{i}"
        unit = SubmissionValues(now, before, now, sector=sector, form=form)
        values[sid] = unit
        keyed = unit.keyed()
        for check in checks:
            if _applies(check, keyed, unit) and not _holds(check, keyed, {}):
                indicators = sorted(_fields(check))
                findings.append(BenchFinding(check.rule_id, check.kind, sid, indicators))
        i += 1
    return values, findings[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    catalog, ruleset = load_catalog(), load_rules()
    checks = balance_checks(catalog, ruleset)
    spec = ruleset.localization
    times = []
    for _ in range(args.repeat):
        values, findings = workload(args.findings, args.seed)
        start = time.process_time()
        apply_localization(
            findings,
            values,
            checks,
            catalog,
            spec.weights,
            spec.max_fields,
            spec.unrepaired_warning,
        )
        times.append(time.process_time() - start)
    per = 1000 * statistics.median(times) / len(findings)
    suspects = sum(1 for f in findings if f.suspect)
    suggested = sum(1 for f in findings if f.suggested_value is not None)
    open_ = sum(1 for f in findings if f.candidates)
    print(
        f"{len(findings)} findings of {len(values)} submissions: {per:.3f} ms a finding "
        f"(median of {args.repeat}: {statistics.median(times):.2f} s); "
        f"{suspects} with a suspect, {suggested} with a suggested value, {open_} with candidates"
    )


if __name__ == "__main__":
    main()
