"""Reading received files into raw values: the long CSV of SPEC §4.2 and tonghop's Excel form."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawValue:
    """One value as it stood in a received file, before any typing or checking."""

    unit_code: str
    period: str
    indicator_code: str
    raw: str  # the text as written ("" for an empty cell); numbers from Excel as their repr
    location: str  # where it stood: "dòng 12" for CSV, "BaoCao!E14" for Excel
    note: str | None = None
    # the number itself when the file typed the cell as one (an Excel number cell): read as it
    # is, never again from its text
    number: float | None = None


@dataclass
class ParsedFile:
    """What could be read from one file, and warnings about how it was read."""

    values: list[RawValue]
    file_format: str  # "csv" or "xlsx"
    warnings: list[str] = field(default_factory=list)


class UnreadableFile(Exception):
    """A file that cannot be read at all; the message is Vietnamese and names the place."""
