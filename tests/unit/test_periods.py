"""Reporting periods: reading codes, shifting, end dates, ranges and their baseline."""

from __future__ import annotations

from datetime import date

import pytest

from tonghop.periods import Period, PeriodError, PeriodRange


@pytest.mark.parametrize(
    ("text", "year", "kind", "n"),
    [
        ("2024", 2024, "Y", 1),
        ("2023-H1", 2023, "H", 1),
        ("2023-H2", 2023, "H", 2),
        ("2023-Q1", 2023, "Q", 1),
        ("2023-Q4", 2023, "Q", 4),
        ("  2021-H2 ", 2021, "H", 2),
    ],
)
def test_parse_reads_year_half_and_quarter(text: str, year: int, kind: str, n: int) -> None:
    period = Period.parse(text)
    assert (period.year, period.kind, period.n) == (year, kind, n)
    assert period.code == text.strip()
    assert str(period) == text.strip()


@pytest.mark.parametrize(
    ("code", "start", "end", "months"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31), 12),
        ("2023-H1", date(2023, 1, 1), date(2023, 6, 30), 6),
        ("2023-H2", date(2023, 7, 1), date(2023, 12, 31), 6),
        ("2023-Q1", date(2023, 1, 1), date(2023, 3, 31), 3),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31), 3),
        ("2023-Q2", date(2023, 4, 1), date(2023, 6, 30), 3),
        ("2023-Q3", date(2023, 7, 1), date(2023, 9, 30), 3),
        ("2023-Q4", date(2023, 10, 1), date(2023, 12, 31), 3),
    ],
)
def test_start_and_end_dates(code: str, start: date, end: date, months: int) -> None:
    period = Period.parse(code)
    assert period.start == start
    assert period.end == end
    assert period.months == months


@pytest.mark.parametrize(
    ("code", "closes"),
    [("2023", True), ("2023-H1", False), ("2023-H2", True), ("2023-Q3", False), ("2023-Q4", True)],
)
def test_closes_year_only_for_the_last_period_of_a_year(code: str, closes: bool) -> None:
    assert Period.parse(code).closes_year is closes


@pytest.mark.parametrize(
    ("code", "steps", "expected"),
    [
        ("2021-H1", -1, "2020-H2"),
        ("2020-H2", 1, "2021-H1"),
        ("2020-H2", 6, "2023-H2"),
        ("2023-Q1", -1, "2022-Q4"),
        ("2022-Q4", 5, "2024-Q1"),
        ("2023", -3, "2020"),
        ("2023-Q2", 0, "2023-Q2"),
    ],
)
def test_shift_moves_by_periods_of_the_same_length(code: str, steps: int, expected: str) -> None:
    assert Period.parse(code).shift(steps).code == expected


def test_periods_order_by_start() -> None:
    codes = ["2023-H1", "2021-H2", "2022-H1", "2021-H1"]
    assert [p.code for p in sorted(Period.parse(c) for c in codes)] == [
        "2021-H1",
        "2021-H2",
        "2022-H1",
        "2023-H1",
    ]


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("2022", "năm 2022"),
        ("2023-H1", "6 tháng đầu năm 2023"),
        ("2023-H2", "6 tháng cuối năm 2023"),
        ("2023-Q2", "quý II năm 2023"),
        ("2023-Q4", "quý IV năm 2023"),
    ],
)
def test_vietnamese_label(code: str, label: str) -> None:
    assert Period.parse(code).label_vi == label


def test_range_lists_every_period_and_its_baseline() -> None:
    term = PeriodRange.parse("2020-H2..2023-H1")
    assert [p.code for p in term.periods] == [
        "2020-H2",
        "2021-H1",
        "2021-H2",
        "2022-H1",
        "2022-H2",
        "2023-H1",
    ]
    assert term.baseline.code == "2020-H1"
    assert term.code == "2020-H2..2023-H1"
    assert str(term) == "2020-H2..2023-H1"


def test_single_period_is_a_range_of_one() -> None:
    term = PeriodRange.parse("2024")
    assert [p.code for p in term.periods] == ["2024"]
    assert term.first == term.last
    assert term.baseline.code == "2023"
    assert term.code == "2024"


def test_quarter_range_crosses_years() -> None:
    term = PeriodRange.parse("2022-Q3..2023-Q2")
    assert [p.code for p in term.periods] == ["2022-Q3", "2022-Q4", "2023-Q1", "2023-Q2"]
    assert term.baseline.code == "2022-Q2"


@pytest.mark.parametrize("text", ["23", "2023-H3", "2023-Q5", "2023-Q0", "2023-M1", "", "abcd"])
def test_malformed_period_is_refused_in_vietnamese(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        Period.parse(text)
    message = str(caught.value)
    assert message.startswith("Kỳ báo cáo không hợp lệ")
    assert f"'{text}'" in message


def test_period_error_is_a_value_error() -> None:
    assert issubclass(PeriodError, ValueError)


def test_range_of_mixed_kinds_is_refused() -> None:
    with pytest.raises(PeriodError, match="phải cùng loại kỳ"):
        PeriodRange.parse("2020-H2..2023")


def test_backwards_range_is_refused() -> None:
    with pytest.raises(PeriodError, match="ngược chiều: '2023-H1..2020-H2'"):
        PeriodRange.parse("2023-H1..2020-H2")


def test_range_with_bad_end_names_the_bad_part() -> None:
    with pytest.raises(PeriodError, match="'2023-H9'"):
        PeriodRange.parse("2020-H2..2023-H9")
