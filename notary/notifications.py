"""Notifications: records of what to tell whom and when, and the senders that deliver them.

A notification is a row first (booked, rescheduled, cancelled, reminders 24 h and 1 h before);
a dispatcher sends the due ones later, in small batches. Each row is claimed before sending by
moving its `next_attempt_at` forward in a conditional UPDATE, so two dispatchers (two nodes)
never send the same one at once; a failure is retried with back-off up to MAX_ATTEMPTS.
Delivery is at least once: a crash after a sender accepted a message but before the row was
marked sent makes it go out again after the claim expires.

The message text is written at send time from the appointment as it is then, in the recipient's
own time zone, and never contains more than a masked address in any log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notary.tables import accounts, appointments, notifications, offices
from notary.timezones import TimeZoneError, in_zone, zone

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CLAIM_SECONDS = 120  # a claimed row is left alone this long; longer than any send may take
RETRY_BASE_SECONDS = 60  # 1, 2, 4, 8 minutes between attempts
DEFAULT_BATCH = 50
REMINDERS = (("reminder_24h", dt.timedelta(hours=24)), ("reminder_1h", dt.timedelta(hours=1)))
MAX_ERROR_CHARS = 200
SENT_KEPT = 1000
MARK_RETRIES = 5


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Kind(StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    REMINDER_24H = "reminder_24h"
    REMINDER_1H = "reminder_1h"


class SendError(Exception):
    """A sender could not deliver; the message is kept for people and the log (no secrets)."""


@dataclass(frozen=True)
class Message:
    notification_id: str
    channel: Channel
    address: str  # e-mail address or phone number: never logged in full
    subject: str
    text: str


class EmailSender(Protocol):
    async def send_email(self, to: str, subject: str, text: str) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, to: str, text: str) -> None: ...


def mask_address(address: str) -> str:
    """'l***@example.org' or '+86******1234': enough to tell two apart, not to reach anyone."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:3]}{'*' * max(0, len(address) - 7)}{address[-4:]}"


class LogSender:
    """E-mail and SMS to the log, for development and tests: masked address, no message body."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log
        # (channel, masked address) of the latest sends, for tests and ops; bounded, as this
        # sender lives as long as the server.
        self.sent: deque[tuple[str, str]] = deque(maxlen=SENT_KEPT)

    async def send_email(self, to: str, subject: str, text: str) -> None:
        self._record("email", to, len(text))

    async def send_sms(self, to: str, text: str) -> None:
        self._record("sms", to, len(text))

    def _record(self, channel: str, to: str, length: int) -> None:
        masked = mask_address(to)
        self.sent.append((channel, masked))
        # The body may name a case or a time; its length is all the log needs.
        self._log.info(
            "notification sent to the log",
            extra={"channel": channel, "to": masked, "chars": length},
        )


@dataclass(frozen=True)
class Senders:
    email: EmailSender
    sms: SmsSender

    async def deliver(self, message: Message) -> None:
        if message.channel is Channel.EMAIL:
            await self.email.send_email(message.address, message.subject, message.text)
        else:
            await self.sms.send_sms(message.address, message.text)


def log_senders() -> Senders:
    sender = LogSender()
    return Senders(email=sender, sms=sender)


# --- scheduling ---------------------------------------------------------------------------------


async def _channel_of(conn: AsyncConnection, account_id: str) -> Channel:
    row = (
        await conn.execute(
            sa.select(accounts.c.email, accounts.c.phone).where(accounts.c.id == account_id)
        )
    ).one()
    return Channel.EMAIL if row.email else Channel.SMS


async def schedule(
    conn: AsyncConnection,
    *,
    appointment_id: str,
    recipients: Sequence[str],
    kind: Kind,
    version: int,
    due_at: dt.datetime,
    now: dt.datetime,
) -> int:
    """One notification per recipient; a second call with the same arguments adds nothing.

    `version` is the appointment's reschedule count, so a rescheduled appointment gets fresh
    reminders while the old ones stay on record as cancelled.
    """
    made = 0
    for recipient in dict.fromkeys(recipients):  # unique, in order
        key = f"{appointment_id}:{version}:{kind.value}:{recipient}"
        exists = await conn.scalar(
            sa.select(notifications.c.id).where(notifications.c.dedupe_key == key)
        )
        if exists is not None:
            continue
        await conn.execute(
            notifications.insert().values(
                id=str(uuid.uuid4()),
                appointment_id=appointment_id,
                recipient_id=recipient,
                channel=(await _channel_of(conn, recipient)).value,
                kind=kind.value,
                dedupe_key=key,
                due_at=due_at,
                state="pending",
                attempts=0,
                next_attempt_at=due_at,
                created_at=now,
            )
        )
        made += 1
    return made


async def schedule_for_appointment(
    conn: AsyncConnection,
    *,
    appointment_id: str,
    recipients: Sequence[str],
    notice: Kind,
    version: int,
    starts_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """The notice now, and each reminder that still lies in the future."""
    await schedule(
        conn,
        appointment_id=appointment_id,
        recipients=recipients,
        kind=notice,
        version=version,
        due_at=now,
        now=now,
    )
    if notice is Kind.CANCELLED:
        return
    for kind, before in REMINDERS:
        due = starts_at - before
        if due > now:
            await schedule(
                conn,
                appointment_id=appointment_id,
                recipients=recipients,
                kind=Kind(kind),
                version=version,
                due_at=due,
                now=now,
            )


async def cancel_pending(conn: AsyncConnection, appointment_id: str) -> int:
    """Withdraw what was not sent yet (the time changed, or the appointment is off)."""
    result = await conn.execute(
        notifications.update()
        .where(
            notifications.c.appointment_id == appointment_id,
            notifications.c.state == "pending",
        )
        .values(state="cancelled")
    )
    return result.rowcount or 0


async def for_appointment(conn: AsyncConnection, appointment_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(notifications)
        .where(notifications.c.appointment_id == appointment_id)
        .order_by(notifications.c.due_at, notifications.c.kind, notifications.c.recipient_id)
    )
    return [dict(row._mapping) for row in rows]


# --- dispatching --------------------------------------------------------------------------------

_SUBJECTS: Mapping[str, tuple[str, str]] = {
    "booked": ("视频公证面谈已预约", "Video notarization interview booked"),
    "rescheduled": ("视频公证面谈已改期", "Video notarization interview rescheduled"),
    "cancelled": ("视频公证面谈已取消", "Video notarization interview cancelled"),
    "reminder_24h": ("提醒：明天视频公证面谈", "Reminder: video interview tomorrow"),
    "reminder_1h": ("提醒：一小时后视频公证面谈", "Reminder: video interview in one hour"),
}


def compose(kind: str, starts_at: dt.datetime, zone_name: str) -> tuple[str, str]:
    """Subject and bilingual text, the time in the recipient's zone with its name."""
    try:
        tz = zone(zone_name)
    except TimeZoneError:
        tz, zone_name = zone("UTC"), "UTC"
    local = in_zone(starts_at, tz).strftime("%Y-%m-%d %H:%M")
    zh, en = _SUBJECTS[kind]
    text = f"{zh}：{local}（{zone_name}）。\n{en}: {local} ({zone_name})."
    return f"{zh} / {en}", text


