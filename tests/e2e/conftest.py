"""The reliability report of the corpus and fault tests (the Prefect API: tests/conftest.py)."""

from __future__ import annotations

import pytest

# The reliability report (`make reliability`): what the corpus and fault tests tried and lost.
RELIABILITY = {
    "inputs tried": 0,
    "faults injected": 0,
    "runs completed": 0,
    "values checked against what the clerk meant": 0,
    "values read otherwise without a finding": 0,
    "values lost": 0,
    "values double-counted": 0,
}


@pytest.fixture
def reliability() -> dict[str, int]:
    """Counters the corpus and fault tests add to; printed at the end of the session."""
    return RELIABILITY


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's reporter
    if not any(RELIABILITY.values()):
        return
    terminalreporter.section("reliability / độ tin cậy")
    width = max(map(len, RELIABILITY))
    for name, count in RELIABILITY.items():
        terminalreporter.write_line(f"{name:<{width}}  {count:>6}")
