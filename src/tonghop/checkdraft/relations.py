"""Relations between the figures of a draft, each only between figures of one noun and unit.

- a total and its parts ("trong đó", "gồm", parenthesised breakdowns): parts above the total
  are an error (`sum`); parts below it are a finding only when the breakdown is known to be
  exhaustive (`breakdowns.py`): all categories listed (`sum`) or some missing
  (`breakdown_incomplete`, naming them); a labelled breakdown in brackets ("(năm 2021: 700;
  năm 2022: 800)") is a full split;
- a percentage against its fraction (`ratio`): "x/y (z%)", "x/y …, đạt z%", or a count whose
  denominator the sentence states before it ("62/121 đơn vị …, trong đó 30 đơn vị (đạt z%)");
- a stated change ("giảm M tổ chức so với khi mới thành lập") against the two stocks the
  document states, wherever they are (`difference`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tonghop.checkdraft.breakdowns import known_breakdown
from tonghop.checkdraft.documents import Paragraph
from tonghop.checkdraft.output import Issue, excerpt
from tonghop.checkdraft.quantities import NUM, Quantity, parse_number, quantities, show, show_like
from tonghop.formatting import phan_tram

_UNIT_NAMES = {
    "tccsd": "TCCSĐ",
    "member": "đảng viên",
    "branch": "chi bộ",
    "org": "tổ chức đảng",
}
_MARKER = re.compile(
    r"\b(?:trong đó|bao gồm|gồm có|gồm|cụ thể là|cụ thể|chia ra|(?:bằng|với) (?:các )?hình thức)"
    r"\b\s*:?"
)


@dataclass(frozen=True)
class Sentence:
    text: str
    paragraph: Paragraph
    context: str  # the text a leading "Trong đó" refers to: the sentence or note mark before


def _issue(
    kind: str, s: Sentence, stated: Decimal, computed: Decimal, message: str, parts=()
) -> Issue:
    p = s.paragraph
    return Issue(
        kind=kind,
        excerpt=excerpt(s.text),
        stated=float(stated),
        computed=float(computed),
        location=p.number,
        message=message,
        where=p.where,
        line=p.line,
        parts=[float(x) for x in parts],
    )


def _named(q: Quantity, value: Decimal | None = None) -> str:
    """ "121 TCCSĐ", "5,3 tỷ đồng": a value with the figure's own noun."""
    number = show_like(q, q.value if value is None else value)
    words = q.noun.split(" (")[0].split()
    if q.unit == "đồng":
        noun = "đồng"
    elif q.unit in _UNIT_NAMES and not 0 < len(words) <= 4:
        noun = _UNIT_NAMES[q.unit]
    else:
        noun = " ".join(words)
    return f"{number} {noun}".strip()


def _stated(q: Quantity) -> str:
    """A figure as the draft qualifies it: "hơn 5,2 tỷ đồng"."""
    return f"{q.qualifier} {_named(q)}" if q.qualifier else _named(q)


# ---------------------------------------------------------------- totals and parts


def check_sums(s: Sentence) -> list[Issue]:
    """Parts after "trong đó"/"gồm" and in brackets against their total."""
    issues: list[Issue] = []
    lower = s.text.lower()
    figures = quantities(s.text)
    marks = list(_MARKER.finditer(lower))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(lower)
        tail = [q for q in figures if mark.end() <= q.start < end and not q.in_parens]
        head = [q for q in figures if q.end <= mark.start() and not q.in_parens]
        if not any(q.countable for q in head):
            head = [q for q in quantities(s.context) if not q.in_parens]
        issue = _whole_and_parts(s, head, tail, lower, mark.end(), labelled=False)
        if issue:
            issues.append(issue)
    for m in re.finditer(r"\(([^()]*)\)", s.text):
        inside = [q for q in figures if m.start() < q.start < m.end()]
        head = [q for q in figures if q.end <= m.start() and not q.in_parens]
        if len(inside) < 2 or not head:
            continue
        labelled = _labelled(m[1])
        issue = _whole_and_parts(s, head[-1:], inside, lower, m.start() + 1, labelled)
        if issue:
            issues.append(issue)
    return issues


