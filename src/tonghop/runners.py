"""The task runner the collect flows parse received files on (settings `collect:`).

`flow` (the default) runs no task per chunk: collect parses each chunk in the flow's own thread
while its archive process archives and reads the forms. `thread` parses each chunk in a Prefect
task on threads of the flow's process; `dask` sends the chunks to
a Dask cluster through prefect-dask: an existing scheduler (`dask_address`), or a local cluster
started for the run. Only parsing moves: a chunk travels as the bytes the flow already read
(the source and the archive are on the flow's machine, a Dask worker need not see either) and
comes back as plain rows; archiving, `seq` and every DuckDB write stay in the flow's process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from tonghop.collect import Outcome, ParseChunks, Received
from tonghop.settings import CollectSettings

if TYPE_CHECKING:
    from prefect import Task
    from prefect.task_runners import TaskRunner


class ChunkFuture(Protocol):
    """A chunk being parsed: a Prefect future, or any future of `read_chunk`'s outcomes."""

    def result(self) -> list[Outcome]: ...


@contextmanager
def chunk_parser(settings: CollectSettings, parse_task: Task) -> Iterator[ParseChunks | None]:
    """Collect's `parse` as the settings say, for the length of a `with` block: None for `flow`
    (collect parses in its own thread), else one run of `parse_task` per chunk on a task
    runner entered for the block."""
    if settings.task_runner == "flow":
        yield None
        return
    with task_runner(settings) as runner:
        yield parse_on(runner, parse_task, settings.chunks_in_flight)


def task_runner(settings: CollectSettings) -> TaskRunner:
    """A fresh task runner as the settings say (`thread` or `dask`); enter it (`with`) around
    the collect."""
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": settings.dask_workers,
                "threads_per_worker": 1,  # parsing holds the GIL: one process per core
                "processes": True,
                "host": "127.0.0.1",  # a local cluster listens on loopback only
                "dashboard_address": "127.0.0.1:0",  # a free port: several clusters may run
            }
        )
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=settings.chunks_in_flight)


def parse_on(runner: TaskRunner, parse_task: Task, in_flight: int) -> ParseChunks:
    """Collect's `parse`: each chunk one run of `parse_task(items=...)` on an entered runner."""

    def parse(chunks: Iterator[list[Received]]) -> Iterator[list[Outcome]]:
        return read_ahead(
            lambda items: runner.submit(parse_task, {"items": items}), chunks, in_flight
        )

    return parse


def read_ahead(
    submit: Callable[[list[Received]], ChunkFuture],
    chunks: Iterator[list[Received]],
    in_flight: int,
) -> Iterator[list[Outcome]]:
    """Submit up to `in_flight` chunks, then yield each chunk's outcomes in submission order.

    `submit` returns a future (anything with `.result()`); an empty chunk is not submitted.
    Keeping only a few chunks ahead bounds what waits in memory for the writer.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     list(read_ahead(lambda c: pool.submit(list, c), iter([[1], [], [2, 3]]), 2))
    [[1], [], [2, 3]]
    """
    pending: deque = deque()
    for chunk in chunks:
        pending.append(submit(chunk) if chunk else None)
        if len(pending) >= in_flight:
            yield _outcomes(pending.popleft())
    while pending:
        yield _outcomes(pending.popleft())


def _outcomes(future: ChunkFuture | None) -> list[Outcome]:
    return [] if future is None else future.result()
