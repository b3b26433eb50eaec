"""A confirmed interview record moves the session's case scheduled -> interviewed, journaled;
any other case, state or notary is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import db, journal
from notary.cases import CaseState, get_case
from notary.delivery import Method, agreed_method
from notary.interview import InterviewRecord
from notary.tables import cases
from signaling.case_link import record_confirmed
from signaling.rooms import Room
from tests.notary.case_world import CaseWorld, draft, make_case_world
from tests.notary.conftest import (  # noqa: F401 (fixtures)
    postgres_admin_url,
    postgres_url,
    sqlite_url,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    await asyncio.to_thread(db.migrate, url)
    made = db.create_engine(url)
    try:
        yield made
    finally:
        await made.dispose()


async def _scheduled_case(engine: AsyncEngine) -> tuple[CaseWorld, str]:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world)
        # The way to 'scheduled' (submit, accept, assign, book) is tested in notary/; here only
        # the last step matters.
        await conn.execute(
            cases.update()
            .where(cases.c.id == case.id)
            .values(state="scheduled", assigned_notary_id=world.notary)
        )
    return world, case.id


def _room(case_ref: str, notary: str) -> Room:
    return Room(
        id="r-0123456789abcdef",
        title="视频询问",
        case_ref=case_ref,
        office_id=None,
        created_by=notary,
        scheduled_at=0.0,
    )


def _confirmed_record(room: Room) -> InterviewRecord:
    record = InterviewRecord(room.case_ref, room.id)
    record.write("您是否自愿申请公证？", "是。", by="p-notary", time_code=12.5)
    record.set_delivery("electronic")
    record.close()
    return record


async def test_the_sessions_case_becomes_interviewed(engine: AsyncEngine) -> None:
    world, case_id = await _scheduled_case(engine)
    room = _room(case_id, world.notary)
    record = _confirmed_record(room)

    outcome = await record_confirmed(engine, room, record)

    assert (outcome.moved, outcome.reason) == (True, "interviewed")
    async with engine.connect() as conn:
        case = await get_case(conn, case_id)
        assert case is not None and case.state is CaseState.INTERVIEWED
        entries = await journal.entries_for_case(conn, case_id)
        agreed = await agreed_method(conn, case_id)
    moved, kept = entries[-2:]
    assert moved.action == "case.transition" and moved.after is not None
    assert moved.after["state"] == "interviewed" and moved.actor_id == world.notary
    assert moved.reason is not None
    assert room.id in moved.reason and record.text_sha256() in moved.reason
    # The delivery method the parties confirmed is kept for when the certificate goes out.
    assert kept.action == "case.delivery_agreed" and kept.after == {
        "method": "electronic",
        "session": room.id,
    }
    assert agreed is Method.ELECTRONIC


@pytest.mark.parametrize(
    "case_ref, notary, state, reason",
    [
        ("EXT-2026-001", "own", "scheduled", "no_case"),  # a reference from outside
        ("CASE", "other", "scheduled", "not_assigned"),  # another notary's session
        ("CASE", "own", "accepted", "case_accepted"),  # not booked: nothing to move
    ],
)
async def test_other_cases_are_left_alone(
    engine: AsyncEngine, case_ref: str, notary: str, state: str, reason: str
) -> None:
    world, case_id = await _scheduled_case(engine)
    async with engine.begin() as conn:
        await conn.execute(cases.update().where(cases.c.id == case_id).values(state=state))
    room = _room(
        case_id if case_ref == "CASE" else case_ref,
        world.notary if notary == "own" else world.notary2,
    )

    outcome = await record_confirmed(engine, room, _confirmed_record(room))

    assert (outcome.moved, outcome.reason) == (False, reason)
    async with engine.connect() as conn:
        state_now = await conn.scalar(sa.select(cases.c.state).where(cases.c.id == case_id))
        agreed = await agreed_method(conn, case_id)
    assert state_now == state
    assert agreed is None  # a record that moved nothing agrees nothing for the case
