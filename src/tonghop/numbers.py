"""Reading numbers as offices write them: machine format, and Vietnamese format where the
reading is unambiguous ("1.117" for a count, "51,23" for a percentage)."""

from __future__ import annotations

import math
import re

_MACHINE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_VI_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
_VI_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")
_AMBIGUOUS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$")
_WHOLE_TYPES = {"count", "flag", "rating"}
# No figure of a bloc, a province or the nation comes near this; a larger number is a slip
# (1e308 and the like) and must never reach a sum.
MAX_MAGNITUDE = 1e15


def _plain(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def is_plain_whole(text: str) -> bool:
    """Digits 0-9 only, short enough to be exact as a float: read as they are, nothing to say.

    >>> is_plain_whole("14103"), is_plain_whole("\uff13"), is_plain_whole("1" * 16)
    (True, False, False)
    """
    return text.isdigit() and text.isascii() and len(text) < 16


def read_number(raw: str, value_type: str | None = None) -> tuple[float | None, str | None]:
    """The number a text holds (None when it holds none), and a note on how it was read.

    >>> read_number("14103")
    (14103.0, None)
    >>> read_number("1.117", "count")[0]
    1117.0
    >>> read_number("51,23", "percent")[0]
    51.23
    >>> read_number("1,500", "count")
    (None, "'1,500' không rõ là 1,5 hay 1.500: đề nghị đơn vị ghi rõ")
    >>> read_number("mười"), read_number("nan"), read_number("1e308")[0]
    ((None, None), (None, None), None)
    """
    text = raw.strip().replace("\u00a0", "")
    if is_plain_whole(text):
        return float(text), None  # most values: plain whole numbers, nothing to say
    if _MACHINE.match(text):
        value = float(text)
        if not math.isfinite(value) or abs(value) >= MAX_MAGNITUDE:
            return None, f"'{raw}' quá lớn để là một số liệu báo cáo"
        if value_type in _WHOLE_TYPES and value != int(value) and _VI_THOUSANDS.match(text):
            whole = float(text.replace(".", ""))
            return whole, (
                f"'{raw}' được đọc là {_plain(whole)} (dấu chấm phân cách hàng nghìn, "
                "theo cách viết số của Việt Nam)"
            )
        return value, None
    if _AMBIGUOUS_COMMA.match(text):
        return None, (
            f"'{raw}' không rõ là {_vi_decimal(text)} hay {text.replace(',', '.')}: "
            "đề nghị đơn vị ghi rõ"
        )
    if _VI_NUMBER.match(text):
        value = float(text.replace(".", "").replace(",", "."))
        return value, (
            f"'{raw}' được đọc là {_plain(value)} (dấu phẩy thập phân, theo cách viết số "
            "của Việt Nam)"
        )
    return None, None


def _vi_decimal(text: str) -> str:
    whole, _, fraction = text.partition(",")
    return f"{whole},{fraction.rstrip('0') or '0'}"
