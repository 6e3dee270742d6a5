"""Helpers the unit tests of the draft share (test_render's drafts, test_checkdraft's demo)."""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tonghop.checkdraft import figure_readings, read_draft, read_figures_file
from tonghop.checkdraft.quantities import NUM

_SPAN = re.compile(r'<span data-figure="([^"]+)"(?: class="placeholder")?>([^<]*)</span>')


def figures_agree_everywhere(paths: dict[str, Path]) -> set[str]:
    """Check that figures.json and the HTML's `data-figure` elements agree, and that each
    figure the registry places is read with its one text in the .md, .html and .docx (by
    check-draft's reading of each file); return the ids read."""
    entries = json.loads(paths["figures"].read_text("utf-8"))
    texts = {e["id"]: e["text"] for e in entries}
    spans = _SPAN.findall(paths["html"].read_text("utf-8"))
    assert {i for i, _ in spans} == {e["id"] for e in entries if e["appears_in"]}
    assert [(i, html_lib.unescape(t)) for i, t in spans] == [(i, texts[i]) for i, _ in spans]
    registry = read_figures_file(paths["figures"])
    placed = {i for p in registry.patterns for i in p.slots.values()}
    for fmt in ("md", "html", "docx"):
        read: dict[str, set[str]] = {}
        for r in figure_readings(read_draft(paths[fmt]), registry):
            read.setdefault(r.figure.id, set()).add(r.token.text)
        assert set(read) == placed, (fmt, placed ^ set(read))
        for figure_id, shown in read.items():
            number = re.search(rf"(?:{NUM})%?", texts[figure_id]).group()
            assert shown == {number}, (fmt, figure_id, shown, texts[figure_id])
    return placed


@pytest.fixture(scope="session")
def figures_agree() -> Callable[[dict[str, Path]], set[str]]:
    """`figures_agree_everywhere`, for a test's rendered draft."""
    return figures_agree_everywhere
