"""Delivery: the outbox folder, and the email to the report owners through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import socket
from email import policy
from pathlib import Path

import pytest

from tonghop.deliver import artifact_markdown, deliver, outbox_folder
from tonghop.settings import DeliverySettings, ReportSettings


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def drafts(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "out"
    folder.mkdir()
    paths = []
    for name, content in [
        ("bao-cao.md", "Đến nay, Đảng bộ có 121 TCCSĐ.\n".encode()),
        ("bao-cao.html", "<p>Đến nay, Đảng bộ có 121 TCCSĐ.</p>\n".encode()),
        ("bao-cao.docx", b"PK\x03\x04 not really a docx, bytes kept as they are"),
    ]:
        (folder / name).write_bytes(content)
        paths.append(folder / name)
    return paths


def test_default_settings_copy_to_a_new_outbox_folder_and_send_nothing(
    drafts: list[Path], tmp_path: Path
) -> None:
    report = ReportSettings()
    assert not report.delivery.email_enabled
    first = deliver(drafts, report, tmp_path / "out", "2020-H2..2023-H1")
    assert first.outbox.parent == tmp_path / "out" / "outbox"
    assert [p.name for p in first.files] == ["bao-cao.md", "bao-cao.html", "bao-cao.docx"]
    assert all(c.read_bytes() == o.read_bytes() for c, o in zip(first.files, drafts, strict=True))
    assert first.emailed_to == []
    assert "Không gửi email" in artifact_markdown(first, "2023-H1")

    # The same draft again: nothing copied. A changed draft: a new folder, the first kept.
    same = deliver(drafts, report, tmp_path / "out", "2020-H2..2023-H1")
    assert same.repeated and same.outbox == first.outbox
    assert len(list((tmp_path / "out" / "outbox").iterdir())) == 1
    drafts[0].write_text("Đến nay, Đảng bộ có 122 TCCSĐ.\n", encoding="utf-8")
    changed = deliver(drafts, report, tmp_path / "out", "2020-H2..2023-H1")
    assert not changed.repeated and changed.outbox != first.outbox
    assert "121 TCCSĐ" in (first.outbox / "bao-cao.md").read_text(encoding="utf-8")


def test_artifact_names_files_without_file_links(drafts: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    delivered = deliver(drafts, ReportSettings(), out, "2023-H1")
    local = artifact_markdown(delivered, "2023-H1", out)
    assert "file://" not in local and f"`{delivered.outbox / 'bao-cao.docx'}`" in local
    published = artifact_markdown(delivered, "2023-H1", out, "https://tep.vp.vn/th/")
    folder = delivered.outbox.name
    assert f"(https://tep.vp.vn/th/outbox/{folder}/bao-cao.docx)" in published


def test_outbox_setting_and_timestamp(tmp_path: Path) -> None:
    settings = DeliverySettings(outbox=tmp_path / "gui-di")
    folder = outbox_folder(settings, tmp_path / "out", dt.datetime(2023, 7, 6, 8, 30, 5))
    assert folder == tmp_path / "gui-di" / "20230706-083005"
    assert folder.is_dir()


def test_email_arrives_with_the_drafts_attached(
    smtp_server, drafts: list[Path], tmp_path: Path
) -> None:  # noqa: ANN001
    inbox, port = smtp_server
    report = ReportSettings(
        number="191-BC/ĐUK",
        delivery=DeliverySettings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            sender="van-phong@dangbokhoi.example",
            owners=["lanh-dao@dangbokhoi.example", "tong-hop@dangbokhoi.example"],
        ),
    )
    coverage = {"units_included": 120, "units_expected": 121}
    delivered = deliver(drafts, report, tmp_path / "out", "2020-H2..2023-H1", coverage)

    assert delivered.emailed_to == report.delivery.owners
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "van-phong@dangbokhoi.example"
    assert sorted(envelope.rcpt_tos) == sorted(report.delivery.owners)
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "Dự thảo báo cáo số 191-BC/ĐUK (kỳ 2020-H2..2023-H1)"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Kính gửi" in body and "120/121 TCCSĐ" in body
    attachments = {a.get_filename(): a for a in message.iter_attachments()}
    assert set(attachments) == {"bao-cao.md", "bao-cao.html", "bao-cao.docx"}
    assert attachments["bao-cao.docx"].get_content_type() == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert attachments["bao-cao.docx"].get_content() == drafts[2].read_bytes()
    assert "121 TCCSĐ" in attachments["bao-cao.md"].get_content()
    assert "Đã gửi email tới" in artifact_markdown(delivered, "2023-H1")

    # the committee's name as the settings write it, never title-cased
    report.issuing_body = "Đảng ủy Khối Cơ quan và Doanh nghiệp tỉnh"
    drafts[0].write_text("Đến nay, Đảng bộ có 120 TCCSĐ.\n", encoding="utf-8")
    deliver(drafts, report, tmp_path / "out", "2023-H1", coverage)
    again = deliver(drafts, report, tmp_path / "out", "2023-H1", coverage)
    assert again.repeated and again.emailed_to == report.delivery.owners
    assert len(inbox.envelopes) == 2  # once per changed draft
    message = email.message_from_bytes(inbox.envelopes[1].original_content, policy=policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "của Đảng ủy Khối Cơ quan và Doanh nghiệp tỉnh, kỳ 2023-H1" in body


def test_unreachable_server_raises_after_the_outbox_copy(
    drafts: list[Path], tmp_path: Path
) -> None:
    report = ReportSettings(
        delivery=DeliverySettings(smtp_host="127.0.0.1", smtp_port=_closed_port(), owners=["a@b.c"])
    )
    with pytest.raises(OSError):
        deliver(drafts, report, tmp_path / "out", "2023-H1")
    # the draft is in the outbox all the same
    assert list((tmp_path / "out" / "outbox").glob("*/bao-cao.docx"))
