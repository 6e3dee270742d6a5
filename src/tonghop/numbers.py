"""Reading numbers as offices write them: machine format, Vietnamese format (`1.500.050,30`),
English format (`1,500.5`) and digits grouped by spaces (`1 000`).

A writing is read only when every way of reading it that the indicator's value type allows
gives one number. Counts, flags and ratings are whole: `1.000` and `1,532` there are a thousand
and one thousand five hundred thirty-two (nobody writes a count with decimals). Amounts and
percentages allow decimals: `1.000` there is a thousand or one, `1,532` one thousand five
hundred thirty-two or one point five three two, so neither is read; the note names both
readings and the value becomes a `type` finding (rule `value_not_number`) for the unit to
write it plainly, while the unit's other values are read as usual.

A number read in machine format or the Vietnamese way the forms ask for (`1.500`, `491,5`,
`1 000`) needs no word: clean reports raise no finding. An English writing (`1,500.5`) and
whatever was taken off around a number (an apostrophe, a unit, full-width digits) are noted,
and the note becomes a `file_read_warning` the unit sees.
"""

from __future__ import annotations

import math
import re
import unicodedata

_MACHINE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# The writings of one number, by what its separators mean (sign taken off first).
_POINT_DECIMAL = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")  # 51.23, 1.000 (as one), 14103
_COMMA_DECIMAL = re.compile(r"^(\d+,\d+|,\d+)$")  # 51,23, 1,532 (as one point five...)
_DOT_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(\.\d{3})+(,\d+)?$")  # 1.000, 1.500.050,30
_COMMA_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")  # 1,532, 1,500.5
_SPACE_THOUSANDS = re.compile(r"^[1-9]\d{0,2}( \d{3})+([.,]\d+)?$")  # 1 000, 1 500 050,30
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
_WHOLE_TYPES = {"count", "flag", "rating"}
# What a reading takes each separator for, as a note says it ("" for a plain number).
_POINT, _COMMA, _DOTS, _COMMAS = "point", "comma", "dots", "commas"
_MEANING = {
    _POINT: "dấu chấm là dấu thập phân",
    _COMMA: "dấu phẩy thập phân, theo cách viết số của Việt Nam",
    _DOTS: "dấu chấm phân cách hàng nghìn, theo cách viết số của Việt Nam",
    _COMMAS: "dấu phẩy phân cách hàng nghìn, dấu chấm thập phân, theo cách viết tiếng Anh",
}
# No figure of a bloc, a province or the nation comes near this; a larger number is a slip
# (1e308 and the like) and must never reach a sum.
MAX_MAGNITUDE = 1e15


def _plain(value: float) -> str:
    """A number as a Vietnamese reader reads it unambiguously: no grouping, decimal comma.

    >>> _plain(1500050.3), _plain(1976.0), _plain(-0.5)
    ('1500050,3', '1976', '-0,5')
    """
    return f"{value:.6f}".rstrip("0").rstrip(".").replace(".", ",")


def thousands(number: int) -> str:
    """A count in a Vietnamese message: `.` between thousands.

    >>> thousands(1048576)
    '1.048.576'
    """
    return f"{number:,}".replace(",", ".")


def is_plain_whole(text: str) -> bool:
    """Digits 0-9 only, short enough to be exact as a float: read as they are, nothing to say.

    >>> is_plain_whole("14103"), is_plain_whole("\uff13"), is_plain_whole("1" * 16)
    (True, False, False)
    """
    return text.isdigit() and text.isascii() and len(text) < 16


def readings(text: str) -> dict[float, str]:
    """Every number an unsigned writing can be, each with what its separators were taken for.

    >>> readings("1.000"), readings("1.500.050,30"), readings("1,500.5"), readings("0.500")
    ({1.0: 'point', 1000.0: 'dots'}, {1500050.3: 'dots'}, {1500.5: 'commas'}, {0.5: 'point'})
    """
    found: dict[float, str] = {}
    if _POINT_DECIMAL.match(text):
        found[float(text)] = _POINT
    if _COMMA_DECIMAL.match(text):
        found.setdefault(float(text.replace(",", ".")), _COMMA)
    if _DOT_THOUSANDS.match(text):
        found.setdefault(float(text.replace(".", "").replace(",", ".")), _DOTS)
    if _COMMA_THOUSANDS.match(text):
        found.setdefault(float(text.replace(",", "")), _COMMAS)
    return found


