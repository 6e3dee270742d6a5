"""The draft's charts as PNG files (matplotlib, Agg backend: no display needed).

Each chart function takes figures already consolidated and the wording from
`templates/wording.yaml`, writes one PNG and returns its path; `make_charts` draws those the
view's data allow and numbers them in the order the draft shows them. The caption under each
chart carries its title, so the image has none; legends sit under the plot, clear of the bars.
Numbers on the charts go through `tonghop.formatting`.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from tonghop import formatting  # noqa: E402

WIDTH_IN, HEIGHT_IN, DPI = 6.4, 3.6, 150
"""16 × 9 cm at 150 dpi (960 × 540 px): fits the A4 text width (165 mm) when inserted at 150 mm."""
CHARTS_DIR = "bieu-do"
COLOURS = ("#8c1c13", "#e0a526", "#4a6fa5", "#9aa5b1")
FONT = "DejaVu Serif"  # ships with matplotlib and has every Vietnamese letter
TICK_WRAP = 16  # characters per line of a category's name under its bars
_CHART_REF = re.compile(r"\bcharts\.(\w+)")


def _figure():
    plt.rcParams.update({"font.family": FONT, "font.size": 9})
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: formatting.so(v)))
    return fig, ax


def _save(fig, path: Path) -> Path:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # no timestamp in the PNG, so a rerun writes the same bytes
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _label_bars(ax, bars, values: Sequence[float]) -> None:  # noqa: ANN001
    labels = [formatting.so(v) for v in values]
    ax.bar_label(bars, labels=labels, padding=2, fontsize=8)
    ax.margins(y=0.12)  # room above the tallest bar for its label


def _legend_below(ax, columns: int) -> None:  # noqa: ANN001
    ax.legend(
        frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=columns
    )


def _wrapped(label: str) -> str:
    return "\n".join(textwrap.wrap(label, TICK_WRAP)) or label


def members_by_sector(
    start: Mapping[str, float | None],
    cutoff: Mapping[str, float | None],
    wording: Mapping[str, Any],
    path: Path,
) -> Path:
    """Grouped bars: members at the term's start and at the cut-off, one group per sector."""
    sectors = list(wording["sectors"])
    fig, ax = _figure()
    x = range(len(sectors))
    width = 0.38
    for i, (values, name) in enumerate(zip((start, cutoff), wording["series"], strict=True)):
        heights = [float(values.get(s) or 0) for s in sectors]
        offsets = [p + (i - 0.5) * width for p in x]
        bars = ax.bar(offsets, heights, width, color=COLOURS[i], label=name)
        _label_bars(ax, bars, heights)
    ax.set_xticks(list(x), [_wrapped(wording["sectors"][s]) for s in sectors])
    _legend_below(ax, 2)
    return _save(fig, path)


def ratings_by_year(
    years: Sequence[Mapping[str, Any]], wording: Mapping[str, Any], path: Path
) -> Path:
    """Stacked bars: each year's members by rating, as percentages of those rated."""
    series = list(wording["series"])
    fig, ax = _figure()
    labels = [str(y["year"]) for y in years]
    bottom = [0.0] * len(years)
    for i, code in enumerate(series):
        shares = [float(formatting.ty_le(y[code], y["members_rated"]) or 0) for y in years]
        ax.bar(labels, shares, 0.55, bottom=bottom, color=COLOURS[i], label=wording["series"][code])
        for j, share in enumerate(shares):
            if share >= 5:
                ax.text(
                    j,
                    bottom[j] + share / 2,
                    formatting.phan_tram(share, 1),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if i in (0, 2) else "black",
                )
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylim(0, 100)
    _legend_below(ax, len(series))
    return _save(fig, path)


