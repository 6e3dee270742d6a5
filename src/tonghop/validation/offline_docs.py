"""The Data Docs made to work without the internet, as an office network often is.

GX's site builder writes pages that load Bootstrap, jQuery, bootstrap-table, Font Awesome and
Vega from CDNs: offline they render unstyled, the index's tables (filled by bootstrap-table
from data in a script) stay empty and the status icons (Font Awesome glyphs) are blank. After
GX has written them, each page is rewritten to need nothing outside its folder: external
stylesheets, scripts, images and links removed, the index's tables written out as HTML from
the data GX put in its scripts (with the links of their rows), each status icon replaced by a
symbol and a word, and a small inline stylesheet in place of Bootstrap's.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

_EXTERNAL = r"""["'](?:https?:)?//[^"']*["']"""
_EXTERNAL_TAGS = (
    re.compile(rf"<link\b[^>]*href={_EXTERNAL}[^>]*>", re.I | re.S),
    re.compile(rf"<script\b[^>]*src={_EXTERNAL}[^>]*>\s*</script>", re.I | re.S),
    re.compile(rf"<img\b[^>]*src={_EXTERNAL}[^>]*>", re.I | re.S),
)
_EXTERNAL_HREF = re.compile(rf"\s(?:href|action)={_EXTERNAL}", re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.I | re.S)
_TABLE_CALL = re.compile(
    r"\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*columns:\s*"
    r"(?P<columns>\[.*?\]),\s*data:\s*(?P<data>\[.*?\]),\s*toolbar:",
    re.S,
)
_ICON = re.compile(r"<i\s+class=\"fas (?P<icon>fa-[\w-]+)[^\"]*\"[^>]*>\s*</i>")
# What each Font Awesome icon GX uses says, as text (a status must show without the font).
ICONS = {
    "fa-check-circle": '<span class="tonghop-status tonghop-ok">✔ Đạt</span>',
    "fa-times": '<span class="tonghop-status tonghop-failed">✘ Không đạt</span>',
    "fa-comment": '<span class="tonghop-note">ⓘ</span>',
}
STYLE = """<style>
body { font-family: "Times New Roman", serif; margin: 1em auto; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #bbb; padding: .25em .5em; vertical-align: top; text-align: left; }
th { background: #eee; }
.tonghop-ok { color: #1b7f2a; font-weight: bold; }
.tonghop-failed { color: #b00020; font-weight: bold; }
.tonghop-note { color: #0b6e99; }
.cooltip .top, .cooltip .bottom, .d-none, .collapse:not(.show) { display: none; }
.cooltip:hover .top { display: block; position: absolute; background: #fff; border: 1px solid #999;
  padding: .5em; white-space: pre; font-size: .85em; z-index: 10; }
.navbar, nav, .btn, footer { display: none; }
code, pre { white-space: pre-wrap; }
</style>"""


def make_offline(docs_dir: Path) -> int:
    """Rewrite every page and stylesheet of a Data Docs site to load nothing from outside
    `docs_dir`; the number of files rewritten."""
    rewritten = 0
    for path in sorted(docs_dir.rglob("*")):
        if path.suffix not in (".html", ".css"):
            continue
        text = path.read_text(encoding="utf-8")
        new = offline_css(text) if path.suffix == ".css" else offline_html(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            rewritten += 1
    return rewritten


def offline_css(text: str) -> str:
    """A stylesheet without its external `url(...)`s (GX's logo)."""
    return _CSS_URL.sub("none", text)


def offline_html(text: str) -> str:
    """A Data Docs page that needs nothing from outside its folder (see the module's doc).

    >>> page = ('<head><link rel="stylesheet" href="https://cdn.x/b.css"></head><body>'
    ...         '<i class="fas fa-times text-danger" ></i><a href="https://x.io">GX</a></body>')
    >>> out = offline_html(page)
    >>> "https://" in out, "✘ Không đạt" in out, ">GX</a>" in out
    (False, True, True)
    """
    tables = {m["id"]: _table_rows(m["columns"], m["data"]) for m in _TABLE_CALL.finditer(text)}
    text = _SCRIPT.sub("", text)
    for table_id, rows in tables.items():
        text = re.sub(
            rf'(<table\b[^>]*id="{re.escape(table_id)}"[^>]*>)\s*(</table>)',
            lambda m, rows=rows: m.group(1) + rows + m.group(2),
            text,
            flags=re.S,
        )
    for pattern in _EXTERNAL_TAGS:
        text = pattern.sub("", text)
    text = _EXTERNAL_HREF.sub("", text)
    text = _CSS_URL.sub("none", text)
    text = _ICON.sub(lambda m: ICONS.get(m["icon"], ""), text)
    return text.replace("</head>", STYLE + "\n</head>", 1)


def _table_rows(columns_text: str, data_text: str) -> str:
    """A bootstrap-table's columns and rows (Python literals in GX's script) as HTML; a row with
    a link (`_table_row_link_path`) links from its first cell."""
    try:
        columns = ast.literal_eval(columns_text)
        data = ast.literal_eval(data_text)
    except (ValueError, SyntaxError):
        return ""
    head = "".join(f"<th>{html.escape(str(c.get('title', '')))}</th>" for c in columns)
    body = []
    for row in data:
        cells = [str(row.get(c["field"], "")) for c in columns]
        link = row.get("_table_row_link_path")
        if link and cells:
            cells[0] = f'<a href="{html.escape(link)}">{cells[0]}</a>'
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
