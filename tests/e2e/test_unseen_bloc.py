"""A bloc tonghop has never seen: another registry (with a merger in its history), CSV
submissions for two years whose second year follows from the first, and one planted error of
each kind. Each must come back as a finding of the right kind for the right unit, naming the
planted field as its `suspect` where the rules determine it (and among its candidates where
they leave a choice); the clean units, the merger included, raise no finding at all, warnings
included; and the draft's totals equal the sums of the submissions that were not held back."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from tonghop.generate import clean_values

UNITS = 80  # enough units of one sector and form to compare the new one with
SECTORS = ["agency", "soe", "private", "industrial_zone"]
# unit -> (kind of the finding, the planted field, how the rules see it): "suspect" where they
# determine the field, "candidate" where they leave a choice, None where no field is named
PLANTED = {
    "X01": ("bounds", "members_admitted", None),
    "X02": ("sum", "members_total", "suspect"),  # and the stock-flow: the total repairs both
    "X03": ("part_le_whole", "tasks_completed", "candidate"),  # or the tasks assigned
    "X04": ("ratio", "members_rated_good_pct", "suspect"),  # its parts keep their own sum
    "X05": ("completeness", None, None),
    "X06": ("duplicate", None, None),
    "X07": ("type", "members_confirmed", None),
    "X08": ("unknown_indicator", None, None),
    "X09": ("sum", "members_official", "suspect"),  # two digits swapped: the slip is named
    "X10": ("plausibility", "employees", "suspect"),  # typed 1000× its last year's
    "X11": ("stock_flow", "members_admitted", "candidate"),  # or another flow
    "X13": ("plausibility", "employees", "suspect"),  # new this year: 1000× its peers'
    # forgot the members it took over: a missing outflow explains it as cheaply as the total
    # with a part, so no field is named
    "X17": ("stock_flow", "members_total", None),
    "X18": ("completeness", "branches_meeting_regularly", None),  # not for a chi bộ cơ sở
    "ZZ99": ("unknown_unit", None, None),
}
# X15 was merged into X16 on 01/03/2024 and X14 into X17: the registry's predecessors
MERGED = {"X15": "X16", "X14": "X17"}
NEW_UNIT = "X13"  # came into the bloc in 2024, no history of its own
ERROR_KINDS = {"bounds", "sum", "part_le_whole", "ratio", "duplicate", "type", "unknown_indicator"}


def write_csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "period", "indicator_code", "value"])
        writer.writerows(rows)


def _registry(units: list[str]) -> list[dict]:
    rows = []
    for i, code in enumerate(units, start=1):
        sector = SECTORS[i % 4] if code != NEW_UNIT else "soe"
        form = ("dang_bo" if i % 3 else "chi_bo") if code != NEW_UNIT else "dang_bo"
        ended = code in MERGED
        rows.append(
            {
                "unit_code": code,
                "name": f"Đảng bộ Đơn vị thử nghiệm số {i}",
                "sector": sector,
                "form": "dang_bo" if ended or code in MERGED.values() else form,
                "valid_from": "2024-01-01" if code == NEW_UNIT else "2015-01-01",
                "valid_to": "2024-02-29" if ended else "",
                "predecessors": ";".join(k for k, v in MERGED.items() if v == code),
                "end_reason": "merged" if ended else "",
            }
        )
    return rows


def _swap_last_digits(value: float) -> float:
    text = str(int(value))
    if len(text) >= 2 and text[-1] != text[-2]:
        return float(text[:-2] + text[-1] + text[-2])
    return float(text[:-1] + str((int(text[-1]) + 1) % 10))


def _plant(code: str, values: dict, previous: dict | None) -> dict:
    """The unit's 2024 values with its planted error (unchanged for the clean units)."""
    out = dict(values)
    if code == "X01":
        out["members_admitted"] = -3
    elif code == "X02":
        out["members_total"] += 10
    elif code == "X03":
        out["tasks_completed"] = out["tasks_assigned"] + 7
    elif code == "X04":
        out["members_rated_good_pct"] = round(out["members_rated_good_pct"] - 3.5, 2)
    elif code == "X09":
        out["members_official"] = _swap_last_digits(out["members_official"])
    elif code in ("X10", NEW_UNIT):
        out["employees"] = out["employees"] * 1000
    elif code == "X11":
        out["members_admitted"] += 2
    elif code == "X17":  # the total and official without the 2023 members of X14
        missing = previous["members_total"] if previous else 0
        out["members_total"] -= missing
        out["members_official"] -= missing
    elif code == "X18":
        out["branches_meeting_regularly"] = 1
    return out


