"""The sourced-figures file of outside figures (tonghop.external): what it gives the draft, and
a Vietnamese message naming the file and the entry for everything it cannot use."""

from __future__ import annotations

from pathlib import Path

from tonghop.external import external_specs, load_external
from tonghop.paths import SAMPLE_DIR
from tonghop.report.figure_registry import build_figures
from tonghop.settings import load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "so-lieu-ngoai.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_entry_becomes_an_external_figure_with_its_source(tmp_path) -> None:
    path = _write(
        tmp_path,
        "figures:\n"
        "  - {id: grdp_growth_avg, value: 10.49, source: 'Báo cáo số 12/BC-CTK', "
        "date: 2023-06-29}\n",
    )
    found, problems = load_external(path)
    assert problems == []
    figure = build_figures({}, None, found)["external.grdp_growth_avg"]
    assert (figure.value, figure.text, figure.source) == (10.49, "10,49%", "external")
    assert figure.formula == "Báo cáo số 12/BC-CTK, ngày 29 tháng 6 năm 2023"
    missing = build_figures({}, None, found)["external.budget_revenue_bn_vnd"]
    assert missing.value is None and missing.text == "[…]"


def test_each_unusable_entry_is_named_with_its_file_and_place(tmp_path) -> None:
    path = _write(
        tmp_path,
        "figures:\n"
        "  - {id: grdp_size_bn_vnd, value: 252672, source: 'Báo cáo A', date: 2023-06-29}\n"
        "  - {id: grdp_khong_co, value: 1, source: 'Báo cáo A', date: 2023-06-29}\n"
        "  - {id: grdp_rank_2021, value: 'năm', source: 'Báo cáo A', date: 2023-06-29}\n"
        "  - {id: grdp_rank_2022, value: 7, date: 2023-06-29}\n"
        "  - {id: ocop_products, value: 348, source: 'Báo cáo B', date: 29/6/2023}\n"
        "  - {id: grdp_size_bn_vnd, value: 1, source: 'Báo cáo A', date: 2023-06-29}\n"
        "  - chỉ một dòng chữ\n",
    )
    found, problems = load_external(path)
    assert list(found) == ["grdp_size_bn_vnd"] and found["grdp_size_bn_vnd"].value == 252672
    where = f"Tệp số liệu ngoài '{path}', mục"
    assert [p.split(":")[0] for p in problems] == [
        f"{where} 2",
        f"{where} 3 (grdp_rank_2021)",
        f"{where} 4 (grdp_rank_2022)",
        f"{where} 5 (ocop_products)",
        f"{where} 6 (grdp_size_bn_vnd)",
        f"{where} 7",
    ]
    assert "không có trong danh mục" in problems[0]
    assert "không phải là số" in problems[1]
    assert "thiếu nguồn" in problems[2]
    assert "YYYY-MM-DD" in problems[3]
    assert "trùng" in problems[4]


def test_a_broken_or_missing_file_is_one_message_and_no_figure(tmp_path) -> None:
    broken = _write(tmp_path, "figures:\n  - {id: x, value: [1\n")
    found, problems = load_external(broken)
    assert found == {} and problems[0].startswith(f"Tệp số liệu ngoài '{broken}', dòng")
    assert load_external(tmp_path / "khong-co.yaml")[1] == [
        f"Tệp số liệu ngoài '{tmp_path / 'khong-co.yaml'}': không đọc được tệp"
    ]
    assert load_external(_write(tmp_path, "- 1\n"))[1][0].endswith(
        "(mỗi mục: id, value, source, date)"
    )
    assert load_external(None) == ({}, [])


def test_the_sample_settings_name_a_file_that_gives_every_outside_figure() -> None:
    settings = load_settings(SAMPLE_DIR / "bao-cao.yaml")
    assert settings.external_figures == SAMPLE_DIR / "so-lieu-ngoai.yaml"
    found, problems = load_external(settings.external_figures)
    assert problems == [] and set(found) == set(external_specs())
