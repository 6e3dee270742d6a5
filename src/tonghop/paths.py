"""Where the project's data files live: the catalog, rules, SQL models, templates, the sample."""

from __future__ import annotations

import functools
import hashlib
import os
from importlib.resources import files
from pathlib import Path

# src/tonghop/ of a source checkout (an editable install included) lies two levels below it.
_CHECKOUT = Path(__file__).resolve().parent.parent.parent


def project_root() -> Path:
    """The folder holding `catalog/`, `deployments/`, `expectations/`, `sql/`, `templates/` and
    `data/sample/`: `TONGHOP_HOME` when set, else the source checkout this package runs from,
    else the copy an installed wheel ships inside the package (`tonghop/_data`, same layout)."""
    override = os.environ.get("TONGHOP_HOME")
    if override:
        return Path(override)
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "catalog").is_dir():
        return _CHECKOUT
    return Path(str(files("tonghop") / "_data"))


CATALOG_DIR = project_root() / "catalog"
EXPECTATIONS_DIR = project_root() / "expectations"
SQL_DIR = project_root() / "sql"
TEMPLATES_DIR = project_root() / "templates"
DEPLOYMENTS_DIR = project_root() / "deployments"
SAMPLE_DIR = project_root() / "data" / "sample"


@functools.cache
def source_hash(module_file: str) -> str:
    """The sha256 of a module's own source (pass its `__file__`): what it kept in a workspace
    is stale once its code changes."""
    return hashlib.sha256(Path(module_file).read_bytes()).hexdigest()
