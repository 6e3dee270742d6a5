"""A damaged workspace database: a Vietnamese message with the way out, and `tonghop rebuild`
making the same consolidated totals again from the archive alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.cli import app
from tonghop.db import DamagedDatabase, connect, db_path
from tonghop.paths import SAMPLE_DIR
from tonghop.periods import PeriodRange

PERIODS = ("2022-H2", "2023-H1")
SCOPE = "2022-H2..2023-H1"


def _totals(workspace: Path) -> list[tuple]:
    """Every consolidated figure of the range, made by the models from the workspace."""
    catalog = load_catalog()
    period = PeriodRange.parse(SCOPE)
    batch = pipeline.latest_batch_id(workspace)
    pipeline.validate_scope(workspace, catalog, period, batch, "t")
    pipeline.consolidate(workspace, catalog, period)
    con = connect(workspace, read_only=True)
    try:
        return con.execute("select * from rpt_period__indicators order by all").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[Path, Path, list[tuple]]:
    """A workspace that received two periods in two batches and a resubmission, and its totals."""
    root = tmp_path_factory.mktemp("rebuild")
    workspace, registry = root / "ws", SAMPLE_DIR / "registry.csv"
    pipeline.load_registry(workspace, registry)
    for period in PERIODS:
        source = root / "src" / period
        shutil.copytree(SAMPLE_DIR / "submissions" / period, source)
        pipeline.collect_files(workspace, pipeline.read_source(str(source)))
    fix = root / "src" / "sua" / "2023-H1"
    fix.mkdir(parents=True)
    text = (SAMPLE_DIR / "submissions" / "2023-H1" / "TCCS001.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    head, first, *rest = lines
    unit, period, code, value, *more = first.split(",")
    changed = ",".join([unit, period, code, str(int(float(value)) + 7), *more])
    (fix / "TCCS001.csv").write_text("\n".join([head, changed, *rest]) + "\n", encoding="utf-8")
    pipeline.collect_files(workspace, pipeline.read_source(str(root / "src" / "sua")))
    return root, registry, _totals(workspace)


def _received(workspace: Path) -> list[tuple]:
    con = connect(workspace, read_only=True)
    try:
        return con.execute(
            "select sha256, original_name, status from received_files order by all"
        ).fetchall()
    finally:
        con.close()


def _copy(original: tuple, name: str) -> Path:
    root = original[0]
    copy = root / name
    shutil.copytree(root / "ws", copy)
    return copy


def test_a_truncated_database_says_so_and_how_to_rebuild(original) -> None:
    workspace = _copy(original, "cut")
    os.truncate(db_path(workspace), db_path(workspace).stat().st_size // 2)
    with pytest.raises(DamagedDatabase) as caught:
        connect(workspace)
    message = str(caught.value)
    assert str(db_path(workspace)) in message and "bị hỏng" in message
    assert f"tonghop rebuild --workspace {workspace}" in message


def test_an_emptied_database_is_damaged_not_busy(original, tmp_path) -> None:
    workspace = _copy(original, "empty")
    db_path(workspace).write_bytes(b"")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--source", str(original[0] / "src" / "2023-H1"),
            "--registry", str(original[1]),
            "--period", "2023-H1",
            "--workspace", str(workspace),
            "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "bị hỏng" in result.output and "tonghop rebuild" in result.output
    assert "tiến trình khác" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_rebuild_from_the_archive_alone_gives_the_same_totals(original) -> None:
    workspace = _copy(original, "from-archive")
    db_path(workspace).write_bytes(b"")  # nothing of the old order left to read
    result = CliRunner().invoke(
        app, ["rebuild", "--workspace", str(workspace), "--registry", str(original[1])]
    )
    assert result.exit_code == 0, result.output
    assert "kho lưu trữ" in result.output
    kept = [p for p in workspace.iterdir() if p.name.startswith("tonghop.duckdb.hong-")]
    assert kept, "the damaged file is kept"
    assert _totals(workspace) == original[2]


def test_a_rebuild_from_a_truncated_database_keeps_names_and_batches(original) -> None:
    from tonghop.rebuild import rebuild

    workspace = _copy(original, "from-db")
    os.truncate(db_path(workspace), db_path(workspace).stat().st_size // 3)
    before = _received(original[0] / "ws")
    done = rebuild(workspace, original[1])
    assert done.order_from == "database" and done.batches == 3
    assert _received(workspace) == before
    assert _totals(workspace) == original[2]
