"""Where the project's data files live: the catalog, rules, SQL models, templates, the sample."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_root() -> Path:
    """The folder holding `catalog/`, `expectations/`, `sql/`, `templates/` and `data/`.

    A source checkout finds them two levels above the package; `TONGHOP_HOME` overrides.
    """
    override = os.environ.get("TONGHOP_HOME")
    if override:
        return Path(override)
    return _PACKAGE.parent.parent


CATALOG_DIR = project_root() / "catalog"
EXPECTATIONS_DIR = project_root() / "expectations"
SQL_DIR = project_root() / "sql"
TEMPLATES_DIR = project_root() / "templates"
SAMPLE_DIR = project_root() / "data" / "sample"


@functools.cache
def source_hash(module_file: str) -> str:
    """The sha256 of a module's own source (pass its `__file__`): what it kept in a workspace
    is stale once its code changes."""
    return hashlib.sha256(Path(module_file).read_bytes()).hexdigest()