async def _message(conn: AsyncConnection, row: sa.Row[Any]) -> Message:
    appointment = (
        await conn.execute(sa.select(appointments).where(appointments.c.id == row.appointment_id))
    ).one()
    person = (
        await conn.execute(sa.select(accounts).where(accounts.c.id == row.recipient_id))
    ).one()
    if person.id == appointment.applicant_id:
        zone_name = appointment.applicant_timezone
    else:  # staff read their own office's clock
        office = person.office_id or appointment.office_id
        zone_name = await conn.scalar(sa.select(offices.c.timezone).where(offices.c.id == office))
    subject, text = compose(row.kind, appointment.starts_at, str(zone_name))
    address = person.email if row.channel == Channel.EMAIL.value else person.phone
    if not address:
        raise SendError(f"the recipient has no {row.channel} address")
    return Message(row.id, Channel(row.channel), address, subject, text)


def _locked(exc: OperationalError) -> bool:
    """SQLite's refusal of a second writer (its snapshot went stale); worth trying again."""
    return "locked" in str(exc.orig)


async def _claim(engine: AsyncEngine, now: dt.datetime, batch: int) -> list[str]:
    """Ids of due rows this dispatcher now owns; none when another writer was in the way."""
    try:
        return await _claim_once(engine, now, batch)
    except OperationalError as exc:
        if not _locked(exc):
            raise
        return []  # nothing was claimed (the transaction rolled back); next round will


async def _claim_once(engine: AsyncEngine, now: dt.datetime, batch: int) -> list[str]:
    """Claim due rows for CLAIM_SECONDS with conditional UPDATEs, in one transaction."""
    claimed: list[str] = []
    until = now + dt.timedelta(seconds=CLAIM_SECONDS)
    async with engine.begin() as conn:
        due = await conn.execute(
            sa.select(notifications.c.id, notifications.c.next_attempt_at)
            .where(notifications.c.state == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at)
            .limit(batch)
        )
        for row in due.all():
            result = await conn.execute(
                notifications.update()
                .where(
                    notifications.c.id == row.id,
                    notifications.c.state == "pending",
                    notifications.c.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=until, attempts=notifications.c.attempts + 1)
            )
            if result.rowcount == 1:
                claimed.append(row.id)
    return claimed


async def dispatch_due(
    engine: AsyncEngine, senders: Senders, *, now: dt.datetime, batch: int = DEFAULT_BATCH
) -> dict[str, int]:
    """Send what is due, at most `batch`; returns counts by outcome (sent, retry, failed)."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for notification_id in await _claim(engine, now, batch):
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(notifications).where(notifications.c.id == notification_id)
                )
            ).one()
            try:
                message = await _message(conn, row)
            except SendError as exc:
                error: str | None = str(exc)
                message = None
        if message is not None:
            try:
                await senders.deliver(message)
                error = None
            except SendError as exc:
                error = str(exc)
            except Exception as exc:  # a sender's own bug must not stop the others
                log.exception("notification sender failed", extra={"id": notification_id})
                error = f"{type(exc).__name__}"
        if error is None:
            values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
            counts["sent"] += 1
        elif row.attempts >= MAX_ATTEMPTS:  # `attempts` counts this one (see _claim)
            values = {"state": "failed", "last_error": error[:MAX_ERROR_CHARS]}
            counts["failed"] += 1
        else:
            delay = RETRY_BASE_SECONDS * 2 ** (row.attempts - 1)
            values = {
                "next_attempt_at": now + dt.timedelta(seconds=delay),
                "last_error": error[:MAX_ERROR_CHARS],
            }
            counts["retry"] += 1
        await _record(engine, notification_id, values)
    return counts


async def _record(engine: AsyncEngine, notification_id: str, values: dict[str, Any]) -> None:
    """Write the outcome; retried when SQLite is busy, as a lost "sent" means sending again."""
    for attempt in range(MARK_RETRIES):
        try:
            async with engine.begin() as conn:
                # Only if still ours: a cancellation meanwhile wins over a late "sent".
                await conn.execute(
                    notifications.update()
                    .where(
                        notifications.c.id == notification_id, notifications.c.state == "pending"
                    )
                    .values(**values)
                )
            return
        except OperationalError as exc:
            if not _locked(exc) or attempt == MARK_RETRIES - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
