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
