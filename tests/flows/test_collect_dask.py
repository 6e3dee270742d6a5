"""The collect flow on a Dask cluster (settings `collect.task_runner: dask`) against a real
Prefect API: parsing moves to the cluster's worker processes, one task per chunk of files, and
the workspace ends up exactly as when the flow parses itself (the default, no task) or in tasks
on its threads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import collected_rows
from tonghop.db import connect
from tonghop.generate import generate

pytestmark = pytest.mark.slow

CHUNK_FILES = 7


@pytest.fixture(scope="module")
def dask_scheduler():
    """A local Dask cluster on loopback, two worker processes: the address of its scheduler."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


def _collect(source: Path, registry: Path, workspace: Path, collect_settings: dict):
    from tonghop.flows.collect import CollectParameters, collect_submissions

    settings = workspace.with_suffix(".yaml")
    settings.write_text(yaml.safe_dump({"collect": collect_settings}), encoding="utf-8")
    return collect_submissions(
        CollectParameters(
            source=str(source),
            registry=registry,
            period="2024",
            workspace=workspace,
            settings=settings,
        ),
        return_state=True,
    )


def _task_runs(flow_run_id, name: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)),
        )
    assert all(r.state.is_completed() for r in runs)
    return len(runs)


def _rows(workspace: Path) -> dict[str, list[tuple]]:
    con = connect(workspace)
    try:
        return collected_rows(con)
    finally:
        con.close()


def test_collect_on_dask_or_threads_loads_what_the_flow_loads_itself(
    prefect_api, dask_scheduler, tmp_path: Path
):
    bloc = generate(40, tmp_path / "bloc", excel_share=0.1, error_share=0.1)
    source = tmp_path / "source"
    shutil.copytree(bloc.root / "src", source)
    csv_files = sorted(source.rglob("*.csv"))
    shutil.copy(csv_files[0], source / "ban-sao.csv")  # same bytes again: skipped, not parsed
    (source / "hong.csv").write_bytes(b"unit_code,period,value\nU000001,2024,7\n")
    received = sum(bloc.files.values()) + 2

    runners = {
        "flow": {},  # the default: no task per chunk
        "thread": {"task_runner": "thread"},
        "dask": {"task_runner": "dask", "dask_address": dask_scheduler, "chunks_in_flight": 3},
        # No address: the run starts its own local cluster (one worker process) and stops it.
        "dask-local": {"task_runner": "dask", "dask_workers": 1},
    }
    states = {
        name: _collect(source, bloc.registry, tmp_path / name, {"chunk_files": CHUNK_FILES} | s)
        for name, s in runners.items()
    }

    summary = states["flow"].result()
    assert summary["files_seen"] == received
    assert summary["files_loaded"] == received - 2
    assert summary["files_skipped"] == 1 and summary["files_rejected"] == 1
    rows = _rows(tmp_path / "flow")
    chunks = -(-received // CHUNK_FILES)
    for name, state in states.items():
        assert state.result() == summary, name
        tasks = 0 if name == "flow" else chunks
        assert _task_runs(state.state_details.flow_run_id, "parse_chunk%") == tasks, name
        assert _rows(tmp_path / name) == rows, name
    # Independently of the runs: one value per data row of every CSV received once.
    data_rows = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in csv_files)
    csv_ids = {s[1] for s in rows["submissions"] if s[5] == "csv"}
    assert sum(v[0] in csv_ids for v in rows["submitted_values"]) == data_rows
    assert [s[0] for s in rows["submissions"]] == list(range(1, received - 1))
    indexes = (tmp_path / "dask" / "archive").rglob("*.idx")  # a line an archived file
    assert sum(len(p.read_text().splitlines()) for p in indexes) == received - 1

    again = _collect(
        source,
        bloc.registry,
        tmp_path / "dask",
        {"task_runner": "dask", "dask_address": dask_scheduler},
    ).result()
    assert again["files_loaded"] == 0 and again["files_skipped"] == received
    assert _rows(tmp_path / "dask")["submissions"] == rows["submissions"]


def test_the_flows_import_no_dask_until_a_collect_asks_for_it():
    import subprocess
    import sys

    probe = (
        "import sys, tonghop.cli, tonghop.flows.run, tonghop.flows.collect;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', "
        "'prefect_dask'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_dask_without_its_extra_is_refused_in_vietnamese(monkeypatch, tmp_path: Path):
    import sys

    from tonghop.flows.tasks import collect
    from tonghop.settings import ReportSettings

    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # as if the extra were not installed
    settings = ReportSettings.model_validate({"collect": {"task_runner": "dask"}})
    with pytest.raises(RuntimeError, match=r"cần gói Dask tùy chọn.*tonghop\[dask\]"):
        collect(tmp_path / "ws", [], settings)
    assert not (tmp_path / "ws").exists()  # refused before the workspace was opened
