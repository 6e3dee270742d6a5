"""Figure ids: `measure.name`, optionally `@group_type:group_value` (default the whole bloc).

`cutoff.members_total`, `term.members_admitted`, `start.branches_total`, `cutoff.units`,
`cutoff.members_total@sector:soe`. `measure` is `start`, `cutoff` or `term`; `name` is an
indicator code (read from `rpt_term__indicators`) or a count of units of `rpt_term__units`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tonghop.catalog import SECTORS

MEASURES = ("start", "cutoff", "term")
UNIT_COLUMNS = ("units", "dang_bo", "chi_bo", *SECTORS)
# The draft context's short names (tonghop.consolidate.report_context) for two indicators.
ALIASES = {"members": "members_total", "branches": "branches_total"}

_ID_RE = re.compile(r"^(?P<measure>[a-z]+)\.(?P<name>[a-z0-9_]+)(?:@(?P<gt>[a-z]+):(?P<gv>\w+))?$")


class ExplainError(ValueError):
    """A figure id that cannot be explained (Vietnamese message)."""


@dataclass(frozen=True)
class FigureRef:
    """A parsed figure id."""

    measure: str
    name: str
    group_type: str = "bloc"
    group_value: str = "bloc"

    @property
    def id(self) -> str:
        group = "" if self.group_type == "bloc" else f"@{self.group_type}:{self.group_value}"
        return f"{self.measure}.{self.name}{group}"

    @property
    def is_unit_count(self) -> bool:
        return self.name in UNIT_COLUMNS


def parse_figure_id(text: str) -> FigureRef:
    """Parse `measure.name[@group_type:group_value]`.

    >>> parse_figure_id("cutoff.members").id, parse_figure_id("term.revenue_bn_vnd@sector:soe").id
    ('cutoff.members_total', 'term.revenue_bn_vnd@sector:soe')
    """
    match = _ID_RE.match(text.strip())
    if not match or match["measure"] not in MEASURES:
        raise ExplainError(
            f"Mã số liệu '{text}' không hợp lệ: cần dạng <start|cutoff|term>.<chỉ tiêu>, "
            "ví dụ cutoff.members_total, term.members_admitted, cutoff.units"
        )
    name = ALIASES.get(match["name"], match["name"])
    if match["gt"] and name in UNIT_COLUMNS:
        raise ExplainError(f"Số đơn vị '{name}' chỉ có cho toàn Đảng bộ, không theo nhóm")
    return FigureRef(match["measure"], name, match["gt"] or "bloc", match["gv"] or "bloc")
