"""The trace page's rows written in one pass (`contribution_rows`) are what the template's loop
over the contributions wrote: compared with that loop rendered by Jinja itself."""

from __future__ import annotations

from tonghop.report.templates import make_environment
from tonghop.report.trace_page import contribution_rows

# The loop `_trace_figures.html.j2` held before its rows were written by `contribution_rows`.
LOOP = (
    "{% for c in e.contributions %}\n"
    "<tr><td>{{ c.unit_code }}</td><td>{{ c.name }}</td><td>{{ c.period }}</td>"
    '<td class="num">{{ c.value|so(e.decimals) }}</td>'
    '<td>{{ c.file_name or "danh mục đơn vị" }}{% if c.location %} ({{ c.location }}){% endif %}'
    '</td><td><code>{{ c.sha256 or "" }}</code></td></tr>\n'
    "{% endfor %}\n"
)


def _row(**values: object) -> dict:
    return {
        "unit_code": "B001",
        "name": "Đảng bộ Công ty A",
        "period": "2024",
        "value": 1,
        "file_name": None,
        "sha256": None,
        "location": None,
    } | values


def test_rows_as_the_template_loop_wrote_them() -> None:
    contributions = [
        _row(),
        _row(unit_code="B002", name="Chi bộ <Hợp tác xã> & \"Bình An\" 'số 2'", value=1.0),
        _row(value=None, file_name="bao_cao.xlsx", sha256="ab" * 32, location="Biểu 1!C7"),
        _row(value=1234567.891, file_name="a&b <c>.csv", location="dòng 'x' > 3"),
        _row(value=-0.0, period="2023-12-31"),
        _row(value=0.125),
        _row(value=2, file_name="", location=""),
    ]
    env = make_environment()
    template = env.from_string(LOOP)
    for decimals in (0, 1, 2):
        explanation = {"contributions": contributions, "decimals": decimals}
        expected = template.render(e=explanation)
        assert contribution_rows(explanation) == expected
        assert '<span class="placeholder">' in expected and "&#34;Bình An&#34;" in expected
    assert contribution_rows({"contributions": [], "decimals": 0}) == ""
