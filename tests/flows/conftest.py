"""Fixtures of the operations tests: an SMTP inbox, a partial sample bloc."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tonghop.paths import SAMPLE_DIR

# Units whose 2023-H1 report the partial bloc leaves out (and that have an email address).
MISSING = ("TCCS001", "TCCS002", "TCCS004")


@pytest.fixture()
def partial_bloc(tmp_path: Path) -> tuple[Path, Path]:
    """The sample bloc without three units' 2023-H1 reports, and a registry with emails."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLE_DIR / "submissions", source)
    for code in MISSING:
        (source / "2023-H1" / f"{code}.csv").unlink()
    lines = (SAMPLE_DIR / "registry.csv").read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",contact_email"]
    for line in lines[1:]:
        code = line.split(",", 1)[0]
        rows.append(line + "," + (f"{code.lower()}@donvi.vn" if code in MISSING else ""))
    registry = tmp_path / "registry.csv"
    registry.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return source, registry
