"""A bloc tonghop has never seen: another registry, CSV submissions for two years, one planted
error of each kind. Each must come back as a finding of the right kind for the right unit, no
clean unit may get an error, and the draft's totals must equal the clean units' sums."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from tonghop.generate import clean_values

PLANTED = {
    "X01": ("bounds", "members_admitted"),
    "X02": ("sum", "members_total"),
    "X03": ("part_le_whole", "tasks_completed"),
    "X04": ("ratio", "members_rated_good_pct"),
    "X05": ("completeness", None),
    "X06": ("duplicate", None),
    "X07": ("type", "members_confirmed"),
    "X08": ("unknown_indicator", None),
    "ZZ99": ("unknown_unit", None),
}
SECTORS = ["agency", "soe", "private", "industrial_zone"]


def write_csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "period", "indicator_code", "value"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def bloc(tmp_path_factory):
    """Registry and submissions for 2023 and 2024 with the planted errors, and the clean sums."""
    rng = random.Random(20261127)
    root = tmp_path_factory.mktemp("unseen")
    units = [f"X{i:02d}" for i in range(1, 31)]
    registry = [
        {
            "unit_code": code,
            "name": f"Chi bộ Đơn vị thử nghiệm số {i}",
            "sector": SECTORS[i % 4],
            "form": "dang_bo" if i % 3 else "chi_bo",
            "valid_from": "2015-01-01",
            "valid_to": "",
        }
        for i, code in enumerate(units, start=1)
    ]
    with open(root / "registry.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(registry[0]))
        writer.writeheader()
        writer.writerows(registry)
    sums = {"members_2024": 0.0, "admitted": 0.0}
    for unit in registry:
        code = unit["unit_code"]
        for year in (2023, 2024):
            values = clean_values(rng, unit["sector"], unit["form"])
            planted = PLANTED.get(code, (None,))[0] if year == 2024 else None
            rows = [(code, str(year), k, v) for k, v in values.items()]
            if planted == "completeness":
                continue
            if planted == "bounds":
                rows = [(c, p, k, -3 if k == "members_admitted" else v) for c, p, k, v in rows]
            elif planted == "sum":
                rows = [(c, p, k, v + 10 if k == "members_total" else v) for c, p, k, v in rows]
            elif planted == "part_le_whole":
                rows = [
                    (c, p, k, values["tasks_assigned"] + 7 if k == "tasks_completed" else v)
                    for c, p, k, v in rows
                ]
            elif planted == "ratio":
                rows = [
                    (c, p, k, round(v - 3.5, 2) if k == "members_rated_good_pct" else v)
                    for c, p, k, v in rows
                ]
            elif planted == "type":
                rows = [(c, p, k, "12a" if k == "members_confirmed" else v) for c, p, k, v in rows]
            elif planted == "unknown_indicator":
                rows.append((code, str(year), "members_totl", 5))
            elif planted == "duplicate":
                changed = [
                    (c, p, k, v + 1 if k == "members_admitted" else v) for c, p, k, v in rows
                ]
                write_csv(root / "src" / str(year) / f"{code}-ban-sua.csv", changed)
            write_csv(root / "src" / str(year) / f"{code}.csv", rows)
            clean = planted is None
            if clean:
                sums["admitted"] += values["members_admitted"]
                if year == 2024:
                    sums["members_2024"] += values["members_total"]
    write_csv(root / "src" / "2024" / "ZZ99.csv", [("ZZ99", "2024", "members_total", 40)])
    return root, sums


@pytest.fixture(scope="module")
def unseen_run(prefect_api, bloc):
    from tonghop.flows.run import RunParameters, run

    root, _ = bloc
    out = root / "out"
    summary = run(
        RunParameters(
            source=str(root / "src"),
            registry=root / "registry.csv",
            period="2023..2024",
            workspace=root / "ws",
            out=out,
        )
    )
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return summary, findings, out


def test_every_planted_error_is_found_for_its_unit(unseen_run):
    _, findings, _ = unseen_run
    found = {(f["unit_code"], f["kind"]) for f in findings if f["severity"] == "error"}
    for unit, (kind, _indicator) in PLANTED.items():
        assert (unit, kind) in found, f"{kind} not found for {unit}"


def test_findings_name_the_field_that_was_changed(unseen_run):
    _, findings, _ = unseen_run
    for unit, (kind, indicator) in PLANTED.items():
        if indicator:
            matching = [f for f in findings if f["unit_code"] == unit and f["kind"] == kind]
            assert any(indicator in f["indicators"] for f in matching), (unit, matching)


def test_no_error_on_clean_units(unseen_run):
    _, findings, _ = unseen_run
    errors = {f["unit_code"] for f in findings if f["severity"] == "error"}
    assert errors == set(PLANTED)


def test_draft_totals_equal_clean_sums(unseen_run, bloc):
    summary, _, out = unseen_run
    _, sums = bloc
    text = (out / "bao-cao.md").read_text(encoding="utf-8")
    members = f"{round(sums['members_2024']):,}".replace(",", ".")
    admitted = f"{round(sums['admitted']):,}".replace(",", ".")
    assert f"và {members} đảng viên" in text
    assert f"đã kết nạp {admitted} quần chúng ưu tú" in text
    assert summary.units_expected == 30
    assert summary.units_included == 30 - 8  # X01..X08 are blocked or missing in 2024
