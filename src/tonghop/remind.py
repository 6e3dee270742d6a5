"""Remind the units that have not submitted (or must resubmit), N days before and after the due
date; each send is recorded in an append-only table so a unit never gets the same reminder twice
on one day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from tonghop.db import insert_rows, transaction
from tonghop.notify import send_email
from tonghop.settings import ReportSettings
from tonghop.status import unit_status

SCHEMA = """
create table if not exists reminders_sent (  -- append-only: one row per reminder sent
    unit_code  varchar not null,
    period     varchar not null,
    reason     varchar not null,             -- missing | rejected
    sent_on    date not null,
    sent_at    timestamp not null,
    email      varchar not null,
    due_date   date not null,
    days       integer not null               -- days from the due date (negative: before)
);
"""


@dataclass(frozen=True)
class Reminder:
    """One reminder to send (or sent): which unit, why, to whom."""

    unit_code: str
    name: str
    email: str | None
    reason: str
    days: int


def due_reminders(
    con: duckdb.DuckDBPyConnection, period: str, due: dt.date, today: dt.date, offsets: list[int]
) -> list[Reminder]:
    """The reminders today calls for: none unless today is one of the offsets from the due date;
    then one per unit still missing or rejected and not yet reminded today for that reason."""
    days = (today - due).days
    if days not in offsets:
        return []
    con.execute(SCHEMA)
    emails = dict(
        con.execute("select unit_code, contact_email from unit_contacts").fetchall()
        if _has_table(con, "unit_contacts")
        else []
    )
    sent = set(
        con.execute(
            "select unit_code, reason from reminders_sent where period = ? and sent_on = ?",
            [period, today],
        ).fetchall()
    )
    return [
        Reminder(s.unit_code, s.name, emails.get(s.unit_code), s.status, days)
        for s in unit_status(con, period, due)
        if s.status in ("missing", "rejected") and (s.unit_code, s.status) not in sent
    ]


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [table]
        ).fetchone()[0]
    )


def reminder_text(
    reminder: Reminder, period: str, due: dt.date, settings: ReportSettings
) -> tuple[str, str]:
    """Subject and Vietnamese body of a reminder."""
    when = due.strftime("%d/%m/%Y")
    if reminder.reason == "rejected":
        subject = f"Đề nghị nộp lại báo cáo kỳ {period}"
        ask = (
            f"báo cáo kỳ {period} của đơn vị đã bị trả lại; đề nghị đơn vị sửa theo thư phản hồi "
            "và nộp lại"
        )
    elif reminder.days < 0:
        subject = f"Nhắc nộp báo cáo kỳ {period} (hạn {when})"
        ask = f"đến nay đơn vị chưa nộp báo cáo kỳ {period}; hạn nộp là ngày {when}"
    else:
        subject = f"Báo cáo kỳ {period} đã quá hạn ({when})"
        ask = (
            f"báo cáo kỳ {period} của đơn vị đã quá hạn nộp ({when}) {reminder.days} ngày; "
            "đề nghị đơn vị nộp ngay"
        )
    body = "\n".join(
        [
            f"Kính gửi {reminder.name},",
            "",
            # as the settings write it: title-casing a Vietnamese name breaks it
            f"Văn phòng {settings.issuing_body} thông báo: {ask}.",
            "Nếu đơn vị đã gửi trong hôm nay, xin bỏ qua thư này.",
            "",
            "(Thư gửi tự động từ tonghop.)",
        ]
    )
    return subject, body


def send_reminders(
    con: duckdb.DuckDBPyConnection,
    settings: ReportSettings,
    period: str,
    today: dt.date,
) -> tuple[list[Reminder], list[Reminder]]:
    """Send today's reminders of a period; return (sent, units without an email address).

    Each sent reminder is recorded at once, so a failure halfway leaves the sent ones recorded
    and a rerun sends only the rest. Without a mail server nothing is sent (`quiet_reason` says
    so)."""
    due = settings.schedule.due(period)
    if due is None or not settings.notify.smtp_host:
        return [], []
    reminders = due_reminders(con, period, due, today, settings.schedule.remind_days)
    sent, no_address = [], []
    for reminder in reminders:
        if not reminder.email:
            no_address.append(reminder)
            continue
        subject, body = reminder_text(reminder, period, due, settings)
        send_email(settings.notify, [reminder.email], subject, body)
        with transaction(con):
            insert_rows(
                con,
                "reminders_sent",
                [
                    [
                        reminder.unit_code,
                        period,
                        reminder.reason,
                        today,
                        dt.datetime.now(),
                        reminder.email,
                        due,
                        reminder.days,
                    ]
                ],
            )
        sent.append(reminder)
    return sent, no_address


def quiet_reason(
    con: duckdb.DuckDBPyConnection, settings: ReportSettings, period: str, today: dt.date
) -> str:
    """Why a day's reminders of a period sent no letter, in Vietnamese for the run's log."""
    due = settings.schedule.due(period)
    if due is None:
        return (
            f"kỳ {period} chưa có hạn nộp trong thiết lập (schedule.due_dates); nếu đã sang kỳ "
            "mới, thêm hạn nộp của kỳ đó (docs/operations.md, Sang kỳ mới)"
        )
    days = (today - due).days
    offsets = sorted(settings.schedule.remind_days)
    when = f"hạn {due.strftime('%d/%m/%Y')}, nhắc vào các ngày {offsets} so với hạn"
    if days not in offsets:
        if offsets and days < offsets[0]:
            return f"kỳ {period} chưa đến hạn nhắc ({when})"
        if offsets and days > offsets[-1]:
            return f"kỳ {period} đã qua lần nhắc cuối ({when}); kỳ đang nhắc có đúng không?"
        return f"hôm nay không phải ngày nhắc của kỳ {period} ({when})"
    if not settings.notify.smtp_host:
        pending = len(due_reminders(con, period, due, today, offsets))
        return (
            f"chưa cấu hình SMTP (notify.smtp_host): {pending} đơn vị cần nhắc kỳ {period} "
            "chưa được gửi thư"
        )
    return (
        f"không có đơn vị nào thiếu báo cáo kỳ {period} hoặc phải nộp lại mà chưa được nhắc hôm nay"
    )
