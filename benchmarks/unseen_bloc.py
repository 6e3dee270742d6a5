"""A bloc tonghop has never seen, for the benchmarks (issue 27): written from SPEC §3-§4 and
the catalog's applicability alone, without `tonghop.generate` or any other tonghop module.

Both years are new: `src/2023/` and `src/2024/` hold one submission per unit and year (long
CSV, SPEC §4.2, some with a BOM, CRLF line ends, a `note` column, Vietnamese thousands in
counts and decimal commas in amounts; a share as an Excel form laid out as SPEC §4.2's form, written
here with openpyxl). Nothing is preloaded: a run collects both years.

The units are not the code's own mirror:
- sizes drawn from a long-tailed law (a few đảng bộ of thousands of members), a quarter of the
  units chi bộ cơ sở, which write `0` in the rows that do not apply to them (branches meeting
  regularly, the enterprise figures of an agency, the bloc committee's own rows);
- the bloc committee's own body (sector `committee`) reporting its own figures;
- restructured units in 2024 (SPEC §4.1's optional `predecessors` and `end_reason`): two đảng
  bộ merged into a new one that took over their members, units transferred out of the bloc in
  the year (no 2024 report), units transferred in (no 2023 report);
- notes on some values, some of them text that must be escaped (`<b>`, `=1+1`, `&`);
- with `findings_share` (5 % in the benchmark), that share of the units carries one planted
  finding in 2024, one kind per unit in turn: a bound broken, a sum rule broken, a stock-flow
  break, a power-of-ten slip, an ambiguous number, a part above its whole, a reported rate
  that does not match its parts, a required value left out. `truth.json` lists each, with the
  rule it breaks (its id, or the prefix of the ids of its family: `bounds` for
  `bounds_org_rating`) and the value the unit meant.

The clean and the with-findings blocs of one seed are the same bloc but for the planted units.

    python benchmarks/unseen_bloc.py --units 6000 --out /tmp/unseen-6000 [--findings 0.05]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
YEARS = ("2023", "2024")
SECTOR_SHARES = (("agency", 0.42), ("soe", 0.13), ("private", 0.33), ("industrial_zone", 0.12))
ENTERPRISE = ("soe", "private")
# The bloc committee's own body: SPEC §4.1 allows the sector `committee`, which this version's
# registry reader refuses; the sample bloc's committee is an `agency` of form `dang_uy_khoi`.
COMMITTEE_SECTOR, COMMITTEE_FORM = "agency", "dang_uy_khoi"
CHI_BO_SHARE = 0.25
EXCEL_SHARE = 0.05
NOTE_SHARE = 0.08
# Restructured in 2024, as shares of the units: each merger takes two đảng bộ into a new one.
MERGER_SHARE = 0.004
TRANSFERRED_OUT_SHARE = 0.003
TRANSFERRED_IN_SHARE = 0.003
# One planted finding per unit with findings, in turn (the rule each breaks is in truth.json).
PLANT_KINDS = (
    "bounds",
    "sum",
    "stock_flow",
    "power_of_ten",
    "ambiguous",
    "part_le_whole",
    "ratio",
    "completeness",
)
# The rows a chi bộ cơ sở leaves at 0 although they do not concern it (SPEC §3: no finding).
CHI_BO_ZEROS = ("branches_meeting_regularly", "branches_meeting_regularly_pct")
ENTERPRISE_ROWS = (
    "revenue_bn_vnd",
    "state_budget_paid_bn_vnd",
    "employees",
    "avg_income_mn_vnd_month",
)
COMMITTEE_ROWS = ("mass_orgs_total", "mass_orgs_rated_strong", "bloc_classes_held")
NOTES = (
    "Số liệu đã được Ban chấp hành thông qua",
    "Có 02 đồng chí chuyển sinh hoạt tạm thời",
    "Theo báo cáo của Văn phòng cấp ủy",
    "Số liệu <b>ước tính</b> đến 15/12",
    "=1+1 (ghi nhầm công thức)",
    "Đơn vị sáp nhập & kiện toàn tổ chức",
    'Ghi chú "tạm tính"',
)
NAME_KINDS = {
    "agency": ("Sở", "Ban", "Trường Cao đẳng", "Bệnh viện", "Trung tâm", "Hội"),
    "soe": ("Công ty TNHH MTV", "Tổng công ty", "Công ty cổ phần"),
    "private": ("Công ty TNHH", "Công ty cổ phần", "Công ty TNHH Thương mại & Dịch vụ"),
    "industrial_zone": ("Công ty TNHH", "Công ty cổ phần"),
}
NAME_WORDS = (
    "Sông Mã", "Hàm Rồng", "Lam Sơn", "Nghi Sơn", "Bỉm Sơn", "Sầm Sơn", "Thọ Xuân", "Hoằng Hóa",
    "Quảng Xương", "Đông Sơn", "Ngọc Lặc", "Cẩm Thủy", "Như Thanh", "Hà Trung", "Vĩnh Lộc",
    "Xây dựng", "Cơ khí", "Điện lực", "Giao thông", "Nông sản", "Dệt may", "Du lịch", "Y tế",
)  # fmt: skip
FORM_LABELS = {"dang_bo": "đảng bộ cơ sở", "chi_bo": "chi bộ cơ sở", "dang_uy_khoi": "Đảng ủy Khối"}
SECTOR_LABELS = {
    "agency": "cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh",
    "soe": "doanh nghiệp có vốn nhà nước",
    "private": "doanh nghiệp ngoài nhà nước",
    "industrial_zone": "khu công nghiệp",
}


@dataclass
class Unit:
    code: str
    name: str
    sector: str
    form: str
    valid_from: str = "2010-01-01"
    valid_to: str = ""
    predecessors: str = ""
    end_reason: str = ""
    years: tuple[str, ...] = YEARS
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # year → code → value


@dataclass
class Catalog:
    """What the generator takes from `catalog/indicators.yaml`: codes, types, applicability
    (the data a new office receives with tonghop; SPEC §3)."""

    rows: list[dict]

    @classmethod
    def load(cls, path: Path = ROOT / "catalog" / "indicators.yaml") -> Catalog:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8"))["indicators"])

    def applies(self, row: dict, unit: Unit) -> bool:
        scope = row.get("applies_to") or {}
        if unit.form == COMMITTEE_FORM:
            return unit.form in scope.get("forms", [])
        return (not scope.get("sectors") or unit.sector in scope["sectors"]) and (
            not scope.get("forms") or unit.form in scope["forms"]
        )


def _pick(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random(), 0.0
    for value, share in shares:
        acc += share
        if x < acc:
            return value
    return shares[-1][0]


def _poisson(rng: random.Random, mean: float) -> int:
    """A small count with this mean (Knuth's method; a normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _name(rng: random.Random, sector: str, form: str) -> str:
    head = "Đảng bộ" if form == "dang_bo" else "Chi bộ"
    return f"{head} {rng.choice(NAME_KINDS[sector])} {rng.choice(NAME_WORDS)}"


def _first_year(rng: random.Random, unit: Unit) -> dict[str, float]:
    """A unit's 2023 values, each rule of SPEC §4.4 kept (policies included)."""
    if unit.form == "chi_bo":
        total = rng.randint(6, 27)
    else:  # long-tailed: most đảng bộ have a few dozen members, a few thousands
        total = min(9000, 32 + int(rng.paretovariate(1.6) * 25))
    return _year_values(rng, unit, total, probationary=round(total * rng.uniform(0.02, 0.08)))


def _year_values(
    rng: random.Random,
    unit: Unit,
    total: int,
    probationary: int,
    flows: dict[str, float] | None = None,
) -> dict[str, float]:
    v: dict[str, float] = dict(flows or {})
    v["members_total"] = total
    v["members_probationary"] = probationary
    v["members_official"] = total - probationary
    v["branches_total"] = 0 if unit.form == "chi_bo" else max(2, total // rng.randint(8, 15))
    if unit.form == "dang_bo":
        v["branches_meeting_regularly"] = v["branches_total"] - rng.choice((0, 0, 0, 1))
    for code in ("members_admitted", "members_transferred_in", "members_transferred_out"):
        v.setdefault(code, _poisson(rng, total * 0.03))
    for code in ("members_deceased", "members_struck_off", "members_removed"):
        v.setdefault(code, _poisson(rng, total * 0.004))
    v.setdefault("members_confirmed", min(probationary, _poisson(rng, probationary * 0.5)))
    expulsion = v.setdefault("discipline_expulsion", _poisson(rng, total * 0.001))
    parts = [_poisson(rng, total * 0.004), _poisson(rng, total * 0.002), _poisson(rng, 0.2)]
    parts = [p if i < 2 else min(p, v["members_official"] - expulsion) for i, p in enumerate(parts)]
    (v["discipline_reprimand"], v["discipline_warning"], v["discipline_dismissal"]) = parts
    v["disciplined_members"] = sum(parts) + expulsion
    v["disciplined_orgs"] = _poisson(rng, 0.05)
    rated = total - rng.randint(0, max(0, min(3, total // 10)))
    incomplete = v["disciplined_members"] + _poisson(rng, rated * 0.01)
    good = round((rated - incomplete) * rng.uniform(0.6, 0.8))
    excellent = min(good // 5, round(rated * rng.uniform(0.05, 0.15)))
    v |= {
        "members_rated": rated,
        "members_rated_excellent": excellent,
        "members_rated_good": good,
        "members_rated_incomplete": incomplete,
        "members_rated_complete": rated - excellent - good - incomplete,
    }
    if rated and rng.random() < 0.6:  # the rate is optional when its parts are sent (SPEC §3)
        v["members_rated_good_pct"] = round(100 * (excellent + good) / rated, 2)
    v["org_rating"] = rng.choice((2, 3, 3, 3, 4, 4))
    v["unit_task_rating"] = rng.choice((2, 3, 3, 4))
    registered = rng.random() < 0.8
    achieved = registered and rng.random() < 0.85
    model = achieved and rng.random() < 0.3
    v |= {"culture_registered": registered, "culture_achieved": achieved, "culture_model": model}
    assigned = rng.randint(4, 40)
    v["tasks_assigned"], v["tasks_completed"] = assigned, assigned - rng.choice((0, 0, 1, 2))
    if rng.random() < 0.5:
        v["tasks_completed_pct"] = round(100 * v["tasks_completed"] / assigned, 2)
    for code, mean in (
        ("party_badges_awarded", 0.02),
        ("member_cards_issued", 0.03),
        ("candidates_trained", 0.05),
        ("secretaries_trained", 0.02),
        ("inspected_orgs", 0.01),
        ("inspected_members", 0.02),
        ("supervised_orgs", 0.01),
        ("supervised_members", 0.03),
        ("denunciations_received", 0.002),
        ("members_nqtw4_committed", 0.9),
    ):
        v.setdefault(code, _poisson(rng, total * mean))
    v["members_nqtw4_committed"] = min(v["members_nqtw4_committed"], total)
    v["env_safety_standard"] = rng.random() < 0.7
    v["resolution_action_programme"] = rng.random() < 0.9
    if unit.sector in ENTERPRISE:
        v["employees"] = total * rng.randint(4, 30)
        v["revenue_bn_vnd"] = round(v["employees"] * rng.uniform(0.3, 2.5), 1)
        v["state_budget_paid_bn_vnd"] = round(v["revenue_bn_vnd"] * rng.uniform(0.02, 0.1), 1)
        v["avg_income_mn_vnd_month"] = round(rng.uniform(5.5, 22.0), 1)
    return {k: float(x) for k, x in v.items()}


def _next_year(rng: random.Random, unit: Unit, before: dict[str, float]) -> dict[str, float]:
    """2024 from 2023: the stocks follow from the flows (stock-flow rules hold), sizes stay
    near (no plausibility warning), a chi bộ stays under 30 members."""
    total, probationary = before["members_total"], before["members_probationary"]
    flows = {
        "members_admitted": _poisson(rng, total * 0.03),
        "members_transferred_in": _poisson(rng, total * 0.02),
        "members_transferred_out": _poisson(rng, total * 0.02),
        "members_deceased": _poisson(rng, total * 0.004),
        "members_struck_off": _poisson(rng, total * 0.003),
        "members_removed": _poisson(rng, total * 0.001),
        "discipline_expulsion": _poisson(rng, total * 0.0005),
    }
    if unit.form == "chi_bo":  # leaves enough and admits few enough to stay a chi bộ
        flows["members_admitted"] = min(flows["members_admitted"], 29 - int(total))
        flows["members_transferred_in"] = 0
    confirmed = min(probationary, _poisson(rng, probationary * 0.6))
    flows["members_confirmed"] = confirmed
    leaves = sum(
        flows[c]
        for c in (
            "members_transferred_out",
            "members_deceased",
            "members_struck_off",
            "members_removed",
            "discipline_expulsion",
        )
    )
    new_total = total + flows["members_admitted"] + flows["members_transferred_in"] - leaves
    if unit.form == "dang_bo" and new_total < 30:  # nobody left after all
        for c in ("members_transferred_out", "members_struck_off", "members_removed"):
            flows[c] = 0
        new_total = total + flows["members_admitted"] + flows["members_transferred_in"]
        new_total -= flows["members_deceased"] + flows["discipline_expulsion"]
    new_probationary = max(0, probationary + flows["members_admitted"] - confirmed)
    new_probationary = min(new_probationary, new_total)
    values = _year_values(rng, unit, int(new_total), int(new_probationary), flows)
    for code in ("employees", "revenue_bn_vnd", "state_budget_paid_bn_vnd"):
        if code in before:
            values[code] = round(before[code] * rng.uniform(0.85, 1.2), 1 if "bn" in code else 0)
    return values


def _units(rng: random.Random, count: int) -> list[Unit]:
    units = [Unit("VPDUK", "Văn phòng Đảng ủy Khối", COMMITTEE_SECTOR, COMMITTEE_FORM)]
    for i in range(1, count):
        sector = _pick(rng, SECTOR_SHARES)
        form = "chi_bo" if rng.random() < CHI_BO_SHARE else "dang_bo"
        code = f"B{i:06d}"
        year = rng.randint(1990, 2020)
        units.append(
            Unit(
                code, _name(rng, sector, form), sector, form, f"{year}-{rng.randint(1, 12):02d}-01"
            )
        )
    return units


def _restructure(rng: random.Random, units: list[Unit]) -> list[dict]:
    """Mergers and transfers in 2024 (the registry's `predecessors` and `end_reason`)."""
    count = len(units)
    dang_bo = [u for u in units[1:] if u.form == "dang_bo"]
    rng.shuffle(dang_bo)
    moves: list[dict] = []
    mergers = max(1, round(count * MERGER_SHARE)) if count >= 200 else 0
    for m in range(mergers):
        a, b = dang_bo.pop(), dang_bo.pop()
        day = f"2024-{rng.randint(2, 10):02d}-01"
        for old in (a, b):
            old.valid_to, old.end_reason, old.years = _day_before(day), "merged", ("2023",)
        new = Unit(
            f"M{m + 1:05d}",
            f"Đảng bộ {a.name.split(' ', 2)[2]} - {b.name.split(' ', 2)[2]} (hợp nhất)",
            a.sector,
            "dang_bo",
            valid_from=day,
            predecessors=f"{a.code};{b.code}",
            years=("2024",),
        )
        units.append(new)
        moves.append({"kind": "merger", "unit": new.code, "predecessors": [a.code, b.code]})
    for _ in range(round(count * TRANSFERRED_OUT_SHARE) if count >= 200 else 0):
        gone = dang_bo.pop()
        gone.valid_to = f"2024-{rng.randint(1, 11):02d}-{rng.randint(10, 28)}"
        gone.end_reason, gone.years = "transferred_out", ("2023",)
        moves.append({"kind": "transferred_out", "unit": gone.code})
    for t in range(round(count * TRANSFERRED_IN_SHARE) if count >= 200 else 0):
        sector = _pick(rng, SECTOR_SHARES)
        new = Unit(
            f"T{t + 1:05d}",
            _name(rng, sector, "dang_bo"),
            sector,
            "dang_bo",
            valid_from=f"2024-{rng.randint(2, 11):02d}-01",
            years=("2024",),
        )
        units.append(new)
        moves.append({"kind": "transferred_in", "unit": new.code})
    return moves


def _day_before(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _committee_values(rng: random.Random) -> dict[str, dict[str, float]]:
    return {
        year: {
            "mass_orgs_total": float(rng.randint(300, 900)),
            "mass_orgs_rated_strong": float(rng.randint(100, 299)),
            "bloc_classes_held": float(rng.randint(8, 30)),
        }
        for year in YEARS
    }


def _fill(rng: random.Random, units: list[Unit]) -> None:
    """Every unit's true values, by year; a merger's first year from its predecessors'."""
    by_code = {u.code: u for u in units}
    for unit in units:
        if unit.form == COMMITTEE_FORM:
            unit.values = _committee_values(rng)
        elif unit.predecessors:  # took over its predecessors' members (SPEC §3)
            olds = [by_code[c].values["2023"] for c in unit.predecessors.split(";")]
            before = {
                k: sum(o.get(k, 0) for o in olds)
                for k in ("members_total", "members_probationary", "employees", "revenue_bn_vnd")
            }
            before["state_budget_paid_bn_vnd"] = sum(
                o.get("state_budget_paid_bn_vnd", 0) for o in olds
            )
            if unit.sector not in ENTERPRISE:
                for k in ("employees", "revenue_bn_vnd", "state_budget_paid_bn_vnd"):
                    before.pop(k)
            unit.values = {"2024": _next_year(rng, unit, before)}
        elif unit.years == ("2024",):  # transferred in: a first report in the bloc
            unit.values = {"2024": _first_year(rng, unit)}
        else:
            first = _first_year(rng, unit)
            unit.values = {"2023": first}
            if "2024" in unit.years:
                unit.values["2024"] = _next_year(rng, unit, first)


@dataclass
class Written:
    """One value as the unit writes it: text, or a number typed in an Excel cell."""

    text: str
    note: str = ""


def _count_text(rng: random.Random, value: float, plain: bool) -> str:
    """A whole count as offices write it: mostly plain, large ones sometimes with Vietnamese
    thousands (`1.250`) or spaces (`1 250`), both read as a thousand and more in a count."""
    whole = int(value)
    if plain or whole < 1000 or rng.random() < 0.7:
        return str(whole)
    grouped = f"{whole:,}"
    return grouped.replace(",", ".") if rng.random() < 0.5 else grouped.replace(",", " ")


def _amount_text(value: float, comma: bool) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if comma else text


def _written(
    rng: random.Random, unit: Unit, catalog: Catalog, values: dict[str, float], year: str
) -> dict[str, Written]:
    """Every row the unit fills for one year: its values, and `0` in the rows that do not apply
    to it when it is a chi bộ cơ sở (or an agency's enterprise rows, sometimes)."""
    comma = rng.random() < 0.5
    out: dict[str, Written] = {}
    for row in catalog.rows:
        code = row["code"]
        if not catalog.applies(row, unit):
            zero = unit.form == "chi_bo" or (code in ENTERPRISE_ROWS and rng.random() < 0.2)
            if zero and unit.form != COMMITTEE_FORM:
                out[code] = Written("0")
            continue
        if code not in values:
            if row.get("required") and unit.form != COMMITTEE_FORM:
                raise ValueError(f"the generator has no value for required indicator {code}")
            continue
        value = values[code]
        if row["value_type"] in ("amount", "percent"):
            out[code] = Written(_amount_text(value, comma))
        else:
            out[code] = Written(_count_text(rng, value, plain=row["value_type"] != "count"))
    if rng.random() < NOTE_SHARE and out:
        code = rng.choice(sorted(out))
        out[code].note = rng.choice(NOTES)
    return out


# ---------------------------------------------------------------------------------- planting


def _plant(
    rng: random.Random, unit: Unit, kind: str, rows: dict[str, Written], values: dict[str, float]
) -> dict:
    """Change one unit's 2024 rows so that they break one rule; what was planted."""

    def put(code: str, text: str, rule: str, meant: float | None) -> dict:
        was = rows[code].text if code in rows else None
        rows[code] = Written(text, rows[code].note if code in rows else "")
        return {"indicator": code, "written": text, "was": was, "rule_id": rule, "meant": meant}

    if kind == "bounds":  # org_rating is 1..4: a 5 typed for "xuất sắc"
        return put("org_rating", "5", "bounds", values["org_rating"])
    if kind == "sum":  # official typed 3 off: total ≠ official + probationary
        official = values["members_official"] + rng.choice((-3, 2, 3, 4))
        return put("members_official", str(int(official)), "members_total_sum", None)
    if kind == "stock_flow":  # the transfers in were forgotten: the total does not follow
        arrived = values["members_transferred_in"]
        plant = put("members_transferred_in", "0", "members_stock_flow", arrived)
        if not arrived:  # nothing to forget: the total is off by a few instead
            total = values["members_total"] + 2
            plant = put("members_total", str(int(total)), "members_stock_flow", None)
            official = values["members_official"] + 2  # the sum rule still holds
            rows["members_official"] = Written(str(int(official)), rows["members_official"].note)
        return plant
    if kind == "power_of_ten":  # a digit too many: ten times the value
        if unit.sector in ENTERPRISE:
            text = _amount_text(values["revenue_bn_vnd"] * 1000, comma=False)
            return put("revenue_bn_vnd", text, "plausibility_size", values["revenue_bn_vnd"])
        official = values["members_official"]
        return put("members_official", str(int(official * 10)), "members_total_sum", official)
    if kind == "ambiguous":  # an amount or a rate whose separator can be read two ways
        if unit.sector in ENTERPRISE:
            meant = values["state_budget_paid_bn_vnd"]
            text = f"{int(meant) % 9 + 1}.250"  # a thousand and more, or one and a quarter?
            return put("state_budget_paid_bn_vnd", text, "value_not_number", None)
        return put("tasks_completed_pct", "92,500", "value_not_number", None)
    if kind == "part_le_whole":
        done = values["tasks_assigned"] + rng.randint(1, 5)
        plant = put("tasks_completed", str(int(done)), "tasks_completed_le_assigned", None)
        rows.pop("tasks_completed_pct", None)  # the rate would break too: not sent
        return plant
    if kind == "ratio":  # the rate of the year before, or a slip: 3 points off its parts
        parts = values["members_rated_excellent"] + values["members_rated_good"]
        meant = round(100 * parts / values["members_rated"], 2)
        reported = meant - 3 if meant > 50 else meant + 3
        return put("members_rated_good_pct", _amount_text(reported, False), "ratio", meant)
    if kind == "completeness":  # a required row left out
        meant = values["members_probationary"]
        rows.pop("members_probationary")
        return {
            "indicator": "members_probationary",
            "written": None,
            "was": str(int(meant)),
            "rule_id": "required_missing",
            "meant": meant,
        }
    raise ValueError(kind)


# ----------------------------------------------------------------------------------- writing


def _csv_bytes(unit: Unit, year: str, rows: dict[str, Written], style: random.Random) -> bytes:
    buffer = io.StringIO()
    with_note = any(w.note for w in rows.values())
    crlf = style.random() < 0.3
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["unit_code", "period", "indicator_code", "value"] + ["note"] * with_note)
    for code, w in rows.items():
        writer.writerow([unit.code, year, code, w.text] + [w.note] * with_note)
    bom = "\ufeff" if style.random() < 0.2 else ""
    return (bom + buffer.getvalue()).encode("utf-8")


def _xlsx(path: Path, unit: Unit, year: str, rows: dict[str, Written], catalog: Catalog) -> None:
    """The form's layout (SPEC §4.2: the header fields, then one row per indicator with its
    code, value and note), written by another hand than tonghop's: numbers typed as numbers,
    an ambiguous writing kept as the text the clerk typed."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    ws["A1"] = "BIỂU MẪU BÁO CÁO SỐ LIỆU TỔ CHỨC CƠ SỞ ĐẢNG"
    header = (
        ("Mã đơn vị:", unit.code),
        ("Tên đơn vị:", unit.name),
        ("Kỳ báo cáo:", year),
        ("Lĩnh vực:", SECTOR_LABELS.get(unit.sector, unit.sector)),
        ("Loại hình tổ chức:", FORM_LABELS[unit.form]),
    )
    for r, (label, value) in enumerate(header, start=3):
        ws.cell(r, 2, label)
        ws.cell(r, 3, value)
    for c, title in enumerate(
        ("STT", "Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Giá trị", "Ghi chú"), 1
    ):
        ws.cell(9, c, title)
    for n, row in enumerate(catalog.rows, start=1):
        code = row["code"]
        ws.cell(9 + n, 1, n)
        ws.cell(9 + n, 2, code)
        ws.cell(9 + n, 3, row["label"])
        ws.cell(9 + n, 4, row.get("unit", ""))
        w = rows.get(code)
        if w is not None:
            ws.cell(9 + n, 5, _typed(w.text, row["value_type"]))
            if w.note:
                ws.cell(9 + n, 6, w.note)
    wb.save(path)


def _typed(text: str, value_type: str) -> float | int | str:
    """What a clerk types into a cell: a plain number as a number; a number written with
    separators (`1.250`, `1 250`, `92,500`) as the text typed, for the reader to make out."""
    if re.fullmatch(r"\d+", text):
        return int(text)
    if value_type in ("amount", "percent") and re.fullmatch(r"\d+[.,]\d{1,2}", text):
        return float(text.replace(",", "."))
    return text


# -------------------------------------------------------------------------------------- bloc


def generate_unseen(
    units: int,
    out: Path,
    seed: int = 27,
    findings_share: float = 0.0,
    excel_share: float = EXCEL_SHARE,
) -> dict:
    """Write the bloc to `out` (registry.csv, src/2023, src/2024, truth.json); the truth."""
    rng = random.Random(seed)
    catalog = Catalog.load()
    people = _units(rng, units)
    moves = _restructure(rng, people)
    _fill(rng, people)
    plant_rng = random.Random(seed + 1)
    # units with both years (a stock-flow break needs the year before)
    candidates = [u for u in people if u.form != COMMITTEE_FORM and len(u.values) == 2]
    chosen = plant_rng.sample(candidates, round(len(candidates) * findings_share))
    kinds = {u.code: PLANT_KINDS[i % len(PLANT_KINDS)] for i, u in enumerate(chosen)}

    src = out / "src"
    for year in YEARS:
        (src / year).mkdir(parents=True, exist_ok=True)
    truth: dict = {
        "seed": seed,
        "units": units,
        "registry_units": len(people),
        "findings_share": findings_share,
        "restructured": moves,
        "planted": [],
        "files": {"csv": 0, "xlsx": 0},
        "notes": 0,
        "zeros_not_applicable": 0,
    }
    for unit in people:
        style = random.Random(f"{seed}-{unit.code}")  # the same writing in both blocs
        for year in sorted(unit.values):
            rows = _written(style, unit, catalog, unit.values[year], year)
            if year == "2024" and unit.code in kinds:
                planted = _plant(plant_rng, unit, kinds[unit.code], rows, unit.values[year])
                truth["planted"].append(
                    {"unit_code": unit.code, "period": year, "kind": kinds[unit.code]} | planted
                )
            truth["notes"] += sum(bool(w.note) for w in rows.values())
            truth["zeros_not_applicable"] += sum(
                code in rows and rows[code].text == "0"
                for r in catalog.rows
                if not catalog.applies(r, unit)
                for code in [r["code"]]
            )
            if style.random() < excel_share:
                _xlsx(src / year / f"{unit.code}-{year}.xlsx", unit, year, rows, catalog)
                truth["files"]["xlsx"] += 1
            else:
                path = src / year / f"bao-cao-{unit.code}-{year}.csv"
                path.write_bytes(_csv_bytes(unit, year, rows, style))
                truth["files"]["csv"] += 1
    _write_registry(out / "registry.csv", people)
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), "utf-8")
    return truth


def _write_registry(path: Path, units: list[Unit]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["unit_code", "name", "sector", "form", "valid_from", "valid_to"]
            + ["predecessors", "end_reason"]
        )
        for u in units:
            writer.writerow(
                [u.code, u.name, u.sector, u.form, u.valid_from, u.valid_to]
                + [u.predecessors, u.end_reason]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a bloc tonghop has never seen.")
    parser.add_argument("--units", type=int, default=6000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--findings", type=float, default=0.0, help="share of units, e.g. 0.05")
    parser.add_argument("--excel-share", type=float, default=EXCEL_SHARE)
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args(argv)
    truth = generate_unseen(args.units, args.out, args.seed, args.findings, args.excel_share)
    print(json.dumps({k: v for k, v in truth.items() if k not in ("planted", "restructured")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
