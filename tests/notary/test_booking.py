"""notary/booking: free slots, book, reschedule, cancel; the rules; no double booking."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import availability, booking, notifications, recusal
from notary.availability import parse_minute
from notary.booking import BookingError
from notary.cases import CaseState, get_case, transition
from notary.tables import appointment_holds, appointments, journal_entries
from notary.timezones import iso_in_zone, zone
from tests.notary.booking_world import World, accepted_case, make_world, utc

pytestmark = pytest.mark.integration

NEW_YORK = zone("America/New_York")
SHANGHAI = zone("Asia/Shanghai")
BERLIN = zone("Europe/Berlin")
NOW = utc(2026, 3, 2, 0)  # a Monday, a week before the US change (2026-03-08)


async def weekly(
    engine: AsyncEngine, person: str, weekday: int, start: str, end: str, now: dt.datetime = NOW
) -> None:
    async with engine.begin() as conn:
        await availability.publish(
            conn,
            account_id=person,
            weekday=weekday,
            on_date=None,
            start_minute=parse_minute(start),
            end_minute=parse_minute(end),
            now=now,
        )


async def setup(engine: AsyncEngine, **case: object) -> tuple[World, str]:
    async with engine.begin() as conn:
        world = await make_world(conn)
        case_id = await accepted_case(conn, world, **case)  # type: ignore[arg-type]
    return world, case_id


async def slots(
    engine: AsyncEngine, case_id: str, start: dt.datetime, end: dt.datetime, now: dt.datetime = NOW
) -> list[booking.Slot]:
    async with engine.connect() as conn:
        info = await booking.case_info(conn, case_id)
        return await booking.free_slots(conn, info, start, end, now)


async def book(
    engine: AsyncEngine, world: World, case_id: str, at: dt.datetime, now: dt.datetime = NOW
) -> booking.Appointment:
    async with engine.begin() as conn:
        return await booking.book(
            conn,
            case_id=case_id,
            actor_id=world.applicant,
            actor_role="applicant",
            starts_at=at,
            applicant_timezone="America/New_York",
            now=now,
        )


async def test_booking_across_the_us_clock_change(engine: AsyncEngine) -> None:
    # The Shanghai notary works Mondays 09:00-10:00 (no DST there); the applicant is in New York,
    # which moves its clocks on Sunday 2026-03-08.
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    found = await slots(engine, case_id, utc(2026, 3, 2), utc(2026, 3, 17))
    starts = [s.starts_at for s in found]
    assert starts == [
        utc(2026, 3, 9, 1),
        utc(2026, 3, 9, 1, 30),
        utc(2026, 3, 16, 1),
        utc(2026, 3, 16, 1, 30),
    ]  # 2026-03-02 09:00 Shanghai is less than MIN_LEAD after NOW: not offered
    # The office sees 09:00 every week; New York sees 21:00 EDT (it was 20:00 EST before).
    assert {iso_in_zone(s, SHANGHAI)[11:] for s in starts[::2]} == {"09:00+08:00"}
    assert iso_in_zone(starts[0], NEW_YORK) == "2026-03-08T21:00-04:00"

    appointment = await book(engine, world, case_id, starts[0])
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=30)
    async with engine.connect() as conn:
        case = await get_case(conn, case_id)
        pending = await notifications.for_appointment(conn, appointment.id)
    assert case is not None and case.state.value == "scheduled"
    reminders = {(n["kind"], n["due_at"]) for n in pending if n["recipient_id"] == world.applicant}
    # 24 h before is Saturday 21:00 EST in New York: one real day, although the clock moved.
    assert ("reminder_24h", utc(2026, 3, 8, 1)) in reminders
    assert iso_in_zone(utc(2026, 3, 8, 1), NEW_YORK) == "2026-03-07T20:00-05:00"
    assert ("reminder_1h", utc(2026, 3, 9, 0)) in reminders
    assert ("booked", NOW) in reminders
    assert {n["channel"] for n in pending if n["recipient_id"] == world.applicant} == {"sms"}
    # Once booked, the slot is gone from the list.
    again = await slots(engine, case_id, utc(2026, 3, 9), utc(2026, 3, 10))
    assert utc(2026, 3, 9, 1) not in [s.starts_at for s in again]


async def test_three_party_slot_across_the_eu_change(engine: AsyncEngine) -> None:
    # A case opened at the Berlin consulate: the Shanghai notary (Mondays 14:00-17:00 Shanghai)
    # and a consular officer (Mondays 08:00-10:00 Berlin) must both be free.
    world, case_id = await setup(engine, opened_by_officer=True)
    now = utc(2026, 3, 16)
    await weekly(engine, world.notary, 0, "14:00", "17:00", now)
    await weekly(engine, world.officer, 0, "08:00", "10:00", now)
    found = await slots(engine, case_id, utc(2026, 3, 23), utc(2026, 3, 31), now)
    by_day: dict[dt.date, list[str]] = {}
    for slot in found:
        assert slot.site_officer_id == world.officer
        by_day.setdefault(slot.starts_at.date(), []).append(iso_in_zone(slot.starts_at, BERLIN))
    # Berlin keeps 08:00-10:00 on both sides of 2026-03-29; in Shanghai it moves an hour.
    assert by_day == {
        dt.date(2026, 3, 23): [
            f"2026-03-23T{t}+01:00" for t in ("08:00", "08:30", "09:00", "09:30")
        ],
        dt.date(2026, 3, 30): [
            f"2026-03-30T{t}+02:00" for t in ("08:00", "08:30", "09:00", "09:30")
        ],
    }
    assert iso_in_zone(found[0].starts_at, SHANGHAI) == "2026-03-23T15:00+08:00"
    assert iso_in_zone(found[4].starts_at, SHANGHAI) == "2026-03-30T14:00+08:00"

    appointment = await book(engine, world, case_id, found[0].starts_at, now)
    assert appointment.site_officer_id == world.officer
    async with engine.connect() as conn:
        holders = set(await conn.scalars(sa.select(appointment_holds.c.account_id)))
    assert holders == {world.notary, world.officer}


async def test_no_officer_free_means_no_three_party_slot(engine: AsyncEngine) -> None:
    world, case_id = await setup(engine, opened_by_officer=True)
    await weekly(engine, world.notary, 0, "14:00", "17:00")
    assert await slots(engine, case_id, utc(2026, 3, 9), utc(2026, 3, 10)) == []
    with pytest.raises(BookingError, match="nobody is free"):
        await book(engine, world, case_id, utc(2026, 3, 9, 6))


async def test_a_notary_is_never_booked_twice(engine: AsyncEngine) -> None:
    world, first = await setup(engine)
    async with engine.begin() as conn:
        second = await accepted_case(conn, world)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    at = utc(2026, 3, 9, 1)
    await book(engine, world, first, at)
    with pytest.raises(BookingError, match="nobody is free"):
        await book(engine, world, second, at)
    # The database refuses it too, whatever a check before it saw.
    async with engine.begin() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(
                appointment_holds.insert().values(
                    account_id=world.notary,
                    tick=utc(2026, 3, 9, 1, 15),
                    appointment_id=(await conn.scalar(sa.select(appointments.c.id))),
                )
            )


async def test_concurrent_bookings_of_one_slot_one_wins(engine: AsyncEngine) -> None:
    world, first = await setup(engine)
    async with engine.begin() as conn:
        second = await accepted_case(conn, world)
    await weekly(engine, world.notary, 0, "09:00", "09:30")  # one slot, one notary
    at = utc(2026, 3, 9, 1)
    gate = asyncio.Event()

    async def attempt(case_id: str) -> str:
        try:
            async with engine.begin() as conn:
                info = await booking.case_info(conn, case_id)
                if not await booking.free_slots(conn, info, at, at + dt.timedelta(hours=1), NOW):
                    # SQLite transactions begin IMMEDIATE (notary/db.py): the second one only
                    # starts once the first committed, and sees the slot taken.
                    return "slot_taken"
                await gate.wait()  # on PostgreSQL both have seen the slot free before writing
                await booking.book(
                    conn,
                    case_id=case_id,
                    actor_id=world.applicant,
                    actor_role="applicant",
                    starts_at=at,
                    applicant_timezone="Asia/Shanghai",
                    now=NOW,
                )
            return "booked"
        except BookingError as exc:
            return exc.code
        except sa.exc.OperationalError:  # SQLite: the second writer's snapshot is stale
            return "busy"

    tasks = [asyncio.create_task(attempt(c)) for c in (first, second)]
    await asyncio.sleep(0.2)
    gate.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    assert outcomes.count("booked") == 1, outcomes
    assert set(outcomes) - {"booked"} <= {"slot_taken", "busy", "slot_unavailable"}
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(appointments)) == 1


async def test_booking_rules(engine: AsyncEngine) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    await weekly(engine, world.notary, 6, "20:00", "22:00")  # Sunday evenings
    with pytest.raises(BookingError) as too_soon:
        await book(engine, world, case_id, utc(2026, 3, 9, 1), now=utc(2026, 3, 9, 0))
    assert too_soon.value.code == "too_soon"
    with pytest.raises(BookingError) as too_far:
        await book(engine, world, case_id, utc(2026, 6, 1, 1))
    assert too_far.value.code == "too_far"
    with pytest.raises(BookingError) as off_grid:
        await book(engine, world, case_id, utc(2026, 3, 9, 1, 10))
    assert off_grid.value.code == "slot_unavailable"
    with pytest.raises(BookingError) as outside:
        await book(engine, world, case_id, utc(2026, 3, 9, 5))
    assert outside.value.code == "slot_unavailable"
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as stranger:
            await booking.book(
                conn,
                case_id=case_id,
                actor_id=world.officer2,
                actor_role="site_officer",
                starts_at=utc(2026, 3, 9, 1),
                applicant_timezone="Asia/Shanghai",
                now=NOW,
            )
    assert stranger.value.code == "case_not_found"
    evening = await book(engine, world, case_id, utc(2026, 3, 8, 12, 30))  # Sun 20:30 Shanghai
    assert evening.starts_at == utc(2026, 3, 8, 12, 30)
    with pytest.raises(BookingError) as twice:
        await book(engine, world, case_id, utc(2026, 3, 9, 1))
    assert twice.value.code == "not_bookable"  # the case is scheduled now


async def test_reschedule_then_cancel_then_book_again(engine: AsyncEngine) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "12:00")
    first = await book(engine, world, case_id, utc(2026, 3, 9, 1))

    async def move(at: dt.datetime, now: dt.datetime = NOW) -> booking.Appointment:
        async with engine.begin() as conn:
            return await booking.reschedule(
                conn,
                appointment_id=first.id,
                actor_id=world.applicant,
                actor_role="applicant",
                starts_at=at,
                now=now,
            )

    moved = await move(utc(2026, 3, 9, 2))
    assert (moved.starts_at, moved.reschedule_count, moved.notary_id) == (
        utc(2026, 3, 9, 2),
        1,
        world.notary,
    )
    await move(utc(2026, 3, 9, 1))  # its own old time is free again
    with pytest.raises(BookingError) as limit:
        await move(utc(2026, 3, 16, 1))
    assert limit.value.code == "too_many_reschedules"
    async with engine.connect() as conn:
        rows = await notifications.for_appointment(conn, first.id)
        holds = list(await conn.scalars(sa.select(appointment_holds.c.tick)))
    assert sorted(holds) == [utc(2026, 3, 9, 1), utc(2026, 3, 9, 1, 15)]
    live = [(r["kind"], r["due_at"]) for r in rows if r["state"] == "pending"]
    stale = [r for r in rows if r["state"] == "cancelled"]
    assert ("reminder_1h", utc(2026, 3, 9, 0)) in live
    assert ("reminder_1h", utc(2026, 3, 9, 1)) not in live  # the reminder for 02:00 is withdrawn
    assert stale and all(r["kind"] != "booked" or r["due_at"] == NOW for r in stale)

    # Within the cutoff the applicant can no longer cancel; the notary can, with a reason.
    late = utc(2026, 3, 8, 20)
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as too_late:
            await booking.cancel(
                conn,
                appointment_id=first.id,
                actor_id=world.applicant,
                actor_role="applicant",
                now=late,
            )
        assert too_late.value.code == "too_late"
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as why:
            await booking.cancel(
                conn, appointment_id=first.id, actor_id=world.notary, actor_role="notary", now=late
            )
        assert why.value.code == "reason_required"
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as other:
            await booking.cancel(
                conn,
                appointment_id=first.id,
                actor_id=world.notary2,
                actor_role="notary",
                now=late,
                reason="x",
            )
        assert other.value.code == "appointment_not_found"
    async with engine.begin() as conn:
        cancelled = await booking.cancel(
            conn,
            appointment_id=first.id,
            actor_id=world.notary,
            actor_role="notary",
            now=late,
            reason="公证员临时出差 / notary travelling",
        )
    assert cancelled.state == "cancelled"
    async with engine.connect() as conn:
        case = await get_case(conn, case_id)
        holds_left = await conn.scalar(sa.select(sa.func.count()).select_from(appointment_holds))
        rows = await notifications.for_appointment(conn, first.id)
        actions = list(
            await conn.scalars(
                sa.select(journal_entries.c.action).where(journal_entries.c.case_id == case_id)
            )
        )
    assert case is not None and case.state.value == "accepted"
    assert holds_left == 0
    assert not [r for r in rows if r["state"] == "pending" and r["kind"].startswith("reminder")]
    told = {r["recipient_id"] for r in rows if r["kind"] == "cancelled"}
    assert told == {world.applicant}  # the notary who cancelled is not told
    for action in ("appointment.booked", "appointment.rescheduled", "appointment.cancelled"):
        assert action in actions

    again = await book(engine, world, case_id, utc(2026, 3, 16, 1), now=late)
    assert again.state == "booked" and again.id != first.id


async def test_a_notary_with_a_conflict_is_never_offered(engine: AsyncEngine) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    await weekly(engine, world.notary2, 0, "09:00", "10:00")
    async with engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None
        await recusal.declare(
            conn,
            case,
            notary_id=world.notary,
            kind="interest",
            relationship=None,
            reason="同一公司股东 / shareholder of the same company",
            actor_id=world.notary,
            actor_role="notary",
        )
    found = await slots(engine, case_id, utc(2026, 3, 9), utc(2026, 3, 10))
    assert {s.notary_id for s in found} == {world.notary2}
    appointment = await book(engine, world, case_id, utc(2026, 3, 9, 1))
    assert appointment.notary_id == world.notary2


async def test_after_the_interview_the_appointment_cannot_change(engine: AsyncEngine) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "12:00")
    appointment = await book(engine, world, case_id, utc(2026, 3, 9, 1))
    async with engine.begin() as conn:
        await transition(
            conn, case_id, CaseState.INTERVIEWED, actor_id=world.notary, actor_role="notary"
        )
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as moved:
            await booking.reschedule(
                conn,
                appointment_id=appointment.id,
                actor_id=world.notary,
                actor_role="notary",
                starts_at=utc(2026, 3, 9, 2),
                now=NOW,
                reason="x",
            )
        assert moved.value.code == "not_changeable"
    async with engine.begin() as conn:
        with pytest.raises(BookingError) as stranger:
            await booking.cancel(
                conn,
                appointment_id=appointment.id,
                actor_id=world.officer2,
                actor_role="site_officer",
                now=NOW,
            )
        assert stranger.value.code == "appointment_not_found"  # says nothing about the case


async def _told(engine: AsyncEngine, appointment_id: str, kind: str) -> set[str]:
    """Who is still to be told `kind` (pending: withdrawn notices do not count)."""
    async with engine.connect() as conn:
        rows = await notifications.for_appointment(conn, appointment_id)
    return {r["recipient_id"] for r in rows if r["kind"] == kind and r["state"] == "pending"}


async def test_a_notary_who_recuses_after_booking_loses_the_interview(
    engine: AsyncEngine,
) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    await weekly(engine, world.notary2, 0, "09:00", "10:00")
    async with engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None
        await recusal.assign(
            conn, case, notary_id=world.notary, actor_id=world.admin, actor_role="admin"
        )
    appointment = await book(engine, world, case_id, utc(2026, 3, 9, 1))
    assert appointment.notary_id == world.notary
    async with engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None
        await recusal.recuse(conn, case, notary_id=world.notary, reason="与申请人系大学同学")
    async with engine.connect() as conn:
        after = await booking.get(conn, appointment.id)
        case = await get_case(conn, case_id)
        holds = (await conn.execute(sa.select(appointment_holds))).all()
        entries = (
            await conn.execute(sa.select(journal_entries).order_by(journal_entries.c.seq))
        ).all()
    assert after.state == "cancelled" and after.cancel_reason == "recused"
    assert case is not None and case.state is CaseState.ACCEPTED
    assert case.assigned_notary_id is None
    assert holds == []
    assert await _told(engine, appointment.id, "cancelled") == {world.applicant}
    assert await _told(engine, appointment.id, "reminder_1h") == set()  # withdrawn
    tail = [(e.action, e.actor_id) for e in entries[-4:]]
    assert tail == [
        ("case.recusal", world.notary),
        ("case.unassign", world.notary),
        ("case.transition", world.notary),
        ("appointment.cancelled", world.notary),
    ]
    # The office assigns another notary; the same time can be booked again, with them.
    async with engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None
        await recusal.assign(
            conn, case, notary_id=world.notary2, actor_id=world.admin, actor_role="admin"
        )
    again = await book(engine, world, case_id, utc(2026, 3, 9, 1))
    assert again.notary_id == world.notary2 and again.state == "booked"


async def test_a_declared_conflict_calls_off_the_interview_of_an_unassigned_case(
    engine: AsyncEngine,
) -> None:
    world, case_id = await setup(engine)
    await weekly(engine, world.notary, 0, "09:00", "10:00")
    appointment = await book(engine, world, case_id, utc(2026, 3, 9, 1))
    assert appointment.notary_id == world.notary  # the only one free; the case is unassigned
    async with engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None and case.assigned_notary_id is None
        await recusal.declare(  # an in-law is recorded but does not disqualify
            conn,
            case,
            notary_id=world.notary,
            kind="relative",
            relationship="in_law",
            reason="表亲",
            actor_id=world.applicant,
            actor_role="applicant",
        )
        assert (await booking.get(conn, appointment.id)).state == "booked"
        await recusal.declare(
            conn,
            case,
            notary_id=world.notary,
            kind="relative",
            relationship="sibling",
            reason="公证员是申请人的哥哥",
            actor_id=world.applicant,
            actor_role="applicant",
        )
    async with engine.connect() as conn:
        after = await booking.get(conn, appointment.id)
        case = await get_case(conn, case_id)
    assert after.state == "cancelled"
    assert case is not None and case.state is CaseState.ACCEPTED
    # The applicant declared it, and is told all the same: their interview is off.
    assert await _told(engine, appointment.id, "cancelled") == {world.applicant, world.notary}