# Words that describe members by a trait rather than split them: such subsets may overlap.
_ATTRIBUTE = re.compile(
    r"\bnữ\b|tuổi|dân tộc|tôn giáo|trình độ|\btrẻ\b"
    r"|là (?:đoàn viên|hội viên|công nhân|người|sinh viên|học sinh|cựu|nông dân|trí thức)"
)


def _labelled(inside: str) -> bool:
    """ "năm 2021: 700; năm 2022: 800", "khối Cơ quan 2,1 tỷ, khối Doanh nghiệp 3,1 tỷ": every
    item names its part before its number, as a full split does."""
    items = [x.strip() for x in re.split(r";|,\s", inside) if x.strip()]
    named = [
        x
        for x in items
        if re.match(r"[^\d\W][^\d]*\s+(?:gần |khoảng |hơn )?\d", x) or re.search(r":\s*\d", x)
    ]
    return len(items) >= 2 and len(named) == len(items)


def _whole_and_parts(
    s: Sentence, head: list[Quantity], tail: list[Quantity], lower: str, at: int, labelled: bool
) -> Issue | None:
    """The total among `head` and its parts among `tail` (from `at`), and what is wrong."""
    tail = [q for q in tail if q.countable or q.kind == "placeholder"]
    if not tail:
        return None
    units = _carried_units(tail)
    candidates = [q for q in head if q.countable]
    whole = next(
        (
            q
            for q in reversed(candidates)
            if q.unit and any(_within(u, q.unit, labelled) for u in units)
        ),
        None,
    )
    if whole is None and labelled and candidates and not any(units):
        whole = candidates[-1]  # "(năm 2021: 700; năm 2022: 800)": parts of the total's noun
    if whole is None or whole.value is None:
        return None
    units = [whole.unit if not u or _within(u, whole.unit, labelled) else u for u in units]
    parts = _run_of(tail, units, whole.unit, lower, at)
    if not parts or any(p.value is None for p in parts):
        return None  # an unknown part ([…]) leaves the sum unknown
    labels = [_label(lower, p, at) for p in parts]
    known = known_breakdown(whole.unit, labels) if len(parts) >= 2 else None
    if known:
        breakdown, found = known
        complete = len(found) == len(breakdown.categories)
    elif any(_ATTRIBUTE.search(label) for label in labels) and not labelled:
        return None  # "450 đảng viên là nữ, 520 đảng viên dưới 30 tuổi": subsets that overlap
    else:
        complete = labelled and len(parts) >= 2
    total = sum((p.value for p in parts if p.value is not None), Decimal(0))
    low, high = _sum_bounds(parts)
    whole_low, whole_high = whole.bounds()
    listed = " + ".join(show_like(whole, p.value) for p in parts)
    if whole_high is not None and low is not None and low > whole_high:
        return _issue(
            "sum",
            s,
            whole.value,
            total,
            f"Các phần cộng lại {listed} = {_named(whole, total)}, lớn hơn tổng "
            f"{_stated(whole)} (thừa {_named(whole, total - whole.value)}): tổng hoặc một phần "
            "ghi sai",
            [p.value for p in parts],
        )
    if whole_low is None or high is None or high >= whole_low:
        return None
    gap = whole.value - total
    if complete:
        return _issue(
            "sum",
            s,
            whole.value,
            total,
            f"Các phần cộng lại {listed} = {_named(whole, total)}, nhỏ hơn tổng "
            f"{_stated(whole)} (thiếu {_named(whole, gap)}): tổng hoặc một phần ghi sai",
            [p.value for p in parts],
        )
    if known:
        breakdown, found = known
        missing = [c for c, _ in breakdown.categories if c not in found]
        return _issue(
            "breakdown_incomplete",
            s,
            whole.value,
            total,
            f"Tổng các {breakdown.name} ({show_like(whole, total)}) nhỏ hơn tổng số "
            f"{_named(whole)}: {_named(whole, gap)} chưa rõ {breakdown.name} "
            f"(chưa nêu: {', '.join(missing)})",
            [p.value for p in parts],
        )
    return None


