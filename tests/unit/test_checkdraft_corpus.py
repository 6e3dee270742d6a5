"""check-draft over the labelled corpus of tests/data/check-draft: precision and recall."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tonghop.checkdraft import Paragraph, check_paragraphs

CORPUS = Path(__file__).resolve().parents[1] / "data" / "check-draft"


def _cases(name: str) -> list[dict]:
    return yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))


def _found(text: str) -> list[tuple[str, float, float]]:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    paragraphs = [Paragraph(i, " ".join(b.split())) for i, b in enumerate(blocks, start=1)]
    return [(i.kind, i.stated, round(i.computed, 2)) for i in check_paragraphs(paragraphs)]


def score(cases: list[dict]) -> tuple[float, float, list[str]]:
    """Precision, recall and the cases that differ from their labels."""
    hits = found_total = expected_total = 0
    wrong = []
    for case in cases:
        expected = [(e["kind"], float(e["stated"]), float(e["computed"])) for e in case["expect"]]
        found = _found(case["text"])
        matched = sum(min(found.count(e), expected.count(e)) for e in set(expected))
        hits += matched
        found_total += len(found)
        expected_total += len(expected)
        if matched != len(found) or matched != len(expected):
            wrong.append(f"{case['text'][:90]!r}: expected {expected}, found {found}")
    precision = hits / found_total if found_total else 1.0
    recall = hits / expected_total if expected_total else 1.0
    return precision, recall, wrong


def test_corpus_is_large_and_mostly_quiet() -> None:
    cases = _cases("corpus.yaml")
    assert len(cases) >= 120
    assert sum(1 for c in cases if not c["expect"]) > len(cases) / 2


@pytest.mark.parametrize(
    ("name", "precision_min", "recall_min"),
    [
        ("corpus.yaml", 0.95, 0.90),
        ("held-out.yaml", 0.95, 0.90),
        ("held-out-2.yaml", 0.95, 0.90),
        ("held-out-3.yaml", 0.95, 0.65),
    ],
)
def test_precision_and_recall(name: str, precision_min: float, recall_min: float) -> None:
    precision, recall, wrong = score(_cases(name))
    assert precision >= precision_min and recall >= recall_min, (precision, recall, wrong)
