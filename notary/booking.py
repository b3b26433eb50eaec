"""Booking video interviews: free slots, book, reschedule, cancel, with their rules.

A case can be booked once it is accepted; booking moves it to `scheduled`, cancelling back to
`accepted` (through notary.cases.transition, which journals it). A case that a site officer
opened (an applicant at a consulate or a remote service point) needs a three-party slot: the
notary and a site officer of that site both free at the same time.

No one is booked twice at once, and a case has at most one live appointment; the database
enforces both (appointment_holds' primary key, appointments.active_case_id unique), so two
concurrent bookings of one slot cannot both commit whatever the checks before them saw.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal, notifications, recusal
from notary.availability import (
    MAX_RANGE_DAYS,
    Interval,
    occurrences,
    office_zone,
    on_grid,
    slot_starts,
    ticks,
    windows_of,
)
from notary.cases import CaseState, get_case, transition
from notary.notifications import Kind
from notary.roles import Role
from notary.tables import accounts, appointment_holds, appointments, cases, matters
from notary.timezones import TimeZoneError, require_aware, zone

MIN_LEAD = dt.timedelta(hours=2)  # the notary needs time to prepare the file
MAX_AHEAD = dt.timedelta(days=60)
CHANGE_CUTOFF = dt.timedelta(hours=12)  # applicants change or cancel until then
MAX_RESCHEDULES = 2  # by the applicant; the office may always move an interview
MAX_REASON_CHARS = 500
DEFAULT_INTERVIEW_MINUTES = 30
# Acts (wills, powers of attorney, contracts) and special matters need a longer interview.
INTERVIEW_MINUTES_BY_CATEGORY = {"legal_act": 60, "special": 60}


class BookingError(ValueError):
    """A booking that cannot be done as asked; `code` is for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime
    ends_at: dt.datetime
    notary_id: str
    site_officer_id: str | None


@dataclass(frozen=True)
class CaseInfo:
    id: str
    office_id: int
    applicant_id: str
    opened_by_id: str | None
    assigned_notary_id: str | None
    state: str
    interview: dt.timedelta
    site_office_id: int | None  # where the site officer sits; None: no site officer needed


@dataclass(frozen=True)
class Appointment:
    id: str
    case_id: str
    office_id: int
    notary_id: str
    site_officer_id: str | None
    applicant_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    applicant_timezone: str
    state: str
    reschedule_count: int
    cancel_reason: str | None

    @property
    def participants(self) -> list[str]:
        people = [self.applicant_id, self.notary_id]
        return people + ([self.site_officer_id] if self.site_officer_id else [])

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "notary_id": self.notary_id,
            "site_officer_id": self.site_officer_id,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "applicant_timezone": self.applicant_timezone,
            "state": self.state,
            "reschedule_count": self.reschedule_count,
            "cancel_reason": self.cancel_reason,
        }


def _appointment(row: sa.Row[Any]) -> Appointment:
    return Appointment(
        id=row.id,
        case_id=row.case_id,
        office_id=row.office_id,
        notary_id=row.notary_id,
        site_officer_id=row.site_officer_id,
        applicant_id=row.applicant_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        applicant_timezone=row.applicant_timezone,
        state=row.state,
        reschedule_count=row.reschedule_count,
        cancel_reason=row.cancel_reason,
    )


# --- what a case needs ----------------------------------------------------------------------


async def case_info(conn: AsyncConnection, case_id: str) -> CaseInfo:
    row = (
        await conn.execute(
            sa.select(cases, matters.c.category)
            .join(matters, matters.c.code == cases.c.matter_code)
            .where(cases.c.id == case_id)
        )
    ).first()
    if row is None:
        raise BookingError("case_not_found", "no such case")
    site_office_id = None
    if row.opened_by_id is not None:
        opener = (
            await conn.execute(
                sa.select(accounts.c.role, accounts.c.office_id).where(
                    accounts.c.id == row.opened_by_id
                )
            )
        ).one()
        if opener.role == Role.SITE_OFFICER.value:
            site_office_id = opener.office_id
    minutes = INTERVIEW_MINUTES_BY_CATEGORY.get(row.category, DEFAULT_INTERVIEW_MINUTES)
    return CaseInfo(
        id=row.id,
        office_id=row.office_id,
        applicant_id=row.applicant_account_id,
        opened_by_id=row.opened_by_id,
        assigned_notary_id=row.assigned_notary_id,
        state=row.state,
        interview=dt.timedelta(minutes=minutes),
        site_office_id=site_office_id,
    )


