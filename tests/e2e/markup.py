"""What an output makes of its text: the structure of a Markdown, HTML or Word file, to check that
text from units becomes text there and nothing else."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from markdown_it import MarkdownIt

# CommonMark with the GFM tables and strikethrough the draft's readers render; footnotes are
# counted apart (markdown-it-py has them only as a plugin).
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_FOOTNOTE_REF = re.compile(r"(?<!\\)\[\^\d+\](?!:)")
_FOOTNOTE_DEF = re.compile(r"^\[\^\d+\]:", re.MULTILINE)


def md_structure(text: str) -> Counter:
    """The kinds of block and inline element of a Markdown text, with their counts."""
    kinds: Counter = Counter()
    for token in _MD.parse(text):
        if token.nesting >= 0 and token.type != "inline":
            kinds[token.tag if token.type.startswith("heading") else token.type] += 1
        for child in token.children or []:
            if child.type not in ("text", "softbreak", "hardbreak"):
                kinds[child.type] += 1
    kinds["footnote_ref"] = len(_FOOTNOTE_REF.findall(text))
    kinds["footnote_def"] = len(_FOOTNOTE_DEF.findall(text))
    return kinds


def md_plain(text: str) -> str:
    """The text a Markdown reader shows (every text and code span, in order)."""
    parts = []
    for token in _MD.parse(text):
        for child in token.children or []:
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
        if token.type == "inline":
            parts.append("\n")
    return "".join(parts)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_structure(text: str) -> tuple[Counter, list[tuple[str, str, str]], str]:
    """An HTML page's elements (counted by tag), its attributes and its text."""
    parser = _Html()
    parser.feed(text)
    parser.close()
    return parser.tags, parser.attributes, "".join(parser.text)


def docx_xml(path: Path) -> dict[str, str]:
    """A Word file's document and footnotes XML."""
    with zipfile.ZipFile(path) as package:
        names = set(package.namelist())
        return {
            part: package.read(f"word/{part}.xml").decode("utf-8")
            for part in ("document", "footnotes")
            if f"word/{part}.xml" in names
        }


def docx_structure(path: Path) -> Counter:
    """What in a Word file is structure, not text: footnotes, hyperlinks, fields, images."""
    xml = docx_xml(path)
    body = xml["document"]
    return Counter(
        footnote_refs=body.count("<w:footnoteReference "),
        footnotes=xml.get("footnotes", "").count("<w:footnote w:id="),
        hyperlinks=body.count("<w:hyperlink"),
        fields=body.count("<w:fldChar") + body.count("<w:fldSimple"),
        drawings=body.count("<w:drawing"),
        paragraphs=body.count("<w:p>") + body.count("<w:p "),
        page_breaks=body.count('<w:br w:type="page"/>'),
    )