def read_number(
    raw: str, value_type: str | None = None, unit: str | None = None
) -> tuple[float | None, str | None]:
    """The number a text holds (None when it holds none or could be two), and a note on how it
    was read or why it was not (Vietnamese, for the unit).

    What a clerk adds around a number is taken off first, and said (`_tidy`): Excel's
    leading apostrophe, invisible characters (a byte-order mark, zero-width spaces), digits of
    another width (`１２３`), the minus sign `−`, and the indicator's own unit after the
    number (`1.500 người` where the unit is người); another word after it is refused.

    >>> read_number("14103")
    (14103.0, None)
    >>> read_number("1.117", "count")[0], read_number("1.000", "count")[0]
    (1117.0, 1000.0)
    >>> read_number("51,23", "percent")[0], read_number("1 000", "amount")[0]
    (51.23, 1000.0)
    >>> read_number("1,532", "amount")[0], read_number("1,532", "count")[0]
    (None, 1532.0)
    >>> read_number("mười"), read_number("nan"), read_number("1e308")[0]
    ((None, None), (None, None), None)
    >>> read_number("\uff11.\uff10\uff10\uff10", "count")[0], read_number("-0")[0]
    (1000.0, 0.0)
    >>> read_number("1.500 người", "count", "người")[0]
    1500.0
    >>> read_number("1.976 đ", "amount", "tỷ đồng")[0]
    """
    text = raw.strip().translate(_SPACES).strip()
    if is_plain_whole(text):
        return float(text), None  # most values: plain whole numbers, nothing to say
    # The same writings come back again and again (`78,95`, `1.000`): each read once.
    key = (raw, value_type, unit)
    read = _READ.get(key)
    if read is None:
        if len(_READ) >= _READ_MAX:
            _READ.clear()
        read = _READ[key] = _read_number(raw, text, value_type, unit)
    return read


# What `read_number` gave for each (raw, value type, unit) it read; emptied when this full.
_READ: dict[tuple[str, str | None, str | None], tuple[float | None, str | None]] = {}
_READ_MAX = 200_000


def _read_number(
    raw: str, text: str, value_type: str | None, unit: str | None
) -> tuple[float | None, str | None]:
    """`read_number` of a text that is not plain digits (`text`: raw, trimmed)."""
    text, said, refused = _tidy(text, unit)
    if refused is not None:
        return None, (f"'{raw}' {refused}" if refused else None)
    sign, body = ("-", text[1:]) if text[:1] == "-" else ("", text.removeprefix("+"))
    spaced = bool(_SPACE_THOUSANDS.match(body))
    if spaced:
        body = body.replace(" ", "")
    found = readings(body)
    if not found:
        if "e" in text.lower() and _MACHINE.match(text):
            return finite_number(raw, float(text))
        return None, None
    if value_type in _WHOLE_TYPES:
        whole = {v: how for v, how in found.items() if v == int(v)}
        if len(whole) > 1:  # a count is not written with decimals: `1.000` is a thousand
            whole = {v: how for v, how in whole.items() if how in (_DOTS, _COMMAS)}
        found = whole or found
    if len(found) > 1:
        (first, how_first), (second, how_second) = sorted(found.items(), reverse=True)[:2]
        return None, (
            f"'{raw}' không rõ là {sign}{_plain(first)} ({_MEANING[how_first]}) hay "
            f"{sign}{_plain(second)} ({_MEANING[how_second]}): giá trị không được nhận, đề nghị "
            "đơn vị ghi lại số không dùng dấu phân cách hàng nghìn"
        )
    ((value, how),) = found.items()
    value = -value if sign and value else value  # `-0` is zero, never a negative zero
    number, problem = finite_number(raw, value)
    if problem or (how != _COMMAS and not said):
        # machine format, or the Vietnamese way the forms ask for (dots between thousands,
        # a decimal comma, spaces between thousands): read as meant, nothing to say
        return number, problem
    grouping = "khoảng trắng phân cách hàng nghìn" if spaced else ""
    parts = [*said, grouping, _MEANING[how] if how != _POINT else ""]
    return number, f"'{raw}' được đọc là {_plain(number)} ({'; '.join(p for p in parts if p)})"


