"""One writer at a time: a Prefect global concurrency limit around the steps that write a workspace.

DuckDB lets one process open a file for writing, and a process reading it read-only still
conflicts with a writer in another process ("Could not set lock on file"). Two flow runs on
one workspace therefore take the limit's single slot for every step that opens the database;
the second waits instead of failing. Steps that do not open it (reading the source, rendering)
run outside the slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

WRITER_LIMIT = "tonghop-workspace-writer"

# A slot is held for one step group at most: an hour covers the longest (validating a
# province's units) with room to spare, and stops a stuck holder from blocking the schedule
# for ever.
WAIT_SECONDS = 3600


def ensure_writer_limit(name: str = WRITER_LIMIT) -> None:
    """Create the limit (1 slot) on the Prefect API if it does not exist; leave one that does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another run may have created it a moment ago.
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


@contextmanager
def writer_slot(name: str = WRITER_LIMIT, timeout_seconds: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the workspace's single writer slot for the length of a `with` block."""
    from prefect.concurrency.sync import concurrency

    with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        yield
