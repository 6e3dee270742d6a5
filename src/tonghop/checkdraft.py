"""Check an edited draft: figures that contradict each other, or the data (SPEC §4.5).

The draft is read as paragraphs (.docx body, table cells and footnotes; .md and .txt blocks
separated by blank lines), split into sentences, and its figures are read the Vietnamese way
("14.103", "122.235,8", "51,23%", "04"). Three checks:

- `sum`: "N …, trong đó: a …, b …" and "N … (A: a; B: b)": the parts that count the same kind
  of thing as the whole (the noun after each number) must add up to it; "kỷ luật N đảng viên …
  khiển trách a, cảnh cáo b, cách chức c, khai trừ d" likewise.
- `ratio`: "x/y (z%)" and "x/y …, đạt z%": z must be 100·x/y within the rounding of its shown
  decimals (±0,5·10⁻ᵈ).
- `data_mismatch` (with a workspace): the sentences tonghop's templates write are recognised by
  their wording, and their figures compared with the marts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tonghop.formatting import fold_vi, phan_tram, so, so_dem

# ---------------------------------------------------------------- reading the draft


class DraftError(ValueError):
    """The draft cannot be read at all (Vietnamese message)."""


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, in reading order: body, table cells, then footnotes
    text: str


_MD_NOISE = [
    (re.compile(r"\[\^[^\]]*\]"), ""),  # footnote marks [^1]
    (re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))"), ""),  # heading, quote, bullet
    (re.compile(r"(\*\*|__|\*|`)"), ""),  # emphasis
    (re.compile(r"\\([\\*_#>\[\]()-])"), r"\1"),  # escapes
]


def _clean(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return fold_vi(text)


def read_draft(path: Path) -> list[Paragraph]:
    """Read a draft's paragraphs (.docx, .md, .txt); raise DraftError when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise DraftError(f"Không tìm thấy tệp '{path}'")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        texts = _docx_paragraphs(path)
    elif suffix in (".md", ".txt", ".markdown"):
        try:
            raw = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DraftError(f"Tệp '{path}' không phải văn bản UTF-8: {exc.reason}") from exc
        texts = _text_blocks(raw, markdown=suffix != ".txt")
    else:
        raise DraftError(f"Không đọc được '{path}': chỉ nhận tệp .docx, .md hoặc .txt")
    cleaned = (_clean(t) for t in texts)
    return [Paragraph(i, t) for i, t in enumerate((t for t in cleaned if t), start=1)]


def _text_blocks(raw: str, markdown: bool) -> list[str]:
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", raw):
        lines = []
        for line in block.splitlines():
            if markdown:
                for pattern, repl in _MD_NOISE:
                    line = pattern.sub(repl, line)
            lines.append(line.strip())
        blocks.append(" ".join(x for x in lines if x))
    return blocks


def _docx_paragraphs(path: Path) -> list[str]:
    from zipfile import BadZipFile

    from docx import Document
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from lxml import etree

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise DraftError(f"Không đọc được tệp Word '{path}': {exc}") from exc

    texts: list[str] = []
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            texts.append(_run_text(child, qn))
        elif child.tag == qn("w:tbl"):
            seen: set[int] = set()
            for tc in child.iter(qn("w:tc")):
                if id(tc) in seen:
                    continue
                seen.add(id(tc))
                texts += [_run_text(p, qn) for p in tc.iterchildren(qn("w:p"))]
    for rel in doc.part.rels.values():
        if rel.reltype == RT.FOOTNOTES:
            root = etree.fromstring(rel.target_part.blob)
            for note in root.iterchildren(qn("w:footnote")):
                if int(note.get(qn("w:id"), "0")) > 0:
                    texts.append(" ".join(_run_text(p, qn) for p in note.iter(qn("w:p"))))
    return texts


def _run_text(p: Any, qn: Callable[[str], str]) -> str:
    parts = []
    for el in p.iter(qn("w:t"), qn("w:tab"), qn("w:br")):
        parts.append(el.text or "" if el.tag == qn("w:t") else " ")
    return "".join(parts)


def sentences(text: str) -> list[str]:
    """Split a paragraph at a full stop followed by a space and a capital (not inside numbers).

    >>> sentences("Có 1.117 chi bộ. Trong đó, 04 chi bộ mới; tăng 2,5%.")
    ['Có 1.117 chi bộ.', 'Trong đó, 04 chi bộ mới; tăng 2,5%.']
    """
    out, start = [], 0
    for match in re.finditer(r"[.!?…]\s+", text):
        following = text[match.end() : match.end() + 1]
        if following and (following.isupper() or following in '[("“'):
            out.append(text[start : match.end()].strip())
            start = match.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


