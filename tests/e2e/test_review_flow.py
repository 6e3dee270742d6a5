"""The review queue through the real flow: a steward's accept, correct and reject change the next
run's draft exactly as described, a resubmission reopens review, and the review pause of the
flow waits for a decision from Prefect (resumed from a thread) or marks the units pending."""

from __future__ import annotations

import asyncio
import random
import shutil
import threading
from pathlib import Path

import pytest

from tonghop.db import open_db
from tonghop.generate import SECTORS, clean_values, write_csv
from tonghop.review import accept, correct, queue, reject, verify_history

pytestmark = pytest.mark.slow

UNITS = [f"R{i}" for i in range(1, 7)]
# R2: members_total +10 (sum) -> accepted; R3: admitted typed -3 (bounds) -> corrected back;
# R4: tasks_completed above tasks_assigned (part <= whole) -> rejected.
PLANTED = {"R2": "members_total", "R3": "members_admitted", "R4": "tasks_completed"}


def _values(code: str, values: dict[str, float], plant: bool) -> dict[str, float]:
    if not plant or code not in PLANTED:
        return dict(values)
    key = PLANTED[code]
    typed = {
        "members_total": values["members_total"] + 10,
        "members_admitted": -3,
        "tasks_completed": values["tasks_assigned"] + 7,
    }[key]
    return values | {key: typed}


def _write(path: Path, code: str, values: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, code, "2024", values)


@pytest.fixture(scope="module")
def bloc(tmp_path_factory):
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("review")
    registry = root / "registry.csv"
    registry.write_text(
        "unit_code,name,sector,form,valid_from,valid_to\n"
        + "".join(
            f"{code},Chi bộ Thử nghiệm {i},{SECTORS[i % 4]},chi_bo,2015-01-01,\n"
            for i, code in enumerate(UNITS, start=1)
        ),
        encoding="utf-8",
    )
    values = {}
    for i, code in enumerate(UNITS, start=1):
        values[code] = clean_values(rng, SECTORS[i % 4], "chi_bo")
        while code == "R2" and values[code]["members_total"] + 10 >= 30:
            # R2's planted +10 must not also make it a chi bộ of 30 (a warning of its own)
            values[code] = clean_values(rng, SECTORS[i % 4], "chi_bo")
        _write(root / "src" / f"{code}.csv", code, _values(code, values[code], plant=True))
    return root, registry, values


def _run(root: Path, registry: Path, workspace: Path, out: Path, **kwargs):
    from tonghop.flows.run import RunParameters, run

    return run(
        RunParameters(
            source=str(root / "src"),
            registry=registry,
            period="2024",
            workspace=workspace,
            out=out,
            **kwargs,
        )
    )


def _key(workspace: Path, unit: str) -> str:
    with open_db(workspace) as con:
        keys = [r["finding_key"] for r in queue(con, unit=unit) if r["severity"] == "error"]
    assert len(keys) == 1, keys
    return keys[0]


def _draft_figures(out: Path) -> str:
    return (out / "bao-cao.md").read_text(encoding="utf-8")


def _vi(number: float) -> str:
    return f"{round(number):,}".replace(",", ".")


