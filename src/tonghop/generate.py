"""A synthetic bloc of N units, deterministic from a seed, for the benchmarks.

Writes `registry.csv` and one submission per unit and period for two consecutive years:
`src/<year>/<unit>.csv` (long CSV, SPEC §4.2) or, for a share of units, tonghop's Excel form
`src/<year>/<unit>.xlsx`. Values pass every rule, warnings included: the second year's stocks
follow from the first year's and its flows (tests/e2e/test_unseen_bloc.py builds its unseen
bloc from `clean_values` too). A fixed share of units gets one planted error in the second
year, one kind per unit in turn.

    python -m tonghop.generate --units 6000 --out /tmp/bloc-6000 [--excel-share 0.05]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

SECTORS = ("agency", "soe", "private", "industrial_zone")
YEARS = (2023, 2024)
# The kinds tonghop's validation must find; completeness is a unit that sent nothing.
PLANTED_KINDS = ("bounds", "sum", "part_le_whole", "ratio", "type", "completeness", "duplicate")
HEADER = ("unit_code", "period", "indicator_code", "value")


@dataclass(frozen=True)
class Bloc:
    """Where a generated bloc lives and what was planted in it."""

    root: Path
    units: int
    files: dict[int, int]  # files per year
    planted: dict[str, str]  # unit_code -> kind, second year only

    @property
    def registry(self) -> Path:
        return self.root / "registry.csv"

    def source(self, year: int) -> Path:
        return self.root / "src" / str(year)


def clean_values(
    rng: random.Random, sector: str, form: str, previous: dict[str, float] | None = None
) -> dict[str, float]:
    """A consistent set of values for one unit and period: every rule holds, warnings included.

    With `previous` (the unit's values of the period before), the stocks follow from it and the
    period's flows, so the stock-flow and policy rules that look back hold too, and a firm's
    revenue, budget paid and employees stay near their last values.
    """
    admitted = rng.randint(0, 9)
    moved_in, moved_out, deceased = rng.randint(0, 3), rng.randint(0, 3), rng.randint(0, 1)
    if previous is None:
        members = rng.randint(35, 300) if form == "dang_bo" else rng.randint(5, 29)
        probationary = rng.randint(0, members // 8)
        confirmed = rng.randint(0, probationary)
    else:
        before = int(previous["members_probationary"])
        if form == "chi_bo" and int(previous["members_total"]) + admitted + moved_in >= 30:
            admitted = moved_in = 0  # a chi bộ stays under the 30 members of a đảng bộ
        members = int(previous["members_total"]) + admitted + moved_in - moved_out - deceased
        confirmed = rng.randint(0, before)
        probationary = rng.randint(0, min(members // 8, before + admitted + moved_in - confirmed))
    rated = members - rng.randint(0, min(3, members // 3))
    reprimand = rng.randint(0, min(2, rated // 4))
    warning = rng.randint(0, min(1, rated // 4))
    incomplete = reprimand + warning + rng.randint(0, 1)  # the disciplined rate incomplete
    excellent = rng.randint(0, (rated - incomplete) // 7)  # within 20 % of the good
    complete = rng.randint(0, max(0, rated - excellent - incomplete) // 10)
    good = rated - excellent - complete - incomplete
    assigned = rng.randint(50, 500)
    registered = rng.randint(0, 1)
    achieved = registered * rng.randint(0, 1)
    values = {
        "branches_total": rng.randint(2, 15) if form == "dang_bo" else 0,
        "members_total": members,
        "members_official": members - probationary,
        "members_probationary": probationary,
        "members_admitted": admitted,
        "members_confirmed": confirmed,
        "members_transferred_in": moved_in,
        "members_transferred_out": moved_out,
        "members_deceased": deceased,
        "members_struck_off": 0,
        "members_removed": 0,
        "party_badges_awarded": rng.randint(0, 4),
        "member_cards_issued": rng.randint(0, 10),
        "candidates_trained": rng.randint(0, 20),
        "members_rated": rated,
        "members_rated_excellent": excellent,
        "members_rated_good": good,
        "members_rated_complete": complete,
        "members_rated_incomplete": incomplete,
        "members_rated_good_pct": round(100 * (excellent + good) / rated, 2),
        "org_rating": rng.randint(2, 4),
        "secretaries_trained": rng.randint(0, 5),
        "culture_registered": registered,
        "culture_achieved": achieved,
        "culture_model": achieved * rng.randint(0, 1),
        "tasks_assigned": assigned,
        "tasks_completed": assigned - rng.randint(0, 5),
        "inspected_orgs": rng.randint(0, 3),
        "inspected_members": rng.randint(0, 10),
        "supervised_orgs": rng.randint(0, 3),
        "supervised_members": rng.randint(0, 10),
        "disciplined_members": reprimand + warning,
        "discipline_reprimand": reprimand,
        "discipline_warning": warning,
        "discipline_dismissal": 0,
        "discipline_expulsion": 0,
        "disciplined_orgs": 0,
        "denunciations_received": rng.randint(0, 1),
    }
    if form == "dang_bo":
        values["branches_meeting_regularly"] = values["branches_total"] - rng.randint(0, 1)
    if sector in ("soe", "private"):
        values |= {
            "revenue_bn_vnd": rng.randint(100, 99999) / 10,
            "state_budget_paid_bn_vnd": rng.randint(10, 9999) / 10,
            "employees": rng.randint(20, 900),
            "avg_income_mn_vnd_month": rng.randint(50, 150) / 10,
        }
        if previous is not None and "revenue_bn_vnd" in previous:
            # A firm's size moves by a fraction from one year to the next, as the plausibility
            # rules against the unit's own history (expectations/rules.yaml, magnitude) expect.
            for code in ("revenue_bn_vnd", "state_budget_paid_bn_vnd", "employees"):
                grown = float(previous[code]) * rng.uniform(0.8, 1.25)
                values[code] = max(1, round(grown)) if code == "employees" else round(grown, 1)
    return values


def plant(kind: str, values: dict[str, float | str]) -> dict[str, float | str]:
    """The values with one error of `kind` in them (completeness and duplicate: unchanged)."""
    out = dict(values)
    if kind == "bounds":
        out["members_admitted"] = -3
    elif kind == "sum":
        out["members_total"] = float(out["members_total"]) + 10
    elif kind == "part_le_whole":
        out["tasks_completed"] = float(out["tasks_assigned"]) + 7
    elif kind == "ratio":
        out["members_rated_good_pct"] = round(float(out["members_rated_good_pct"]) - 3.5, 2)
    elif kind == "type":
        out["members_confirmed"] = "12a"
    return out


def _text(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_csv(path: Path, unit_code: str, period: str, values: dict[str, float | str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows((unit_code, period, k, _text(v)) for k, v in values.items())


def generate(
    units: int,
    out: Path,
    seed: int = 20261127,
    excel_share: float = 0.0,
    error_share: float = 0.01,
) -> Bloc:
    """Write a bloc of `units` units under `out`; the same arguments give the same bytes."""
    rng = random.Random(seed)
    out = Path(out)
    for year in YEARS:
        (out / "src" / str(year)).mkdir(parents=True, exist_ok=True)
    registry = [
        {
            "unit_code": f"U{i:06d}",
            "name": f"Chi bộ Đơn vị tổng hợp số {i}",
            "sector": SECTORS[i % len(SECTORS)],
            "form": "dang_bo" if i % 3 else "chi_bo",
            "valid_from": "2015-01-01",
            "valid_to": "",
        }
        for i in range(1, units + 1)
    ]
    with open(out / "registry.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(registry[0]))
        writer.writeheader()
        writer.writerows(registry)
    every = max(1, round(1 / error_share)) if error_share > 0 else 0
    planted = {
        unit["unit_code"]: PLANTED_KINDS[(i // every) % len(PLANTED_KINDS)]
        for i, unit in enumerate(registry)
        if every and i % every == every // 2
    }
    excel_every = max(1, round(1 / excel_share)) if excel_share > 0 else 0
    catalog = _catalog() if excel_every else None
    files = dict.fromkeys(YEARS, 0)
    for i, unit in enumerate(registry):
        code = unit["unit_code"]
        as_excel = bool(excel_every) and i % excel_every == 0
        previous = None
        for year in YEARS:
            values: dict[str, float | str] = clean_values(
                rng, unit["sector"], unit["form"], previous
            )
            previous = values
            kind = planted.get(code) if year == YEARS[-1] else None
            if kind == "completeness":
                continue
            if kind:
                values = plant(kind, values)
            folder = out / "src" / str(year)
            if as_excel and kind != "type":
                from tonghop.forms import write_form

                write_form(folder / f"{code}.xlsx", unit, str(year), catalog, values)
            else:
                write_csv(folder / f"{code}.csv", code, str(year), values)
            files[year] += 1
            if kind == "duplicate":
                changed = values | {"members_admitted": float(values["members_admitted"]) + 1}
                write_csv(folder / f"{code}-ban-sua.csv", code, str(year), changed)
                files[year] += 1
    bloc = Bloc(root=out, units=units, files=files, planted=planted)
    (out / "bloc.json").write_text(
        json.dumps(
            {
                "units": units,
                "seed": seed,
                "excel_share": excel_share,
                "files": files,
                "planted": planted,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return bloc


def _catalog():  # noqa: ANN202 - tonghop.catalog.Catalog, imported lazily
    from tonghop.catalog import load_catalog

    return load_catalog()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--excel-share", type=float, default=0.0)
    parser.add_argument("--error-share", type=float, default=0.01)
    args = parser.parse_args(argv)
    bloc = generate(args.units, args.out, args.seed, args.excel_share, args.error_share)
    print(
        f"{bloc.units} units, files {bloc.files}, {len(bloc.planted)} planted errors → {bloc.root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
