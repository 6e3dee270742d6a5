"""Text from the data is data in every format: `formatting.md_text`, `csv_cell` and the report's
Jinja environment, which escapes every value of a template by default."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tonghop.formatting import MarkdownText, csv_cell, md_text
from tonghop.report.footnotes import FOOTNOTE_MARK, FOOTNOTE_MARK_RE
from tonghop.report.templates import make_environment

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "![x](http://127.0.0.1/a.png)",
    "[bấm](javascript:alert(1))",
    "## Tiêu đề",
    "Chi bộ[^1]",
    "[a]: http://127.0.0.1/",
    "1. mục",
    "12) mục",
    "- mục",
    "+ mục",
    "> trích",
    "===",
    "| a | b |",
    "**đậm** *x* _y_ __z__",
    "`mã` ``mã``",
    "~~gạch~~",
    "<https://127.0.0.1/>",
    "&lt;b&gt; &#91;x&#93;",
    "a\nb\r\nc\u2028d",
    "   # thụt đầu dòng",
]
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _inline_tokens(markdown: str) -> list[str]:
    tokens = _MD.parse(markdown)
    return [t.type for t in tokens] + [c.type for t in tokens for c in t.children or []]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_makes_one_paragraph_of_plain_text_that_reads_as_typed(text):
    markdown = md_text(text)
    assert _inline_tokens(markdown) == ["paragraph_open", "inline", "paragraph_close", "text"]
    shown = _MD.parse(markdown)[1].children[0].content
    assert shown == " ".join(text.replace("\r\n", "\n").splitlines()).strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_in_a_sentence_or_a_table_cell_stays_text(text):
    markdown = f"Chưa nộp: {md_text(text)}.\n\n| Đơn vị |\n|---|\n| {md_text(text)} |\n"
    kinds = set(_inline_tokens(markdown))
    assert not kinds & {"link_open", "image", "html_inline", "html_block", "code_inline", "s_open"}
    assert not kinds & {"em_open", "strong_open", "heading_open", "bullet_list_open"}
    assert sum(t.type == "td_open" for t in _MD.parse(markdown)) == 1


def test_md_text_twice_is_md_text_once_and_a_plain_name_is_unchanged():
    for text in [*HOSTILE, "\\*a\\", "a\\b"]:
        assert md_text(md_text(text)) == md_text(text)
    for name in ("Chi bộ Công ty CP Xi măng (Bỉm Sơn) - số 2", "Đảng bộ Sở Tài chính", "a_b"):
        assert md_text(name) == name


def test_csv_cell_neutralises_every_formula_start():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("Chi bộ") == "Chi bộ" and csv_cell(-1) == -1


def test_a_footnote_mark_cannot_be_spelt_by_the_data():
    assert FOOTNOTE_MARK_RE.fullmatch(FOOTNOTE_MARK.format("cutoff_units"))
    assert not FOOTNOTE_MARK_RE.search("\u27e6fn:cutoff_units\u27e7")


@pytest.fixture()
def env(tmp_path):
    (tmp_path / "t.md.j2").write_text(
        "{{ ('#' * 2)|safe }} {{ name }}\n{{ n|so }} {{ none|so }} {{ name|chu }} {{ trusted }}\n"
        "{% include '_shared.j2' %}",
        encoding="utf-8",
    )
    (tmp_path / "t.html.j2").write_text(
        "<p>{{ name }}</p>{% include '_shared.j2' %}", encoding="utf-8"
    )
    (tmp_path / "_shared.j2").write_text("[{{ name }}]", encoding="utf-8")
    return make_environment([tmp_path])


def test_markdown_templates_escape_every_value_unless_written_for_markdown(env):
    name = "[bấm](javascript:alert(1)) <b>x</b>"
    text = env.get_template("t.md.j2").render(
        name=name, n=1234, none=None, trusted=MarkdownText("**[…]**")
    )
    escaped = md_text(name)
    assert text == f"## {escaped}\n1.234 […] {escaped} **[…]**\n[{escaped}]"


def test_html_templates_and_the_shared_ones_they_include_are_autoescaped(env):
    html = env.get_template("t.html.j2").render(name="<b>x</b> *y*")
    assert html == "<p>&lt;b&gt;x&lt;/b&gt; *y*</p>[&lt;b&gt;x&lt;/b&gt; *y*]"
    assert env.from_string("{{ v }}").render(v="<i>") == "&lt;i&gt;"


def test_unit_text_stays_text_in_the_html_converted_from_markdown(tmp_path) -> None:
    """The HTML draft is the Markdown templates converted (tonghop.report.markdown_html): a
    unit's text, escaped for Markdown there, is text in the HTML, never an element."""
    from lxml import html as lxml_html

    from tonghop.report.draft import render_report
    from tonghop.settings import ReportSettings

    units = [
        {"unit_code": f"TCCS{i:03d}", "name": text, "periods": ["2023-H1"], "rules": [text]}
        for i, text in enumerate(HOSTILE)
    ]
    context = {"coverage": {"units_expected": 2, "units_included": 1, "missing": units}}
    page = render_report(context, ReportSettings(), tmp_path)["html"].read_text("utf-8")
    root = lxml_html.document_fromstring(page)
    [note] = root.find_class("note")
    shown = " ".join(note.text_content().split())
    for text in HOSTILE:
        assert " ".join(text.split()) + f" (TCCS{HOSTILE.index(text):03d}" in shown, text
    assert {el.tag for el in note.iter()} <= {"p", "em", "strong", "span"}
    assert not root.xpath("//img | //script | //blockquote | //ol | //ul | //del | //code")
    assert all(a.get("href", "").startswith("#") for a in root.iter("a"))
    headings = [h.text_content() for h in root.xpath("//h1 | //h2 | //h3 | //h4 | //h5")]
    assert not [h for h in headings if "Tiêu đề" in h or "thụt" in h]
