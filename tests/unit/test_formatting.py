from datetime import date
from decimal import Decimal

import pytest

from tonghop.formatting import (
    PLACEHOLDER,
    chu,
    fold_vi,
    nfc,
    ngay,
    phan_tram,
    round_half_up,
    so,
    so_dem,
    ty_le,
)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (14103, 0, "14.103"),
        (122235.8, 1, "122.235,8"),
        (4358.9, 1, "4.358,9"),
        (0.125, 2, "0,13"),
        (0.135, 2, "0,14"),
        (2.5, 0, "3"),
        (3.5, 0, "4"),
        (9.45, 1, "9,5"),
        (Decimal("1234567.891"), 2, "1.234.567,89"),
        (0, 0, "0"),
        (-1234.5, 0, "-1.235"),
        (16000, 0, "16.000"),
        ("1117", 0, "1.117"),
    ],
)
def test_so_rounds_half_up_with_vietnamese_separators(value, decimals, expected):
    assert so(value, decimals) == expected


def test_none_is_a_visible_placeholder_everywhere():
    assert PLACEHOLDER == "[…]"
    assert so(None) == so_dem(None) == phan_tram(None) == ngay(None) == chu(None) == PLACEHOLDER


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4, "04"), (0, "00"), (9, "09"), (10, "10"), (28, "28"), (1117, "1.117"), (4.0, "04")],
)
def test_so_dem_writes_small_counts_on_two_digits(value, expected):
    assert so_dem(value) == expected


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (51.225, 2, "51,23%"),
        (51.23, 2, "51,23%"),
        (0.5, 0, "1%"),
        (100, 0, "100%"),
        (99.995, 2, "100,00%"),
        (80, 2, "80,00%"),
    ],
)
def test_phan_tram(value, decimals, expected):
    assert phan_tram(value, decimals) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 7, 6), "ngày 06 tháng 7 năm 2023"),
        (date(2023, 1, 15), "ngày 15 tháng 01 năm 2023"),
        (date(2023, 2, 9), "ngày 09 tháng 02 năm 2023"),
        (date(2023, 3, 31), "ngày 31 tháng 3 năm 2023"),
        (date(2023, 10, 1), "ngày 01 tháng 10 năm 2023"),
    ],
)
def test_ngay_follows_huong_dan_36(day, expected):
    assert ngay(day) == expected


def test_ty_le():
    assert ty_le(62, 121) == 51.24
    assert ty_le(119176, 119246) == 99.94
    assert ty_le(1, 8, 1) == 12.5
    assert ty_le(1, 3, 0) == 33.0
    assert ty_le(5, 0) is None
    assert ty_le(5, None) is None
    assert ty_le(None, 5) is None
    assert phan_tram(ty_le(30, 62)) == "48,39%"


def test_round_half_up_is_not_bankers_rounding():
    assert round_half_up(0.125, 2) == Decimal("0.13")
    assert round_half_up(2.5) == Decimal("3")
    assert round_half_up(51.225, 2) == Decimal("51.23")


def test_nfc_joins_decomposed_text():
    decomposed = "Thanh Ho\u0301a"
    assert decomposed != "Thanh Hóa"
    assert nfc(decomposed) == "Thanh Hóa"


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ("Đảng uỷ Khối", "Đảng ủy Khối"),
        ("Thanh Hoá", "Thanh Hóa"),
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("Hoạ", "Họa"),
        ("loã", "lõa"),
        ("Luỹ", "Lũy"),
        ("Tuỵ", "Tụy"),
        ("ĐẢNG UỶ", "ĐẢNG ỦY"),
        ("Công ty Thuỷ lợi Sông Chu", "Công ty Thủy lợi Sông Chu"),
    ],
)
def test_fold_vi_unifies_tone_placement(new, old):
    assert fold_vi(new) == fold_vi(old) == old


@pytest.mark.parametrize("word", ["hoàn", "thuyền", "quý", "quỹ", "khoảng", "ngoài", "Huỳnh"])
def test_fold_vi_leaves_closed_syllables_and_qu_alone(word):
    assert fold_vi(word) == word


def test_fold_vi_normalises_decomposed_input_and_spaces():
    decomposed = "Đảng u\u0309y  Khối"
    assert fold_vi(decomposed) == "Đảng ủy Khối"
    assert fold_vi("Chi bộ Công ty Thuỷ sản ") == fold_vi("Chi bộ  Công ty Thủy sản")
