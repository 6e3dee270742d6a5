"""Figures of the draft against the run's registry of figures (`--workspace`, `--figures`).

The registry (`tonghop.figures`) names every figure the draft prints, with its value, its
text and the sentences it stands in: a run's `figures.json`, or the same list computed from a
workspace's marts through the draft's own templates (`workspace_figures`). Each sentence of the
registry becomes a pattern: its words, with a slot where a figure stands. A sentence of the
edited draft (a table's row read as one) is aligned word by word with the patterns it resembles
(numbers as one kind of token, so a changed figure still aligns); a number standing in a slot is
compared with the figure's value within the rounding of its shown decimals, or the interval its
qualifier gives ("gần 16" nghìn). No sentence and no indicator is named here: a sentence added
to the templates is checked as soon as a draft prints it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tonghop.checkdraft.documents import DraftError, Paragraph, sentences
from tonghop.checkdraft.output import Issue, excerpt
from tonghop.checkdraft.quantities import NUM, QUALIFIER_RE, Quantity, parse_number, show_like
from tonghop.formatting import fold_vi

if TYPE_CHECKING:
    from tonghop.settings import ReportSettings

_TOKEN = re.compile(rf"(?P<num>{NUM})(?P<pct>%?)|\w+|[^\w\s]")
_ANY_NUMBER = "#"
# A pattern is recognised in a sentence when this share of its tokens are there, in order, in a
# stretch at most SPREAD times its length; a figure is read only where its slot and a
# neighbouring token both match. The pattern matching most tokens reads a number first.
COVERAGE = 0.75
SPREAD = 1.5
MIN_WORDS = 4


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    number: bool

    @property
    def key(self) -> str:
        return _ANY_NUMBER if self.number else self.text


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(m.group(), m.start(), m.end(), m["num"] is not None) for m in _TOKEN.finditer(text)
    ]


def _fold(text: str) -> str:
    return fold_vi(text.replace("\u00a0", " ")).lower()


@dataclass(frozen=True)
class KnownFigure:
    """A figure of the registry: its value, the text the draft printed, and for a phrase
    ("gần 16", "trên 80%") the number it stands for (its one input's value)."""

    id: str
    value: Any
    text: str
    reference: Decimal | None = None

    @property
    def number(self) -> Decimal | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float | Decimal):
            return None
        return Decimal(str(self.value))


@dataclass
class _Pattern:
    tokens: list[_Token]
    slots: dict[int, str]  # token index -> figure id
    words: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.words = frozenset(t.text for t in self.tokens if not t.number and t.text.isalnum())


class DraftFigures:
    """The registry of a run's figures, as check-draft compares a draft with it."""

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        entries = list(entries)
        values = {e["id"]: e.get("value") for e in entries}
        self.figures: dict[str, KnownFigure] = {}
        by_sentence: dict[str, list[str]] = {}
        for e in entries:
            inputs = [values.get(i) for i in e.get("inputs") or []]
            reference = None
            if len(inputs) == 1 and isinstance(inputs[0], int | float):
                reference = Decimal(str(inputs[0]))
            self.figures[e["id"]] = KnownFigure(e["id"], e.get("value"), e["text"], reference)
            for place in e.get("appears_in") or []:
                by_sentence.setdefault(place["sentence"], []).append(e["id"])
        self.patterns = [
            p
            for sentence, ids in by_sentence.items()
            if (p := self._pattern(sentence, ids)) is not None
        ]

    def value(self, figure_id: str) -> Any:
        figure = self.figures.get(figure_id)
        return None if figure is None else figure.value

    def _pattern(self, sentence: str, ids: Sequence[str]) -> _Pattern | None:
        """The sentence's words with a slot on each figure's number; None when it has no figure
        to compare or too few words to be recognised."""
        tokens = _tokens(_fold(sentence))
        slots: dict[int, str] = {}
        shown = [self.figures[i] for i in dict.fromkeys(ids) if self.figures[i].value is not None]
        for figure in sorted(shown, key=lambda f: -len(f.text)):
            text = _tokens(_fold(figure.text))
            numbers = [k for k, t in enumerate(text) if t.number]
            if len(numbers) != 1:
                continue  # a range ("15 - 20%") or no number: not compared
            for at in _occurrences([t.text for t in tokens], [t.text for t in text]):
                slot = at + numbers[0]
                slots.setdefault(slot, figure.id)
        pattern = _Pattern(tokens, slots)
        return pattern if slots and len(pattern.words) >= MIN_WORDS else None

    def read(self, sentence: str) -> Iterator[tuple[_Token, KnownFigure]]:
        """Each number of a draft's sentence that stands where the registry prints a figure."""
        tokens = _tokens(sentence.lower())
        words = {t.text for t in tokens}
        keys = [t.key for t in tokens]
        taken: set[int] = set()
        candidates = [
            p for p in self.patterns if len(p.words & words) >= COVERAGE * len(p.words) - 1e-9
        ]
        aligned = []
        for pattern in candidates:
            matcher = SequenceMatcher(None, [t.key for t in pattern.tokens], keys, autojunk=False)
            blocks = [b for b in matcher.get_matching_blocks() if b.size]
            matched = sum(b.size for b in blocks)
            if not blocks or matched < COVERAGE * len(pattern.tokens):
                continue
            # in one stretch of the sentence, not gathered from here and there in a long row
            span = blocks[-1].b + blocks[-1].size - blocks[0].b
            if span <= SPREAD * len(pattern.tokens):
                aligned.append((matched / len(pattern.tokens), matched, pattern, blocks))
        for *_, pattern, blocks in sorted(aligned, key=lambda a: (-a[1], -a[0])):
            for block in blocks:
                if block.size < 2:
                    continue
                for k in range(block.size):
                    slot, at = block.a + k, block.b + k
                    if slot in pattern.slots and at not in taken:
                        taken.add(at)
                        yield tokens[at], self.figures[pattern.slots[slot]]