async def _enabled(conn: AsyncConnection, role: Role, office_id: int) -> list[str]:
    rows = await conn.execute(
        sa.select(accounts.c.id)
        .where(
            accounts.c.role == role.value,
            accounts.c.office_id == office_id,
            accounts.c.disabled == sa.false(),
        )
        .order_by(accounts.c.id)
    )
    return [row.id for row in rows]


async def _candidates(conn: AsyncConnection, case: CaseInfo) -> tuple[list[str], list[str]]:
    """Notaries who may hold the interview, and site officers (empty: none needed)."""
    if case.assigned_notary_id is not None:
        notaries = [case.assigned_notary_id]
    else:
        # Any notary of the office who may handle the case (回避: not a party, no relative or
        # interest declared, not recused).
        full = await get_case(conn, case.id)
        assert full is not None
        notaries = [
            notary
            for notary in await _enabled(conn, Role.NOTARY, case.office_id)
            if not await recusal.conflicts_of(conn, full, notary)
        ]
    officers: list[str] = []
    if case.site_office_id is not None:
        officers = await _enabled(conn, Role.SITE_OFFICER, case.site_office_id)
        if case.opened_by_id in officers:  # the officer who knows the applicant comes first
            officers.remove(case.opened_by_id)
            officers.insert(0, case.opened_by_id)
    return notaries, officers


async def _held(
    conn: AsyncConnection,
    people: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    ignore: str | None = None,
) -> set[tuple[str, dt.datetime]]:
    if not people:
        return set()
    query = sa.select(appointment_holds.c.account_id, appointment_holds.c.tick).where(
        appointment_holds.c.account_id.in_(list(people)),
        appointment_holds.c.tick >= start,
        appointment_holds.c.tick < end,
    )
    if ignore is not None:  # a rescheduled appointment does not block itself
        query = query.where(appointment_holds.c.appointment_id != ignore)
    return {(row.account_id, row.tick) for row in await conn.execute(query)}


def _covers(
    intervals: Sequence[Interval], person: str, start: dt.datetime, end: dt.datetime
) -> bool:
    return any(i.account_id == person and i.start <= start and end <= i.end for i in intervals)


async def _slots(
    conn: AsyncConnection,
    case: CaseInfo,
    start: dt.datetime,
    end: dt.datetime,
    *,
    only_at: dt.datetime | None = None,
    ignore: str | None = None,
) -> list[Slot]:
    """Every (time, notary, officer) combination free in [start, end), in time order."""
    notaries, officers = await _candidates(conn, case)
    if case.site_office_id is not None and not officers:
        return []
    office_tz = await office_zone(conn, case.office_id)
    notary_times = occurrences(await windows_of(conn, notaries), office_tz, start, end)
    officer_times: list[Interval] = []
    if officers:
        assert case.site_office_id is not None
        site_tz = await office_zone(conn, case.site_office_id)
        officer_times = occurrences(await windows_of(conn, officers), site_tz, start, end)
    held = await _held(conn, notaries + officers, start, end + case.interview, ignore)

    def free(person: str, begin: dt.datetime, finish: dt.datetime) -> bool:
        return all((person, tick) not in held for tick in ticks(begin, finish))

    found: list[Slot] = []
    for interval in notary_times:
        for begin in slot_starts(interval, case.interview):
            if begin < start or begin >= end or (only_at is not None and begin != only_at):
                continue
            finish = begin + case.interview
            if not free(interval.account_id, begin, finish):
                continue
            if not officers:
                found.append(Slot(begin, finish, interval.account_id, None))
                continue
            for officer in officers:
                if _covers(officer_times, officer, begin, finish) and free(officer, begin, finish):
                    found.append(Slot(begin, finish, interval.account_id, officer))
    found.sort(key=lambda s: s.starts_at)
    return found


def _check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise BookingError("invalid_range", "the range must end after it starts")
    if end - start > dt.timedelta(days=MAX_RANGE_DAYS):
        raise BookingError("invalid_range", f"ask for at most {MAX_RANGE_DAYS} days at a time")