def _within(part: str, whole: str, labelled: bool) -> bool:
    """A part counts what its total counts, or, in a labelled split, names it shorter ("(năm
    2021: 900 lượt; …)" of "2.450 lượt cán bộ")."""
    return part == whole or (labelled and bool(part) and whole.startswith(part + " "))


def _carried_units(parts: list[Quantity]) -> list[str]:
    """Each part's unit; a bare number takes the unit of its neighbours ("152, cảnh cáo 33 …
    đảng viên"), a placeholder too."""
    units = [q.unit if q.kind != "placeholder" else "" for q in parts]
    following = ""
    for i in reversed(range(len(units))):
        units[i] = units[i] or following
        following = units[i]
    return units


def _run_of(
    tail: list[Quantity], units: list[str], unit: str, lower: str, at: int
) -> list[Quantity]:
    """The parts of one noun, in the segments (between ";") that go on listing it."""
    segments: dict[int, list[Quantity]] = {}
    for q, u in zip(tail, units, strict=True):
        segment = lower.count(";", at, q.start)
        if u == unit:
            segments.setdefault(segment, []).append(q)
    parts: list[Quantity] = []
    for segment in range(max(segments, default=-1) + 1):
        if segment not in segments:
            if parts:
                break
            continue
        parts += segments[segment]
    return parts


def _label(lower: str, q: Quantity, at: int) -> str:
    """The words naming a part: its clause, from the separator before to the one after."""
    start = max(lower.rfind(sep, at, q.start) for sep in ",;:(")
    start = max(start + 1, at)
    stops = [i for i in (lower.find(sep, q.end) for sep in ",;)") if i != -1]
    end = min(stops, default=len(lower))
    return (lower[start : q.start] + " " + lower[q.end : end]).strip()


def _sum_bounds(parts: list[Quantity]) -> tuple[Decimal | None, Decimal | None]:
    low: Decimal | None = Decimal(0)
    high: Decimal | None = Decimal(0)
    for p in parts:
        lo, hi = p.bounds()
        low = None if low is None or lo is None else low + lo
        high = None if high is None or hi is None else high + hi
    return low, high


# ---------------------------------------------------------------- percentages

_LEAD = re.compile(
    r"(?:\(\s*|(?:đạt|bằng|chiếm|tỷ lệ|tỉ lệ|là|=)\s*(?:tỷ lệ\s*|tỉ lệ\s*)?:?\s*"
    r"(?:gần|khoảng|trên|hơn|xấp xỉ)?\s*)$"
)
_BASE = re.compile(r"(?:tổng số|trong số|trên tổng số|trên|/|của|toàn khối có|có)\s*$")


def check_ratios(s: Sentence) -> list[Issue]:
    """A percentage against the fraction it is the percentage of, in the same sentence."""
    issues = []
    lower = s.text.lower()
    figures = quantities(s.text)
    for i, pct in enumerate(figures):
        if pct.kind != "percent" or pct.change or pct.value is None:
            continue
        after = figures[i + 1] if i + 1 < len(figures) else None
        gap = lower[pct.end : after.start] if after else ""
        if after and after.kind == "fraction" and re.fullmatch(r"[^;()]{0,80}\(\s*", gap):
            base = after  # "trên 90% TCCSĐ (112/121 TCCSĐ)"
        elif i == 0:
            continue
        else:
            base = figures[i - 1]
        between = lower[base.end : pct.start]
        if base is after:
            between = "("
        if len(between) > 80 or not _LEAD.search(between) or base.value is None:
            continue
        if re.search(r"trong đó|so với|tăng|giảm|vượt", between):
            continue
        if base.kind == "fraction" and base.denominator:
            numerator, denominator = base.value, base.denominator
        elif base.kind == "count" and not base.change and base.unit:
            found = _denominator(figures[: i - 1], base, lower)
            if found is None:
                continue
            numerator, denominator = base.value, found
        else:
            continue
        computed = numerator * 100 / denominator
        low, high = pct.bounds()
        if pct.decimals == 0 and not pct.qualifier:
            low, high = pct.value - Decimal("0.5"), pct.value + Decimal("0.5")
        eps = Decimal("1e-9")
        if (low is None or computed >= low - eps) and (high is None or computed <= high + eps):
            continue
        shown = phan_tram(computed, max(pct.decimals, 2 if computed % 1 else 0))
        issues.append(
            _issue(
                "ratio",
                s,
                pct.value,
                round(computed, max(pct.decimals, 2)),
                f"{show(numerator)}/{show(denominator)} là {shown}, không phải "
                f"{pct.qualifier + ' ' if pct.qualifier else ''}"
                f"{phan_tram(pct.value, pct.decimals)}",
            )
        )
    return issues


