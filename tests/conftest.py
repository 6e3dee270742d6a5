"""Fixtures every test folder may use."""

from __future__ import annotations

import pytest

from tonghop.prefect_env import apply_embedded_defaults


@pytest.fixture(scope="session")
def prefect_api():
    """A real, temporary Prefect server and database, started once for the whole session.

    Measured here: Prefect 3.9's temporary server takes ~9 s to start; one per session.
    """
    apply_embedded_defaults()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
