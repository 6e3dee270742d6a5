"""Completeness and timeliness on the sample bloc: `tonghop status`, and reminders through a
real SMTP server, never twice for the same reason on the same day."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.flows.conftest import MISSING
from tonghop import pipeline
from tonghop.cli import app
from tonghop.db import connect
from tonghop.paths import SAMPLE_DIR
from tonghop.registry import read_registry
from tonghop.settings import load_settings

LATE = "TCCS003"


@pytest.fixture()
def collected(partial_bloc, tmp_path: Path) -> Path:
    """A workspace holding the partial bloc; TCCS003's 2023-H1 report arrived after the due date."""
    source, registry = partial_bloc
    workspace = tmp_path / "ws"
    pipeline.load_registry(workspace, registry)
    pipeline.collect_files(workspace, pipeline.read_source(str(source)))
    con = connect(workspace)
    try:
        con.execute(
            "update submissions set received_at = timestamp '2023-07-02 09:00' "
            "where unit_code = ? and period = '2023-H1'",
            [LATE],
        )
        con.execute(
            "update submissions set received_at = timestamp '2023-06-18 10:00' "
            "where unit_code <> ? and period = '2023-H1'",
            [LATE],
        )
    finally:
        con.close()
    return workspace


def _settings(tmp_path: Path, port: int | None = None) -> Path:
    data = {"schedule": {"due_dates": {"2023-H1": "2023-06-20"}, "remind_days": [-3, 1, 5]}}
    if port:
        data["notify"] = {"smtp_host": "127.0.0.1", "smtp_port": port, "sender": "vp@duk.vn"}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_registry_without_contact_email_still_loads():
    units = read_registry(SAMPLE_DIR / "registry.csv")
    assert len(units) > 100
    assert all(u.contact_email is None for u in units)


