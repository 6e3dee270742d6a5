"""The rule set as written in `expectations/rules.yaml`, read and checked by pydantic."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from tonghop.catalog import Indicator
from tonghop.paths import EXPECTATIONS_DIR

Kind = Literal[
    "bounds",
    "sum",
    "part_le_whole",
    "ratio",
    "stock_flow",
    "completeness",
    "duplicate",
    "type",
    "unknown_unit",
    "unknown_indicator",
    "plausibility",
    "policy",
]
Severity = Literal["error", "warning"]


class RuleSpec(BaseModel):
    id: str
    kind: Kind
    severity: Severity
    message: str
    check: str | None = None
    total: str | None = None
    parts: list[str] = []
    part: str | None = None
    whole: str | None = None
    # linear rules (stock_flow, policy): `left op right`, each side a list of terms (see Term)
    left: list[str] = []
    op: Literal["=", "<=", "<", ">=", ">"] | None = None
    right: list[str] = []
    params: dict[str, float] = {}
    forms: list[str] | None = None
    sectors: list[str] | None = None


class DerivedSpec(BaseModel):
    id_prefix: str
    severity: Severity
    message: str


class PlausibilitySpec(DerivedSpec):
    threshold: float
    min_history: int
    value_types: list[str]
    min_spread_pct: float = 0.0
    # and outside the unit's own range widened by this factor (highest × f, lowest ÷ f)
    range_factor: float = 1.0
    skip: list[str] = []  # indicators whose counts jump by nature


class MagnitudeSpec(DerivedSpec):
    """Amounts and sizes against the unit's own earlier periods: a jump by more than `factor`,
    with a power-of-ten slip (`slips`) named where undoing it lands in the unit's range."""

    factor: float
    min_history: int
    value_types: list[str]
    indicators: list[str] = []
    slips: list[int] = [1000, 10]

    def covers(self, ind: Indicator) -> bool:
        return ind.value_type in self.value_types or ind.code in self.indicators


class PeersSpec(DerivedSpec):
    """A value against the units of the same sector and form in the same period, for a unit
    with too little history of its own for the rules above: outside the peers' usual range
    (lower to upper quartile) widened by `factor`, among at least `min_peers` of them."""

    factor: float
    min_peers: int
    value_types: list[str]
    indicators: list[str] = []
    skip: list[str] = []
    slips: list[int] = [1000, 10]

    def covers(self, ind: Indicator) -> bool:
        if ind.code in self.skip:
            return False
        return ind.value_type in self.value_types or ind.code in self.indicators

    def per_member(self, ind: Indicator) -> bool:
        """Whether the peers' level is taken per member of the unit: counts other than the
        members themselves and the sizes listed in `indicators` (a unit four times the size
        admits about four times as many)."""
        return (
            ind.value_type == "count"
            and ind.code != "members_total"
            and ind.code not in self.indicators
        )


class LocalizationSpec(BaseModel):
    max_fields: int = 3
    weights: dict[str, float] = {}
    # what a broken warning left broken costs an explanation, as a field of weight 1 does
    unrepaired_warning: float = 1.0


class ConsolidatedRuleSpec(BaseModel):
    """A rule on the consolidated level (compiled by tonghop.consolidated)."""

    id: str
    check: str
    severity: Severity
    message: str


class RuleSet(BaseModel):
    bounds: DerivedSpec
    ratio: DerivedSpec
    plausibility: PlausibilitySpec | None = None
    magnitude: MagnitudeSpec | None = None
    peers: PeersSpec | None = None
    localization: LocalizationSpec = Field(default_factory=LocalizationSpec)
    rules: list[RuleSpec]
    consolidated: list[ConsolidatedRuleSpec] = []

    @property
    def min_history(self) -> int:
        """How many past periods the plausibility rules need (1 when there are none)."""
        needs = [spec.min_history for spec in (self.plausibility, self.magnitude) if spec]
        return min(needs, default=1)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read `expectations/rules.yaml`."""
    if path is None:
        return _default_rules()
    return RuleSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def _default_rules() -> RuleSet:
    return load_rules(EXPECTATIONS_DIR / "rules.yaml")
