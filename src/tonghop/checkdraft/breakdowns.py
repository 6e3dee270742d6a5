"""The breakdowns known to be exhaustive: when one is listed, its parts make the whole.

A total of TCCSĐ splits into the catalog's forms (đảng bộ cơ sở, chi bộ cơ sở) and sectors
(`agency`, `soe`, `private`, `industrial_zone`); disciplined members into the four forms of
discipline the catalog counts (`discipline_*`: khiển trách, cảnh cáo, cách chức, khai trừ),
disciplined organisations into three; rated members or organisations into the catalog's four
rating levels (`members_rated_*`). A list of other parts ("trong đó 8
đề tài cấp tỉnh") is a selection, never known to be complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from tonghop.catalog import FORM_LABELS, FORMS, SECTOR_LABELS, SECTORS, load_catalog


@dataclass(frozen=True)
class Breakdown:
    name: str  # what the categories are, in Vietnamese ("hình thức kỷ luật")
    classes: frozenset[str]  # the noun classes of the whole it applies to
    categories: tuple[tuple[str, re.Pattern[str]], ...]  # (label, pattern over a part's words)

    def category(self, words: str) -> str | None:
        """The category a part's words name, if exactly one."""
        found = [label for label, pattern in self.categories if pattern.search(words)]
        return found[0] if len(found) == 1 else None


def _b(name: str, classes: set[str], categories: list[tuple[str, str]]) -> Breakdown:
    return Breakdown(name, frozenset(classes), tuple((k, re.compile(p)) for k, p in categories))


# How a report names each category of the catalog's splits, shortened as writers do.
_SECTOR_WORDS = {
    "agency": r"cơ quan|sự nghiệp|đoàn thể|hội cấp",
    "soe": r"(?:doanh nghiệp|dn)(?: có vốn)? nhà nước|dnnn",
    "private": r"ngoài nhà nước|tư nhân|ngoài quốc doanh|fdi",
    "industrial_zone": r"\bkcn\b|khu công nghiệp|khu kinh tế",
}
_FORM_WORDS = {"dang_bo": r"^đảng bộ(?! bộ phận)", "chi_bo": r"^chi bộ cơ sở"}
_RATING_WORDS = {
    "members_rated_excellent": r"xuất sắc",
    "members_rated_good": r"hoàn thành tốt",
    "members_rated_complete": r"(?<!không )hoàn thành nhiệm vụ",
    "members_rated_incomplete": r"không hoàn thành",
}
# Điều lệ Đảng, Điều 35: an organisation is reprimanded, warned or dissolved (the catalog
# counts disciplined organisations, not their forms).
_ORG_DISCIPLINE = ["khiển trách", "cảnh cáo", "giải tán"]


@cache
def breakdowns() -> tuple[Breakdown, ...]:
    """The exhaustive breakdowns, their categories named as the catalog names them."""
    catalog = load_catalog()
    forms = [
        i.label.lower().removeprefix("kỷ luật ").strip()
        for i in catalog.indicators
        if i.code.startswith("discipline_")
    ]
    ratings = [
        (catalog[code].label.lower().removeprefix("đảng viên ").strip(), words)
        for code, words in _RATING_WORDS.items()
    ]
    return (
        _b("hình thức kỷ luật", {"member"}, [(f, re.escape(f)) for f in forms]),
        _b("hình thức kỷ luật", {"org", "tccsd", "branch"}, [(f, f) for f in _ORG_DISCIPLINE]),
        _b("mức xếp loại", {"member", "org", "tccsd", "branch"}, ratings),
        _b(
            "khối",
            {"tccsd", "member", "branch"},
            [(SECTOR_LABELS[s], _SECTOR_WORDS[s]) for s in SECTORS],
        ),
        _b("loại hình", {"tccsd"}, [(FORM_LABELS[f], _FORM_WORDS[f]) for f in FORMS]),
    )


def known_breakdown(whole_class: str, labels: list[str]) -> tuple[Breakdown, list[str]] | None:
    """The exhaustive breakdown whose categories the parts' words name, one each, if any."""
    for breakdown in breakdowns():
        if whole_class not in breakdown.classes:
            continue
        found = [breakdown.category(words) for words in labels]
        if found and all(found) and len(set(found)) == len(found):
            return breakdown, [f for f in found if f]
    return None
