"""How a figure is worded in a sentence of the draft: a target's value and requirement, and the
rounded phrases of prose ("trên 80%", "15 - 20%", "gần 16")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tonghop import formatting


def gia_tri(value: Any, unit: str | None = None) -> str:
    """A target's figure with its unit: a percentage, or a count followed by what it counts.

    >>> gia_tri(95.4, "%"), gia_tri(660, "đảng viên"), gia_tri(None, "%")
    ('95,40%', '660 đảng viên', '[…]')
    """
    if value is None:
        return formatting.PLACEHOLDER
    if unit == "%":
        return formatting.phan_tram(value)
    return f"{formatting.so(value)} {unit}" if unit else formatting.so(value)


def yeu_cau(requirement: Mapping[str, Any] | None) -> str:
    """What a target asks, worded: "trên 90%", "ít nhất 75%", "từ 15 - 20%", "100%".

    >>> yeu_cau({"word": "trên", "low": 800, "high": None, "unit": "người"})
    'trên 800 người'
    >>> yeu_cau({"word": "từ", "low": 15, "high": 20, "unit": "%"})
    'từ 15 - 20%'
    """
    if not requirement:
        return formatting.PLACEHOLDER
    unit = requirement["unit"]
    low = formatting.so(requirement["low"], _decimals(requirement["low"]))
    if requirement.get("high") is not None:
        low += " - " + formatting.so(requirement["high"], _decimals(requirement["high"]))
    figure = low + unit if unit == "%" else f"{low} {unit}"
    return f"{requirement['word']} {figure}" if requirement.get("word") else figure


def _decimals(value: Any) -> int:
    text = str(formatting.round_half_up(value, 2)).rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


def over_phrase(rate: float | None, ladder: Sequence[float]) -> str | None:
    """ "trên T%" with T the largest step of the ladder below the rate; 100% when all.

    >>> over_phrase(85.23, [50, 60, 70, 80, 90, 95]), over_phrase(97.6, [80, 90, 95])
    ('trên 80%', 'trên 95%')
    >>> over_phrase(100, [90]), over_phrase(40, [50]), over_phrase(None, [50])
    ('100%', '40,00%', None)
    """
    if rate is None:
        return None
    if rate >= 100:
        return formatting.phan_tram(100, 0)
    below = [step for step in ladder if step < rate]
    if not below:
        return formatting.phan_tram(rate)
    return "trên " + formatting.phan_tram(max(below), 0)


def band_phrase(rates: Sequence[float | None], step: float) -> str | None:
    """The span of yearly rates between multiples of `step`: "15 - 20%".

    >>> band_phrase([15.5, 15.52, 17.1], 5), band_phrase([20.0], 5), band_phrase([None], 5)
    ('15 - 20%', '20 - 25%', None)
    """
    known = [r for r in rates if r is not None]
    if not known or len(known) < len(rates):
        return None
    low = math.floor(min(known) / step) * step
    high = max(math.ceil(max(known) / step) * step, low + step)
    return f"{formatting.so(low)} - {formatting.phan_tram(high, 0)}"


def approx_phrase(value: float | None, divisor: float, step: float) -> str | None:
    """A figure rounded for prose: "gần 16" (15.946 / 1000), "gần 9,5", "trên 9", "9,5".

    >>> approx_phrase(15946, 1000, 1), approx_phrase(9.44, 1, 0.5), approx_phrase(9.1, 1, 0.5)
    ('gần 16', 'gần 9,5', 'trên 9')
    >>> approx_phrase(9.5, 1, 0.5), approx_phrase(None, 1, 1)
    ('9,5', None)
    """
    if value is None:
        return None
    exact = formatting.round_half_up(value, 6) / formatting.round_half_up(divisor, 6)
    step_d = formatting.round_half_up(step, 6)
    rounded = formatting.round_half_up(exact / step_d) * step_d
    decimals = 0 if rounded == rounded.to_integral_value() else _decimals(step)
    figure = formatting.so(rounded, decimals)
    if rounded > exact:
        return "gần " + figure
    if rounded < exact:
        return "trên " + figure
    return figure
