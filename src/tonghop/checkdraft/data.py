"""Figures of the draft against the data of the period (`--workspace`).

The sentences tonghop's templates write are recognised by their wording (ANCHORS), each figure
by its id in the report's figure registry (the ids of `figures.json`, which `tonghop explain`
takes), and compared with the marts within the rounding of its shown decimals. A figure
qualified as approximate, and a sentence about one year, are not compared with term totals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tonghop.checkdraft.documents import DraftError
from tonghop.checkdraft.output import Issue, excerpt
from tonghop.checkdraft.quantities import NUM, QUALIFIER_RE, Quantity, parse_number, show_like

_NUM = NUM


@dataclass(frozen=True)
class Anchor:
    """A sentence tonghop's templates write, recognised by its wording, and its figures."""

    pattern: str  # regex over the lowercase sentence; "{N}" is a figure
    figures: tuple[str, ...]  # figure ids (tonghop.explain), one per {N}
    context: str | None = None  # the sentence must also match this
    forbid: str | None = None  # ... and must not match this
    exponent: int = 0  # the written figure is in units of 10^exponent of the data (nghìn: 3)


_START = r"sau đại hội"
_NOT_START = r"sau đại hội|đầu nhiệm kỳ"
_CUTOFF = r"có \d[\d.]* (?:tccsđ|tổ chức cơ sở đảng)"
# A term figure is for the whole range; a sentence about one year or half-year is not.
_NOT_TERM = r"\b(?:năm|quý) \d{4}\b|tháng (?:đầu|cuối) năm"