def _occurrences(haystack: Sequence[str], needle: Sequence[str]) -> Iterator[int]:
    n = len(needle)
    for i in range(len(haystack) - n + 1):
        if list(haystack[i : i + n]) == list(needle):
            yield i


def _stated(sentence: str, token: _Token) -> tuple[Quantity, str]:
    """The figure as the draft states it, with its qualifier, and the text of both."""
    number = token.text.rstrip("%")
    value, decimals = parse_number(number)
    before = sentence[: token.start].rstrip()
    qualifier = QUALIFIER_RE.search(before.lower())
    q = Quantity(token.start, token.end, number, "count", value, decimals)
    q.qualifier = qualifier["q"] if qualifier else ""
    text = f"{q.qualifier} {token.text}" if q.qualifier else token.text
    return q, text


def _compare(q: Quantity, stated: str, figure: KnownFigure) -> tuple[Decimal, int] | None:
    """The value the draft should state (and the power of ten it is written in) when the
    stated figure is outside what the registry's value allows; None when it agrees."""
    if stated == _fold(figure.text):
        return None
    expected, exponent = figure.number, 0
    if expected is None:  # a phrase: the number it rounds, at the phrase's scale
        expected = figure.reference
        printed = [t for t in _tokens(_fold(figure.text)) if t.number]
        if expected is None or not printed:
            return None  # a phrase of several figures: its words are the figure
        shown = parse_number(printed[0].text.rstrip("%"))[0]
        if shown and expected:
            exponent = round(math.log10(abs(expected / shown)))
    q.value = q.value * Decimal(10) ** exponent
    q.scale = exponent
    low, high = q.bounds()
    eps = Decimal("1e-9")
    if (low is None or expected >= low - eps) and (high is None or expected <= high + eps):
        return None
    return expected, exponent


@dataclass(frozen=True)
class _Reading:
    """A sentence of the draft (a table's row is one) and where a person finds it."""

    text: str
    paragraph: Paragraph


def _readings(paragraphs: Sequence[Paragraph]) -> Iterator[_Reading]:
    rows: dict[tuple[int, int], list[Paragraph]] = {}
    for paragraph in paragraphs:
        if paragraph.cell is None:
            for text in sentences(paragraph.text):
                yield _Reading(text, paragraph)
        else:
            rows.setdefault(paragraph.cell[:2], []).append(paragraph)
    for cells in rows.values():
        cells.sort(key=lambda p: p.cell[2] if p.cell else 0)
        yield _Reading(" | ".join(p.text for p in cells), cells[0])


@dataclass(frozen=True)
class FigureReading:
    """A number of the draft read as a figure of the registry."""

    figure: KnownFigure
    stated: str  # as written, with its qualifier ("gần 16", "14.103", "51,24%")
    sentence: str
    paragraph: Paragraph
    quantity: Quantity
    token: _Token


def figure_readings(
    paragraphs: Sequence[Paragraph], figures: DraftFigures
) -> Iterator[FigureReading]:
    """Every number of the draft that stands where the registry prints a figure."""
    for reading in _readings(paragraphs):
        for token, figure in figures.read(reading.text):
            q, stated = _stated(reading.text, token)
            yield FigureReading(figure, stated, reading.text, reading.paragraph, q, token)


def check_data(paragraphs: Sequence[Paragraph], figures: DraftFigures) -> list[Issue]:
    """Every figure of the draft that stands where the registry prints one, against it."""
    issues = []
    for r in figure_readings(paragraphs, figures):
        figure, q, stated, token = r.figure, r.quantity, r.stated, r.token
        wrong = _compare(q, stated, figure)
        if wrong is not None:
            expected, exponent = wrong
            p = r.paragraph
            issues.append(
                Issue(
                    kind="data_mismatch",
                    excerpt=excerpt(r.sentence),
                    stated=float(parse_number(token.text.rstrip("%"))[0]),
                    computed=float(expected) / 10**exponent,
                    location=p.number,
                    where=p.where,
                    line=p.line,
                    figure=figure.id,
                    message=(
                        f"Văn bản ghi {stated}, số liệu tổng hợp ({figure.id}) là "
                        f"{show_like(q, expected)}{'%' if token.text.endswith('%') else ''}"
                    ),
                )
            )
    return issues


def read_figures_file(path: Path) -> DraftFigures:
    """The registry of a run's `figures.json`."""
    import json

    try:
        return DraftFigures(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DraftError(f"Không đọc được danh mục số liệu '{path}': {exc}") from exc


def check_workspace(workspace: Path, period: str | None = None) -> tuple[str, str]:
    """The first and last period the workspace's marts were consolidated for; a DraftError
    when it has none, or not those of `period`."""
    from tonghop.db import connect, db_path
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
    finally:
        con.close()
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
    return first, last


def workspace_figures(
    workspace: Path, period: str | None = None, settings: ReportSettings | None = None
) -> DraftFigures:
    """The registry of the draft the workspace's marts give (read-only), computed with the
    draft's own templates (`tonghop.report.draft.figure_entries`) and the report settings
    (their outside figures, `external_figures`)."""
    from tonghop.consolidate import report_context
    from tonghop.db import connect
    from tonghop.periods import PeriodRange
    from tonghop.report.draft import figure_entries

    first, last = check_workspace(workspace, period)
    con = connect(workspace, read_only=True)
    try:
        context = report_context(con, PeriodRange.parse(f"{first}..{last}"))
    finally:
        con.close()
    return DraftFigures(figure_entries(context, settings))