@pytest.fixture(scope="module")
def bloc(tmp_path_factory):
    """Registry and submissions for 2023 and 2024 with the planted errors; what each unit
    wrote, and the planted fields' true values."""
    rng = random.Random(20261127)
    root = tmp_path_factory.mktemp("unseen")
    units = [f"X{i:02d}" for i in range(1, UNITS + 1)]
    registry = _registry(units)
    with open(root / "registry.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(registry[0]))
        writer.writeheader()
        writer.writerows(registry)
    written: dict[tuple[str, int], dict] = {}
    truth: dict[str, float] = {}
    last: dict[str, dict] = {}
    for unit in registry:
        code = unit["unit_code"]
        previous = None
        for year in (2023, 2024):
            if (year == 2023 and code == NEW_UNIT) or (year == 2024 and code in MERGED):
                continue
            values = clean_values(rng, unit["sector"], unit["form"], previous)
            previous = values
            if year == 2024:
                values = _merged_in(code, values, last)
                if code == NEW_UNIT:
                    values["employees"] = 450  # within its peers: the slip lands among them
                field = (PLANTED.get(code) or (None, None))[1]
                if field and field in values:
                    truth[code] = values[field]
                values = _plant(code, values, last.get("X14") if code == "X17" else None)
                if code == "X05":
                    continue
            last[code] = values
            rows = [(code, str(year), k, v) for k, v in values.items()]
            if year == 2024 and code == "X07":
                rows = [(c, p, k, "12a" if k == "members_confirmed" else v) for c, p, k, v in rows]
            if year == 2024 and code == "X08":
                rows.append((code, str(year), "members_totl", 5))
            if year == 2024 and code == "X06":
                changed = [
                    (c, p, k, v + 1 if k == "members_admitted" else v) for c, p, k, v in rows
                ]
                write_csv(root / "src" / str(year) / f"{code}-ban-sua.csv", changed)
            write_csv(root / "src" / str(year) / f"{code}.csv", rows)
            written[(code, year)] = values
    write_csv(root / "src" / "2024" / "ZZ99.csv", [("ZZ99", "2024", "members_total", 40)])
    return root, written, truth


def _merged_in(code: str, values: dict, last: dict) -> dict:
    """A unit that took another over: its stocks hold the other's 2023 members too."""
    out = dict(values)
    for before, after in MERGED.items():
        if after == code and before in last:
            out["members_total"] += last[before]["members_total"]
            out["members_official"] += last[before]["members_official"]
            out["members_probationary"] += last[before]["members_probationary"]
    return out


@pytest.fixture(scope="module")
def unseen_run(prefect_api, bloc):
    from tonghop.flows.run import RunParameters, run

    root, _, _ = bloc
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
    found = {(f["unit_code"], f["kind"]) for f in findings}
    for unit, (kind, _field, _how) in PLANTED.items():
        assert (unit, kind) in found, f"{kind} not found for {unit}"


def test_the_planted_field_is_the_suspect_where_the_rules_determine_it(unseen_run, bloc):
    _, findings, _ = unseen_run
    _, _, truth = bloc
    for unit, (kind, field, how) in PLANTED.items():
        mine = [f for f in findings if f["unit_code"] == unit and f["kind"] == kind]
        assert mine, (unit, kind)
        if field:
            mine = [f for f in mine if field in f["indicators"]]
            assert mine, (unit, kind, field)
        if how == "suspect":
            assert {f["suspect"] for f in mine} == {field}, (unit, mine)
        elif how == "candidate":
            assert all(f["suspect"] is None for f in mine), (unit, mine)
            assert any(field in f["candidates"] for f in mine), (unit, mine)
    # where a slip explains the value, the value the unit meant
    for unit in ("X09", "X10", NEW_UNIT):
        kind, field, _ = PLANTED[unit]
        (suggested,) = {
            f["suggested_value"]
            for f in findings
            if f["unit_code"] == unit and f["kind"] == kind and field in f["indicators"]
        }
        assert suggested == truth[unit], unit


def test_a_wrong_total_is_blamed_on_the_total_not_on_a_part(unseen_run):
    """The sum rule alone would let official or probationary absorb the difference; the
    stock-flow identity across the years pins the total."""
    _, findings, _ = unseen_run
    mine = [f for f in findings if f["unit_code"] == "X02"]
    assert {f["rule_id"] for f in mine} == {"members_total_sum", "members_stock_flow"}
    assert {f["suspect"] for f in mine} == {"members_total"}


def test_clean_units_raise_no_finding_at_all(unseen_run):
    """Warnings included: the merged units and their successors, the new unit's peers, the
    chi bộ cơ sở whose non-applicable rows are 0 or blank."""
    _, findings, _ = unseen_run
    assert {f["unit_code"] for f in findings} == set(PLANTED)
    x18 = [f["rule_id"] for f in findings if f["unit_code"] == "X18"]
    assert x18 == ["not_applicable"]  # and no balance rule on a row that does not apply


def test_draft_totals_equal_the_sums_of_what_was_not_held_back(unseen_run, bloc):
    summary, findings, out = unseen_run
    _, written, _ = bloc
    held = {
        (f["unit_code"], int(f["period"]))
        for f in findings
        if f["severity"] == "error" and f["unit_code"] and f["period"]
    }
    counted = {key: v for key, v in written.items() if key not in held}
    members = sum(v["members_total"] for (_, year), v in counted.items() if year == 2024)
    admitted = sum(v["members_admitted"] for v in counted.values())
    text = (out / "bao-cao.md").read_text(encoding="utf-8")
    assert f"và {round(members):,} đảng viên".replace(",", ".") in text
    assert f"đã kết nạp {round(admitted):,} quần chúng ưu tú".replace(",", ".") in text
    expected = UNITS - len(MERGED)  # the merged ended in 2024; the new unit came
    assert summary.units_expected == expected
    blocked_or_missing = {u for u, y in held if y == 2024} | {"X05"}
    assert summary.units_included == expected - len(blocked_or_missing - {"ZZ99"})
