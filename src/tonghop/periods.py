"""Reporting periods: `YYYY`, `YYYY-H1`/`YYYY-H2`, `YYYY-Q1`..`YYYY-Q4`, and ranges `A..B`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD_RE = re.compile(r"^(?P<year>\d{4})(?:-(?P<kind>[HQ])(?P<n>\d))?$")
_PARTS = {"Y": 1, "H": 2, "Q": 4}


class PeriodError(ValueError):
    """A period or range that cannot be read."""


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period; orders by start date then length."""

    year: int
    kind: str  # "Y", "H" or "Q"
    n: int  # 1 for a year; 1..2 for halves; 1..4 for quarters

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read a period code.

        >>> Period.parse("2023-H1").start
        datetime.date(2023, 1, 1)
        """
        m = _PERIOD_RE.match(text.strip())
        if not m:
            raise PeriodError(
                f"Kỳ báo cáo không hợp lệ: '{text}' (dạng đúng: 2023, 2023-H1, 2023-Q2)"
            )
        year, kind, n = int(m["year"]), m["kind"] or "Y", int(m["n"] or 1)
        if not 1 <= n <= _PARTS[kind]:
            raise PeriodError(f"Kỳ báo cáo không hợp lệ: '{text}'")
        return cls(year, kind, n)

    @property
    def code(self) -> str:
        return str(self.year) if self.kind == "Y" else f"{self.year}-{self.kind}{self.n}"

    @property
    def months(self) -> int:
        return 12 // _PARTS[self.kind]

    @property
    def start(self) -> date:
        return date(self.year, 1 + (self.n - 1) * self.months, 1)

    @property
    def end(self) -> date:
        """The last day of the period."""
        month_after = (self.n * self.months) + 1
        if month_after > 12:
            return date(self.year, 12, 31)
        return date(self.year, month_after, 1) - timedelta(days=1)

    @property
    def closes_year(self) -> bool:
        """True for the period in which annual figures (ratings) are reported."""
        return self.n == _PARTS[self.kind]

    def shift(self, steps: int) -> Period:
        """The period `steps` periods of the same length later (earlier when negative).

        >>> Period.parse("2021-H1").shift(-1).code
        '2020-H2'
        """
        per_year = _PARTS[self.kind]
        index = self.year * per_year + (self.n - 1) + steps
        return Period(index // per_year, self.kind, index % per_year + 1)

    @property
    def label_vi(self) -> str:
        """How the report names a period: `6 tháng đầu năm 2023`, `năm 2022`, `quý II năm 2023`."""
        if self.kind == "Y":
            return f"năm {self.year}"
        if self.kind == "H":
            return f"6 tháng {'đầu' if self.n == 1 else 'cuối'} năm {self.year}"
        return f"quý {['I', 'II', 'III', 'IV'][self.n - 1]} năm {self.year}"

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class PeriodRange:
    """Consecutive periods of one length, from `first` to `last` inclusive."""

    first: Period
    last: Period

    @classmethod
    def parse(cls, text: str) -> PeriodRange:
        """Read `2024` or `2020-H2..2023-H1`.

        >>> [p.code for p in PeriodRange.parse("2022-H2..2023-H2").periods]
        ['2022-H2', '2023-H1', '2023-H2']
        """
        first_text, sep, last_text = text.partition("..")
        first = Period.parse(first_text)
        last = Period.parse(last_text) if sep else first
        if first.kind != last.kind:
            raise PeriodError(f"Khoảng kỳ báo cáo phải cùng loại kỳ: '{text}'")
        if last < first:
            raise PeriodError(f"Khoảng kỳ báo cáo ngược chiều: '{text}'")
        return cls(first, last)

    @property
    def periods(self) -> list[Period]:
        out = [self.first]
        while out[-1] != self.last:
            out.append(out[-1].shift(1))
        return out

    @property
    def baseline(self) -> Period:
        """The period before the range: its stocks are the snapshot at the range's start."""
        return self.first.shift(-1)

    @property
    def code(self) -> str:
        return (
            self.first.code if self.first == self.last else f"{self.first.code}..{self.last.code}"
        )

    def __str__(self) -> str:
        return self.code
