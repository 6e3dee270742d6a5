"""The review queue through the real flow: a steward's accept, correct and reject change the next
run's draft exactly as described, a resubmission reopens review, and the review pause of the
flow waits for a decision from Prefect (resumed from a thread) or marks the units pending.
Each verb is tried as a steward types it: it does what it says and shows its effect, or refuses
with a reason. The run's steward pages load nothing from outside the machine in Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tonghop.cli import app
from tonghop.db import open_db
from tonghop.generate import SECTORS, clean_values, write_csv
from tonghop.review import accept, correct, queue, reject, verify_history

pytestmark = pytest.mark.slow

UNITS = [f"R{i}" for i in range(1, 7)]
# R2: members_total +10 (sum) -> accepted; R3: admitted typed -3 (bounds) -> corrected back;
# R4: tasks_completed above tasks_assigned (part <= whole) -> rejected.
PLANTED = {"R2": "members_total", "R3": "members_admitted", "R4": "tasks_completed"}
# R6 a chi bộ of 35 members (a warning: its submission is counted); R7 left the bloc before
# 2024 and X9 is in no registry, yet both send a file: decisions on them change nothing.
WARNED, DEPARTED, UNKNOWN = "R6", "R7", "X9"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium not installed: apt-get install -y chromium",
)


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
        if code == WARNED:
            values[code] |= {"members_total": 35, "members_official": 35 - values[code][
                "members_probationary"]}  # fmt: skip
        _write(root / "src" / f"{code}.csv", code, _values(code, values[code], plant=True))
    with open(registry, "a", encoding="utf-8") as handle:
        handle.write(f"{DEPARTED},Chi bộ Đã chuyển đi,agency,chi_bo,2015-01-01,2023-12-31\n")
    for code in (DEPARTED, UNKNOWN):
        _write(root / "src" / f"{code}.csv", code, clean_values(rng, "agency", "chi_bo"))
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
    assert not {f"{u}.md" for u in (DEPARTED, UNKNOWN)} & letters
    assert "-3" in (out / "thu-phan-hoi" / "R3.md").read_text(encoding="utf-8")
    keys = {u: _key(workspace, u) for u in PLANTED}
    _steward_refusals(workspace, keys["R3"], before=sum(members[c] for c in clean),
                      after=sum(members[c] for c in clean) - members[WARNED])  # fmt: skip

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
    _corrected_as_the_stewards(workspace, keys["R3"], admitted["R3"])

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
        r2_state = {  # R3's finding no longer raised on its corrected value, listed as such
            r["unit_code"]: r["state"]
            for r in queue(con, include_gone=True)
            if r["severity"] == "error" and r["unit_code"] in PLANTED and r["state"] != "moot"
        }
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
    moot = _review(workspace, "list", "--state", "moot")
    assert moot.exit_code == 0, moot.output
    for unit in ("R2", "R4"):  # superseded by the resubmission, listed with why
        assert re.search(
            rf"{keys[unit]}\s+{unit}\s+2024.*hết hiệu lực.*\n\s+vì: Đơn vị đã nộp lại \(tệp "
            rf"{unit}-nop-lai.csv\)",
            moot.output,
        ), moot.output


def _review(workspace: Path, *args: str, answer: str | None = None):  # noqa: ANN202
    """`tonghop review ...` as a steward types it."""
    command = ["review", *args, "--workspace", str(workspace)]
    return CliRunner().invoke(app, command, input=answer)


def _audit_rows(workspace: Path) -> int:
    with open_db(workspace) as con:
        return con.execute("select count(*) from review_actions").fetchone()[0]


def _steward_refusals(workspace: Path, r3: str, before: float, after: float) -> None:
    """Each verb tried where it would hurt: refused with a reason, or asked first."""
    fraction = _review(workspace, "correct", r3, "--value", "12.5", "--reason", "gõ nhầm",
                       "--source", "điện thoại")  # fmt: skip
    assert fraction.exit_code == 2
    assert "Kết nạp đảng viên mới là số nguyên (đếm đảng viên): 12,5 không hợp lệ" in (
        fraction.output
    )
    for unit, reason in ((UNKNOWN, "không có trong danh mục đơn vị"),
                         (DEPARTED, "không hoạt động trong kỳ 2024")):  # fmt: skip
        refused = _review(workspace, "accept", _key(workspace, unit), "--note", "Đã xác minh")
        assert refused.exit_code == 2 and f"Đơn vị '{unit}' {reason}" in refused.output
    with open_db(workspace) as con:
        warning = next(r for r in queue(con, unit=WARNED) if r["severity"] == "warning")
    asked = _review(workspace, "reject", warning["finding_key"], "--note", "Rà soát lại",
                    answer="n\n")  # fmt: skip
    assert asked.exit_code == 1, asked.output
    assert "áp dụng cho cả bản báo cáo kỳ 2024 của đơn vị R6" in asked.output
    assert f"Tổng số đảng viên (members_total): {_vi(before)} → {_vi(after)}" in asked.output
    assert "Chưa ghi gì." in asked.output
    assert _audit_rows(workspace) == 0


def _corrected_as_the_stewards(workspace: Path, r3: str, admitted: float) -> None:
    """After the run that follows a correction: validated again on the corrected value (R3's
    bound holds, its finding listed as corrected), the audit readable, `explain` naming the
    steward as the source of the value and the file only for what it said."""
    listed = _review(workspace, "list", "--state", "corrected")
    assert re.search(rf"{r3}\s+R3 .*đã hiệu chỉnh.*\n\s+vì: Đã hiệu chỉnh", listed.output)
    logged = _review(workspace, "log")
    assert f"thu: hiệu chỉnh (đã hiệu chỉnh) phát hiện {r3}, đơn vị R3" in logged.output
    assert f"members_admitted: -3 → {_vi(admitted)}. Lý do: Gõ nhầm dấu trừ." in logged.output
    assert "Nhật ký nguyên vẹn (3 dòng, chưa bị sửa hay xóa)." in logged.output
    shown = CliRunner().invoke(
        app, ["explain", "term.members_admitted", "--workspace", str(workspace)]
    )
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if line.startswith("R3\t"))
    assert row.endswith("\thiệu chỉnh của cán bộ thu\t\t") and "R3.csv" not in row
    assert re.search(
        rf"members_admitted = {_vi(admitted)}: hiệu chỉnh lúc .*, lý do: Gõ nhầm dấu trừ; "
        r"nguồn: điện thoại với đơn vị\. Số gốc trong tệp R3\.csv \(.*, sha256 [0-9a-f]{64}\): -3",
        shown.output,
    ), shown.output


def _requests_outside(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """Load `page` from file:// in headless Chromium with every host unresolvable; its DOM and
    the requests the page made for anything but a file (Chromium's net log: requests whose
    network isolation key is the page's file:// site, not the browser's own services)."""
    log = tmp_path / f"net-{page.stem}.json"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", '--host-resolver-rules=MAP * ~NOTFOUND',
         f"--log-net-log={log}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    netlog = json.loads(log.read_text(encoding="utf-8"))
    start = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = [
        event["params"]["url"]
        for event in netlog["events"]
        if event["type"] == start
        and "file://" in event["params"].get("network_isolation_key", "")
        and not event["params"]["url"].startswith("file:")
    ]
    return dom, requests


@needs_chromium
def test_steward_pages_load_nothing_from_outside_and_show_every_status(
    prefect_api, bloc, tmp_path
) -> None:
    root, registry, _ = bloc
    out = root / "out1"  # the first test's first run; run here when this test runs alone
    if not (out / "data-docs").is_dir():
        _run(root, registry, root / "ws-offline", out)
    control = tmp_path / "control.html"  # the check itself sees a page's external requests
    control.write_text('<link rel="stylesheet" href="https://cdn.example.org/x.css">')
    assert _requests_outside(control, tmp_path)[1] == ["https://cdn.example.org/x.css"]

    docs = out / "data-docs"
    pages = [out / "kiem-tra.html", docs / "index.html", docs / "consolidated" / "index.html"]
    validations = sorted(docs.glob("validations/**/*.html"))
    assert validations
    for page in [*pages, *validations]:
        dom, requests = _requests_outside(page, tmp_path)
        assert requests == [], (page, requests)
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", dom), page
        if page in validations:  # a status for each expectation, and the run's own
            evaluated = int(re.search(r"Evaluated Expectations.*?>(\d+)<", dom, re.S)[1])
            assert dom.count("tonghop-status") == evaluated + 1, page
    index = _requests_outside(docs / "index.html", tmp_path)[0]
    assert index.count("✘ Không đạt") == 2  # both frames' suites fail (planted errors)
    assert index.count("<tr>") >= 3  # the runs' table, written out without its script
    review = _requests_outside(out / "kiem-tra.html", tmp_path)[0]
    assert review.count('class="finding ') >= 5 and "Kết quả từng bộ quy tắc" in review


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
    for extra in [*source.glob("*-nop-lai.csv"), *source.glob(f"{DEPARTED}.csv"),
                  *source.glob(f"{UNKNOWN}.csv")]:  # fmt: skip
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