ANCHORS: tuple[Anchor, ...] = (
    # I: the start of the term
    Anchor(r"có {N} (?:tổ chức cơ sở đảng|tccsđ)", ("start.units",), _START),
    Anchor(r"trong đó:? {N} đảng bộ\b", ("start.dang_bo",), _START),
    Anchor(r"{N} chi bộ cơ sở", ("start.chi_bo",), _START),
    Anchor(r"{N} chi bộ trực thuộc", ("start.branches_total",), _START),
    Anchor(r"{N} đảng viên(?! (?:dự bị|chính thức))", ("start.members_total",), _START),
    # I and 4.4: the cut-off
    Anchor(r"có {N} (?:tổ chức cơ sở đảng|tccsđ)", ("cutoff.units",), r"đến nay", _START),
    Anchor(r"{N} đảng bộ(?: cơ sở)?(?! (?:cơ sở )?trong)", ("cutoff.dang_bo",), _CUTOFF, _START),
    Anchor(r"{N} chi bộ cơ sở", ("cutoff.chi_bo",), _CUTOFF, _NOT_START),
    Anchor(r"{N} chi bộ trực thuộc", ("cutoff.branches_total",), _CUTOFF, _NOT_START),
    Anchor(
        r"{N} đảng viên(?! (?:dự bị|chính thức))", ("cutoff.members_total",), _CUTOFF, _NOT_START
    ),
    Anchor(r"{N} tccsđ trong cơ quan", ("cutoff.agency",), None, _NOT_START),
    Anchor(r"{N} tccsđ trong doanh nghiệp có vốn", ("cutoff.soe",), None, _NOT_START),
    Anchor(r"{N} tccsđ trong doanh nghiệp ngoài", ("cutoff.private",), None, _NOT_START),
    Anchor(
        r"{N} đảng bộ cơ sở trong (?:các )?(?:kcn|khu công nghiệp)",
        ("cutoff.industrial_zone",),
        None,
        _NOT_START,
    ),
    # 4.4: members over the term
    Anchor(
        r"kết nạp {N} (?:quần chúng|đảng viên mới)", ("term.members_admitted",), forbid=_NOT_TERM
    ),
    Anchor(r"chính thức cho {N} đồng chí", ("term.members_confirmed",), None, _NOT_TERM),
    Anchor(r"xóa tên {N} đảng viên", ("term.members_struck_off",), None, _NOT_TERM),
    Anchor(r"ra khỏi đảng {N} đảng viên", ("term.members_removed",), None, _NOT_TERM),
    Anchor(r"trao tặng {N} huy hiệu", ("term.party_badges_awarded",), None, _NOT_TERM),
    Anchor(r"làm thẻ {N} đảng viên", ("term.member_cards_issued",), None, _NOT_TERM),
    # 4.5: inspection, supervision, discipline, denunciations
    Anchor(
        r"kiểm tra {N} tổ chức đảng và {N} đảng viên",
        ("term.inspected_orgs", "term.inspected_members"),
        None,
        _NOT_TERM,
    ),
    Anchor(
        r"giám sát {N} tổ chức đảng và {N} đảng viên",
        ("term.supervised_orgs", "term.supervised_members"),
        None,
        _NOT_TERM,
    ),
    Anchor(r"kỷ luật {N} đảng viên", ("term.disciplined_members",), None, _NOT_TERM),
    Anchor(
        r"kỷ luật {N} đảng viên và {N} tổ chức đảng", ("", "term.disciplined_orgs"), None, _NOT_TERM
    ),
    Anchor(r"khiển trách {N}(?! tổ chức)", ("term.discipline_reprimand",), None, _NOT_TERM),
    Anchor(r"cảnh cáo {N}(?! tổ chức)", ("term.discipline_warning",), None, _NOT_TERM),
    Anchor(r"cách chức {N}(?! tổ chức)", ("term.discipline_dismissal",), None, _NOT_TERM),
    Anchor(r"khai trừ {N}(?! tổ chức)", ("term.discipline_expulsion",), None, _NOT_TERM),
    Anchor(
        r"(?:tiếp nhận|nhận)[^.;]{0,20}? {N} đơn", ("term.denunciations_received",), None, _NOT_TERM
    ),
    # 1.1, 3.2, 3.3: tasks, secretaries trained, culture standard
    Anchor(r"hoàn thành {N}/{N}", ("term.tasks_completed", "term.tasks_assigned"), None, _NOT_TERM),
    Anchor(
        r"{N}/{N} bí thư", ("term.secretaries_trained", "cutoff.branches_total"), None, _NOT_TERM
    ),
    Anchor(
        r"{N}/{N} cơ quan, đơn vị, doanh nghiệp đăng ký",
        ("cutoff.culture_registered", "cutoff.units"),
        None,
        _NOT_START,
    ),
    Anchor(
        r"{N}/{N} đơn vị đạt chuẩn văn hóa",
        ("cutoff.culture_achieved", "cutoff.units"),
        None,
        _NOT_START,
    ),
    Anchor(
        r"{N} đơn vị được công nhận (?:danh hiệu )?(?:đơn vị )?kiểu mẫu",
        ("cutoff.culture_model",),
        None,
        _NOT_START,
    ),
    # 1.4: enterprises
    Anchor(
        r"doanh thu[^.;]{0,40}? (?:ước )?đạt {N} tỷ đồng", ("term.revenue_bn_vnd",), None, _NOT_TERM
    ),
    Anchor(r"cho {N} nghìn người lao động", ("cutoff.employees",), None, _START, exponent=3),
    Anchor(
        r"ngân sách (?:nhà nước )?(?:ước )?đạt {N} tỷ đồng",
        ("term.state_budget_paid_bn_vnd",),
        None,
        _NOT_TERM,
    ),
    Anchor(r"thu nhập bình quân (?:ước )?đạt {N} triệu", ("cutoff.avg_income_mn_vnd_month",)),
)


def _compile(anchor: Anchor) -> re.Pattern[str]:
    # An approximate figure ("gần 4.358,9") is matched, then left unchecked (check_data).
    number = rf"(?:(?:gần|khoảng|trên|hơn|ước đạt|ước) )?(?<![\w.,])({_NUM})(?![\d])"
    return re.compile(anchor.pattern.replace("{N}", number))


_COMPILED = [(a, _compile(a)) for a in ANCHORS]


Lookup = Callable[[str], float | None]


