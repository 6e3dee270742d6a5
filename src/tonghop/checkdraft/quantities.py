"""The figures of a sentence of Vietnamese administrative prose, each with its noun and unit.

Numbers are read the Vietnamese way: `.` groups thousands, `,` marks decimals (`14.103`,
`122.235,8`, `256,588 tỷ`), `04` is four. A figure carries its qualifier (`gần`, `hơn`, `trên`,
`khoảng`, `ước đạt`: an interval, not a point), its multiplier (`16 nghìn`, `9,5 triệu`), its
kind (count, amount, percent, fraction `62/121`, range `15 - 20%`, rank `thứ 05/63`) and the
class of what it counts (`noun_class`). Numbers that are names are not figures at all:
document numbers (`21-NQ/TW`, `Quyết định 1857, 1858-QĐ/TU`), dates, years, terms, `Covid-19`,
section and footnote numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tonghop.formatting import so, so_dem

NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_FIGURE_RE = re.compile(
    rf"(?<![\w./,\-–])(?P<a>{NUM})(?:\s*/\s*(?P<b>{NUM}))?(?P<range>\s*[-–]\s*(?:{NUM}))?"
    rf"(?P<pct>\s*%)?(?![\w/]|[-–]\w|\.\d|,\d)"
    r"|(?P<ph>\[(?:…|\.\.\.)\])"
)

_MULTIPLIERS = {"nghìn": 3, "ngàn": 3, "triệu": 6, "tỷ": 9, "tỉ": 9}
_MULTIPLIER_RE = re.compile(r"\s*(nghìn|ngàn|triệu|tỷ|tỉ)\b")


def parse_number(text: str) -> tuple[Decimal, int]:
    """A Vietnamese number and its shown decimals.

    >>> parse_number("122.235,8"), parse_number("04"), parse_number("14.103")
    ((Decimal('122235.8'), 1), (Decimal('4'), 0), (Decimal('14103'), 0))
    """
    whole, _, decimals = text.partition(",")
    digits = whole.replace(".", "") + ("." + decimals if decimals else "")
    return Decimal(digits), len(decimals)


# Qualifiers: the interval a figure stands for, as factors of the stated value.
_QUALIFIERS: list[tuple[str, tuple[Decimal | None, Decimal | None]]] = [
    (r"ít nhất|tối thiểu|không dưới", (Decimal(1), None)),
    (r"tối đa|không quá", (None, Decimal(1))),
    (r"trên|hơn", (Decimal("0.99"), None)),
    (r"dưới", (None, Decimal("1.01"))),
    (r"gần|xấp xỉ dưới", (Decimal("0.9"), Decimal("1.01"))),
    (r"khoảng|xấp xỉ|chừng|ước khoảng|trên dưới", (Decimal("0.95"), Decimal("1.05"))),
    (r"ước(?: tính| đạt| thực hiện)?(?: đạt)?", (Decimal("0.99"), Decimal("1.01"))),
]
QUALIFIER_RE = re.compile(
    r"(?:^|[\s(,;:])(?P<q>" + "|".join(f"(?:{p})" for p, _ in _QUALIFIERS) + r")\s*$"
)

# Words that make the next number a name (a label) rather than a count of things.
_TIME_LABEL_RE = re.compile(r"(?:^|[^\w])(?:năm|tháng|ngày|quý|mùa|niên khóa)\s*$")
_LABELS = (
    r"khóa|khoá|lần thứ|lần|phụ lục|mục|điều|khoản|điểm|chương|phần|"
    r"tiết|trang|biểu đồ|biểu|bảng|hình|sơ đồ|mẫu|(?<!tổng )(?<!trong )(?<!với )số|"
    r"nghị quyết|nghị định|"
    r"quyết định|quy định|quy chế|chỉ thị|ban chỉ đạo|"
    r"kết luận|hướng dẫn|thông báo|thông tư|công văn|tờ trình|kế hoạch số|chương trình số|"
    r"giai đoạn|chỉ tiêu số|nhiệm kỳ|trung ương|covid|iso|quốc lộ|tỉnh lộ|đường|phường|"
    r"tổ|khu phố|thôn|bản|xóm|cụm|lô|phòng|cấp độ|mức độ|hạng|tầng|top|đề án|dự án số"
)
_LABEL_RE = re.compile(rf"(?:^|[^\w])(?:{_LABELS})\s*(?:số\s*)?(?:\d[\w./-]*\s*(?:,|và)\s*)*$")
_ACRONYM_RE = re.compile(r"(?:^|\s)[A-ZĐ]{2,}[A-ZĐ0-9]*\s*$")
_RANK_RE = re.compile(r"(?:^|\s)(?:thứ|hạng|xếp thứ|vị trí|đứng thứ)\s*$")
_CHANGE_RE = re.compile(
    r"(?:^|\s)(?P<dir>tăng|giảm|vượt|thấp hơn|cao hơn|nhiều hơn|ít hơn)"
    r"(?:\s+(?:thêm|đi|được|lên|xuống|là|gần|khoảng|trên|hơn))*\s*$"
)
_NUMBER_WORDS = re.compile(
    r"(?:một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|mươi|trăm|nghìn|ngàn|triệu)\s*\(\s*$"
)
_NOUN_STOP = re.compile(
    r"[,;:()\[\]]|\s(?:và|với|hoặc|so với|đạt|chiếm|bằng|trong đó|gồm|tăng|giảm)\s"
    r"|\.(?:\s|$)|\s[-–]\s"
)
_TIME_NOUNS = re.compile(r"^(?:tháng|năm|ngày|quý|tuần|giờ|phút|kỳ|nhiệm kỳ)\b")


@dataclass
class Quantity:
    """One figure of a sentence."""

    start: int
    end: int
    text: str
    kind: str  # count | amount | percent | fraction | range | rank | placeholder
    value: Decimal | None = None
    decimals: int = 0
    denominator: Decimal | None = None
    qualifier: str = ""  # the qualifier word before it ("gần", "trên", ...)
    change: str = ""  # "tăng", "giảm", ... when it states a change, not a stock
    before: str = ""  # the sentence's words before it (lowercase)
    noun: str = ""  # the words after it, up to the next separator (lowercase)
    unit: str = ""  # the class of what it counts (noun_class), "%" or a money unit
    in_parens: bool = False
    scale: int = 0  # the power of ten of its multiplier word (nghìn 3, triệu 6, tỷ 9)

    @property
    def countable(self) -> bool:
        """A stock or a flow of things, which parts can add up to."""
        return (
            self.kind in ("count", "amount", "fraction", "placeholder")
            and not self.change
            and self.unit not in ("time", "rate")
        )

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        """The interval the stated figure stands for (its qualifier and shown decimals)."""
        if self.value is None:
            return None, None
        shown = self.scale - self.decimals
        half = Decimal("0.5") * Decimal(10) ** shown if self.decimals or self.scale else Decimal(0)
        for pattern, (low, high) in _QUALIFIERS:
            if self.qualifier and re.fullmatch(pattern, self.qualifier):
                if self.qualifier.startswith("ước") and len(self.text.strip("0.,")) > 2:
                    break  # "ước đạt 122.235,8": estimated, but as precise as it is written
                return (
                    None if low is None else self.value * low - half,
                    None if high is None else self.value * high + half,
                )
        return self.value - half, self.value + half


def quantities(sentence: str) -> list[Quantity]:
    """Every figure of a sentence, with its qualifier, noun and unit; names are left out."""
    out: list[Quantity] = []
    lower = sentence.lower()
    depth_at = _paren_depths(sentence)
    for m in _FIGURE_RE.finditer(sentence):
        before = lower[: m.start()].rstrip()
        if m["ph"]:
            q = Quantity(m.start(), m.end(), m.group(), "placeholder")
        else:
            if _is_name(sentence, m, before):
                continue
            q = _figure(m)
        q.before = before
        q.in_parens = depth_at[m.start()] > 0
        qualifier = QUALIFIER_RE.search(before)
        q.qualifier = qualifier["q"] if qualifier else ""
        change = _CHANGE_RE.search(before)
        if change and q.kind != "rank":
            q.change = change["dir"]
        if _RANK_RE.search(before) and q.kind in ("count", "fraction"):
            q.kind = "rank"
        out.append(q)
    for i, q in enumerate(out):
        end = out[i + 1].start if i + 1 < len(out) else len(sentence)
        rest = lower[q.end : end] + " "
        q.end += _apply_multiplier(q, rest)
        rest = lower[q.end : end] + " "
        stop = _NOUN_STOP.search(rest)
        words = sentence[q.end : q.end + (stop.start() if stop else len(rest))]
        q.noun = " ".join(words.split()[:8])
        q.unit = _unit(q)
    return out


def _is_name(sentence: str, m: re.Match[str], before: str) -> bool:
    if m["pct"]:
        return False
    if _TIME_LABEL_RE.search(before) or _LABEL_RE.search(before):
        return True  # "năm 2021", "ngày 16/6", "Số 12/2023", "giai đoạn 2021 - 2025"
    if m["range"] or m["b"]:
        ends = re.findall(r"\d+", m.group())
        return all(re.fullmatch(r"\d{4}", e) and 1900 <= int(e) <= 2100 for e in ends)
    text = m["a"]
    after = sentence[m.end() : m.end() + 3]
    if re.fullmatch(r"\d{4}", text) and 1900 <= int(text) <= 2100:
        return True  # a year: counts of four digits are written with a dot (1.117)
    if _ACRONYM_RE.search(sentence[: m.start()]):
        return True
    if re.match(r"\s*,\s*\d+[-–]\w", sentence[m.end() :]):
        return True  # "1857, 1858-QĐ/TU": the first of a list of document numbers
    if not before.strip(" *#>-") and re.match(r"[.)]", after):
        return True  # a section or list number at the start of a paragraph
    if before.endswith("(") and after.startswith(")") and not _NUMBER_WORDS.search(before):
        return True  # "(3)" enumerates; "ba (03)" repeats a number in words
    return before.endswith("[") and after.startswith("]")  # a footnote mark [3]


def _figure(m: re.Match[str]) -> Quantity:
    value, decimals = parse_number(m["a"])
    kind = "percent" if m["pct"] else "amount" if decimals else "count"
    q = Quantity(m.start(), m.end(), m.group(), kind, value, decimals)
    if m["range"]:
        q.kind = "range"
    elif m["b"]:
        q.denominator = parse_number(m["b"])[0]
        q.kind = "range" if m["pct"] else "fraction"
    return q


def _apply_multiplier(q: Quantity, rest: str) -> int:
    """Read "16 nghìn", "9,5 triệu đồng": the value in units; the length read after it."""
    m = _MULTIPLIER_RE.match(rest)
    if not m or q.value is None or q.kind not in ("count", "amount"):
        return 0
    exponent = _MULTIPLIERS[m[1]]
    length = m.end()
    more = _MULTIPLIER_RE.match(rest, length)  # "50 nghìn tỷ"
    if more:
        exponent += _MULTIPLIERS[more[1]]
        length = more.end()
    q.value *= Decimal(10) ** exponent
    q.kind = "amount"
    q.scale = exponent
    if (
        m[1] in ("tỷ", "tỉ")
        or (more and more[1] in ("tỷ", "tỉ"))
        or rest[length:].startswith((" đồng", " vnđ", " vnd"))
    ):
        q.unit = "đồng"
    return length


# What a noun counts. Parts of a whole are compared only when they count the same class of
# thing: an đảng bộ cơ sở and a chi bộ cơ sở are TCCSĐ; a chi bộ trực thuộc and an đảng viên
# are not. Other nouns count as themselves (their first two words).
_CLASSES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), k)
    for p, k in [
        (r"^(?:tổ chức cơ sở đảng|tccsđ|tcco)\b", "tccsd"),
        (r"^đảng bộ cơ sở\b", "tccsd"),
        (r"^chi bộ cơ sở\b", "tccsd"),
        (r"^đảng bộ\b(?!\s+(?:khối|tỉnh|huyện|cấp trên|bộ phận))", "tccsd"),
        (r"^đảng bộ bộ phận\b", "đảng bộ bộ phận"),
        (r"^chi bộ\b", "branch"),
        (r"^(?:đảng viên|đồng chí)\b", "member"),
        (r"^tổ chức(?: đảng)?\b(?!\s+(?:đoàn|chính trị|xã hội|cơ sở|hội))", "org"),
        (r"^(?:quần chúng|đối tượng)\b", "quần chúng"),
    ]
]


def noun_class(noun: str) -> str | None:
    """The class of thing a noun counts.

    >>> [noun_class(n) for n in ("tccsđ", "đảng bộ cơ sở", "chi bộ trực thuộc", "đảng viên")]
    ['tccsd', 'tccsd', 'branch', 'member']
    >>> noun_class("đơn vị đạt chuẩn văn hóa"), noun_class("lượt đảng viên"), noun_class("")
    ('đơn vị', 'lượt đảng viên', None)
    """
    noun = noun.strip().lower()
    if not noun:
        return None
    if noun.startswith("lượt"):
        return " ".join(noun.split()[:3])
    if "/" in noun:
        return "rate"
    if _TIME_NOUNS.match(noun):
        return "time"
    for pattern, kind in _CLASSES:
        if pattern.search(noun):
            return kind
    return " ".join(noun.split()[:2])


_MONEY = re.compile(r"(?:tỷ |triệu |nghìn )?(?:đồng|vnđ|vnd)\b(?!\s+(?:chí|bào|đội|hương|tâm))")


def _unit(q: Quantity) -> str:
    if q.kind in ("percent", "range") and q.text.rstrip().endswith("%"):
        return "%"
    if q.unit == "đồng" or _MONEY.match(q.noun.lower()):
        return "rate" if "/" in q.noun else "đồng"
    return noun_class(q.noun) or ""


def _paren_depths(text: str) -> list[int]:
    depths, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        depths.append(depth)
        if ch == ")":
            depth = max(0, depth - 1)
    return depths + [depth]


def show(value: Decimal | float | None, decimals: int = 0) -> str:
    """A figure written back the Vietnamese way (counts under ten on two digits)."""
    return so(value, decimals) if decimals else so_dem(value)


_SCALE_WORDS = {3: "nghìn", 6: "triệu", 9: "tỷ", 12: "nghìn tỷ"}


def show_like(q: Quantity, value: Decimal | float | None) -> str:
    """A value written in the multiplier and decimals of the figure `q` (9,5 triệu, 4.358,9 tỷ)."""
    if value is None:
        return show(None)
    scaled = Decimal(str(value)) / Decimal(10) ** q.scale
    decimals = q.decimals
    if scaled != scaled.to_integral_value() and not decimals:
        decimals = 1 if abs(scaled) >= 10 else 2
    text = show(scaled, decimals)
    return f"{text} {_SCALE_WORDS[q.scale]}" if q.scale in _SCALE_WORDS else text
