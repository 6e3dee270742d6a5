"""The draft's figures, named: one registry per run, from which every number of the draft is
printed (`Figures`, built by `tonghop.report.context.build_figures`).

A figure has an id, a value, the text it is printed as (the same everywhere: body, footnotes,
tables, appendices, in every format), its unit of measure, its source (`units`: the TCCSĐ's
submissions; `committee`: the bloc committee's own records or documents; `external`: another
agency's document), and how it is computed: read from a mart (`inputs` empty, the id is a
`tonghop.figure_ids` id that `tonghop explain` traces) or computed from other figures
(`inputs`: the mart figures it is computed from). `figures.json` (`write_figures_json`) lists
every figure with where the draft prints it; `read_figures` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from tonghop import formatting

FIGURES_JSON = "figures.json"
Source = Literal["units", "committee", "external"]
Style = Literal["count", "number", "percent", "phrase"]


@dataclass(frozen=True)
class Figure:
    """One figure of the draft and the one text it is printed as."""

    id: str
    value: Any
    unit: str
    source: Source
    label: str
    formula: str
    style: Style = "count"
    decimals: int = 0
    inputs: tuple[str, ...] = ()
    # The mart a figure without inputs is read from: rpt_term__* ones are traced by explain.
    model: str = ""

    @property
    def text(self) -> str:
        """The figure as the draft prints it (Vietnamese format; `[…]` when unknown)."""
        if self.style == "phrase":
            return formatting.chu(self.value)
        if self.style == "percent":
            return formatting.phan_tram(self.value, self.decimals)
        if self.style == "number":
            return formatting.so(self.value, self.decimals)
        return formatting.so_dem(self.value)

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        return {
            "id": self.id,
            "value": value,
            "text": self.text,
            "unit": self.unit,
            "source": self.source,
            "label": self.label,
            "formula": self.formula,
            "model": self.model,
            "inputs": list(self.inputs),
        }


@dataclass
class Figures(Mapping[str, Figure]):
    """The registry: figures by id, in the order they were added; one value per id."""

    _figures: dict[str, Figure] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        known = self._figures.get(figure.id)
        if known is not None and known != figure:
            raise ValueError(f"figure {figure.id} defined twice with different values")
        self._figures[figure.id] = figure
        return figure

    def value(self, figure_id: str) -> Any:
        return self[figure_id].value

    def __getitem__(self, figure_id: str) -> Figure:
        try:
            return self._figures[figure_id]
        except KeyError:
            raise KeyError(f"không có số liệu '{figure_id}' trong danh mục số liệu") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._figures)

    def __len__(self) -> int:
        return len(self._figures)

    def mart_ids(self) -> list[str]:
        """The ids read from `rpt_term__*` (directly or as another figure's input), each once,
        with a value: the figures `tonghop explain` traces to each unit's contribution."""
        ids: list[str] = []
        for figure in self._figures.values():
            ids += list(figure.inputs) if figure.inputs else [figure.id]
        return [
            i
            for i in dict.fromkeys(ids)
            if i in self._figures
            and self._figures[i].model.startswith("rpt_term__")
            and self._figures[i].value is not None
        ]


def figure_function(figures: Figures, html: bool) -> Any:
    """`{{ fig('id') }}` for the templates: the figure's text, in HTML inside
    `<span data-figure="id">` (with the placeholder class when the data does not give it)."""

    def fig(figure_id: str) -> str | Markup:
        figure = figures[figure_id]
        if not html:
            return formatting.MarkdownText(figure.text)
        css = ' class="placeholder"' if figure.value is None else ""
        return Markup('<span data-figure="{}"{}>{}</span>').format(
            figure.id, Markup(css), figure.text
        )

    return fig


class _Placements(HTMLParser):
    """Where each `<span data-figure>` of the HTML draft stands: its section heading and the
    sentence (a table's row, a footnote) that holds it."""

    BLOCKS = ("p", "li", "tr", "figcaption")
    HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.section = ""
        self.heading: list[str] | None = None
        self.block: list[str] | None = None
        self.block_figures: list[tuple[str, int]] = []
        self.skipping = 0
        self.found: dict[str, list[dict[str, str]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self.skipping or tag == "sup" or (attributes.get("href") or "").startswith("#tham"):
            # a footnote's reference or its way back: not part of the sentence
            self.skipping += 1
            return
        if tag == "section" and "footnotes" in (attributes.get("class") or ""):
            self.section = "Chú thích"
        elif tag in ("td", "th") and self.block:
            self.block.append(" | ")
        elif tag in ("p", "br") and self.block:
            self.block.append(" ")
        if tag in self.HEADINGS:
            self.heading = []
        elif tag in self.BLOCKS and self.block is None:
            self.block, self.block_figures = [], []
        elif tag == "span" and self.block is not None:
            figure_id = attributes.get("data-figure")
            if figure_id:
                self.block_figures.append((figure_id, len("".join(self.block))))
        if tag == "br" and self.heading is not None:
            self.heading.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            self.skipping -= 1
            return
        if tag in self.HEADINGS and self.heading is not None:
            self.section = " ".join("".join(self.heading).split())
            self.heading = None
        elif tag in self.BLOCKS and self.block is not None:
            text = "".join(self.block)
            for figure_id, at in self.block_figures:
                self.found.setdefault(figure_id, []).append(
                    {"section": self.section, "sentence": _sentence(text, at)}
                )
            self.block = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.heading is not None:
            self.heading.append(data)
        if self.block is not None:
            self.block.append(data if self.block else data.lstrip())


def _sentence(text: str, at: int) -> str:
    """The sentence of `text` around position `at` (a table's row is one)."""
    start = text.rfind(". ", 0, at)
    start = 0 if start < 0 else start + 2
    end = text.find(". ", at)
    end = len(text) if end < 0 else end + 1
    return " ".join(text[start:end].split())


def placements(html: str) -> dict[str, list[dict[str, str]]]:
    """Each figure id of an HTML draft with the section and sentence of every place it is
    printed (`<span data-figure>` only: the trace appendix's entries are not printed figures)."""
    parser = _Placements()
    parser.feed(html)
    parser.close()
    return parser.found


def write_figures_json(figures: Figures, html: str, path: Path) -> Path:
    """Write `figures.json`: every figure of the registry with where the HTML draft prints it."""
    found = placements(html)
    data = [f.as_dict() | {"appears_in": found.get(f.id, [])} for f in figures.values()]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def read_figures(path: Path) -> list[dict[str, Any]]:
    """The figures of a `figures.json` (a run's OUT folder), as written."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