def test_accept_correct_reject_and_resubmit(prefect_api, bloc) -> None:
    root, registry, values = bloc
    workspace, out = root / "ws", root / "out1"
    members = {c: v["members_total"] for c, v in values.items()}
    admitted = {c: v["members_admitted"] for c, v in values.items()}

    first = _run(root, registry, workspace, out)
    clean = ["R1", "R5", "R6"]
    assert first.units_included == 3
    assert f"và {_vi(sum(members[c] for c in clean))} đảng viên" in _draft_figures(out)
    assert (out / "kiem-tra.html").is_file()
    letters = {p.name for p in (out / "thu-phan-hoi").iterdir()}
    assert {f"{u}.{ext}" for u in PLANTED for ext in ("md", "docx")} <= letters
    assert "-3" in (out / "thu-phan-hoi" / "R3.md").read_text(encoding="utf-8")

    with open_db(workspace) as con:
        accept(con, _key(workspace, "R2"), "Đơn vị xác nhận tổng số đúng", actor="thu")
        correct(con, _key(workspace, "R3"), admitted["R3"], "Gõ nhầm dấu trừ",
                "điện thoại với đơn vị", None, "thu")  # fmt: skip
        reject(con, _key(workspace, "R4"), "Số nhiệm vụ hoàn thành vượt số được giao", "thu")

    out2 = root / "out2"
    second = _run(root, registry, workspace, out2)
    assert second.units_included == 5  # R4 stays out
    text = _draft_figures(out2)
    # R2 as submitted (its +10 accepted), R3 with the corrected admissions.
    expected_members = sum(members[c] for c in clean) + members["R2"] + 10 + members["R3"]
    expected_admitted = sum(admitted[c] for c in [*clean, "R2", "R3"])
    assert f"và {_vi(expected_members)} đảng viên" in text
    assert f"đã kết nạp {_vi(expected_admitted)} quần chúng ưu tú" in text
    with open_db(workspace) as con:
        flags = con.execute(
            "select unit_code, status, corrected, corrected_indicators from rpt_coverage__units "
            "where unit_code in ('R2', 'R3', 'R4') order by unit_code"
        ).fetchall()
        assert flags == [
            ("R2", "included", False, []),
            ("R3", "included", True, ["members_admitted"]),
            ("R4", "blocked", False, []),
        ]
        assert verify_history(con) == 3
    page = (out2 / "kiem-tra.html").read_text(encoding="utf-8")
    assert "đã hiệu chỉnh" in page and "điện thoại với đơn vị" in page
    letters = {p.name for p in (out2 / "thu-phan-hoi").iterdir()}
    assert {"R4.md", "R4.docx"} <= letters and "R2.md" not in letters  # R2 has nothing open
    r3 = out2 / "thu-phan-hoi" / "R3.md"  # only its warnings, if any, remain
    assert not r3.exists() or "-3" not in r3.read_text(encoding="utf-8")
    assert "Số nhiệm vụ hoàn thành vượt số được giao" in (
        out2 / "thu-phan-hoi" / "R4.md"
    ).read_text(encoding="utf-8")

    # R4 resubmits clean; R2 resubmits, still unbalanced: its acceptance no longer holds.
    _write(root / "src" / "R4-nop-lai.csv", "R4", _values("R4", values["R4"], plant=False))
    shifted = dict(values["R2"], members_admitted=values["R2"]["members_admitted"] + 1)
    _write(root / "src" / "R2-nop-lai.csv", "R2", _values("R2", shifted, plant=True))
    out3 = root / "out3"
    third = _run(root, registry, workspace, out3)
    assert third.units_included == 5  # R4 in, R2 out again
    with open_db(workspace) as con:
        log = con.execute(
            "select unit_code, action, state, actor from review_actions order by seq"
        ).fetchall()
        r2_state = {r["unit_code"]: r["state"] for r in queue(con) if r["severity"] == "error"}
    assert log[:3] == [
        ("R2", "accept", "accepted", "thu"),
        ("R3", "correct", "corrected", "thu"),
        ("R4", "reject", "rejected", "thu"),
    ]
    assert sorted(log[3:]) == [
        ("R2", "reopen", "open", "tonghop"),
        ("R2", "supersede", "moot", "tonghop"),
        ("R4", "supersede", "moot", "tonghop"),
    ]
    assert r2_state == {"R2": "open", "R3": "corrected"}
    expected_members = sum(members[c] for c in [*clean, "R3", "R4"])
    assert f"và {_vi(expected_members)} đảng viên" in _draft_figures(out3)


def _resume_when_paused(decide) -> threading.Thread:  # noqa: ANN001
    """Resume the first paused flow run with the input `decide(form)` returns, from a thread."""

    async def watch() -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.flow_runs import aresume_flow_run

        paused = FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
        )
        async with get_client() as client:
            for _ in range(240):
                runs = await client.read_flow_runs(flow_run_filter=paused)
                if runs:
                    await aresume_flow_run(runs[0].id, run_input=decide())
                    return
                await asyncio.sleep(0.5)

    thread = threading.Thread(target=lambda: asyncio.run(watch()), daemon=True)
    thread.start()
    return thread


def test_review_pause_times_out_to_pending_then_takes_a_decision(prefect_api, bloc) -> None:
    root, registry, _ = bloc
    source = root / "pause-src"
    shutil.copytree(root / "src", source, dirs_exist_ok=True)
    for extra in source.glob("*-nop-lai.csv"):
        extra.unlink()
    workspace = root / "ws-pause"

    from tonghop.flows.run import RunParameters, run

    def params(out: str, timeout: int) -> RunParameters:
        return RunParameters(
            source=str(source),
            registry=registry,
            period="2024",
            workspace=workspace,
            out=root / out,
            review_pause=True,
            review_timeout_seconds=timeout,
        )

    timed_out = run(params("out-timeout", 2))
    assert timed_out.units_included == 3
    with open_db(workspace) as con:
        pending = con.execute(
            "select unit_code from rpt_coverage__units where pending order by unit_code"
        ).fetchall()
    assert pending == [("R2",), ("R3",), ("R4",)]

    keys = {u: _key(workspace, u) for u in ("R2", "R3", "R4")}
    decisions = {
        "actor": "lan",
        "decisions": [
            {"finding_key": keys["R2"], "decision": "accept", "note": "Đã gọi điện xác nhận"},
            {"finding_key": keys["R4"], "decision": "reject", "note": "Nộp lại biểu"},
            {"finding_key": keys["R3"], "decision": "open"},
        ],
    }
    watcher = _resume_when_paused(lambda: decisions)
    resumed = run(params("out-resumed", 120))
    watcher.join(timeout=5)
    assert resumed.units_included == 4  # R2 accepted; R3 left open, R4 rejected
    with open_db(workspace) as con:
        states = {r["unit_code"]: (r["state"], r["actor"]) for r in queue(con)
                  if r["severity"] == "error"}  # fmt: skip
        pending = con.execute("select unit_code from rpt_coverage__units where pending").fetchall()
    assert states == {"R2": ("accepted", "lan"), "R3": ("open", None), "R4": ("rejected", "lan")}
    assert pending == [("R3",)]  # the one still waiting for a decision