# ---------------------------------------------------------------- figures in the prose

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_TOKEN_RE = re.compile(
    rf"(?<![\w./,])(?P<a>{_NUM})(?:\s*/\s*(?P<b>{_NUM}))?(?P<range>\s*[-–]\s*(?:{_NUM}))?"
    rf"(?P<pct>\s*%)?(?![\w/]|-\w|\.\d|,\d)"
    r"|(?P<ph>\[(?:…|\.\.\.)\])"
)


def parse_number(text: str) -> tuple[Decimal, int]:
    """A Vietnamese number and its shown decimals.

    >>> parse_number("122.235,8"), parse_number("04"), parse_number("14.103")
    ((Decimal('122235.8'), 1), (Decimal('4'), 0), (Decimal('14103'), 0))
    """
    whole, _, decimals = text.partition(",")
    digits = whole.replace(".", "") + ("." + decimals if decimals else "")
    return Decimal(digits), len(decimals)


@dataclass
class Token:
    """One figure of a sentence."""

    start: int
    end: int
    text: str
    kind: str  # count | percent | fraction | range | placeholder
    value: Decimal | None = None
    decimals: int = 0
    denominator: Decimal | None = None
    before: str = ""  # the sentence's words before it (lowercase)
    noun: str = ""  # the words after it, up to the next separator (lowercase)
    in_parens: bool = False


# Words that make a number not a count of the sentence's things: a change, a label.
_CHANGE_WORDS = re.compile(r"(?:giảm|tăng|vượt|thêm|hơn|thấp hơn|cao hơn)\s*$")
_LABEL_WORDS = re.compile(
    r"(?:năm|tháng|ngày|quý|khóa|khoá|lần thứ|phụ lục|mục|điều|khoản|chương|phần|"
    r"nghị quyết|quy định|chỉ thị|kết luận|hướng dẫn|giai đoạn)\s*$"
)
_APPROX_WORDS = re.compile(r"(?:gần|khoảng|trên|hơn|dưới|xấp xỉ|ít nhất|tối thiểu|tới)\s*$")
_NOUN_STOP = re.compile(r"[,;:()\[\]]|\s(?:và|với|hoặc|so với|đạt|trong đó)\s|\.(?:\s|$)")


def tokens(sentence: str) -> list[Token]:
    """Every figure of a sentence, with the words before and the noun after it."""
    out: list[Token] = []
    lower = sentence.lower()
    depth_at = _paren_depths(sentence)
    for m in _TOKEN_RE.finditer(sentence):
        if m["ph"]:
            tok = Token(m.start(), m.end(), m.group(), "placeholder")
        else:
            value, decimals = parse_number(m["a"])
            if m["range"]:
                kind = "range"
            elif m["b"]:
                kind = "fraction"
            elif m["pct"]:
                kind = "percent"
            else:
                kind = "count"
            tok = Token(m.start(), m.end(), m.group(), kind, value, decimals)
            if m["b"]:
                tok.denominator = parse_number(m["b"])[0]
                if m["pct"]:
                    tok.kind = "range"
        tok.before = lower[: m.start()].rstrip()
        tok.in_parens = depth_at[m.start()] > 0
        out.append(tok)
    for i, tok in enumerate(out):
        end = out[i + 1].start if i + 1 < len(out) else len(sentence)
        rest = lower[tok.end : end] + " "
        stop = _NOUN_STOP.search(rest)
        tok.noun = " ".join(rest[: stop.start() if stop else len(rest)].split()[:8])
    return out


def _paren_depths(text: str) -> list[int]:
    depths, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        depths.append(depth)
        if ch == ")":
            depth = max(0, depth - 1)
    return depths + [depth]


