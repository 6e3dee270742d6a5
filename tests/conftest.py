"""Fixtures every test folder may use."""

from __future__ import annotations

import socket

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


def collected_rows(con) -> dict[str, list[tuple]]:  # noqa: ANN001 - a DuckDB connection
    """Everything collect wrote, in a fixed order, without the run's clock times and batch id."""
    queries = {
        "received_files": "select sha256, archive_path, original_name, size_bytes, status, "
        "reason, warnings from received_files order by sha256",
        "file_sightings": "select sha256, source_name from file_sightings order by all",
        "submissions": "select seq, submission_id, sha256, unit_code, period, file_format, "
        "original_name from submissions order by seq",
        "submitted_values": "select submission_id, location, indicator_code, raw_value, value, "
        "note from submitted_values order by all",
    }
    return {table: con.execute(sql).fetchall() for table, sql in queries.items()}


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (tests only ever use loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What a local SMTP server received."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture()
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()
