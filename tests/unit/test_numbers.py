"""Reading numbers as Vietnamese clerks write them, by the indicator's value type."""

from __future__ import annotations

import pytest

from tonghop.numbers import read_number

# (writing, value type, the number meant; TWO when it can be two numbers, None when it is no
# number). The expected numbers are written out by hand, not computed by the reader.
TWO = "two readings"
_CLERKS = [
    ("1.000", "count", 1000.0),
    ("14.103", "count", 14103.0),
    ("1.000", "amount", TWO),
    ("1.976", "amount", TWO),
    ("1.000", "percent", TWO),
    ("1,532", "count", 1532.0),
    ("1,532", "amount", TWO),
    ("1,500", "flag", 1500.0),
    ("1.500.050,30", "amount", 1500050.30),
    ("1.500.050,30", "count", 1500050.30),
    ("122.235,8", "amount", 122235.8),
    ("491,5", "amount", 491.5),
    ("51,23", "percent", 51.23),
    ("51.23", "percent", 51.23),
    ("1 000", "count", 1000.0),
    ("1 000", "amount", 1000.0),
    ("1\u00a0500\u00a0050,30", "amount", 1500050.30),
    ("1 000,5", "amount", 1000.5),
    ("1,500.5", "amount", 1500.5),
    ("1,500,000", "amount", 1500000.0),
    ("1.500.000", "amount", 1500000.0),
    ("0.500", "amount", 0.5),
    ("0,5", "amount", 0.5),
    ("-1.000", "count", -1000.0),
    ("5.0", "count", 5.0),
    ("1.5", "count", 1.5),  # not whole: read, and the bounds rule says so
    ("1.000", None, TWO),  # no type known: decimals allowed
    ("1 00", "count", None),  # spaces that group no thousands
    ("1.00.000", "count", None),
    ("1,5,3", "amount", None),
]


@pytest.mark.parametrize(("raw", "value_type", "meant"), _CLERKS)
def test_numbers_are_read_as_clerks_mean_them_or_refused(raw, value_type, meant) -> None:
    number, note = read_number(raw, value_type)
    if meant is TWO:
        assert number is None
        assert f"'{raw}' không rõ là" in note and " hay " in note  # both readings named
    elif meant is None:
        assert (number, note) == (None, None)
    else:
        assert number == pytest.approx(meant, rel=1e-15)