# What a noun counts. Parts of a whole are compared only when they count the same kind of
# thing: an đảng bộ cơ sở and a chi bộ cơ sở are TCCSĐ; a chi bộ trực thuộc and an đảng viên
# are not. Other nouns count as themselves (their first two words).
_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), k)
    for p, k in [
        (r"^(?:tổ chức cơ sở đảng|tccsđ)\b", "tccsd"),
        (r"^đảng bộ cơ sở\b", "tccsd"),
        (r"^chi bộ cơ sở\b", "tccsd"),
        (r"^đảng bộ\b(?!\s+(?:khối|tỉnh|huyện|cấp trên))", "tccsd"),
        (r"^chi bộ\b", "branch"),
        (r"^(?:đảng viên|đồng chí)\b", "member"),
        (r"^(?:tổ chức đảng|tổ chức)\b", "org"),
    ]
]


def noun_kind(noun: str) -> str | None:
    """The kind of thing a noun counts.

    >>> [noun_kind(n) for n in ("tccsđ", "đảng bộ cơ sở", "chi bộ trực thuộc", "đảng viên")]
    ['tccsd', 'tccsd', 'branch', 'member']
    >>> noun_kind("đơn vị đạt chuẩn văn hóa"), noun_kind("")
    ('đơn vị', None)
    """
    noun = noun.strip()
    if not noun:
        return None
    for pattern, kind in _KINDS:
        if pattern.search(noun):
            return kind
    return " ".join(noun.split()[:2])


# ---------------------------------------------------------------- issues


@dataclass
class Issue:
    """One contradiction found in the draft (the JSON object of SPEC §4.5)."""

    kind: str  # sum | ratio | data_mismatch
    excerpt: str
    stated: float | None
    computed: float | None
    location: int
    message: str
    figure: str | None = None
    parts: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.parts:
            data.pop("parts")
        if self.figure is None:
            data.pop("figure")
        return data


