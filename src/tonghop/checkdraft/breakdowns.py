"""The breakdowns known to be exhaustive: when one is listed, its parts make the whole.

A total of TCCSĐ splits into the bloc's forms (đảng bộ cơ sở, chi bộ cơ sở) and sectors (the
catalog's `agency`, `soe`, `private`, `industrial_zone`); disciplined members into the four
forms of discipline of a member (Điều lệ Đảng, Điều 35), disciplined organisations into three;
rated members or organisations into the four rating levels. A list of other parts ("trong đó 8
đề tài cấp tỉnh") is a selection, never known to be complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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


BREAKDOWNS: tuple[Breakdown, ...] = (
    _b(
        "hình thức kỷ luật",
        {"member"},
        [
            ("khiển trách", r"khiển trách"),
            ("cảnh cáo", r"cảnh cáo"),
            ("cách chức", r"cách chức"),
            ("khai trừ", r"khai trừ"),
        ],
    ),
    _b(
        "hình thức kỷ luật",
        {"org", "tccsd", "branch"},
        [("khiển trách", r"khiển trách"), ("cảnh cáo", r"cảnh cáo"), ("giải tán", r"giải tán")],
    ),
    _b(
        "mức xếp loại",
        {"member", "org", "tccsd", "branch"},
        [
            ("hoàn thành xuất sắc nhiệm vụ", r"xuất sắc"),
            ("hoàn thành tốt nhiệm vụ", r"hoàn thành tốt"),
            ("hoàn thành nhiệm vụ", r"(?<!không )hoàn thành nhiệm vụ"),
            ("không hoàn thành nhiệm vụ", r"không hoàn thành"),
        ],
    ),
    _b(
        "khối",
        {"tccsd", "member", "branch"},
        [
            ("cơ quan, đơn vị sự nghiệp, đoàn thể", r"cơ quan|sự nghiệp|đoàn thể|hội cấp"),
            ("doanh nghiệp có vốn nhà nước", r"(?:doanh nghiệp|dn)(?: có vốn)? nhà nước|dnnn"),
            ("doanh nghiệp ngoài nhà nước", r"ngoài nhà nước|tư nhân|ngoài quốc doanh|fdi"),
            ("khu công nghiệp", r"\bkcn\b|khu công nghiệp|khu kinh tế"),
        ],
    ),
    _b(
        "loại hình",
        {"tccsd"},
        [("đảng bộ cơ sở", r"^đảng bộ(?! bộ phận)"), ("chi bộ cơ sở", r"^chi bộ cơ sở")],
    ),
)


def known_breakdown(whole_class: str, labels: list[str]) -> tuple[Breakdown, list[str]] | None:
    """The exhaustive breakdown whose categories the parts' words name, one each, if any."""
    for breakdown in BREAKDOWNS:
        if whole_class not in breakdown.classes:
            continue
        found = [breakdown.category(words) for words in labels]
        if all(found) and len(set(found)) == len(found) and (len(found) >= 2 or found):
            return breakdown, [f for f in found if f]
    return None
