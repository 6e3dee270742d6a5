"""The draft kept as the last run wrote it only when nothing it is written from changed
(tonghop.pipeline.draft_key, kept_draft, remember_draft)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tonghop.pipeline import draft_key, kept_draft, remember_draft
from tonghop.settings import ReportSettings

DAY = dt.date(2025, 1, 15)


def _context(members: int) -> dict:
    return {
        "figures": {"members_total": {"value": members, "units": 3}},
        "coverage": {"units_included": 3, "units_expected": 3, "corrected": []},
        "trace": {
            "figures": [{"id": "members_total", "contributions": [1, 2, members - 3]}],
            "html": f"<td>Tổng số đảng viên</td><td>{members}</td>",
        },
    }


def _written(out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "bao-cao.md", "trace": out / "truy-vet.html"}
    for path in paths.values():
        path.write_text(f"{path.name}: Tổng số đảng viên\n", encoding="utf-8")
    return paths


def test_the_same_figures_settings_and_day_keep_the_draft(tmp_path: Path) -> None:
    settings = ReportSettings()
    key = draft_key(_context(120), settings, DAY)
    assert kept_draft(tmp_path, key) is None  # nothing written yet
    paths = _written(tmp_path)
    remember_draft(tmp_path, key, paths)
    assert kept_draft(tmp_path, draft_key(_context(120), ReportSettings(), DAY)) == paths


def test_a_change_in_what_the_draft_is_written_from_writes_it_again(tmp_path: Path) -> None:
    settings = ReportSettings()
    key = draft_key(_context(120), settings, DAY)
    remember_draft(tmp_path, key, _written(tmp_path))
    other_figure = draft_key(_context(121), settings, DAY)
    other_day = draft_key(_context(120), settings, DAY + dt.timedelta(days=1))
    other_settings = draft_key(
        _context(120), settings.model_copy(update={"signer_title": "Bí thư"}), DAY
    )
    assert len({key, other_figure, other_day, other_settings}) == 4
    for changed in (other_figure, other_day, other_settings):
        assert kept_draft(tmp_path, changed) is None


def test_a_draft_edited_or_removed_since_is_written_again(tmp_path: Path) -> None:
    key = draft_key(_context(120), ReportSettings(), DAY)
    paths = _written(tmp_path)
    remember_draft(tmp_path, key, paths)
    paths["md"].write_text("Bản đã sửa tay của chủ báo cáo, dài hơn\n", encoding="utf-8")
    assert kept_draft(tmp_path, key) is None
    remember_draft(tmp_path, key, paths)
    paths["trace"].unlink()
    assert kept_draft(tmp_path, key) is None


def test_the_trace_is_keyed_by_what_it_prints_else_whole() -> None:
    shown = _context(120)
    other_html = shown | {"trace": shown["trace"] | {"html": "<td>khác</td>"}}
    no_html = shown | {"trace": {"figures": shown["trace"]["figures"]}}
    other_figures = shown | {"trace": {"figures": [{"id": "members_total"}]}}
    keys = [
        draft_key(c, ReportSettings(), DAY) for c in (shown, other_html, no_html, other_figures)
    ]
    assert len(set(keys)) == 4


def test_figures_that_cannot_be_keyed_are_always_written(tmp_path: Path) -> None:
    context = _context(120) | {"by_code": {1: "a", "b": 2}}  # keys json cannot sort
    key = draft_key(context, ReportSettings(), DAY)
    assert key is None
    remember_draft(tmp_path, key, _written(tmp_path))
    assert kept_draft(tmp_path, key) is None
