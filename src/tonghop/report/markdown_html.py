"""The Markdown and HTML writers: `base.md.j2` and `base.html.j2` rendered with the view."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from tonghop.report.templates import office_text


def write_markdown(env: SandboxedEnvironment, view: Mapping[str, Any], path: Path) -> Path:
    """Write the Markdown draft, with runs of blank lines left by the templates closed up.

    Every value is escaped for Markdown by the environment, except the office's settings."""
    view = dict(view) | {"settings": office_text(view["settings"])}
    text = env.get_template("base.md.j2").render(view)
    path.write_text(_tidy(text), encoding="utf-8")
    return path


def write_html(env: SandboxedEnvironment, view: Mapping[str, Any], path: Path) -> Path:
    """Write the HTML draft."""
    path.write_text(env.get_template("base.html.j2").render(view), encoding="utf-8")
    return path


def _tidy(markdown: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