def admissions_by_year(
    years: Sequence[Mapping[str, Any]],
    target: float | None,
    wording: Mapping[str, Any],
    path: Path,
) -> Path:
    """Bars: members admitted in each year of the range (part years marked), the target's line."""
    fig, ax = _figure()
    labels = [
        str(y["year"])
        + ("" if y["months"] >= 12 else "\n(" + wording["partial"].format(months=y["months"]) + ")")
        for y in years
    ]
    values = [float(y["admitted"]) for y in years]
    bars = ax.bar(labels, values, 0.55, color=COLOURS[0], label=wording["bar"])
    _label_bars(ax, bars, values)
    if target is not None:
        ax.axhline(float(target), color=COLOURS[1], linewidth=2, label=wording["target"])
    _legend_below(ax, 2)
    return _save(fig, path)


def reading_order(view: Mapping[str, Any], env: Environment | None) -> list[str]:
    """The charts' keys in the order the outline's sections name them (`charts.<key>` in each
    section's Markdown partial, which every format follows)."""
    keys: list[str] = []
    if env is None or env.loader is None:
        return keys
    for node in [*(view.get("outline") or []), *(view.get("appendix") or [])]:
        if node.get("partial"):
            source, _, _ = env.loader.get_source(env, f"_{node['partial']}.md.j2")
            keys += [k for k in _CHART_REF.findall(source) if k not in keys]
    return keys


# The PNG bytes of the charts drawn in this process, by chart and data: a render again with
# the same data (a resubmission that leaves a chart's figures as they were) writes them
# without drawing (drawing is most of a chart's cost, the same bytes every time).
_DRAWN: dict[str, bytes] = {}
_DRAWN_KEPT = 32


def _drawn(draw: Callable[..., Path], *args: Any) -> Path:
    """`draw(*args)` (its last argument the PNG's path), or the same PNG drawn before."""
    path = args[-1]
    try:
        key = json.dumps([draw.__name__, path.name, *args[:-1]], sort_keys=True, default=repr)
    except TypeError:  # keys that do not sort: drawn every time
        return draw(*args)
    png = _DRAWN.get(key)
    if png is None:
        draw(*args)
        if len(_DRAWN) >= _DRAWN_KEPT:
            _DRAWN.clear()
        _DRAWN[key] = path.read_bytes()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    return path


def make_charts(
    view: Mapping[str, Any],
    wording: Mapping[str, Any],
    out_dir: Path,
    env: Environment | None = None,
) -> dict:
    """Draw the charts the data allow into `out_dir/bieu-do/`; None for a chart without data.

    The charts drawn are numbered in reading order ("Biểu đồ 1.", "Biểu đồ 2.", ...): the
    templates of `env` tell it.
    """
    data, words = view["chart_data"], wording["charts"]
    folder = out_dir / CHARTS_DIR
    drawn: dict[str, Path | None] = {key: None for key in data}
    if data["members_by_sector"]:
        drawn["members_by_sector"] = _drawn(
            members_by_sector,
            data["members_by_sector"]["start"],
            data["members_by_sector"]["cutoff"],
            words["members_by_sector"],
            folder / "dang-vien-theo-khoi.png",
        )
    if data["ratings_by_year"]:
        drawn["ratings_by_year"] = _drawn(
            ratings_by_year,
            data["ratings_by_year"],
            words["ratings_by_year"],
            folder / "xep-loai-dang-vien.png",
        )
    if data["admissions_by_year"]:
        drawn["admissions_by_year"] = _drawn(
            admissions_by_year,
            data["admissions_by_year"]["years"],
            data["admissions_by_year"]["target"],
            words["admissions_by_year"],
            folder / "ket-nap-dang-vien.png",
        )
    order = reading_order(view, env)
    shown = sorted(
        (key for key, path in drawn.items() if path is not None),
        key=lambda k: order.index(k) if k in order else len(order),
    )
    numbers = {key: n for n, key in enumerate(shown, start=1)}
    return {
        key: None
        if path is None
        else {
            "number": numbers[key],
            "title": f"Biểu đồ {numbers[key]}. {words[key]['title']}",
            "file": f"{CHARTS_DIR}/{path.name}",
            "path": str(path),
            "data_uri": "data:image/png;base64,"
            + base64.b64encode(path.read_bytes()).decode("ascii"),
        }
        for key, path in drawn.items()
    }