def test_status_lists_missing_and_late_units(collected: Path, tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "status",
            "--workspace",
            str(collected),
            "--period",
            "2023-H1",
            "--settings",
            str(_settings(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines()}
    for code in MISSING:
        assert rows[code][2] == "chưa nộp"
    assert rows[LATE][2] == "đã nộp muộn"
    assert rows["TCCS005"][2] == "đã nộp đúng hạn"
    assert "hạn nộp: 20/06/2023" in result.output
    assert "  chưa nộp: 3" in result.output
    assert "  đã nộp muộn: 1" in result.output


def test_status_without_due_date_says_submitted(collected: Path):
    result = CliRunner().invoke(
        app, ["status", "--workspace", str(collected), "--period", "2023-H1"]
    )
    assert result.exit_code == 0
    assert "hạn nộp: chưa đặt" in result.output
    assert "đã nộp muộn" not in result.output
    today = CliRunner().invoke(
        app, ["status", "--workspace", str(collected), "--period", "current"]
    )
    half = 1 if dt.date.today().month <= 6 else 2
    assert today.output.startswith(f"Kỳ {dt.date.today().year}-H{half} (hạn nộp: chưa đặt)")


def test_reminders_go_once_a_day_to_units_that_have_not_submitted(
    collected: Path, tmp_path: Path, smtp_server
):
    inbox, port = smtp_server
    settings = load_settings(_settings(tmp_path, port))
    before = dt.date(2023, 6, 17)  # three days before the due date
    sent, no_address = pipeline.send_reminders(collected, "2023-H1", settings, before)
    assert sorted(r.unit_code for r in sent) == list(MISSING)
    assert no_address == []
    assert sorted(e.rcpt_tos[0] for e in inbox.envelopes) == [
        f"{c.lower()}@donvi.vn" for c in MISSING
    ]
    msg = email.message_from_bytes(inbox.envelopes[0].content, policy=policy.default)
    assert msg["Subject"] == "Nhắc nộp báo cáo kỳ 2023-H1 (hạn 20/06/2023)"
    assert "chưa nộp báo cáo kỳ 2023-H1" in msg.get_content()

    again, _ = pipeline.send_reminders(collected, "2023-H1", settings, before)
    assert again == []
    assert len(inbox.envelopes) == 3

    not_a_reminder_day, _ = pipeline.send_reminders(
        collected, "2023-H1", settings, dt.date(2023, 6, 19)
    )
    assert not_a_reminder_day == []

    after, _ = pipeline.send_reminders(collected, "2023-H1", settings, dt.date(2023, 6, 21))
    assert len(after) == 3
    late_msg = email.message_from_bytes(inbox.envelopes[-1].content, policy=policy.default)
    assert "quá hạn" in late_msg["Subject"]

    con = connect(collected, read_only=True)
    try:
        rows = con.execute(
            "select count(*), count(distinct (unit_code, reason, sent_on)) from reminders_sent"
        ).fetchone()
    finally:
        con.close()
    assert rows == (6, 6)


def test_a_day_without_letters_says_why(collected: Path, tmp_path: Path, smtp_server):
    from tonghop.remind import quiet_reason

    _inbox, port = smtp_server
    with_smtp = load_settings(_settings(tmp_path, port))
    con = connect(collected)
    try:
        assert "kỳ 2023-H2 chưa có hạn nộp" in quiet_reason(
            con, with_smtp, "2023-H2", dt.date(2023, 12, 1)
        )
        assert "kỳ 2023-H1 chưa đến hạn nhắc" in quiet_reason(
            con, with_smtp, "2023-H1", dt.date(2023, 6, 1)
        )
        assert "đã qua lần nhắc cuối" in quiet_reason(
            con, with_smtp, "2023-H1", dt.date(2023, 8, 1)
        )
        no_smtp = load_settings(_settings(tmp_path))
        # three days before the due date, three units missing: nothing sent without a server
        assert pipeline.send_reminders(collected, "2023-H1", no_smtp, dt.date(2023, 6, 17)) == (
            [],
            [],
        )
        assert quiet_reason(con, no_smtp, "2023-H1", dt.date(2023, 6, 17)).startswith(
            f"chưa cấu hình SMTP (notify.smtp_host): {len(MISSING)} đơn vị"
        )
    finally:
        con.close()
    sent, _ = pipeline.send_reminders(collected, "2023-H1", with_smtp, dt.date(2023, 6, 17))
    assert len(sent) == len(MISSING)
    con = connect(collected, read_only=True)
    try:
        assert "không có đơn vị nào thiếu báo cáo kỳ 2023-H1" in quiet_reason(
            con, with_smtp, "2023-H1", dt.date(2023, 6, 17)
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    ("cadence", "today", "text", "expected"),
    [
        ("half-year", dt.date(2026, 6, 30), "current", "2026-H1"),
        ("half-year", dt.date(2026, 7, 1), "current", "2026-H2"),
        ("half-year", dt.date(2026, 1, 5), "previous", "2025-H2"),
        ("half-year", dt.date(2023, 6, 17), "current-5..current", "2020-H2..2023-H1"),
        ("year", dt.date(2026, 12, 31), "previous-1..current", "2024..2026"),
        ("quarter", dt.date(2026, 11, 6), "current", "2026-Q4"),
        ("quarter", dt.date(2026, 1, 1), "previous", "2025-Q4"),
        ("half-year", dt.date(2026, 1, 1), "2020-H2..2023-H1", "2020-H2..2023-H1"),
    ],
)
def test_periods_roll_with_the_date_and_the_cadence(cadence, today, text, expected):
    from tonghop.settings import ScheduleSettings

    assert ScheduleSettings(cadence=cadence).resolve(text, today) == expected


@pytest.mark.slow
def test_the_remind_flow_given_only_today_takes_the_rest_from_the_settings(
    prefect_api, collected: Path, tmp_path: Path, smtp_server, monkeypatch
):
    from prefect.variables import Variable

    from tonghop.flows.remind import RemindParameters, remind

    inbox, port = smtp_server
    settings = _settings(tmp_path, port)
    data = yaml.safe_load(settings.read_text(encoding="utf-8"))
    settings.write_text(yaml.safe_dump(data | {"paths": {"workspace": str(collected)}}), "utf-8")
    monkeypatch.delenv("TONGHOP_SETTINGS", raising=False)
    # As `prefect deployment run tonghop-remind/remind --param params='{"today": ...}'` does:
    # the deployment's parameters replaced by today alone; the settings named by the Variable.
    Variable.set("tonghop_settings", str(settings), overwrite=True)
    try:
        params = RemindParameters.model_validate({"today": "2023-06-17"})
        assert (params.period, params.workspace, params.settings) == ("current", None, None)
        assert remind(params) == len(MISSING)
    finally:
        Variable.unset("tonghop_settings")
    for envelope in inbox.envelopes:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        assert msg["Subject"] == "Nhắc nộp báo cáo kỳ 2023-H1 (hạn 20/06/2023)"
