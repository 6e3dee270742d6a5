"""Tell the operator when a flow run fails: email (SMTP) and/or a webhook, Vietnamese and English.

The flows attach `notify_failure` as their `on_failure` hook, and as their `on_crashed` hook,
which the process worker runs when the run's process dies (killed, out of memory). Where to
send comes from the `notify:` block of the run's settings file (parameter `settings`, or the
`TONGHOP_SETTINGS` environment variable); the SMTP password from a Prefect Secret block or an
environment variable.
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.request
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from tonghop.settings import NotifySettings, load_settings, settings_path

# Headers folded only past SMTP's line limit: Python 3.11's folding of a long Vietnamese subject
# into several encoded words can drop the space between two of them ("…/icy-turkeybị lỗi").
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def smtp_password(settings: NotifySettings) -> str | None:
    """The SMTP password from the Secret block named in the settings, else the named variable."""
    if settings.smtp_password_block:
        from prefect.blocks.system import Secret

        return str(Secret.load(settings.smtp_password_block).get())
    if settings.smtp_password_env:
        return os.environ.get(settings.smtp_password_env)
    return None


def send_email(
    settings: NotifySettings, to: list[str], subject: str, body: str, timeout: float = 30
) -> None:
    """Send one plain-text message through the notification SMTP server."""
    if not settings.smtp_host:
        raise ValueError("chưa đặt máy chủ SMTP (notify.smtp_host)")
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    msg.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, smtp_password(settings) or "")
        smtp.send_message(msg)


def failure_message(flow_name: str, run_name: str, link: str, error: str) -> tuple[str, str]:
    """Subject and body of a failure notice, Vietnamese first, then English.

    >>> subject, body = failure_message("tonghop-collect", "red-fox", "http://x/runs/1", "boom")
    >>> subject
    '[tonghop] Lần chạy tonghop-collect/red-fox bị lỗi / run failed'
    """
    subject = f"[tonghop] Lần chạy {flow_name}/{run_name} bị lỗi / run failed"
    body = "\n".join(
        [
            f"Lần chạy '{run_name}' của quy trình '{flow_name}' đã dừng vì lỗi.",
            f"Lỗi: {error}",
            f"Xem chi tiết: {link}",
            "Các tệp đã nhận được giữ nguyên trong kho lưu; sửa nguyên nhân rồi chạy lại "
            "(chạy lại không tính trùng số liệu).",
            "",
            f"Run '{run_name}' of flow '{flow_name}' failed.",
            f"Error: {error}",
            f"Details: {link}",
            "Files received are kept in the archive; fix the cause and rerun "
            "(a rerun counts nothing twice).",
        ]
    )
    return subject, body


def run_link(flow_run_id: str) -> str:
    """The run's page in the Prefect UI, or its API address when no UI URL is known."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    if ui:
        return f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}"
    api = PREFECT_API_URL.value() or "(Prefect API)"
    return f"{api.rstrip('/')}/flow_runs/{flow_run_id}"


def notify(settings: NotifySettings, subject: str, body: str, payload: dict[str, Any]) -> list[str]:
    """Send the notice to every configured channel; return those it went to."""
    sent: list[str] = []
    if settings.smtp_host and settings.operators:
        send_email(settings, settings.operators, subject, body)
        sent += settings.operators
    if settings.webhook_url:
        request = urllib.request.Request(
            settings.webhook_url,
            data=json.dumps(payload | {"text": f"{subject}\n{body}"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30):
            pass
        sent.append(settings.webhook_url)
    return sent


def _settings_path(parameters: dict[str, Any]) -> Path | None:
    params = parameters.get("params")
    path = getattr(params, "settings", None)
    if path is None and isinstance(params, dict):
        path = params.get("settings")
    return settings_path(path)


def notify_failure(flow, flow_run, state) -> None:  # noqa: ANN001 - Prefect's hook signature
    """`on_failure` hook: notify the operator of the failed run, with its link and error."""
    from prefect.logging import get_logger

    logger = get_logger("tonghop.notify")
    try:
        settings = load_settings(_settings_path(flow_run.parameters or {})).notify
        error = state.message or state.name
        link = run_link(str(flow_run.id))
        subject, body = failure_message(flow.name, flow_run.name, link, error)
        payload = {"flow": flow.name, "run": flow_run.name, "link": link, "error": error}
        sent = notify(settings, subject, body, payload)
    except Exception:  # the run has failed already; a notice that fails must not hide that
        logger.exception("Không gửi được thông báo lỗi / could not send the failure notice")
        return
    if sent:
        logger.info("Đã báo lỗi tới / failure notice sent to: %s", ", ".join(sent))
    else:
        logger.warning("Chưa đặt nơi nhận báo lỗi (notify:) / no failure notice configured")
