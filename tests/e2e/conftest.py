"""One Prefect API for every flow test of the session (its start takes seconds: start it once)."""

from __future__ import annotations

import pytest

from tonghop.prefect_env import apply_embedded_defaults


@pytest.fixture(scope="session")
def prefect_api():
    """A real, temporary Prefect server and database for the flows under test."""
    apply_embedded_defaults()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# The reliability report (`make reliability`): what the corpus and fault tests tried and lost.
RELIABILITY = {
    "inputs tried": 0,
    "faults injected": 0,
    "runs completed": 0,
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
