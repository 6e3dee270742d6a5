"""Fixtures every test folder may use."""

from __future__ import annotations

import atexit
import csv
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tonghop.prefect_env import apply_embedded_defaults

# `make test` runs the suite in pytest-xdist workers: each worker gets a Prefect home of its
# own (its profiles, local result storage and the database of the temporary server that a run in
# a new interpreter starts), never the developer's ~/.prefect nor the other worker's. Set
# before Prefect is imported (its settings read the environment once).
if os.environ.get("PYTEST_XDIST_WORKER") and "prefect" not in sys.modules:
    _home = tempfile.mkdtemp(prefix=f"tonghop-tests-prefect-{os.environ['PYTEST_XDIST_WORKER']}-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ["PREFECT_HOME"] = _home


@pytest.fixture(scope="session")
def prefect_api():
    """A real, temporary Prefect server and database, started once for the whole session
    (starting one is the slowest part of a flow test)."""
    apply_embedded_defaults()
    from prefect.testing.utilities import prefect_test_harness

    # A deadline only against a hang: a machine loaded by other work starts it slowly.
    with prefect_test_harness(server_startup_timeout=600):
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


def generated_workspace(root: Path, units: int = 40):  # noqa: ANN201 - (Bloc, Path, batch id)
    """A generated bloc of `units` (a tenth with planted errors) and a workspace with both its
    years collected, the second as the latest batch: (bloc, workspace, that batch's id)."""
    from tonghop import pipeline
    from tonghop.generate import generate

    bloc = generate(units, root / "bloc", error_share=0.1)
    workspace = root / "ws"
    pipeline.load_registry(workspace, bloc.registry)
    pipeline.collect_files(workspace, pipeline.read_source(str(bloc.source(2023))))
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(bloc.source(2024))))
    return bloc, workspace, batch.batch_id


def catalog_sharing_a_place():  # noqa: ANN201 - (Catalog, code, code)
    """The catalog with `MASK_PLACES` + 3 more indicators, so that two codes are `MASK_PLACES`
    apart in it and share a bit in the masks that look for a code written twice (validate's
    pivot, tonghop.rules `value_in_submission`, `int_values_accepted`): (catalog, first,
    second)."""
    from tonghop.catalog import Catalog, Indicator, load_catalog
    from tonghop.validate import MASK_PLACES

    extra = [
        Indicator(
            code=f"aa_extra_{i:03d}",
            label=f"Chỉ tiêu thêm {i}",
            unit="lần",
            value_type="count",
            time_aggregation="flow",
            unit_aggregation="sum",
        )
        for i in range(MASK_PLACES + 3)
    ]
    catalog = Catalog(indicators=[*load_catalog().indicators, *extra])
    first, second = "aa_extra_000", f"aa_extra_{MASK_PLACES:03d}"
    assert catalog.codes.index(second) - catalog.codes.index(first) == MASK_PLACES
    return catalog, first, second


def csv_values(path: Path) -> dict[str, str]:
    """A long-format submission CSV's values by indicator code, as written."""
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["indicator_code"]: row["value"] for row in csv.DictReader(handle)}


def fused_and_union_rows(
    workspace: Path, kind: str, expected: list, extra: list, batch_id: str
) -> tuple[list, list]:
    """The failing rows of one fused rule group (tonghop.rules.fused_query) on the workspace's
    frames, built for the periods `expected` and `extra` (every unit), and those of the union
    of its rules' own queries: (rule_id, row as sorted JSON)."""
    import json

    from tonghop.catalog import load_catalog
    from tonghop.db import open_db
    from tonghop.rules import compile_rules, load_rules
    from tonghop.validate import group_rules, prepare_frames

    catalog, ruleset = load_catalog(), load_rules()
    groups = [g for g in group_rules(compile_rules(catalog, ruleset)) if g.kind == kind]
    union = "\nunion all\n".join(
        f"select '{r.rule_id}' as rule_id, to_json(failing)::varchar as failing_row "
        f"from ({r.query}) failing"
        for group in groups
        for r in group.rules
    )
    fused = "\nunion all\n".join(f"({group.query})" for group in groups)
    (frame,) = {group.frame for group in groups}
    with open_db(workspace) as con:
        prepare_frames(con, catalog, expected, extra, batch_id, min_history=ruleset.min_history)
        return tuple(
            sorted(
                (rule_id, json.dumps(json.loads(row), sort_keys=True))
                for rule_id, row in con.execute(sql.replace("{batch}", frame)).fetchall()
            )
            for sql in (fused, union)
        )


def sample_run_command(period: str, workspace: Path, out: Path) -> list[str]:
    """`tonghop run` on the bundled sample bloc, as an operator types it, in a new interpreter."""
    from tonghop.paths import SAMPLE_DIR

    return [
        sys.executable, "-m", "tonghop.cli", "run",
        "--source", str(SAMPLE_DIR / "submissions"),
        "--registry", str(SAMPLE_DIR / "registry.csv"),
        "--period", period,
        "--workspace", str(workspace),
        "--out", str(out),
    ]  # fmt: skip


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


@contextmanager
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for a `with` block: (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture()
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (inbox, port)."""
    with smtp_inbox() as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test`), the long modules first, each module's tests kept
    together and in their order: `--dist loadscope --no-loadscope-reorder` hands out the
    modules in this order, so the long ones start at once on both workers and the many short
    ones fill in behind them, instead of one long module starting last on one worker while the
    other has nothing left. Long: the end-to-end modules (tests/e2e: whole runs) and those with
    a test marked `slow` or `real_server`."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    e2e = Path(__file__).parent / "e2e"
    long = {item.path for item in items if _is_slow(item) or item.path.is_relative_to(e2e)}
    items.sort(key=lambda item: item.path not in long)


def _is_slow(item: pytest.Item) -> bool:
    return any(item.iter_markers("slow")) or any(item.iter_markers("real_server"))