def _f(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _num(value: Decimal | float | None, decimals: int = 0) -> str:
    return so(value, decimals) if decimals else so_dem(value)


def _whole(tok: Token) -> str:
    return " ".join(x for x in (_num(tok.value, tok.decimals), tok.noun) if x)


def _excerpt(sentence: str, limit: int = 400) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def _countable(tok: Token) -> bool:
    return (
        tok.kind in ("count", "fraction", "placeholder")
        and not _CHANGE_WORDS.search(tok.before)
        and not _LABEL_WORDS.search(tok.before)
    )


_DISCIPLINE_FORMS = ("khiển trách", "cảnh cáo", "cách chức", "khai trừ")
_TRONG_DO = re.compile(r"\btrong đó\b:?", re.IGNORECASE)


def check_sums(sentence: str, previous: str, location: int) -> list[Issue]:
    """Parts listed after "trong đó" (or in "(A: a; B: b)") against their whole."""
    issues: list[Issue] = []
    marks = list(_TRONG_DO.finditer(sentence))
    for i, mark in enumerate(marks):
        tail_end = marks[i + 1].start() if i + 1 < len(marks) else len(sentence)
        tail = sentence[mark.end() : tail_end]
        if any(form in tail.lower() for form in _DISCIPLINE_FORMS):
            continue  # check_discipline reads these
        head = sentence[: mark.start()]
        if not [t for t in tokens(head) if _countable(t)]:
            head = f"{previous} {head}"
        issue = _sum_issue(head, tail, sentence, location)
        if issue:
            issues.append(issue)
    for m in re.finditer(r"\(([^()]*:[^()]*)\)", sentence):
        issue = _labelled_parts_issue(sentence, m, location)
        if issue:
            issues.append(issue)
    return issues


def _sum_issue(head: str, tail: str, sentence: str, location: int) -> Issue | None:
    parts = [t for t in tokens(tail) if _countable(t) and not t.in_parens]
    kinds: list[str | None] = []
    last: str | None = None
    for part in parts:
        last = noun_kind(part.noun) or last
        kinds.append(last)
    first_known = next((k for k in kinds if k), None)
    if first_known is None:
        return None
    kinds = [k or first_known for k in kinds]
    whole = next(
        (
            t
            for t in reversed([t for t in tokens(head) if _countable(t) and not t.in_parens])
            if noun_kind(t.noun) in kinds
        ),
        None,
    )
    if whole is None:
        return None
    kind = noun_kind(whole.noun)
    same = [p for p, k in zip(parts, kinds, strict=True) if k == kind]
    if len(same) < 2 or whole.value is None or any(p.value is None for p in same):
        return None
    total = sum((p.value for p in same if p.value is not None), Decimal(0))
    if total == whole.value:
        return None
    listed = " + ".join(_num(p.value, p.decimals) for p in same)
    return Issue(
        kind="sum",
        excerpt=_excerpt(sentence),
        stated=_f(whole.value),
        computed=_f(total),
        location=location,
        message=(f"Tổng {_whole(whole)} không bằng tổng các phần {listed} = {_num(total)}"),
        parts=[float(p.value) for p in same if p.value is not None],
    )


def _labelled_parts_issue(sentence: str, paren: re.Match[str], location: int) -> Issue | None:
    items = [x for x in re.split(r"[;,]", paren[1]) if ":" in x]
    values: list[Decimal] = []
    for item in items:
        toks = tokens(item.split(":", 1)[1])
        if len(toks) != 1 or toks[0].kind != "count" or toks[0].value is None:
            return None
        values.append(toks[0].value)
    if len(values) < 2:
        return None
    candidates = [t for t in tokens(sentence[: paren.start()]) if _countable(t) and not t.in_parens]
    if not candidates or candidates[-1].value is None:
        return None
    whole = candidates[-1]
    total = sum(values, Decimal(0))
    if total == whole.value:
        return None
    return Issue(
        kind="sum",
        excerpt=_excerpt(sentence),
        stated=_f(whole.value),
        computed=_f(total),
        location=location,
        message=(
            f"Tổng {_whole(whole)} không bằng tổng các phần trong ngoặc "
            f"{' + '.join(_num(v) for v in values)} = {_num(total)}"
        ),
        parts=[float(v) for v in values],
    )


_DISCIPLINE_WHOLE = re.compile(rf"kỷ luật\s+(?P<n>{_NUM})\s+đảng viên", re.IGNORECASE)
_DISCIPLINE_PART = re.compile(
    rf"(?P<form>{'|'.join(_DISCIPLINE_FORMS)})\s+(?P<n>{_NUM})(?!\s*tổ chức)(?!\d)",
    re.IGNORECASE,
)


def check_discipline(text: str, location: int) -> list[Issue]:
    """'kỷ luật N đảng viên … khiển trách a, cảnh cáo b, cách chức c, khai trừ d'.

    The four forms are all the forms of discipline of a member (Điều lệ Đảng, Điều 35), so
    with all four listed they must add up to N; with fewer, they must not exceed it.
    """
    issues = []
    wholes = list(_DISCIPLINE_WHOLE.finditer(text))
    for i, whole in enumerate(wholes):
        end = wholes[i + 1].start() if i + 1 < len(wholes) else len(text)
        found: dict[str, Decimal] = {}
        for part in _DISCIPLINE_PART.finditer(text, whole.end(), end):
            found.setdefault(part["form"].lower(), parse_number(part["n"])[0])
        if len(found) < 2:
            continue
        stated = parse_number(whole["n"])[0]
        total = sum(found.values(), Decimal(0))
        complete = len(found) == len(_DISCIPLINE_FORMS)
        if (complete and total != stated) or total > stated:
            listed = ", ".join(f"{form} {_num(v)}" for form, v in found.items())
            issues.append(
                Issue(
                    kind="sum",
                    excerpt=_excerpt(text[_sentence_start(text, whole.start()) : end].strip()),
                    stated=float(stated),
                    computed=float(total),
                    location=location,
                    message=(
                        f"Kỷ luật {_num(stated)} đảng viên nhưng các hình thức cộng lại "
                        f"{_num(total)} ({listed})"
                    ),
                    parts=[float(v) for v in found.values()],
                )
            )
    return issues


def _sentence_start(text: str, position: int) -> int:
    starts = [m.end() for m in re.finditer(r"[.!?…]\s+(?=[A-ZĐÀ-Ỹ])", text[:position])]
    return starts[-1] if starts else 0


_RATIO_LEAD = re.compile(r"(?:\(\s*|(?:đạt|bằng|chiếm|tỷ lệ|tỉ lệ|là)\s*:?\s*)$")


def check_ratios(sentence: str, location: int) -> list[Issue]:
    """'x/y (z%)' and 'x/y …, đạt z%': z within the rounding of 100·x/y."""
    issues = []
    toks = tokens(sentence)
    for i, frac in enumerate(toks):
        if frac.kind != "fraction" or not frac.denominator or frac.value is None:
            continue
        following = next((t for t in toks[i + 1 :] if t.kind != "placeholder"), None)
        if following is None or following.kind != "percent" or following.value is None:
            continue
        between = sentence[frac.end : following.start].lower()
        if len(between) > 120 or _TRONG_DO.search(between) or _APPROX_WORDS.search(between):
            continue
        if not _RATIO_LEAD.search(between):
            continue
        computed = frac.value * 100 / frac.denominator
        tolerance = Decimal("0.5") * Decimal(10) ** -following.decimals
        if abs(computed - following.value) <= tolerance + Decimal("1e-9"):
            continue
        shown = phan_tram(computed, following.decimals)
        issues.append(
            Issue(
                kind="ratio",
                excerpt=_excerpt(sentence),
                stated=float(following.value),
                computed=round(float(computed), max(following.decimals, 2)),
                location=location,
                message=(
                    f"{_num(frac.value)}/{_num(frac.denominator)} là {shown}, "
                    f"không phải {phan_tram(following.value, following.decimals)}"
                ),
            )
        )
    return issues


# ---------------------------------------------------------------- against the data


@dataclass(frozen=True)
class Anchor:
    """A sentence tonghop's templates write, recognised by its wording, and its figures."""

    pattern: str  # regex over the lowercase sentence; "{N}" is a figure
    figures: tuple[str, ...]  # figure ids (tonghop.explain), one per {N}
    context: str | None = None  # the sentence must also match this
    forbid: str | None = None  # ... and must not match this


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
    Anchor(r"doanh thu (?:ước )?đạt {N} tỷ đồng", ("term.revenue_bn_vnd",), None, _NOT_TERM),
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
    number = rf"(?:(?:gần|khoảng|trên|hơn) )?(?<![\w.,])({_NUM})(?![\d])"
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


def check_data(sentence: str, location: int, lookup: Lookup) -> list[Issue]:
    """Figures of known sentences against the data (the first match of each pattern)."""
    issues = []
    lower = sentence.lower()
    for anchor, regex in _COMPILED:
        match = _anchor_match(anchor, regex, lower)
        if not match:
            continue
        for i, figure in enumerate(anchor.figures, start=1):
            if not figure:
                continue
            if _APPROX_WORDS.search(lower[: match.start(i)]):
                continue
            stated, decimals = parse_number(match[i])
            data = lookup(figure)
            if data is None:
                continue
            tolerance = Decimal("0.5") * Decimal(10) ** -decimals
            if abs(stated - Decimal(str(data))) <= tolerance + Decimal("1e-9"):
                continue
            issues.append(
                Issue(
                    kind="data_mismatch",
                    excerpt=_excerpt(sentence),
                    stated=float(stated),
                    computed=data,
                    location=location,
                    figure=figure,
                    message=(
                        f"Văn bản ghi {match[i]}, số liệu tổng hợp ({figure}) là "
                        f"{_num(data, max(decimals, 0 if float(data).is_integer() else 1))}"
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


# ---------------------------------------------------------------- the whole draft


def check_paragraphs(paragraphs: list[Paragraph], lookup: Lookup | None = None) -> list[Issue]:
    """Every check on every sentence; data checks only when `lookup` is given."""
    issues: list[Issue] = []
    previous = ""
    for paragraph in paragraphs:
        issues += check_discipline(paragraph.text, paragraph.number)
        for sentence in sentences(paragraph.text):
            issues += check_sums(sentence, previous, paragraph.number)
            issues += check_ratios(sentence, paragraph.number)
            if lookup is not None:
                issues += check_data(sentence, paragraph.number, lookup)
            previous = sentence
    return issues


def check_draft(path: Path, lookup: Lookup | None = None) -> list[Issue]:
    """Read a draft and check it; raise DraftError when it cannot be read."""
    return check_paragraphs(read_draft(path), lookup)


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


def summary(issues: list[Issue], path: Path, with_data: bool) -> str:
    """The Vietnamese report printed by `tonghop check-draft`."""
    scope = "số liệu tự mâu thuẫn" + (" và lệch với dữ liệu tổng hợp" if with_data else "")
    if not issues:
        return f"{path}: không thấy {scope}."
    labels = {"sum": "tổng", "ratio": "tỷ lệ", "data_mismatch": "lệch dữ liệu"}
    lines = [f"{path}: {len(issues)} chỗ cần xem lại ({scope}):"]
    for issue in issues:
        lines.append(f"- đoạn {issue.location} [{labels[issue.kind]}] {issue.message}")
        lines.append(f"    «{_excerpt(issue.excerpt, 200)}»")
    return "\n".join(lines)
