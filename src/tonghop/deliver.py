"""Deliver the draft: copy it into an outbox folder and, when a server is set, email it.

A draft is delivered once: each changed draft gets its own outbox folder
(`<outbox>/<timestamp>/`), so a draft already sent is never overwritten, and is emailed once. A
run whose draft is the one last delivered (the same text, the same owners) copies nothing and
sends nothing; OUT's `LAST_DELIVERY` file remembers what went out. Email uses the
standard library only (smtplib, email.message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
import os
import shutil
import smtplib
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tonghop.notify import MAIL_POLICY
from tonghop.settings import DeliverySettings, ReportSettings

OUTBOX_NAME = "outbox"
# In OUT: the last delivered draft's digest, outbox folder and who received it.
LAST_DELIVERY = ".lan-gui-cuoi.json"
# The formats whose text is the draft: the .docx is rendered from the same text, its zip's
# bytes carry no more.
DIGEST_SUFFIXES = (".md", ".html")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Delivery:
    """What was delivered: the outbox folder, its files, and who was emailed."""

    outbox: Path
    files: list[Path]
    emailed_to: list[str] = field(default_factory=list)
    digest: str = ""
    # The draft was the one delivered last time: nothing was copied (and, when it was emailed
    # to the same owners, nothing is sent).
    repeated: bool = False
    delivered_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "outbox": str(self.outbox),
            "files": [p.name for p in self.files],
            "emailed_to": self.emailed_to,
            "delivered_at": self.delivered_at,
        }


def outbox_root(settings: DeliverySettings, out: Path) -> Path:
    """The outbox: `delivery.outbox`, else OUT/outbox."""
    return Path(settings.outbox) if settings.outbox else Path(out) / OUTBOX_NAME


def outbox_folder(settings: DeliverySettings, out: Path, now: dt.datetime | None = None) -> Path:
    """This run's outbox folder: `<outbox or OUT/outbox>/<YYYYMMDD-HHMMSS>[-n]/`, created."""
    root = outbox_root(settings, out)
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
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = f"Dự thảo báo cáo số {report.number} (kỳ {period})"
    msg["From"] = delivery.sender
    msg["To"] = ", ".join(delivery.owners)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=delivery.sender.rpartition("@")[2] or None)
    files = list(files)
    lines = [
        "Kính gửi các đồng chí,",
        "",
        # Names as the settings write them: title-casing a Vietnamese name breaks it.
        f"tonghop gửi kèm dự thảo {report.title.lower()} số {report.number} của "
        f"{report.issuing_body}, kỳ {period}, do hệ thống tổng hợp từ số liệu của "
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
    """Copy the drafts to a new outbox folder, unless they are the draft delivered last time;
    email them too when `email`, configured and not yet sent to these owners."""
    files = list(files)
    digest = draft_digest(files)
    last = last_delivery(out)
    if last is not None and last.digest == digest:
        delivered = last
        delivered.repeated = True
    else:
        folder = outbox_folder(report.delivery, out)
        delivered = Delivery(outbox=folder, files=copy_to_outbox(files, folder), digest=digest)
        delivered.delivered_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        remember(delivered, out)
    if email and needs_email(delivered, report.delivery):
        send_draft(delivered, report, period, coverage)
        remember(delivered, out)
    return delivered


def draft_digest(files: Iterable[Path]) -> str:
    """The sha256 of the draft's text (its .md and .html, by name): equal for equal drafts."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in files):
        if path.suffix in DIGEST_SUFFIXES:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def needs_email(delivered: Delivery, settings: DeliverySettings) -> bool:
    """Email is configured and this draft has not yet gone to every owner."""
    return settings.email_enabled and not set(settings.owners) <= set(delivered.emailed_to)


def last_delivery(out: Path) -> Delivery | None:
    """The draft delivered last (its outbox folder still there), or None."""
    try:
        record = json.loads((Path(out) / LAST_DELIVERY).read_text("utf-8"))
        folder = Path(record["outbox"])
        files = [folder / name for name in record["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(p.is_file() for p in files):  # the copy was removed: deliver it again
        return None
    return Delivery(
        outbox=folder,
        files=files,
        emailed_to=list(record.get("emailed_to") or []),
        digest=str(record.get("digest") or ""),
        delivered_at=str(record.get("delivered_at") or ""),
    )


def remember(delivered: Delivery, out: Path) -> None:
    """Record the delivery as the last one (written whole, then renamed into place)."""
    path = Path(out) / LAST_DELIVERY
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(delivered.to_json(), ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)


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


def published_url(path: Path, out: Path, base_url: str | None) -> str | None:
    """The file's address under `delivery.base_url` (where OUT is published), or None when
    there is no such address or the file lies outside OUT.

    >>> published_url(Path("/srv/out/outbox/1/bao-cao.docx"), Path("/srv/out"), "https://t.vn/th")
    'https://t.vn/th/outbox/1/bao-cao.docx'
    """
    if not base_url:
        return None
    try:
        relative = Path(path).resolve().relative_to(Path(out).resolve())
    except ValueError:
        return None
    return base_url.rstrip("/") + "/" + quote(relative.as_posix())


def artifact_markdown(
    delivery: Delivery, period: str, out: Path | None = None, base_url: str | None = None
) -> str:
    """The Prefect artifact that names the draft: one line per file (a link when OUT is
    published at `base_url`, else its path on the machine that ran the flow, never a file://
    link a browser elsewhere cannot open), and who received it."""
    host = socket.gethostname()
    lines = [f"# Dự thảo báo cáo kỳ {period}", "", f"Hộp thư đi: `{delivery.outbox}` (máy {host})"]
    if delivery.repeated:
        lines.append(
            f"Dự thảo không đổi so với lần gửi {delivery.delivered_at}: không sao chép, không "
            "gửi lại."
        )
    lines.append("")
    for p in delivery.files:
        url = published_url(p, out, base_url) if out is not None else None
        lines.append(f"- [{p.name}]({url})" if url else f"- `{p}`")
    lines.append("")
    if delivery.emailed_to:
        lines.append("Đã gửi email tới: " + ", ".join(delivery.emailed_to))
    else:
        lines.append("Không gửi email (chưa đặt máy chủ SMTP hoặc người nhận).")
    return "\n".join(lines) + "\n"
