"""The built wheel, installed in a fresh venv, runs `tonghop demo` from an empty folder.

The package is built as `python -m build` does (an sdist, then the wheel from the sdist alone),
installed into a new venv that sees no other site-packages, and run with no `TONGHOP_HOME`, no
checkout on the path and no Prefect server: the catalog, rules, SQL models, templates and
sample must all come from inside the installed package.

Built and installed with uv (the `test` extra) rather than pip, to stay within a CI budget:
the wheel's some 130 dependencies are resolved from the index as pip would, but uv keeps every
downloaded wheel in its cache and installs from it, so only a machine's first run downloads
them. pip, measured on this machine, took minutes for every run: it installs one package after
another and kept nothing in its cache here. A venv made with `--system-site-packages` would
be quick but not fresh: the test venv's packages would hide a missing dependency.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tonghop.paths import SAMPLE_DIR

from .independent import active, read_registry, read_values

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CUTOFF = date(2023, 6, 30)
TCCSD_FORMS = ("dang_bo", "chi_bo")  # the bloc committee is a unit, not a TCCSĐ


def _run(args: list, **kwargs) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel built from this checkout and its dependencies."""
    from uv import find_uv_bin

    uv = find_uv_bin()
    root = tmp_path_factory.mktemp("wheel")
    _run([uv, "build", "--quiet", "--out-dir", root / "dist", REPO])
    (wheel,) = (root / "dist").glob("tonghop-*.whl")
    _run([uv, "venv", "--quiet", "--python", sys.executable, root / "venv"])
    python = root / "venv" / "bin" / "python"
    _run([uv, "pip", "install", "--quiet", "--python", python, wheel])
    return root / "venv"


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without what would point at the checkout or a server."""
    dropped = ("PYTHONPATH", "TONGHOP_HOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PREFECT_")}
    return env | {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false"}


def test_the_wheel_holds_one_package_and_its_data(venv: Path, tmp_path: Path):
    probe = (
        "import importlib.util, tonghop.flows.run, tonghop.paths as p;"
        "print(importlib.util.find_spec('flows'), importlib.util.find_spec('pytest'));"
        "print(p.project_root())"
    )
    out = _run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=_clean_env(tmp_path))
    missing, root = out.splitlines()
    assert missing == "None None"  # no top-level `flows`; nothing of the test venv visible
    assert Path(root).is_relative_to(venv) and (Path(root) / "sql").is_dir()


def test_demo_runs_from_an_empty_folder(venv: Path, tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    # An operator's Prefect: a home and a server (here nothing listens) the demo must not touch.
    operator = _clean_env(tmp_path / "prefect") | {"PREFECT_API_URL": "http://127.0.0.1:9/api"}
    _run([venv / "bin" / "tonghop", "demo"], cwd=folder, env=operator)
    assert not (tmp_path / "prefect").exists()  # no database, no profile: a home of its own

    registry = read_registry(SAMPLE_DIR / "registry.csv")
    values = read_values(SAMPLE_DIR / "submissions")
    units = [u for u in registry.values() if active(u, CUTOFF) and u["form"] in TCCSD_FORMS]
    members = sum(
        values.get((u["unit_code"], "2023-H1"), {}).get("members_total", 0) for u in units
    )
    draft = (folder / "tonghop-demo" / "bao-cao.md").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"\[\^\d+\]", "", draft).split())
    grouped = f"{round(members):,}".replace(",", ".")  # Vietnamese thousands grouping
    assert f"Đến nay, Đảng bộ có {len(units)} TCCSĐ, trong đó:" in text
    assert f"chi bộ trực thuộc đảng ủy cơ sở và {grouped} đảng viên" in text
