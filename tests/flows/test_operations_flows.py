"""The deployable flows end to end against a real Prefect API: collect publishes who has
submitted and announces new data, validate and consolidate-and-render produce the draft, and a
failed run emails the operator in Vietnamese and English."""

from __future__ import annotations

import csv
import datetime as dt
import email
import json
from email import policy
from pathlib import Path

import pytest
import yaml

from tests.flows.conftest import MISSING

pytestmark = pytest.mark.slow


def _read_artifact(key: str):
    """The latest artifact of that key (other tests of the session publish it too)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return found[0]


def test_collect_validate_consolidate_render(prefect_api, partial_bloc, tmp_path: Path):
    from tonghop.flows.collect import CollectParameters, collect_submissions
    from tonghop.flows.consolidate_render import ConsolidateParameters, consolidate_and_render
    from tonghop.flows.validate import ValidateParameters, validate_submissions

    source, registry = partial_bloc
    workspace, out = tmp_path / "ws", tmp_path / "out"
    settings = tmp_path / "settings.yaml"
    today = dt.date.today().isoformat()
    settings.write_text(yaml.safe_dump({"schedule": {"due_dates": {"2023-H1": today}}}), "utf-8")
    period = "2020-H2..2023-H1"

    collected = collect_submissions(
        CollectParameters(
            source=str(source),
            registry=registry,
            period=period,
            workspace=workspace,
            settings=settings,
        )
    )
    assert collected["files_loaded"] > 1000
    assert collected["missing"] == len(MISSING)
    # the registry's units active at the period's end (TCCSĐ and the committee's own bodies)
    active = [
        row
        for row in csv.DictReader(registry.open(encoding="utf-8"))
        if row["valid_from"] <= "2023-06-30" and (row["valid_to"] or "9999") >= "2023-06-30"
    ]
    assert collected["on_time"] == len(active) - len(MISSING)
    table = _read_artifact("tonghop-tinh-hinh-nop")
    assert "chưa nộp: 3" in table.description
    assert "TCCS001" in str(table.data)

    again = collect_submissions(
        CollectParameters(source=str(source), registry=registry, period=period, workspace=workspace)
    )
    assert again["files_loaded"] == 0

    checked = validate_submissions(ValidateParameters(workspace=workspace, period=period))
    assert checked["findings_error"] > 0

    outputs = consolidate_and_render(
        ConsolidateParameters(workspace=workspace, period=period, out=out)
    )
    draft = Path(outputs["md"]).read_text(encoding="utf-8")
    assert "Đến nay, Đảng bộ có" in draft
    findings = (out / "findings.json").read_text(encoding="utf-8")
    assert '"kind": "completeness"' in findings
    assert "TCCS001" in findings

    # The unreadable files are those of the last collect, as `tonghop run` counts them: one
    # removed from the source is no longer in rejected.json nor in the draft's count.
    rejected = json.loads((out / "rejected.json").read_text(encoding="utf-8"))
    assert len(rejected) == collected["files_rejected"] == again["files_rejected"] >= 2
    # The second collect's table of unreadable files: each with its reason, as rejected.json.
    table = _read_artifact("tonghop-tep-khong-doc-duoc")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [(r["tệp"], r["lý do"]) for r in rows] == [(r["file"], r["reason"]) for r in rejected]
    assert f"({len(rejected)} trên {again['files_seen']} tệp đã nhận)" in table.description
    assert all((source / r["file"]).is_file() for r in rejected)
    assert f"tệp không đọc được: {len(rejected):02d}" in draft
    (source / rejected[0]["file"]).unlink()
    collect_submissions(
        CollectParameters(source=str(source), registry=registry, period=period, workspace=workspace)
    )
    outputs = consolidate_and_render(
        ConsolidateParameters(workspace=workspace, period=period, out=tmp_path / "out2")
    )
    left = json.loads((tmp_path / "out2" / "rejected.json").read_text(encoding="utf-8"))
    assert left == rejected[1:]
    assert f"tệp không đọc được: {len(left):02d}" in Path(outputs["md"]).read_text("utf-8")


def test_a_failed_run_emails_the_operator(prefect_api, smtp_server, tmp_path: Path):
    from tonghop.flows.collect import CollectParameters, collect_submissions

    inbox, port = smtp_server
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "notify": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "operators": ["it@duk.vn"],
                }
            }
        ),
        "utf-8",
    )
    (tmp_path / "source").mkdir()
    params = CollectParameters(
        source=str(tmp_path / "source"),
        registry=tmp_path / "khong-co.csv",
        period="2023-H1",
        workspace=tmp_path / "ws",
        settings=settings,
    )
    state = collect_submissions(params, return_state=True)
    assert state.is_failed()
    assert [e.rcpt_tos for e in inbox.envelopes] == [["it@duk.vn"]]
    msg = email.message_from_bytes(inbox.envelopes[0].content, policy=policy.default)
    assert "tonghop-collect" in msg["Subject"]
    assert "bị lỗi / run failed" in msg["Subject"]
    body = msg.get_content()
    assert "Không tìm thấy tệp danh mục đơn vị" in body  # the error itself
    assert "đã dừng vì lỗi" in body and "failed." in body
    assert f"flow_runs/{state.state_details.flow_run_id}" in body or "/runs/flow-run/" in body


def test_remind_without_settings_fails_in_vietnamese(prefect_api, monkeypatch, tmp_path: Path):
    from tonghop.flows.remind import RemindParameters, remind

    monkeypatch.delenv("TONGHOP_SETTINGS", raising=False)
    # prefect.yaml renders an unset $TONGHOP_SETTINGS as ""
    params = RemindParameters(workspace=tmp_path / "ws", period="2023-H1", settings="")
    state = remind(params, return_state=True)
    assert state.is_failed()
    assert "Chưa có tệp thiết lập cho nhắc nộp báo cáo" in state.message
    assert "TONGHOP_SETTINGS" in state.message
    assert "IsADirectoryError" not in state.message

    # a path neither given nor in the settings: named, with where to set it
    from tonghop.flows.collect import collect_submissions

    state = collect_submissions(return_state=True)
    assert state.is_failed()
    assert "Chưa biết 'source' của lần chạy: đặt tham số source hoặc paths.source" in state.message


def test_triggered_validate_notifies_through_its_settings(
    prefect_api, smtp_server, monkeypatch, tmp_path: Path
):
    from tonghop.flows.validate import ValidateParameters, validate_submissions

    inbox, port = smtp_server
    settings = tmp_path / "settings.yaml"
    notify = {"smtp_host": "127.0.0.1", "smtp_port": port, "operators": ["it@duk.vn"]}
    settings.write_text(yaml.safe_dump({"notify": notify}), "utf-8")
    monkeypatch.delenv("TONGHOP_SETTINGS", raising=False)
    bad = ValidateParameters(workspace=tmp_path / "ws", period="2023-H9", settings=settings)
    assert validate_submissions(bad, return_state=True).is_failed()
    assert [e.rcpt_tos for e in inbox.envelopes] == [["it@duk.vn"]]

    # no parameter: the worker's TONGHOP_SETTINGS
    monkeypatch.setenv("TONGHOP_SETTINGS", str(settings))
    bad = ValidateParameters(workspace=tmp_path / "ws", period="2023-H9")
    assert validate_submissions(bad, return_state=True).is_failed()
    assert len(inbox.envelopes) == 2
