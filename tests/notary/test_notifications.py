"""notary/notifications: records, senders, and a dispatcher that sends each one once."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import availability, booking, notifications
from notary.notifications import LogSender, SendError, Senders, compose, mask_address
from notary.tables import notifications as notifications_table
from tests.notary.booking_world import World, accepted_case, make_world, utc

NOW = utc(2026, 3, 2)
AT = utc(2026, 3, 9, 1)  # Monday 09:00 in Shanghai, Sunday 21:00 in New York (EDT)


class Recorder:
    """Remembers what it was asked to send; fails the first `fail` times."""

    def __init__(self, fail: int = 0, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.sent: list[tuple[str, str, str]] = []

    async def send_email(self, to: str, subject: str, text: str) -> None:
        await self._send("email", to, text)

    async def send_sms(self, to: str, text: str) -> None:
        await self._send("sms", to, text)

    async def _send(self, channel: str, to: str, text: str) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise SendError("gateway said 503")
        self.sent.append((channel, to, text))


def senders(recorder: Recorder) -> Senders:
    return Senders(email=recorder, sms=recorder)


@pytest.mark.unit
def test_addresses_are_masked() -> None:
    assert mask_address("wang.li@example.org") == "w***@example.org"
    assert mask_address("+8613812345678") == "+86*******5678"
    assert "1234567" not in mask_address("+8613812345678")


@pytest.mark.unit
def test_message_shows_the_time_in_the_recipients_zone() -> None:
    subject, text = compose("reminder_24h", AT, "America/New_York")
    assert "2026-03-08 21:00" in text and "America/New_York" in text
    assert "Reminder" in subject and "提醒" in subject
    _, shanghai = compose("booked", AT, "Asia/Shanghai")
    assert "2026-03-09 09:00" in shanghai


@pytest.mark.unit
async def test_log_sender_logs_neither_address_nor_body(caplog: pytest.LogCaptureFixture) -> None:
    sender = LogSender()
    with caplog.at_level(logging.INFO, logger="notary.notifications"):
        await sender.send_sms("+8613812345678", "面谈 secret-case-text")
        await sender.send_email("wang@example.org", "s", "secret-case-text")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "13812345678" not in logged and "wang@" not in logged
    assert "secret-case-text" not in logged
    assert list(sender.sent) == [("sms", "+86*******5678"), ("email", "w***@example.org")]


async def _booked(engine: AsyncEngine) -> tuple[World, str]:
    async with engine.begin() as conn:
        world = await make_world(conn)
        case_id = await accepted_case(conn, world)
        await availability.publish(
            conn,
            account_id=world.notary,
            weekday=0,
            on_date=None,
            start_minute=540,
            end_minute=600,
            now=NOW,
        )
        appointment = await booking.book(
            conn,
            case_id=case_id,
            actor_id=world.applicant,
            actor_role="applicant",
            starts_at=AT,
            applicant_timezone="America/New_York",
            now=NOW,
        )
    return world, appointment.id


@pytest.mark.integration
async def test_due_notifications_go_out_once_each(engine: AsyncEngine) -> None:
    _, appointment_id = await _booked(engine)
    recorder = Recorder()
    counts = await notifications.dispatch_due(engine, senders(recorder), now=NOW)
    assert counts == {"sent": 2, "retry": 0, "failed": 0}  # "booked" to applicant and notary
    by_address = {to: (channel, text) for channel, to, text in recorder.sent}
    assert by_address["+12125550123"][0] == "sms"
    assert "2026-03-08 21:00 (America/New_York)" in by_address["+12125550123"][1]
    assert "2026-03-09 09:00 (Asia/Shanghai)" in by_address["wang@office.example"][1]

    # Nothing more until a reminder is due; then each goes once, however often we run.
    assert await notifications.dispatch_due(engine, senders(recorder), now=NOW) == {
        "sent": 0,
        "retry": 0,
        "failed": 0,
    }
    day_before = utc(2026, 3, 8, 1)
    await notifications.dispatch_due(engine, senders(recorder), now=day_before)
    await notifications.dispatch_due(engine, senders(recorder), now=day_before)
    assert len(recorder.sent) == 4
    async with engine.connect() as conn:
        rows = await notifications.for_appointment(conn, appointment_id)
    sent = sorted((r["kind"], r["state"]) for r in rows)
    assert sent.count(("reminder_24h", "sent")) == 2
    assert sent.count(("reminder_1h", "pending")) == 2


@pytest.mark.integration
async def test_two_dispatchers_at_once_send_each_once(engine: AsyncEngine) -> None:
    await _booked(engine)
    recorder = Recorder(delay=0.05)
    results = await asyncio.gather(
        notifications.dispatch_due(engine, senders(recorder), now=NOW),
        notifications.dispatch_due(engine, senders(recorder), now=NOW),
    )
    assert sum(r["sent"] for r in results) == 2
    assert len(recorder.sent) == 2


@pytest.mark.integration
async def test_failures_are_retried_with_back_off_then_given_up(engine: AsyncEngine) -> None:
    await _booked(engine)
    recorder = Recorder(fail=2)
    first = await notifications.dispatch_due(engine, senders(recorder), now=NOW, batch=1)
    assert first == {"sent": 0, "retry": 1, "failed": 0}
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(notifications_table).where(notifications_table.c.attempts == 1)
            )
        ).one()
    assert row.state == "pending" and row.last_error == "gateway said 503"
    assert row.next_attempt_at == NOW + dt.timedelta(seconds=notifications.RETRY_BASE_SECONDS)
    # Not before the back-off has passed.
    later = NOW + dt.timedelta(seconds=30)
    assert (await notifications.dispatch_due(engine, senders(recorder), now=later))["retry"] == 1
    # (that was the other, never-tried row failing once: the recorder fails twice in all)
    done = await notifications.dispatch_due(
        engine, senders(recorder), now=NOW + dt.timedelta(hours=1)
    )
    assert done["sent"] == 2

    # A sender that never works: failed after MAX_ATTEMPTS, with the reason kept.
    broken = Recorder(fail=10_000)
    moment = utc(2026, 3, 8, 1)
    outcomes = []
    for _ in range(notifications.MAX_ATTEMPTS):
        outcomes.append(await notifications.dispatch_due(engine, senders(broken), now=moment))
        moment += dt.timedelta(hours=1)
    assert outcomes[-1]["failed"] == 2
    async with engine.connect() as conn:
        failed = list(
            await conn.execute(
                sa.select(notifications_table).where(notifications_table.c.state == "failed")
            )
        )
    assert len(failed) == 2
    assert {r.attempts for r in failed} == {notifications.MAX_ATTEMPTS}


@pytest.mark.integration
async def test_scheduling_twice_adds_nothing(engine: AsyncEngine) -> None:
    world, appointment_id = await _booked(engine)
    async with engine.begin() as conn:
        made = await notifications.schedule(
            conn,
            appointment_id=appointment_id,
            recipients=[world.applicant, world.applicant],
            kind=notifications.Kind.BOOKED,
            version=0,
            due_at=NOW,
            now=NOW,
        )
    assert made == 0


@pytest.mark.integration
async def test_a_busy_sqlite_writer_skips_a_round_instead_of_failing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _booked(engine)

    async def locked(*_: object) -> list[str]:
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(notifications, "_claim_once", locked)
    recorder = Recorder()
    counts = await notifications.dispatch_due(engine, senders(recorder), now=NOW)
    assert counts == {"sent": 0, "retry": 0, "failed": 0} and recorder.sent == []

    async def broken(*_: object) -> list[str]:
        raise sa.exc.OperationalError("UPDATE", {}, Exception("disk I/O error"))

    monkeypatch.setattr(notifications, "_claim_once", broken)
    with pytest.raises(sa.exc.OperationalError):  # anything else is not hidden
        await notifications.dispatch_due(engine, senders(recorder), now=NOW)
