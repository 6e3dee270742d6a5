"""The benchmark's unseen bloc (benchmarks/unseen_bloc.py) plants what its truth.json says:
read back from the files it wrote, with csv and openpyxl, not with tonghop."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from unseen_bloc import generate_unseen  # noqa: E402

LEAVES = (
    "members_transferred_out",
    "members_deceased",
    "members_struck_off",
    "members_removed",
    "discipline_expulsion",
)


def _written(bloc: Path) -> dict[tuple[str, str], dict[str, str]]:
    """By (unit, year), the text of every row of its file."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted((bloc / "src").rglob("*.*")):
        if path.suffix == ".csv":
            text = path.read_bytes().decode("utf-8-sig")
            for r in csv.DictReader(io.StringIO(text)):
                rows.setdefault((r["unit_code"], r["period"]), {})[r["indicator_code"]] = r["value"]
        else:
            sheet = load_workbook(path)["BaoCao"]
            unit, year = sheet["C3"].value, sheet["C5"].value
            table = rows.setdefault((unit, year), {})
            for r in sheet.iter_rows(min_row=10, values_only=True):
                if r[4] is not None:
                    table[r[1]] = str(r[4])
    return rows


def _number(text: str) -> float:
    return float(text.replace(".", "").replace(" ", "").replace(",", "."))


def _stock_flow_gap(before: dict[str, str], after: dict[str, str]) -> float:
    arrived = _number(after["members_admitted"]) + _number(after["members_transferred_in"])
    left = sum(_number(after[c]) for c in LEAVES)
    return _number(after["members_total"]) - (_number(before["members_total"]) + arrived - left)


pytestmark = pytest.mark.slow  # two blocs written, a few seconds


@pytest.fixture(scope="module")
def blocs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("unseen")
    generate_unseen(220, root / "clean", findings_share=0.0, excel_share=0.05)
    generate_unseen(220, root / "findings", findings_share=0.08, excel_share=0.05)
    return root / "clean", root / "findings"


@pytest.fixture(scope="module")
def written(blocs: tuple[Path, Path]) -> tuple[dict, dict]:
    return _written(blocs[0]), _written(blocs[1])


def test_clean_bloc_keeps_the_sums_and_the_stock_flow(
    blocs: tuple[Path, Path], written: tuple[dict, dict]
) -> None:
    rows = written[0]
    checked = 0
    for (unit, year), values in rows.items():
        if "members_total" not in values:
            continue  # the bloc committee's own rows
        assert _number(values["members_total"]) == _number(values["members_official"]) + _number(
            values["members_probationary"]
        ), unit
        if year == "2024" and (unit, "2023") in rows:
            assert _stock_flow_gap(rows[(unit, "2023")], values) == 0, unit
            checked += 1
    assert checked > 150
    truth = json.loads((blocs[0] / "truth.json").read_text(encoding="utf-8"))
    assert truth["planted"] == [] and truth["zeros_not_applicable"] > 0


def test_planted_findings_are_in_the_files(
    blocs: tuple[Path, Path], written: tuple[dict, dict]
) -> None:
    clean, found = written
    truth = json.loads((blocs[1] / "truth.json").read_text(encoding="utf-8"))
    assert {p["kind"] for p in truth["planted"]} >= {"bounds", "sum", "stock_flow", "ambiguous"}
    planted = {(p["unit_code"], p["period"]) for p in truth["planted"]}
    for p in truth["planted"]:
        rows = found[(p["unit_code"], p["period"])]
        assert rows.get(p["indicator"]) == p["written"], p
        if p["kind"] == "sum":
            total = _number(rows["members_total"])
            assert total != _number(rows["members_official"]) + _number(
                rows["members_probationary"]
            )
        if p["kind"] == "stock_flow":
            assert _stock_flow_gap(found[(p["unit_code"], "2023")], rows) != 0
    # every unit without a planted finding wrote the same rows as in the clean bloc
    assert all(rows == clean[key] for key, rows in found.items() if key not in planted)


def test_restructured_units_in_the_registry(
    blocs: tuple[Path, Path], written: tuple[dict, dict]
) -> None:
    with (blocs[0] / "registry.csv").open(encoding="utf-8") as handle:
        units = {r["unit_code"]: r for r in csv.DictReader(handle)}
    rows = written[0]
    merged = [u for u in units.values() if u["predecessors"]]
    assert merged
    for unit in merged:
        for old in unit["predecessors"].split(";"):
            assert units[old]["end_reason"] == "merged" and units[old]["valid_to"]
            assert (old, "2023") in rows and (old, "2024") not in rows
        assert (unit["unit_code"], "2024") in rows and (unit["unit_code"], "2023") not in rows
