"""Deliver the draft: copy it into an outbox folder and, when a server is set, email it.

Every run gets its own outbox folder (`<outbox>/<timestamp>/`), so a draft already sent is
never overwritten. Email uses the standard library only (smtplib, email.message).
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
import shutil
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from tonghop.settings import DeliverySettings, ReportSettings

OUTBOX_NAME = "outbox"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Delivery:
    """What was delivered: the outbox folder, its files, and who was emailed."""

    outbox: Path
    files: list[Path]
    emailed_to: list[str] = field(default_factory=list)


def outbox_folder(settings: DeliverySettings, out: Path, now: dt.datetime | None = None) -> Path:
    """This run's outbox folder: `<outbox or OUT/outbox>/<YYYYMMDD-HHMMSS>[-n]/`, created."""
    root = Path(settings.outbox) if settings.outbox else Path(out) / OUTBOX_NAME
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder, n = root / stamp, 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    return folder


def copy_to_outbox(files: Iterable[Path], folder: Path) -> list[Path]:
    """Copy the draft files into the outbox folder; return the copies."""
    copies = []
    for path in files:
        target = folder / Path(path).name
        shutil.copy2(path, target)
        copies.append(target)
    return copies


def build_message(
    files: Iterable[Path],
    report: ReportSettings,
    period: str,
    coverage: Mapping[str, Any] | None = None,
) -> EmailMessage:
    """The email to the report owners: a Vietnamese subject and body, the drafts attached."""
    delivery = report.delivery
    msg = EmailMessage()
    msg["Subject"] = f"Dự thảo báo cáo số {report.number} (kỳ {period})"
    msg["From"] = delivery.sender
    msg["To"] = ", ".join(delivery.owners)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=delivery.sender.rpartition("@")[2] or None)
    files = list(files)
    lines = [
        "Kính gửi các đồng chí,",
        "",
        f"tonghop gửi kèm dự thảo {report.title.lower()} số {report.number} của "
        f"{report.issuing_body.title()}, kỳ {period}, do hệ thống tổng hợp từ số liệu của "
        "các TCCSĐ.",
    ]
    if coverage and coverage.get("units_expected") is not None:
        lines.append(
            f"Số liệu tổng hợp từ {coverage.get('units_included')}/"
            f"{coverage.get('units_expected')} TCCSĐ; phần ghi chú phạm vi số liệu ở đầu dự "
            "thảo nêu các đơn vị chưa nộp hoặc chưa đạt kiểm tra."
        )
    lines += [
        "Các đoạn trong ngoặc vuông [ ] là phần cơ quan soạn thảo cần bổ sung.",
        "Sau khi chỉnh sửa, có thể kiểm tra lại số liệu bằng lệnh: tonghop check-draft <tệp>.",
        "",
        "Tệp đính kèm: " + ", ".join(p.name for p in files) + ".",
        "",
        "(Thư gửi tự động từ tonghop.)",
    ]
    msg.set_content("\n".join(lines))
    for path in files:
        ctype = DOCX_TYPE if path.suffix == ".docx" else mimetypes.guess_type(path.name)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        if maintype == "text":
            msg.add_attachment(
                path.read_text(encoding="utf-8"), subtype=subtype, filename=path.name
            )
        else:
            msg.add_attachment(
                path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
            )
    return msg


def send_message(msg: EmailMessage, settings: DeliverySettings, timeout: float = 30) -> None:
    """Send one message through the configured SMTP server."""
    if not settings.smtp_host:
        raise ValueError("chưa đặt máy chủ SMTP (delivery.smtp_host)")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            password = os.environ.get(settings.smtp_password_env or "", "")
            smtp.login(settings.smtp_username, password)
        smtp.send_message(msg)


def deliver(
    files: Iterable[Path],
    report: ReportSettings,
    out: Path,
    period: str,
    coverage: Mapping[str, Any] | None = None,
    email: bool = True,
) -> Delivery:
    """Copy the drafts to a new outbox folder; email them too when `email` and configured."""
    folder = outbox_folder(report.delivery, out)
    delivered = Delivery(outbox=folder, files=copy_to_outbox(files, folder))
    if email and report.delivery.email_enabled:
        delivered.emailed_to = send_draft(delivered, report, period, coverage)
    return delivered


def send_draft(
    delivered: Delivery,
    report: ReportSettings,
    period: str,
    coverage: Mapping[str, Any] | None = None,
) -> list[str]:
    """Email the outbox's files to the report owners; return who they went to."""
    send_message(build_message(delivered.files, report, period, coverage), report.delivery)
    delivered.emailed_to = list(report.delivery.owners)
    return delivered.emailed_to


def artifact_markdown(delivery: Delivery, period: str) -> str:
    """The Prefect artifact that links the draft: one line per file, and who received it."""
    lines = [f"# Dự thảo báo cáo kỳ {period}", "", f"Hộp thư đi: `{delivery.outbox}`", ""]
    lines += [f"- [{p.name}]({p.resolve().as_uri()})" for p in delivery.files]
    lines.append("")
    if delivery.emailed_to:
        lines.append("Đã gửi email tới: " + ", ".join(delivery.emailed_to))
    else:
        lines.append("Không gửi email (chưa đặt máy chủ SMTP hoặc người nhận).")
    return "\n".join(lines) + "\n"
