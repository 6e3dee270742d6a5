"""Check an edited draft: figures that contradict each other, or the data (SPEC §4.5).

- `documents`: the draft's paragraphs (.docx body, table cells and footnotes; .md, .txt, .html),
  each with where a person finds it, split into sentences;
- `quantities`: the figures of a sentence read the Vietnamese way, each with its qualifier,
  multiplier, noun and unit; numbers that are names (document numbers, dates, years) left out;
- `breakdowns`: the breakdowns known to be exhaustive (forms of discipline, rating levels,
  sectors, forms of TCCSĐ);
- `relations`: totals and parts, percentages and fractions, stated differences;
- `data`: the draft's figures against the run's registry of figures (`figures.json`, or the
  registry computed from a workspace), found where the registry's sentences print them;
- `output`: the findings (`Issue`, the JSON of SPEC §4.5) and the printed summary.
"""

from __future__ import annotations

from pathlib import Path

from tonghop.checkdraft.data import (
    DraftFigures,
    check_data,
    check_workspace,
    figure_readings,
    read_figures_file,
    workspace_figures,
)
from tonghop.checkdraft.documents import DraftError, Paragraph, read_draft, sentences
from tonghop.checkdraft.output import Issue, summary
from tonghop.checkdraft.quantities import Quantity, noun_class, parse_number, quantities
from tonghop.checkdraft.relations import (
    Sentence,
    check_differences,
    check_ratios,
    check_sums,
    check_tables,
)

__all__ = [
    "DraftError",
    "DraftFigures",
    "Issue",
    "Paragraph",
    "Quantity",
    "check_draft",
    "check_paragraphs",
    "check_workspace",
    "figure_readings",
    "noun_class",
    "parse_number",
    "quantities",
    "read_draft",
    "read_figures_file",
    "sentences",
    "summary",
    "workspace_figures",
]


def check_paragraphs(
    paragraphs: list[Paragraph], figures: DraftFigures | None = None
) -> list[Issue]:
    """Every check on every sentence; against the data only when the run's `figures` are
    given."""
    issues: list[Issue] = []
    every: list[Sentence] = []
    previous = ""
    for paragraph in paragraphs:
        if paragraph.footnote is not None:
            previous = paragraph.note_of  # a note's "Trong đó" breaks down what its mark follows
        for text in sentences(paragraph.text):
            s = Sentence(text, paragraph, previous)
            every.append(s)
            issues += check_sums(s)
            issues += check_ratios(s)
            previous = text
    issues += check_differences(every)
    issues += check_tables(paragraphs)
    if figures is not None:
        issues += check_data(paragraphs, figures)
    return sorted(issues, key=lambda i: i.location)


def check_draft(path: Path, figures: DraftFigures | None = None) -> list[Issue]:
    """Read a draft and check it; raise DraftError when it cannot be read."""
    return check_paragraphs(read_draft(path), figures)