async def free_slots(
    conn: AsyncConnection, case: CaseInfo, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> list[Slot]:
    """Bookable times for the case in [start, end), one per start time, earliest first."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    _check_range(start, end)
    start = max(start, now + MIN_LEAD)
    end = min(end, now + MAX_AHEAD)
    if end <= start:
        return []
    unique: dict[dt.datetime, Slot] = {}
    for slot in await _slots(conn, case, start, end):
        unique.setdefault(slot.starts_at, slot)
    return list(unique.values())


# --- the three actions ------------------------------------------------------------------------


def _check_start(starts_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    starts_at = require_aware(starts_at, "start")
    if not on_grid(starts_at):
        raise BookingError("slot_unavailable", "that is not a slot start")
    if starts_at < now + MIN_LEAD:
        hours = int(MIN_LEAD.total_seconds() // 3600)
        raise BookingError("too_soon", f"book at least {hours} hours ahead")
    if starts_at > now + MAX_AHEAD:
        raise BookingError("too_far", f"book at most {MAX_AHEAD.days} days ahead")
    return starts_at


async def _hold(conn: AsyncConnection, appointment_id: str, slot: Slot) -> None:
    people = [slot.notary_id] + ([slot.site_officer_id] if slot.site_officer_id else [])
    await conn.execute(
        appointment_holds.insert(),
        [
            {"account_id": person, "tick": tick, "appointment_id": appointment_id}
            for person in people
            for tick in ticks(slot.starts_at, slot.ends_at)
        ],
    )


async def _take_first(
    conn: AsyncConnection, appointment_id: str, slots: Sequence[Slot], write: Any
) -> Slot:
    """Hold the first combination nobody took meanwhile; `write` stores the appointment.

    Each try runs in a savepoint: a unique violation (someone else committed the same notary
    or officer at that time) undoes only that try.
    """
    for slot in slots:
        try:
            async with conn.begin_nested():
                await write(slot)
                await _hold(conn, appointment_id, slot)
            return slot
        except IntegrityError:
            continue
    raise BookingError("slot_taken", "that time was just taken; choose another")


async def _load(conn: AsyncConnection, appointment_id: str) -> Appointment:
    row = (
        await conn.execute(sa.select(appointments).where(appointments.c.id == appointment_id))
    ).first()
    if row is None:
        raise BookingError("appointment_not_found", "no such appointment")
    return _appointment(row)


async def book(
    conn: AsyncConnection,
    *,
    case_id: str,
    actor_id: str,
    actor_role: str,
    starts_at: dt.datetime,
    applicant_timezone: str,
    now: dt.datetime,
) -> Appointment:
    """Book the interview of an accepted case, by its applicant (or the site officer who
    opened it), at one of the free slot times."""
    case = await case_info(conn, case_id)
    if actor_id not in (case.applicant_id, case.opened_by_id):
        raise BookingError("case_not_found", "no such case")  # not an oracle for case ids
    try:
        zone(applicant_timezone)
    except TimeZoneError as exc:
        raise BookingError("invalid_timezone", str(exc)) from None
    if case.state != CaseState.ACCEPTED.value:
        raise BookingError("not_bookable", f"the case is {case.state}, not accepted")
    starts_at = _check_start(starts_at, now)
    slots = await _slots(
        conn, case, starts_at, starts_at + dt.timedelta(minutes=1), only_at=starts_at
    )
    if not slots:
        raise BookingError("slot_unavailable", "nobody is free at that time")
    appointment_id = str(uuid.uuid4())

    async def write(slot: Slot) -> None:
        await conn.execute(
            appointments.insert().values(
                id=appointment_id,
                case_id=case.id,
                active_case_id=case.id,
                office_id=case.office_id,
                notary_id=slot.notary_id,
                site_officer_id=slot.site_officer_id,
                applicant_id=case.applicant_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                applicant_timezone=applicant_timezone,
                state="booked",
                reschedule_count=0,
                created_at=now,
                updated_at=now,
            )
        )

    try:
        await _take_first(conn, appointment_id, slots, write)
    except BookingError:
        live = await conn.scalar(
            sa.select(appointments.c.id).where(appointments.c.active_case_id == case.id)
        )
        if live is not None:
            raise BookingError("already_booked", "the case has an appointment already") from None
        raise
    appointment = await _load(conn, appointment_id)
    await transition(conn, case.id, CaseState.SCHEDULED, actor_id=actor_id, actor_role=actor_role)
    await notifications.schedule_for_appointment(
        conn,
        appointment_id=appointment.id,
        recipients=appointment.participants,
        notice=Kind.BOOKED,
        version=0,
        starts_at=appointment.starts_at,
        now=now,
    )
    await journal.append(
        conn,
        action="appointment.booked",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        after=appointment.as_json(),
    )
    return appointment


async def _authorize_change(
    conn: AsyncConnection, appointment: Appointment, actor_id: str, actor_role: str
) -> bool:
    """True for the office's staff (no cutoff), False for the applicant's side; else 404."""
    if appointment.state != "booked":
        raise BookingError("appointment_not_found", "no such appointment")
    case = await case_info(conn, appointment.case_id)
    staff = False
    if actor_role in (Role.NOTARY.value, Role.ADMIN.value):
        office = await conn.scalar(sa.select(accounts.c.office_id).where(accounts.c.id == actor_id))
        staff = actor_id == appointment.notary_id or (
            actor_role == Role.ADMIN.value and office == appointment.office_id
        )
    if not staff and actor_id not in (case.applicant_id, case.opened_by_id):
        raise BookingError("appointment_not_found", "no such appointment")
    if case.state != CaseState.SCHEDULED.value:  # interviewed already: the appointment is history
        raise BookingError("not_changeable", f"the case is {case.state}; it cannot be changed")
    return staff


def _clean_reason(reason: str | None, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and reason is None:
        raise BookingError("reason_required", "say why (the applicant is told)")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise BookingError("invalid_reason", f"at most {MAX_REASON_CHARS} characters")
    return reason


async def reschedule(
    conn: AsyncConnection,
    *,
    appointment_id: str,
    actor_id: str,
    actor_role: str,
    starts_at: dt.datetime,
    now: dt.datetime,
    reason: str | None = None,
) -> Appointment:
    """Move a booked interview to another free time; the case stays scheduled."""
    before = await _load(conn, appointment_id)
    staff = await _authorize_change(conn, before, actor_id, actor_role)
    reason = _clean_reason(reason, required=staff)
    if not staff:
        if now > before.starts_at - CHANGE_CUTOFF:
            hours = int(CHANGE_CUTOFF.total_seconds() // 3600)
            raise BookingError("too_late", f"changes end {hours} hours before the interview")
        if before.reschedule_count >= MAX_RESCHEDULES:
            raise BookingError(
                "too_many_reschedules", f"an interview can be moved {MAX_RESCHEDULES} times"
            )
    starts_at = _check_start(starts_at, now)
    if starts_at == before.starts_at:
        raise BookingError("same_time", "that is the time already booked")
    case = await case_info(conn, before.case_id)
    slots = await _slots(
        conn,
        case,
        starts_at,
        starts_at + dt.timedelta(minutes=1),
        only_at=starts_at,
        ignore=before.id,
    )
    # Keep the same notary and officer where they are free: the applicant chose a time, not
    # a person, and the notary already knows the file.
    slots.sort(
        key=lambda s: (s.notary_id != before.notary_id, s.site_officer_id != before.site_officer_id)
    )
    if not slots:
        raise BookingError("slot_unavailable", "nobody is free at that time")
    await conn.execute(
        appointment_holds.delete().where(appointment_holds.c.appointment_id == before.id)
    )
    count = before.reschedule_count + 1

    async def write(slot: Slot) -> None:
        await conn.execute(
            appointments.update()
            .where(appointments.c.id == before.id)
            .values(
                notary_id=slot.notary_id,
                site_officer_id=slot.site_officer_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                reschedule_count=count,
                updated_at=now,
            )
        )

    await _take_first(conn, before.id, slots, write)
    after = await _load(conn, before.id)
    await notifications.cancel_pending(conn, before.id)
    await notifications.schedule_for_appointment(
        conn,
        appointment_id=after.id,
        recipients=list(dict.fromkeys(before.participants + after.participants)),
        notice=Kind.RESCHEDULED,
        version=count,
        starts_at=after.starts_at,
        now=now,
    )
    await journal.append(
        conn,
        action="appointment.rescheduled",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=after.case_id,
        reason=reason,
        before=before.as_json(),
        after=after.as_json(),
    )
    return after


async def cancel(
    conn: AsyncConnection,
    *,
    appointment_id: str,
    actor_id: str,
    actor_role: str,
    now: dt.datetime,
    reason: str | None = None,
) -> Appointment:
    """Call an interview off; the case goes back to accepted and can be booked again."""
    before = await _load(conn, appointment_id)
    staff = await _authorize_change(conn, before, actor_id, actor_role)
    reason = _clean_reason(reason, required=staff)
    if not staff and now > before.starts_at - CHANGE_CUTOFF:
        hours = int(CHANGE_CUTOFF.total_seconds() // 3600)
        raise BookingError("too_late", f"changes end {hours} hours before; call the office")
    if now >= before.starts_at:
        raise BookingError("too_late", "the interview has started")
    return await _call_off(
        conn,
        before,
        actor_id=actor_id,
        actor_role=actor_role,
        now=now,
        reason=reason,
        recipients=[p for p in before.participants if p != actor_id],
    )


async def call_off_for_notary(
    conn: AsyncConnection,
    case_id: str,
    *,
    notary_id: str,
    actor_id: str,
    actor_role: str,
    reason: str,
    now: dt.datetime | None = None,
) -> Appointment | None:
    """Cancel the case's booked interview with `notary_id`, who no longer handles the case (they
    recused, or a declared conflict took it off them): the case goes back to accepted, to be
    booked with the notary assigned next, and the applicant is told. The office acts, so no
    cutoff applies. None when no such interview is booked. Called by notary.recusal."""
    case = await get_case(conn, case_id)
    if case is None or case.state is not CaseState.SCHEDULED:
        return None  # after the interview the appointment is history, not a plan
    row = (
        await conn.execute(
            sa.select(appointments).where(
                appointments.c.case_id == case_id,
                appointments.c.notary_id == notary_id,
                appointments.c.state == "booked",
            )
        )
    ).first()
    if row is None:
        return None
    before = _appointment(row)
    recipients = [before.applicant_id] + [p for p in before.participants if p != actor_id]
    return await _call_off(
        conn,
        before,
        actor_id=actor_id,
        actor_role=actor_role,
        now=now or dt.datetime.now(dt.UTC),
        reason=reason,
        recipients=list(dict.fromkeys(recipients)),  # the applicant even when they declared it
    )


async def _call_off(
    conn: AsyncConnection,
    before: Appointment,
    *,
    actor_id: str,
    actor_role: str,
    now: dt.datetime,
    reason: str | None,
    recipients: list[str],
) -> Appointment:
    """The writes of a cancellation, once it is allowed: free the slot, case back to accepted,
    withdraw pending reminders, tell `recipients`, journal."""
    await conn.execute(
        appointment_holds.delete().where(appointment_holds.c.appointment_id == before.id)
    )
    await conn.execute(
        appointments.update()
        .where(appointments.c.id == before.id)
        .values(
            state="cancelled",
            active_case_id=None,
            cancelled_at=now,
            cancel_reason=reason,
            updated_at=now,
        )
    )
    after = await _load(conn, before.id)
    await transition(
        conn,
        before.case_id,
        CaseState.ACCEPTED,
        actor_id=actor_id,
        actor_role=actor_role,
        reason=reason,
    )
    await notifications.cancel_pending(conn, before.id)
    await notifications.schedule_for_appointment(
        conn,
        appointment_id=after.id,
        recipients=recipients,
        notice=Kind.CANCELLED,
        version=after.reschedule_count,
        starts_at=after.starts_at,
        now=now,
    )
    await journal.append(
        conn,
        action="appointment.cancelled",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=after.case_id,
        reason=reason,
        before=before.as_json(),
        after=after.as_json(),
    )
    return after


# --- reading ----------------------------------------------------------------------------------


async def get(conn: AsyncConnection, appointment_id: str) -> Appointment:
    return await _load(conn, appointment_id)


async def for_case(conn: AsyncConnection, case_id: str) -> list[Appointment]:
    rows = await conn.execute(
        sa.select(appointments)
        .where(appointments.c.case_id == case_id)
        .order_by(appointments.c.created_at)
    )
    return [_appointment(row) for row in rows]


async def visible_to(
    conn: AsyncConnection,
    *,
    actor_id: str,
    actor_role: str,
    office_id: int | None,
    start: dt.datetime,
    end: dt.datetime,
    include_cancelled: bool = False,
) -> list[Appointment]:
    """The appointments a person may see in [start, end): their own; an admin, the office's."""
    _check_range(start, end)
    query = sa.select(appointments).where(
        appointments.c.starts_at >= start, appointments.c.starts_at < end
    )
    if actor_role == Role.ADMIN.value:
        query = query.where(appointments.c.office_id == office_id)
    elif actor_role == Role.NOTARY.value:
        query = query.where(appointments.c.notary_id == actor_id)
    elif actor_role == Role.SITE_OFFICER.value:
        query = query.where(appointments.c.site_officer_id == actor_id)
    else:
        query = query.where(appointments.c.applicant_id == actor_id)
    if not include_cancelled:
        query = query.where(appointments.c.state == "booked")
    rows = await conn.execute(query.order_by(appointments.c.starts_at))
    return [_appointment(row) for row in rows]
