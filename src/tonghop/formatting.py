"""Vietnamese number, percentage and date formatting, and name folding for comparisons.

Numbers follow Babel's `vi` locale (`.` groups thousands, `,` marks decimals) but are rounded
half up first: Babel quantizes half to even, which turns 0,125 into 0,12 where an office
typing the figure by hand writes 0,13.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, format_decimal, parse_pattern

PLACEHOLDER = "[…]"
"""What a figure the data cannot give renders as: visible, never 0 or None."""

# Parsed once, not on every call: given the names, Babel parses the locale and the pattern each
# time, several times the cost of formatting the number, and the draft's trace formats tens of
# thousands of them.
_LOCALE = Locale.parse("vi")

Number = int | float | Decimal


def _decimal(value: Number | str) -> Decimal:
    # str() of a float is its shortest repr (51.225, not 51.22499999...), which is what was typed.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def round_half_up(value: Number | str, decimals: int = 0) -> Decimal:
    """Round to `decimals` places, halves away from zero.

    >>> round_half_up(0.125, 2), round_half_up(2.5), round_half_up(-2.5)
    (Decimal('0.13'), Decimal('3'), Decimal('-3'))
    """
    return _decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def chu(value: object, placeholder: str = PLACEHOLDER) -> str:
    """Text from the data, or a visible placeholder when there is none.

    >>> chu("giảm"), chu(None), chu(None, "[tăng/giảm]")
    ('giảm', '[…]', '[tăng/giảm]')
    """
    return placeholder if value is None else str(value)


def so(value: Number | str | None, decimals: int = 0) -> str:
    """Format a number the Vietnamese way, rounded half up; None gives the placeholder.

    >>> so(14103), so(122235.8, 1), so(0.125, 2), so(None)
    ('14.103', '122.235,8', '0,13', '[…]')
    """
    if value is None:
        return PLACEHOLDER
    rounded = round_half_up(value, decimals)
    return format_decimal(
        rounded, format=_pattern(decimals), locale=_LOCALE, decimal_quantization=True
    )


@cache
def _pattern(decimals: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "0" * decimals if decimals > 0 else ""))


def so_dem(value: Number | str | None) -> str:
    """Format a count inside a sentence: two digits under ten (Party style), else like `so`.

    >>> so_dem(4), so_dem(0), so_dem(28), so_dem(1117), so_dem(None)
    ('04', '00', '28', '1.117', '[…]')
    """
    if value is None:
        return PLACEHOLDER
    number = _decimal(value)
    if number == number.to_integral_value() and 0 <= number < 10:
        return f"{int(number):02d}"
    return so(number)


def phan_tram(value: Number | str | None, decimals: int = 2) -> str:
    """Format a percentage given in percent points, rounded half up.

    >>> phan_tram(51.225), phan_tram(0.5, 0), phan_tram(100, 0), phan_tram(None)
    ('51,23%', '1%', '100%', '[…]')
    """
    if value is None:
        return PLACEHOLDER
    return so(value, decimals) + "%"


def ngay(value: date | None) -> str:
    """Write a date as in the Party's documents: day on two digits, months 1 and 2 as 01, 02.

    Hướng dẫn 36-HD/VPTW: days below 10 and the months 1 and 2 take a leading zero.

    >>> ngay(date(2023, 7, 6)), ngay(date(2024, 2, 15)), ngay(date(2024, 12, 1))
    ('ngày 06 tháng 7 năm 2023', 'ngày 15 tháng 02 năm 2024', 'ngày 01 tháng 12 năm 2024')
    """
    if value is None:
        return PLACEHOLDER
    month = f"{value.month:02d}" if value.month <= 2 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def ty_le(part: Number | None, whole: Number | None, decimals: int = 2) -> float | None:
    """Percentage of `part` in `whole`, rounded half up; None when it cannot be computed.

    >>> ty_le(62, 121), ty_le(1, 8, 1), ty_le(3, 0), ty_le(None, 10)
    (51.24, 12.5, None, None)
    """
    if part is None or whole is None:
        return None
    whole_d = _decimal(whole)
    if whole_d == 0:
        return None
    return float(round_half_up(_decimal(part) * 100 / whole_d, decimals))


def nfc(text: str) -> str:
    r"""Normalise to Unicode NFC (decomposed input from old Mac or web forms compares equal).

    >>> nfc("Thanh Ho\u0301a") == "Thanh Hóa"
    True
    """
    return unicodedata.normalize("NFC", text)


# Tone marks as combining characters (NFD): grave, acute, tilde, hook above, dot below.
_TONES = "\u0300\u0301\u0303\u0309\u0323"
# "New" placement puts the tone on the second vowel of an open oa/oe/uy syllable (hoà, khoẻ,
# thuỷ); the "old" one, used by most registries, on the first (hòa, khỏe, thủy). Only open
# syllables differ: hoàn, thuyền, quý are written alike in both, hence the lookarounds.
_NEW_TONE = re.compile(rf"(?<![qQ])([oO][aAeE]|[uU][yY])([{_TONES}])(?![^\W\d_])")


def fold_vi(text: str) -> str:
    """Normalise a Vietnamese name for comparison: NFC, one tone placement, single spaces.

    >>> fold_vi("Đảng uỷ Khối") == fold_vi("Đảng ủy Khối") == "Đảng ủy Khối"
    True
    >>> [fold_vi(w) for w in ("hoà", "thuỷ", "khoẻ", "HOÀ", "hoàn", "quý", "thuyền")]
    ['hòa', 'thủy', 'khỏe', 'HÒA', 'hoàn', 'quý', 'thuyền']
    """
    decomposed = unicodedata.normalize("NFD", text)
    moved = _NEW_TONE.sub(lambda m: m[1][0] + m[2] + m[1][1], decomposed)
    return " ".join(unicodedata.normalize("NFC", moved).split())