def _denominator(earlier: list[Quantity], count: Quantity, lower: str) -> Decimal | None:
    """The total a count is a share of: a fraction's denominator or a total of its noun."""
    for q in reversed(earlier):
        if q.unit != count.unit or q.value is None:
            continue
        if q.kind == "fraction" and q.denominator and q.denominator >= count.value:
            return q.denominator
        if q.kind == "count" and not q.change and q.value > count.value and _BASE.search(q.before):
            return q.value
    return None


# ---------------------------------------------------------------- stated differences

_CHANGE_REF = re.compile(r"so với\s+(?P<ref>[^,;.()]{0,60})")
_START_REF = re.compile(r"đầu nhiệm kỳ|mới thành lập|thành lập|đại hội|nhiệm kỳ trước")
# "tăng thêm 300 so với Nghị quyết Đại hội" compares two targets, not two stocks in time.
_TARGET_REF = re.compile(r"nghị quyết|chỉ tiêu|kế hoạch")
_START_SENTENCE = re.compile(
    r"sau đại hội|(?<!từ )đầu nhiệm kỳ(?! đến nay)|khi mới thành lập|thời điểm đại hội"
)
_REFERENCE = re.compile(r"so với\s+(?:\S+\s+){0,3}$")
_CUTOFF_SENTENCE = re.compile(r"đến nay|hiện nay|hiện có|tính đến")


def check_differences(all_sentences: list[Sentence]) -> list[Issue]:
    """ "N …, giảm M … so với X": M against N and the stock at X the document states."""
    issues = []
    for index, s in enumerate(all_sentences):
        lower = s.text.lower()
        figures = quantities(s.text)
        for i, change in enumerate(figures):
            if change.change not in ("tăng", "giảm") or change.kind != "count" or not change.value:
                continue
            ref = _CHANGE_REF.search(lower, change.end)
            if not ref or lower.find(";", change.end, ref.start()) != -1:
                continue
            if not _START_REF.search(ref["ref"]) or _TARGET_REF.search(ref["ref"]):
                continue
            now = _stock_now(figures[:i], change, all_sentences[: index + 1], lower)
            if now is None:
                continue
            start = _stock_at_start(all_sentences, now.unit)
            if start is None or start.value is None or now.value is None:
                continue
            expected = (
                now.value - start.value if change.change == "tăng" else start.value - now.value
            )
            if expected == change.value:
                continue
            direction = "tăng" if now.value >= start.value else "giảm"
            issues.append(
                _issue(
                    "difference",
                    s,
                    change.value,
                    expected,
                    f"Từ {_named(start)} ({ref['ref'].strip()}) đến {_named(now)} là "
                    f"{direction} {show(abs(now.value - start.value))}, không phải "
                    f"{change.change} {show(change.value)}",
                )
            )
    return issues