# What clerks put around a number that is not part of it.
_APOSTROPHES = ("'", "\u2018", "\u2019")
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u00ad"
_MINUS = str.maketrans({"\u2212": "-", "\ufe63": "-", "\uff0d": "-", "\uff0b": "+"})
# A number, then words (its unit, say): split after the number's last digit.
_WORDS_AFTER = re.compile(r"^(?P<number>.*\d[.,]?)\s*(?P<words>[^\d\s.,][^\d]*)$")
# Words that name an indicator's unit as clerks write it, beside the catalog's own.
_UNIT_WORDS = {
    "đảng viên": {"người", "đv", "đồng chí", "đ/c"},
    "tỷ đồng": {"tỷ", "tỉ", "tỉ đồng"},
    "%": {"phần trăm"},
}


def _tidy(text: str, unit: str | None) -> tuple[str, list[str], str | None]:
    """The number's text with what a clerk added around it taken off, what was taken off
    (said in a note), and why it is refused (a word after it that is not the unit), if it is.

    >>> _tidy("'1500", None)
    ('1500', ['dấu nháy đơn ở đầu (Excel ghi số dạng chữ) được bỏ'], None)
    >>> _tidy("50 %", "%")
    ('50', ["đơn vị '%' được bỏ"], None)
    """
    said = []
    if any(ch in text for ch in _INVISIBLE):
        text = "".join(ch for ch in text if ch not in _INVISIBLE).strip()
        said.append("ký tự ẩn (BOM, khoảng trắng không độ rộng) được bỏ")
    if text.startswith(_APOSTROPHES):
        text = text[1:].strip()
        said.append("dấu nháy đơn ở đầu (Excel ghi số dạng chữ) được bỏ")
    if not text.isascii():
        ascii_text = "".join(_ascii_digit(ch) for ch in text).translate(_MINUS)
        if ascii_text != text:
            text = ascii_text
            said.append("chữ số/dấu viết bằng ký tự không phải ASCII (toàn chiều rộng)")
    words = _WORDS_AFTER.match(text)
    if words and not _MACHINE.match(text):
        word = words["words"].strip()
        if unit is not None and _is_unit(word, unit):
            return words["number"].strip(), [*said, f"đơn vị '{word}' được bỏ"], None
        if not _written_as_unit(words):
            return text, said, _REFUSED  # letters typed into the number (`12a`): no number
        of_unit = f" (đơn vị của chỉ tiêu: {unit})" if unit else ""
        why = (
            f"có chữ '{word}' sau số, không phải đơn vị của chỉ tiêu{of_unit}: giá trị không "
            "được nhận, đề nghị đơn vị ghi chỉ con số theo đơn vị của chỉ tiêu"
        )
        return text, said, why
    return text, said, None


# `_tidy`'s refusal that needs no note: the value is no number, as its finding says.
_REFUSED = ""
_MONEY_WORDS = {"đ", "đồng", "vnđ", "vnd", "tr", "triệu", "nghìn", "ngàn", "k"}


def _written_as_unit(words: re.Match[str]) -> bool:
    """Whether the words after a number were written as its unit: apart from it, or a word of
    money (`1.976đ`)."""
    number = words["number"]
    apart = words.string[len(number) : len(number) + 1].isspace()
    return apart or words["words"].strip().lower() in _MONEY_WORDS


def _ascii_digit(ch: str) -> str:
    """A digit of any script or width as its ASCII digit; any other character as it is."""
    if ch.isdigit() and not ch.isascii():
        return str(unicodedata.digit(ch, ch))
    return unicodedata.normalize("NFKC", ch) if unicodedata.category(ch) == "Po" else ch


def _is_unit(word: str, unit: str) -> bool:
    word, unit = unicodedata.normalize("NFC", word).lower(), unicodedata.normalize("NFC", unit)
    return word == unit.lower() or word in _UNIT_WORDS.get(unit, set())


def finite_number(raw: str, value: float) -> tuple[float | None, str | None]:
    """The value, or None with a note when it is no figure a report can hold."""
    if not math.isfinite(value) or abs(value) >= MAX_MAGNITUDE:
        return None, f"'{raw}' quá lớn để là một số liệu báo cáo"
    return value, None
