"""What check-draft reports: one finding per contradiction, in the JSON of SPEC §4.5."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = {
    "sum": "tổng",
    "breakdown_incomplete": "thiếu phần",
    "ratio": "tỷ lệ",
    "difference": "chênh lệch",
    "data_mismatch": "lệch dữ liệu",
}


@dataclass
class Issue:
    """One contradiction found in the draft (the JSON object of SPEC §4.5, with extensions).

    `kind` is one of KINDS (`sum`, `ratio`, `data_mismatch` of the contract, and the
    extensions `breakdown_incomplete` and `difference`); `stated` is the figure as written,
    `computed` what it should be (or, for a sum, what its parts add up to).
    """

    kind: str
    excerpt: str
    stated: float | None
    computed: float | None
    location: int  # the paragraph, in reading order (Paragraph.number)
    message: str  # one Vietnamese sentence a person can act on
    where: str = ""  # "dòng 34", "đoạn 12", "chú thích 3"
    line: int | None = None  # the line of the file (.md, .txt, .html)
    figure: str | None = None
    parts: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.parts:
            data.pop("parts")
        if self.figure is None:
            data.pop("figure")
        return data


def excerpt(sentence: str, limit: int = 400) -> str:
    """The sentence, shortened when very long."""
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def summary(issues: list[Issue], path: Path, with_data: bool) -> str:
    """The Vietnamese report printed by `tonghop check-draft`."""
    scope = "số liệu tự mâu thuẫn" + (" và lệch với dữ liệu tổng hợp" if with_data else "")
    if not issues:
        return f"{path}: không thấy {scope}."
    lines = [f"{path}: {len(issues)} chỗ cần xem lại ({scope}):"]
    for issue in issues:
        place = issue.where or f"đoạn {issue.location}"
        lines.append(f"- {place} [{KINDS.get(issue.kind, issue.kind)}] {issue.message}")
        lines.append(f"    «{excerpt(issue.excerpt, 200)}»")
    return "\n".join(lines)
