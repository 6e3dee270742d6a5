"""A finding: one rule failed for one unit and period, as stored and shown to a steward."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

CONSOLIDATED_KIND = "consolidated"  # findings of the consolidated level (tonghop.consolidated)
# A well-formed period code (`2024`, `2024-H1`, `2024-Q3`), as DuckDB's regexp_full_match reads it.
PERIOD_SQL_RE = r"^\d{4}(-H[12]|-Q[1-4])?$"


@dataclass
class Finding:
    """One rule failed for one unit and period (SPEC §3, §4.5)."""

    unit_code: str | None
    period: str | None
    rule_id: str
    kind: str
    severity: str
    message: str
    indicators: list[str]
    values: dict[str, Any]
    submission_id: str | None = None
    file: str | None = None
    location: str | None = None
    suspect: str | None = None
    suggested_value: float | None = None
    unit_name: str | None = None
    finding_key: str = field(default="")
    # where each involved value stood in its file, and the unit's note beside it, by indicator
    # (tonghop.validation.places): read again from the values, never part of the key
    places: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    # the fields one of which is likely wrong, where the rules leave a choice (tonghop.localize):
    # set by the run that localized, not stored
    candidates: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.finding_key:
            basis = f"{self.rule_id}|{self.unit_code}|{self.period}|{self.submission_id}|"
            basis += ",".join(self.indicators) + "|" + (self.location or "")
            self.finding_key = hashlib.sha256(basis.encode()).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def finding_order(f: Finding) -> tuple[str, str, str, str]:
    """How findings are listed: by unit, period, rule, then place in the file."""
    return (f.unit_code or "", f.period or "", f.rule_id, f.location or "")
