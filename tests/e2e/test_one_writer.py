"""Two runs on one workspace at once: the writer limit serialises them; both complete, no lock
error, nothing counted twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tonghop.db import connect
from tonghop.locking import WRITER_LIMIT
from tonghop.paths import SAMPLE_DIR
from tonghop.prefect_env import EMBEDDED_DEFAULTS

RUN = """
import json, sys
from pathlib import Path
from tonghop.flows.run import RunParameters, run
s = run(RunParameters(source=sys.argv[1], registry=Path(sys.argv[2]), period=sys.argv[3],
                      workspace=Path(sys.argv[4]), out=Path(sys.argv[5])))
print("SUMMARY" + json.dumps({"loaded": s.files_loaded, "skipped": s.files_skipped,
                              "included": s.units_included}))
"""


@pytest.mark.slow
def test_two_runs_at_once_both_complete_without_duplicates(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = os.environ | EMBEDDED_DEFAULTS | {"PREFECT_API_URL": PREFECT_API_URL.value()}
    workspace = tmp_path / "ws"
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RUN,
                str(SAMPLE_DIR / "submissions"),
                str(SAMPLE_DIR / "registry.csv"),
                "2020-H2..2023-H1",
                str(workspace),
                str(tmp_path / f"out{i}"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [r.communicate(timeout=600) for r in runs]
    for run, (_out, err) in zip(runs, results, strict=True):
        assert "Could not set lock" not in err
        assert run.returncode == 0, err[-3000:]
    summaries = [
        json.loads(next(line for line in out.splitlines() if line.startswith("SUMMARY"))[7:])
        for out, _ in results
    ]
    # Serialised: the first loads every file, the second finds them all known.
    first, second = sorted(summaries, key=lambda s: -s["loaded"])
    assert first["loaded"] > 1000 and first["skipped"] == 0
    assert second["loaded"] == 0 and second["skipped"] >= first["loaded"]
    assert first["included"] == second["included"] > 100  # the same draft from both runs

    con = connect(workspace, read_only=True)
    try:
        duplicated_values = con.execute(
            "select count(*) from (select submission_id, indicator_code, location "
            "from submitted_values group by all having count(*) > 1)"
        ).fetchone()[0]
        duplicated_submissions = con.execute(
            "select count(*) from (select sha256, unit_code, period from submissions "
            "group by all having count(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    assert duplicated_values == 0
    assert duplicated_submissions == 0
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
    assert limit.limit == 1
    assert limit.active_slots == 0  # both runs released the slot