def _stock_now(
    earlier: list[Quantity], change: Quantity, before: list[Sentence], lower: str
) -> Quantity | None:
    """The stock a change is stated of: the figure before it, or the noun's latest stock."""
    stocks = [q for q in reversed(earlier) if q.countable and q.kind == "count"]
    same = [q for q in stocks if q.unit == change.unit]
    if change.unit == "org":  # "121 TCCSĐ, giảm 56 tổ chức"
        same = same or [q for q in stocks if q.unit in ("tccsd", "branch")]
    elif change.unit in ("", "đơn vị"):
        same = same or stocks
    if same:
        return same[0]
    named = re.search(
        r"(?:tổng số|số)\s+(\S+(?:\s\S+)?)\s+(?:tăng|giảm)\s*$", lower[: change.start]
    )
    if not named:
        return None
    unit = quantities("1 " + named[1])[0].unit if quantities("1 " + named[1]) else ""
    for s in reversed(before[:-1]):
        lower = s.text.lower()
        mark = _CUTOFF_SENTENCE.search(lower)
        if not mark:
            continue
        for q in quantities(s.text):
            if q.start > mark.start() and q.unit == unit and q.countable and q.kind == "count":
                return q
    return None


def _stock_at_start(all_sentences: list[Sentence], unit: str) -> Quantity | None:
    for s in all_sentences:
        lower = s.text.lower()
        mark = next(
            (
                m
                for m in _START_SENTENCE.finditer(lower)
                if not _REFERENCE.search(lower, 0, m.start())
            ),
            None,
        )
        if not mark:
            continue
        for q in quantities(s.text):
            if q.start < mark.start():
                continue
            if _CUTOFF_SENTENCE.search(lower, mark.end(), q.start):
                break  # past the start of the term: "…, đến nay Đảng bộ có 121 TCCSĐ"
            if q.unit == unit and q.countable and q.kind == "count" and not q.in_parens:
                return q
    return None


# ---------------------------------------------------------------- tables

_TOTAL_ROW = re.compile(r"^(?:tổng cộng|tổng số|tổng|cộng|toàn đảng bộ|toàn khối|chung)\b")
_PLAIN = re.compile(rf"\s*({NUM})\s*")


def check_tables(paragraphs: list[Paragraph]) -> list[Issue]:
    """In a table with a total row ("Tổng", "Cộng", "Toàn Đảng bộ"), each column of plain
    numbers adds up to it."""
    tables: dict[int, dict[tuple[int, int], Paragraph]] = {}
    for p in paragraphs:
        if p.cell is not None:
            tables.setdefault(p.cell[0], {})[p.cell[1:]] = p
    issues = []
    for grid in tables.values():
        rows = sorted({r for r, _ in grid})
        first = 1
        for r in rows:
            label = grid.get((r, 0))
            if label is None or not _TOTAL_ROW.search(label.text.lower()):
                continue
            issues += _table_total(grid, [x for x in rows if first <= x < r], r)
            first = r + 1
    return issues


def _table_total(
    grid: dict[tuple[int, int], Paragraph], rows: list[int], total: int
) -> list[Issue]:
    issues = []
    for (r, c), cell in sorted(grid.items()):
        if r != total or c == 0 or not (m := _PLAIN.fullmatch(cell.text)):
            continue
        values = [_PLAIN.fullmatch(grid[x, c].text) if (x, c) in grid else None for x in rows]
        if len(values) < 2 or not all(values):
            continue
        parsed = [parse_number(v[1]) for v in values if v]
        stated, decimals = parse_number(m[1])
        total_sum = sum((v for v, _ in parsed), Decimal(0))
        places = max([decimals, *(d for _, d in parsed)])
        slack = Decimal("0.5") * Decimal(10) ** -places * len(parsed) if places else Decimal(0)
        if abs(total_sum - stated) <= slack:
            continue
        header = grid[(0, c)].text if (0, c) in grid else f"cột {c + 1}"
        s = Sentence(f"{grid[total, 0].text}: {header} {cell.text}", cell, "")
        issues.append(
            _issue(
                "sum",
                s,
                stated,
                total_sum,
                f"Cột «{header}»: các dòng cộng lại {show(total_sum, places)}, dòng "
                f"«{grid[total, 0].text}» ghi {show(stated, decimals)}",
                [v for v, _ in parsed],
            )
        )
    return issues
