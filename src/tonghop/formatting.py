"""Vietnamese number, percentage and date formatting, name folding for comparisons, and text
from the data made safe to write: for Markdown (`md_text`), Word (`docx_text`) and a spreadsheet
(`csv_cell`).

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
from typing import Any

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


class MarkdownText(str):
    """Text the program wrote for Markdown (a figure, a footnote reference): printed as it is."""

    __slots__ = ()


# Characters that make Markdown structure wherever they stand: emphasis, code, links, images,
# footnote references, raw HTML and autolinks, table cells, strikethrough, and `&` that starts
# an entity (a name "&lt;b&gt;" is shown as typed, not as "<b>"). `(` and `)` make a
# link only after `]`, and `!` an image only before `[`: escaping the brackets suffices, so names
# like "Chi bộ (Hà Nội)" are written as typed.
_MD_INLINE = frozenset("\\`*[]<>|~&")
# At the start of a line these make a heading, quote, list or setext underline; a value's place
# in its line is unknown to the filter, so its first character is escaped.
_MD_LEADING = frozenset("#>-+=")
_MD_ORDERED = re.compile(r"(\s*\d{1,9})([.)])(?=\s|$)")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x85\u2028\u2029]")


def md_text(value: object) -> MarkdownText:
    r"""Text from the data as Markdown that shows it as typed and makes no structure.

    Line breaks become spaces (a value cannot start a block); an existing backslash escape is
    kept, so escaping twice changes nothing (a macro's output is printed again by its caller).

    >>> md_text("[bấm](javascript:alert(1))"), md_text("## Chi bộ"), md_text("1. a\nb")
    ('\\[bấm\\](javascript:alert(1))', '\\## Chi bộ', '1\\. a b')
    >>> md_text("<img src=x>"), md_text("Chi bộ (Hà Nội) - số 2"), md_text("a_b _c_")
    ('\\<img src=x\\>', 'Chi bộ (Hà Nội) - số 2', 'a_b \\_c\\_')
    >>> md_text(md_text("*[x]* \\ y")) == md_text("*[x]* \\ y") == "\\*\\[x\\]\\* \\\\ y"
    True
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ASCII_PUNCTUATION:
            out.append(text[i : i + 2])
            i += 2
            continue
        if char in _MD_INLINE or (char == "_" and not _intraword(text, i)):
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    escaped = "".join(out)
    stripped = escaped.lstrip()
    if stripped[:1] in _MD_LEADING:
        cut = len(escaped) - len(stripped)
        escaped = escaped[:cut] + "\\" + stripped
    escaped = (
        _MD_ORDERED.sub(r"\1\\\2", escaped, count=1) if _MD_ORDERED.match(escaped) else escaped
    )
    return MarkdownText(escaped)


def _intraword(text: str, i: int) -> bool:
    # CommonMark: an underscore between two letters or digits never opens or closes emphasis.
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


# OWASP "CSV injection": a cell starting with one of these is run as a formula by Excel and
# LibreOffice; a leading apostrophe makes it text. Tab and CR start formulas in some versions.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell value that a spreadsheet shows as text, never evaluates.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("-3"), csv_cell(-3), csv_cell("Chi bộ")
    ("'=HYPERLINK(1)", "'-3", -3, 'Chi bộ')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# docxtpl turns \a into a new paragraph, \f into a page break, \n into a line break and \t into
# a tab wherever they stand in the rendered XML, and XML forbids the other control characters.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def docx_text(value: Any) -> Any:
    r"""A value for a Word template (the docxtpl environment's `finalize`): text on one line.

    >>> docx_text("Chi bộ\aĐoạn\fTrang\tx"), docx_text(12)
    ('Chi bộ Đoạn Trang x', 12)
    """
    return _CONTROL.sub(" ", value) if isinstance(value, str) else value
