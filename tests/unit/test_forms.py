"""The Excel form: what write_form produces, and read_form reading it back."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from tonghop.catalog import load_catalog
from tonghop.forms import META_SHEET, NOT_APPLICABLE, SHEET, read_form, write_form
from tonghop.parse import UnreadableFile

CATALOG = load_catalog()
AGENCY_CHI_BO = {
    "unit_code": "TCCS042",
    "name": "Chi bộ Hội Chữ thập đỏ tỉnh",
    "sector": "agency",
    "form": "chi_bo",
}
SOE_DANG_BO = {
    "unit_code": "TCCS007",
    "name": "Đảng bộ Công ty Cổ phần Vận tải Thanh Hóa",
    "sector": "soe",
    "form": "dang_bo",
}


def _rows_by_code(ws) -> dict[str, int]:
    return {
        ws.cell(r, 2).value: r
        for r in range(1, ws.max_row + 1)
        if ws.cell(r, 2).value in set(CATALOG.codes)
    }


def test_round_trip_gives_back_values_and_their_cells(tmp_path: Path) -> None:
    values = {
        "members_total": 412,
        "members_official": 398,
        "members_probationary": 14,
        "branches_total": 23,
        "revenue_bn_vnd": 1234.5,
        "avg_income_mn_vnd_month": 9.0,
        "members_rated_good_pct": 96.87,
        "org_rating": 4,
    }
    path = tmp_path / "TCCS007.xlsx"
    write_form(path, SOE_DANG_BO, "2022-H2", CATALOG, values)

    parsed = read_form(path)

    assert parsed.file_format == "xlsx"
    assert parsed.warnings == []
    got = {v.indicator_code: v.raw for v in parsed.values}
    assert got == {
        "members_total": "412",
        "members_official": "398",
        "members_probationary": "14",
        "branches_total": "23",
        "revenue_bn_vnd": "1234.5",
        "avg_income_mn_vnd_month": "9",
        "members_rated_good_pct": "96.87",
        "org_rating": "4",
    }
    assert {(v.unit_code, v.period) for v in parsed.values} == {("TCCS007", "2022-H2")}
    ws = load_workbook(path)[SHEET]
    rows = _rows_by_code(ws)
    for v in parsed.values:
        assert v.location == f"{SHEET}!E{rows[v.indicator_code]}"
        assert ws[v.location.split("!")[1]].value == values[v.indicator_code]
        assert v.note is None


def test_round_trip_keeps_notes_and_skips_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, AGENCY_CHI_BO, "2021-H1", CATALOG, {"members_total": 0})
    wb = load_workbook(path)
    ws = wb[SHEET]
    row = _rows_by_code(ws)["members_transferred_in"]
    ws.cell(row, 5).value = 3
    ws.cell(row, 6).value = "Tiếp nhận từ Chi bộ Sở Ngoại vụ"
    wb.save(path)

    parsed = read_form(path)

    assert [(v.indicator_code, v.raw, v.note) for v in parsed.values] == [
        ("members_total", "0", None),
        ("members_transferred_in", "3", "Tiếp nhận từ Chi bộ Sở Ngoại vụ"),
    ]


def test_form_lists_every_indicator_and_greys_those_that_do_not_apply(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG)
    ws = load_workbook(path)[SHEET]

    rows = _rows_by_code(ws)
    assert list(rows) == CATALOG.codes
    for ind in CATALOG:
        note = ws.cell(rows[ind.code], 6).value
        fill = ws.cell(rows[ind.code], 3).fill.fgColor.rgb
        if ind.applies("agency", "chi_bo"):
            assert note is None
            assert not fill.endswith("D9D9D9")
        else:
            assert note == NOT_APPLICABLE
            assert fill.endswith("D9D9D9")
    assert ws.cell(rows["revenue_bn_vnd"], 6).value == NOT_APPLICABLE
    assert ws.cell(rows["branches_meeting_regularly"], 6).value == NOT_APPLICABLE


def test_only_value_and_note_cells_are_editable_and_sheet_is_protected(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, SOE_DANG_BO, "2023-H1", CATALOG)
    wb = load_workbook(path)
    ws = wb[SHEET]

    assert ws.protection.sheet is True
    assert ws.protection.password is None
    for r in _rows_by_code(ws).values():
        assert [ws.cell(r, c).protection.locked for c in range(1, 7)] == [
            True,
            True,
            True,
            True,
            False,
            False,
        ]
    assert ws["C3"].protection.locked is True
    meta = wb[META_SHEET]
    assert meta.sheet_state == "hidden"
    assert {meta.cell(r, 1).value: meta.cell(r, 2).value for r in (1, 2, 3)} == {
        "form_version": "1",
        "unit_code": "TCCS007",
        "period": "2023-H1",
    }


def test_every_value_cell_has_validation_by_value_type(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, SOE_DANG_BO, "2023-H1", CATALOG)
    ws = load_workbook(path)[SHEET]
    rows = _rows_by_code(ws)

    def rule_for(code: str):
        ref = f"E{rows[code]}"
        found = [dv for dv in ws.data_validations.dataValidation if ref in dv.sqref]
        assert len(found) == 1, code
        return found[0]

    for ind in CATALOG:
        dv = rule_for(ind.code)
        assert dv.showErrorMessage
        assert dv.error and "Nhập" in dv.error
    count = rule_for("members_total")
    assert (count.type, count.operator, count.formula1) == ("whole", "greaterThanOrEqual", "0")
    flag = rule_for("culture_model")
    assert (flag.type, flag.formula1, flag.formula2) == ("whole", "0", "1")
    pct = rule_for("tasks_completed_pct")
    assert (pct.type, pct.formula1, pct.formula2) == ("decimal", "0", "100")
    amount = rule_for("revenue_bn_vnd")
    assert (amount.type, amount.operator, amount.formula1) == (
        "decimal",
        "greaterThanOrEqual",
        "0",
    )
    rating = rule_for("org_rating")
    assert (rating.type, rating.formula1, rating.formula2) == ("whole", "1", "4")


def test_formula_like_text_is_stored_as_text(tmp_path: Path) -> None:
    name = '=HYPERLINK("x")'
    path = tmp_path / "form.xlsx"
    write_form(path, {**AGENCY_CHI_BO, "name": name}, "2023-H1", CATALOG, {"members_total": 12})

    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml
    ws = load_workbook(path)[SHEET]
    name_cell = next(c for row in ws.iter_rows() for c in row if c.value == name)
    assert name_cell.data_type == "s"
    assert name_cell.quotePrefix
    assert read_form(path).values[0].raw == "12"


def test_labels_are_found_wherever_the_rows_moved(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, {"members_total": 17})
    wb = load_workbook(path)
    ws = wb[SHEET]
    ws.protection.sheet = False
    ws.insert_rows(2, amount=3)
    wb.save(path)

    [value] = read_form(path).values

    assert (value.unit_code, value.period, value.raw) == ("TCCS042", "2023-H1", "17")
    assert value.location == f"{SHEET}!E{_rows_by_code(ws)['members_total']}"


def test_corrupt_file_is_unreadable_and_named(tmp_path: Path) -> None:
    path = tmp_path / "TCCS012-tep-hong.xlsx"
    path.write_bytes(bytes(range(256)) * 8)

    with pytest.raises(UnreadableFile, match="TCCS012-tep-hong.xlsx"):
        read_form(path)


def test_renamed_sheet_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, {"members_total": 12})
    wb = load_workbook(path)
    wb[SHEET].title = "Sheet1"
    wb.save(path)

    parsed = read_form(path)
    assert [(v.indicator_code, v.raw) for v in parsed.values] == [("members_total", "12")]
    assert parsed.values[0].location.startswith("Sheet1!")
    assert any("BaoCao" in w and "Sheet1" in w for w in parsed.warnings)


def test_workbook_without_the_form_table_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "Báo cáo tự làm"
    wb.save(path)

    with pytest.raises(UnreadableFile, match=r"other\.xlsx.*Mã chỉ tiêu"):
        read_form(path)


@pytest.mark.parametrize(
    ("cell", "label"), [("C3", "Mã đơn vị"), ("C5", "Kỳ báo cáo")], ids=["unit", "period"]
)
def test_missing_unit_code_or_period_is_unreadable(tmp_path: Path, cell: str, label: str) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, {"members_total": 17})
    wb = load_workbook(path)
    wb[SHEET][cell].value = None
    wb.save(path)

    with pytest.raises(UnreadableFile, match=f"form.xlsx.*{label}"):
        read_form(path)


def _copied(path: Path, original: dict, copy: dict) -> None:
    """A form for AGENCY_CHI_BO with `original` values, its sheet copied as 'BaoCao (2)' and
    filled with `copy`, as a clerk does."""
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, original)
    wb = load_workbook(path)
    rows = _rows_by_code(wb[SHEET])
    sheet = wb.copy_worksheet(wb[SHEET])
    sheet.title = "BaoCao (2)"
    for code, value in copy.items():
        sheet.cell(rows[code], 5).value = value
    wb.save(path)


def test_a_copied_sheet_beside_a_filled_one_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "sao-chep.xlsx"
    _copied(path, {"members_total": 10}, {"members_total": 12})
    with pytest.raises(UnreadableFile, match=r"sao-chep\.xlsx.*'BaoCao', 'BaoCao \(2\)'"):
        read_form(path)


def test_a_filled_copy_beside_a_blank_original_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "sao-chep.xlsx"
    _copied(path, {}, {"members_total": 12})
    parsed = read_form(path)
    assert [(v.indicator_code, v.raw, v.location[:10]) for v in parsed.values] == [
        ("members_total", "12", "BaoCao (2)")
    ]
    assert any("'BaoCao (2)'" in w and "'BaoCao'" in w for w in parsed.warnings)


def test_excel_error_cells_are_values_with_a_warning_not_blanks(tmp_path: Path) -> None:
    from tonghop.collect import parse_file

    path = tmp_path / "loi.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, {"members_total": 17})
    wb = load_workbook(path)
    rows = _rows_by_code(wb[SHEET])
    for code, error in (("members_admitted", "#REF!"), ("members_official", "#DIV/0!")):
        wb[SHEET].cell(rows[code], 5).value = error
    wb.save(path)
    parsed = parse_file("loi.xlsx", path.read_bytes())
    got = {v.indicator_code: v.raw for v in parsed.values}
    assert got == {
        "members_total": "17",
        "members_admitted": "#REF!",
        "members_official": "#DIV/0!",
    }
    cell = f"BaoCao!E{rows['members_admitted']}"
    assert any(cell in w and "#REF!" in w and "loi.xlsx" in w for w in parsed.warnings)


def test_a_number_cell_keeps_its_number_a_text_cell_its_text(tmp_path: Path) -> None:
    path = tmp_path / "so.xlsx"
    unit = {**SOE_DANG_BO}
    write_form(path, unit, "2023", CATALOG, {"revenue_bn_vnd": 1.976})
    wb = load_workbook(path)
    wb[SHEET].cell(_rows_by_code(wb[SHEET])["state_budget_paid_bn_vnd"], 5).value = "1.976"
    wb.save(path)
    got = {v.indicator_code: (v.raw, v.number) for v in read_form(path).values}
    assert got == {"revenue_bn_vnd": ("1.976", 1.976), "state_budget_paid_bn_vnd": ("1.976", None)}


def test_a_far_away_cell_is_refused_before_the_reader_lays_it_out(tmp_path: Path) -> None:
    from tonghop.intake import check_xlsx

    path = tmp_path / "xa.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG, {"members_total": 17})
    wb = load_workbook(path)
    wb[SHEET]["XFD1048576"] = "x"
    wb.save(path)
    assert path.stat().st_size < 50_000
    with pytest.raises(UnreadableFile, match=r"xa\.xlsx.*cột 16\.384, dòng 1\.048\.576"):
        check_xlsx("xa.xlsx", path.read_bytes())


def test_the_form_says_how_to_write_numbers(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    write_form(path, AGENCY_CHI_BO, "2023-H1", CATALOG)
    texts = [c.value for row in load_workbook(path)[SHEET].iter_rows() for c in row if c.value]
    [instructions] = [t for t in texts if isinstance(t, str) and t.startswith("Cách ghi số")]
    assert "1000" in instructions and "491,5" in instructions
