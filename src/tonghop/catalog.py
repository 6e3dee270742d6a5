"""The indicator catalog (`catalog/indicators.yaml`): one typed loader that everything reads."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from tonghop.paths import CATALOG_DIR

Sector = Literal["agency", "soe", "private", "industrial_zone", "committee"]
Form = Literal[
    "dang_bo", "chi_bo", "dang_uy_khoi", "van_phong", "ban_to_chuc", "ban_tuyen_giao",
    "uy_ban_kiem_tra"
]  # fmt: skip
SECTORS: tuple[str, ...] = ("agency", "soe", "private", "industrial_zone")
"""The sectors of the TCCSĐ: every breakdown by sector is over these."""
COMMITTEE_SECTOR = "committee"
"""The bloc committee's own bodies (SPEC §3, §4.1): units of the registry that report figures
only they know, never TCCSĐ, never in a count or a breakdown of TCCSĐ."""
REGISTRY_SECTORS: tuple[str, ...] = (*SECTORS, COMMITTEE_SECTOR)
FORMS: tuple[str, ...] = ("dang_bo", "chi_bo")
"""The forms of a TCCSĐ: every count of TCCSĐ is over these."""
BLOC_COMMITTEE_FORM = "dang_uy_khoi"
"""The bloc committee (Đảng ủy Khối) itself: a unit of the registry, never a TCCSĐ. It reports
only the indicators that name its form in `applies_to` (SPEC §3: classes it ran, the mass
organisations' ratings, ...)."""
COMMITTEE_FORMS: tuple[str, ...] = (
    BLOC_COMMITTEE_FORM,
    "van_phong",
    "ban_to_chuc",
    "ban_tuyen_giao",
    "uy_ban_kiem_tra",
)
"""The bodies of the bloc committee, each with its own form (the indicators that name it)."""
REGISTRY_FORMS: tuple[str, ...] = (*FORMS, *COMMITTEE_FORMS)

SECTOR_LABELS = {
    "agency": "cơ quan, đơn vị sự nghiệp công lập, đoàn thể, hội cấp tỉnh",
    "soe": "doanh nghiệp có vốn nhà nước",
    "private": "doanh nghiệp ngoài nhà nước",
    "industrial_zone": "khu công nghiệp",
    COMMITTEE_SECTOR: "cơ quan tham mưu, giúp việc của Đảng ủy Khối",
}
FORM_LABELS = {
    "dang_bo": "đảng bộ cơ sở",
    "chi_bo": "chi bộ cơ sở",
    BLOC_COMMITTEE_FORM: "Đảng ủy Khối",
    "van_phong": "Văn phòng Đảng ủy Khối",
    "ban_to_chuc": "Ban Tổ chức Đảng ủy Khối",
    "ban_tuyen_giao": "Ban Tuyên giáo Đảng ủy Khối",
    "uy_ban_kiem_tra": "Ủy ban Kiểm tra Đảng ủy Khối",
}

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# Bounds by value type: (minimum, maximum, whole number). The one place these live.
VALUE_BOUNDS: dict[str, tuple[float, float | None, bool]] = {
    "count": (0, None, True),
    "flag": (0, 1, True),
    "percent": (0, 100, False),
    "amount": (0, None, False),
    "rating": (1, 4, True),
}


class Applicability(BaseModel):
    """Which units report an indicator; without `forms`, every TCCSĐ (not the bloc committee)."""

    sectors: list[Sector] | None = None
    forms: list[Form] | None = None

    @model_validator(mode="after")
    def _tccsd_by_default(self) -> Applicability:
        if self.forms is None:
            self.forms = list(FORMS)
        return self

    def applies(self, sector: str, form: str) -> bool:
        return (self.sectors is None or sector in self.sectors) and (
            self.forms is None or form in self.forms
        )


class Indicator(BaseModel):
    """One indicator (chỉ tiêu) of the catalog."""

    code: str
    label: str
    unit: str
    value_type: Literal["count", "flag", "percent", "amount", "rating"]
    decimals: int = 0
    time_aggregation: Literal["flow", "stock", "rate", "weighted_mean"]
    unit_aggregation: Literal["sum", "count_true", "recompute", "weighted_mean", "distribution"]
    applies_to: Applicability = Field(default_factory=Applicability)
    required: bool = False
    annual: bool = False
    numerator: list[str] = Field(default_factory=list)
    denominator: list[str] = Field(default_factory=list)
    weight: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        if not _CODE_RE.match(self.code):
            raise ValueError(f"indicator code {self.code!r} must be lowercase snake_case")
        if self.time_aggregation == "rate" and not (self.numerator and self.denominator):
            raise ValueError(f"rate {self.code} needs numerator and denominator")
        if self.time_aggregation == "weighted_mean" and not self.weight:
            raise ValueError(f"weighted mean {self.code} needs a weight")
        return self

    @property
    def bounds(self) -> tuple[float, float | None, bool]:
        return VALUE_BOUNDS[self.value_type]

    @property
    def is_rate(self) -> bool:
        return self.time_aggregation == "rate"

    def applies(self, sector: str, form: str) -> bool:
        return self.applies_to.applies(sector, form)

    @property
    def source(self) -> str:
        """`committee` when only the bloc committee's bodies report it (SPEC §3), else `units`."""
        forms = set(self.applies_to.forms or ())
        return "committee" if forms and forms <= set(COMMITTEE_FORMS) else "units"


class Catalog(BaseModel):
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _check_references(self) -> Catalog:
        codes = [i.code for i in self.indicators]
        duplicates = {c for c in codes if codes.count(c) > 1}
        if duplicates:
            raise ValueError(f"duplicate indicator codes: {sorted(duplicates)}")
        known = set(codes)
        for ind in self.indicators:
            for ref in [*ind.numerator, *ind.denominator, *([ind.weight] if ind.weight else [])]:
                if ref not in known:
                    raise ValueError(f"{ind.code} refers to unknown indicator {ref}")
        return self

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    def __getitem__(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)

    def __contains__(self, code: object) -> bool:
        return any(ind.code == code for ind in self.indicators)

    def __iter__(self):  # type: ignore[override]
        return iter(self.indicators)


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and check the catalog; `path` defaults to `catalog/indicators.yaml`."""
    if path is None:
        return _default_catalog()
    # libyaml's loader when PyYAML has it: the same document, several times faster to read
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return Catalog.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))  # noqa: S506


@cache
def _default_catalog() -> Catalog:
    return load_catalog(CATALOG_DIR / "indicators.yaml")