def _anchor_match(anchor: Anchor, regex: re.Pattern[str], lower: str) -> re.Match[str] | None:
    # The figures follow their context ("đến nay Đảng bộ có 121 TCCSĐ, trong đó: …"): a
    # figure of an earlier clause (transfers during the term) is not one of them.
    start = 0
    if anchor.context:
        context = re.search(anchor.context, lower)
        if not context:
            return None
        start = context.start()
    if anchor.forbid and re.search(anchor.forbid, lower):
        return None
    return regex.search(lower, start)


def check_data(
    sentence: str, location: int, lookup: Lookup, where: str = "", line: int | None = None
) -> list[Issue]:
    """Figures of known sentences against the data (the first match of each pattern), an
    approximate one ("gần 16 nghìn") within the interval its qualifier gives."""
    issues = []
    lower = sentence.lower()
    for anchor, regex in _COMPILED:
        match = _anchor_match(anchor, regex, lower)
        if not match:
            continue
        for i, figure in enumerate(anchor.figures, start=1):
            data = lookup(figure) if figure else None
            if data is None:
                continue
            stated, decimals = parse_number(match[i])
            qualifier = QUALIFIER_RE.search(lower[: match.start(i)].rstrip())
            scaled = stated * Decimal(10) ** anchor.exponent
            q = Quantity(0, 0, match[i], "count", scaled, decimals, scale=anchor.exponent)
            q.qualifier = qualifier["q"] if qualifier else ""
            low, high = q.bounds()
            value = Decimal(str(data))
            eps = Decimal("1e-9")
            if (low is None or value >= low - eps) and (high is None or value <= high + eps):
                continue
            shown = show_like(q, value)
            issues.append(
                Issue(
                    kind="data_mismatch",
                    excerpt=excerpt(sentence),
                    stated=float(stated),
                    computed=float(value) / 10**anchor.exponent,
                    location=location,
                    where=where,
                    line=line,
                    figure=figure,
                    message=(
                        f"Văn bản ghi {q.qualifier + ' ' if q.qualifier else ''}{match[i]}, "
                        f"số liệu tổng hợp ({figure}) là {shown}"
                    ),
                )
            )
    return issues


def anchored_figures(sentence: str) -> Iterator[str]:
    """The figure ids a sentence's wording gives (for tests and the summary)."""
    lower = sentence.lower()
    for anchor, regex in _COMPILED:
        if _anchor_match(anchor, regex, lower):
            yield from (f for f in anchor.figures if f)


def workspace_lookup(workspace: Path, period: str | None = None) -> Lookup:
    """Figures of the workspace's marts, read once through a read-only connection."""
    from tonghop.db import connect, db_path
    from tonghop.explain import figure_value
    from tonghop.figure_ids import ExplainError, parse_figure_id
    from tonghop.periods import PeriodError, PeriodRange

    if not db_path(workspace).is_file():
        raise DraftError(f"Không có cơ sở dữ liệu tonghop trong '{workspace}'")
    con = connect(workspace, read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
        if not {"rpt_term__indicators", "rpt_term__units", "run_periods"} <= tables:
            raise DraftError(f"'{workspace}' chưa có số liệu tổng hợp: hãy chạy tonghop run")
        first, last = con.execute(
            "select min_by(period, ordinal), max_by(period, ordinal) from run_periods "
            "where role = 'range'"
        ).fetchone()
        if period is not None:
            try:
                wanted = PeriodRange.parse(period)
            except PeriodError as exc:
                raise DraftError(str(exc)) from exc
            if (wanted.first.code, wanted.last.code) != (first, last):
                raise DraftError(
                    f"Số liệu trong '{workspace}' được tổng hợp cho kỳ {first}..{last}, không "
                    f"phải {period}: hãy chạy tonghop run --period {period} trước"
                )
        cache: dict[str, float | None] = {}

        def lookup(figure: str) -> float | None:
            if figure not in cache:
                try:
                    cache[figure] = figure_value(con, parse_figure_id(figure))
                except ExplainError:
                    cache[figure] = None
            return cache[figure]

        for anchor in ANCHORS:
            for figure in anchor.figures:
                if figure:
                    lookup(figure)
    finally:
        con.close()
    return lambda figure: cache.get(figure)
