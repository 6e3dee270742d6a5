"""The report draft (bao-cao.md, .html, .docx) and the trace page, from a draft context.

- `draft`: `render_report`, the draft from a context into its three files.
- `figure_registry`: every figure of the draft, computed once (`build_figures`; the registry
  itself is `tonghop.figures`).
- `context`: what the templates see (`build_view`): the registry, printed with `fig('id')`.
- `phrases`: how a figure is worded in a sentence ("trên 80%", "gần 16", "từ 15 - 20%").
- `templates`: where templates are found, `outline.yaml`, `wording.yaml`, the Jinja2
  environment and its filters.
- `footnotes`: the footnote marks of the templates and their numbering.
- `charts`: the PNG charts.
- `markdown_html`: the Markdown and HTML writers.
- `word`: the Word writer (docxtpl, then footnotes and highlighted placeholders in Word's XML).
- `trace_page`: each figure's contributions as HTML, and `truy-vet.html`.
"""
