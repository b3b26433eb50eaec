"""The appointments API end to end over HTTP, on SQLite and on PostgreSQL.

The clock of the API is pinned a week before the US daylight-saving change, so the flow books
across it: a Shanghai office (no DST) and an applicant in New York.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from notary import availability, booking, notifications
from notary.cases import get_case
from notary.tables import journal_entries
from notary.timezones import zone
from signaling import appointments_api, reminders
from signaling.app import create_app
from signaling.appkeys import PLATFORM
from signaling.platform import Platform
from signaling.settings import Settings
from tests.notary.booking_world import World, accepted_case, make_world, utc
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

NOW = utc(2026, 3, 2)  # Monday; New York moves its clocks on Sunday 2026-03-08


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TestClient[Any, Any]]:
    if request.param == "postgresql":
        settings = dataclasses.replace(
            settings, database_url=request.getfixturevalue("postgres_url")
        )
    monkeypatch.setattr(appointments_api, "_now", lambda: NOW)
    app = create_app(Platform.from_settings(settings))
    async with TestClient(TestServer(app)) as client:
        yield client


@dataclasses.dataclass
class People:
    world: World
    case_id: str
    consulate_case_id: str
    headers: Callable[[str], dict[str, str]]


@pytest.fixture
async def people(api: TestClient[Any, Any]) -> People:
    platform = api.app[PLATFORM]
    async with platform.engine.begin() as conn:
        world = await make_world(conn)
        case_id = await accepted_case(conn, world)
        consulate_case_id = await accepted_case(conn, world, opened_by_officer=True)
    roles = {
        world.notary: ("notary", world.office),
        world.notary2: ("notary", world.office),
        world.admin: ("admin", world.office),
        world.applicant: ("applicant", None),
        world.officer: ("site_officer", world.consulate),
        world.officer2: ("site_officer", world.consulate),
    }

    def headers(account_id: str) -> dict[str, str]:
        role, office = roles[account_id]
        token = platform.tokens.issue_session(account_id, role, office, 3600)
        return {"Authorization": f"Bearer {token}"}

    return People(world, case_id, consulate_case_id, headers)


async def _json(response: Any, status: int) -> dict[str, Any]:
    body = await response.json()
    assert response.status == status, body
    return dict(body)


async def test_the_whole_flow(api: TestClient[Any, Any], people: People) -> None:
    w, as_ = people.world, people.headers
    # The notary publishes Monday mornings and a Saturday evening (office time, Shanghai).
    for window in (
        {"weekday": 0, "start": "09:00", "end": "10:00"},
        {"weekday": 5, "start": "19:00", "end": "21:00"},
    ):
        published = await _json(
            await api.post("/api/availability", json=window, headers=as_(w.notary)), 201
        )
        assert published["timezone"] == "Asia/Shanghai"
    mine = await _json(await api.get("/api/availability", headers=as_(w.notary)), 200)
    assert [(x["weekday"], x["start"], x["end"]) for x in mine["windows"]] == [
        (0, "09:00", "10:00"),
        (5, "19:00", "21:00"),
    ]

    # The applicant in New York sees the slots in both clocks.
    query = {
        "case_id": people.case_id,
        "tz": "America/New_York",
        "from": "2026-03-07T00:00:00Z",
        "to": "2026-03-10T00:00:00Z",
    }
    listed = await _json(
        await api.get("/api/appointments/slots", params=query, headers=as_(w.applicant)), 200
    )
    assert listed["office_timezone"] == "Asia/Shanghai"
    assert listed["interview_minutes"] == 30
    shown = [(s["office"]["start"], s["local"]["start"]) for s in listed["slots"]]
    assert shown == [
        ("2026-03-07T19:00+08:00", "2026-03-07T06:00-05:00"),
        ("2026-03-07T19:30+08:00", "2026-03-07T06:30-05:00"),
        ("2026-03-07T20:00+08:00", "2026-03-07T07:00-05:00"),
        ("2026-03-07T20:30+08:00", "2026-03-07T07:30-05:00"),
        ("2026-03-09T09:00+08:00", "2026-03-08T21:00-04:00"),  # after the US change: EDT
        ("2026-03-09T09:30+08:00", "2026-03-08T21:30-04:00"),
    ]

    chosen = listed["slots"][4]["starts_at"]
    request = {"case_id": people.case_id, "starts_at": chosen, "timezone": "America/New_York"}
    booked = (
        await _json(
            await api.post("/api/appointments", json=request, headers=as_(w.applicant)), 201
        )
    )["appointment"]
    assert booked["local"]["start"] == "2026-03-08T21:00-04:00"
    assert booked["office"]["start"] == "2026-03-09T09:00+08:00"
    async with api.app[PLATFORM].engine.connect() as conn:
        case = await get_case(conn, people.case_id)
    assert case is not None and case.state.value == "scheduled"
    again = await _json(
        await api.post("/api/appointments", json=request, headers=as_(w.applicant)), 409
    )
    assert again["error"]["code"] == "not_bookable"

    # The notary sees it in the office's clock; another notary does not; the admin does.
    def seen(body: dict[str, Any]) -> list[str]:
        return [a["id"] for a in body["appointments"]]

    range_ = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z", "tz": "Asia/Shanghai"}
    notary_view = await _json(
        await api.get("/api/appointments", params=range_, headers=as_(w.notary)), 200
    )
    assert seen(notary_view) == [booked["id"]]
    assert notary_view["appointments"][0]["applicant"]["start"] == "2026-03-08T21:00-04:00"
    other = await api.get("/api/appointments", params=range_, headers=as_(w.notary2))
    assert seen(await _json(other, 200)) == []
    admin = await api.get("/api/appointments", params=range_, headers=as_(w.admin))
    assert seen(await _json(admin, 200)) == [booked["id"]]
    hidden = await api.get(f"/api/appointments/{booked['id']}", headers=as_(w.notary2))
    assert (await _json(hidden, 404))["error"]["code"] == "appointment_not_found"

    # Reschedule to the Saturday evening, then cancel: the case is bookable again.
    moved = (
        await _json(
            await api.post(
                f"/api/appointments/{booked['id']}/reschedule",
                json={"starts_at": listed["slots"][0]["starts_at"], "timezone": "America/New_York"},
                headers=as_(w.applicant),
            ),
            200,
        )
    )["appointment"]
    assert (moved["reschedule_count"], moved["office"]["start"]) == (1, "2026-03-07T19:00+08:00")
    cancelled = await _json(
        await api.post(
            f"/api/appointments/{booked['id']}/cancel", json={}, headers=as_(w.applicant)
        ),
        200,
    )
    assert cancelled["appointment"]["state"] == "cancelled"
    async with api.app[PLATFORM].engine.connect() as conn:
        case = await get_case(conn, people.case_id)
        rows = await notifications.for_appointment(conn, booked["id"])
        actions = set(
            await conn.scalars(
                sa.select(journal_entries.c.action).where(
                    journal_entries.c.case_id == people.case_id
                )
            )
        )
    assert case is not None and case.state.value == "accepted"
    assert {"appointment.booked", "appointment.rescheduled", "appointment.cancelled"} <= actions
    assert {r["kind"] for r in rows} >= {"booked", "rescheduled", "cancelled", "reminder_24h"}
    assert not [r for r in rows if r["state"] == "pending" and r["kind"].startswith("reminder")]
    rebooked = await api.post("/api/appointments", json=request, headers=as_(w.applicant))
    assert (await _json(rebooked, 201))["appointment"]["id"] != booked["id"]


async def test_three_party_slots_show_the_site_clock(
    api: TestClient[Any, Any], people: People
) -> None:
    w, as_ = people.world, people.headers
    await api.post(
        "/api/availability",
        json={"weekday": 0, "start": "14:00", "end": "17:00"},
        headers=as_(w.notary),
    )
    await api.post(
        "/api/availability",
        json={"date": "2026-03-09", "start": "08:00", "end": "09:00"},
        headers=as_(w.officer2),
    )
    query = {
        "case_id": people.consulate_case_id,
        "tz": "Europe/Berlin",
        "from": "2026-03-09T00:00:00Z",
        "to": "2026-03-10T00:00:00Z",
    }
    # The site officer who opened the case may look (and book) for the applicant.
    listed = await _json(
        await api.get("/api/appointments/slots", params=query, headers=as_(w.officer)), 200
    )
    assert listed["site_timezone"] == "Europe/Berlin"
    assert [
        (s["site"]["start"], s["office"]["start"], s["three_party"]) for s in listed["slots"]
    ] == [
        ("2026-03-09T08:00+01:00", "2026-03-09T15:00+08:00", True),
        ("2026-03-09T08:30+01:00", "2026-03-09T15:30+08:00", True),
    ]
    booked = await api.post(
        "/api/appointments",
        json={
            "case_id": people.consulate_case_id,
            "starts_at": listed["slots"][0]["starts_at"],
            "timezone": "Europe/Berlin",
        },
        headers=as_(w.officer),
    )
    appointment = (await _json(booked, 201))["appointment"]
    assert appointment["site_officer_id"] == w.officer2  # the one who is free then


async def test_reminders_go_out_from_the_background_task(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str]] = []

    class Capture:
        async def send_email(self, to: str, subject: str, text: str) -> None:
            sent.append(("email", to))

        async def send_sms(self, to: str, text: str) -> None:
            sent.append(("sms", to))

    monkeypatch.setattr(reminders, "INTERVAL_SECONDS", 0.05)
    app = create_app(Platform.from_settings(settings))
    app[reminders.SENDERS] = notifications.Senders(email=Capture(), sms=Capture())
    async with TestClient(TestServer(app)) as client:
        platform = client.app[PLATFORM]
        async with platform.engine.begin() as conn:
            world = await make_world(conn)
            case_id = await accepted_case(conn, world)
        monkeypatch.setattr(appointments_api, "_now", lambda: dt.datetime.now(dt.UTC))
        now = dt.datetime.now(dt.UTC)
        start = (
            (now + dt.timedelta(days=2))
            .astimezone(dt.UTC)
            .replace(minute=0, second=0, microsecond=0)
        )
        async with platform.engine.begin() as conn:
            await availability.publish(
                conn,
                account_id=world.notary,
                weekday=None,
                on_date=start.astimezone(zone("Asia/Shanghai")).date(),
                start_minute=0,
                end_minute=1440,
                now=now,
            )
            await booking.book(
                conn,
                case_id=case_id,
                actor_id=world.applicant,
                actor_role="applicant",
                starts_at=start,
                applicant_timezone="UTC",
                now=now,
            )
        for _ in range(100):
            if len(sent) >= 2:
                break
            await asyncio.sleep(0.05)
    assert sorted(sent) == [("email", "wang@office.example"), ("sms", "+12125550123")]


async def test_bad_requests(api: TestClient[Any, Any], people: People) -> None:
    w, as_ = people.world, people.headers
    assert (await api.get("/api/appointments")).status == 401
    refused = await api.post(
        "/api/availability",
        json={"weekday": 0, "start": "09:00", "end": "10:00"},
        headers=as_(w.applicant),
    )
    assert (await _json(refused, 403))["error"]["code"] == "forbidden"
    for body, code in (
        ({"weekday": 0, "start": "9am", "end": "10:00"}, "invalid_time"),
        ({"weekday": 0, "date": "2026-03-09", "start": "09:00", "end": "10:00"}, "invalid_window"),
        ({"date": "20260309", "start": "09:00", "end": "10:00"}, "invalid_field"),
        ({"weekday": "monday", "start": "09:00", "end": "10:00"}, "invalid_field"),
    ):
        bad = await api.post("/api/availability", json=body, headers=as_(w.notary))
        assert (await _json(bad, 400))["error"]["code"] == code, body
    slots = "/api/appointments/slots"
    for params, status, code in (
        ({"case_id": people.case_id, "tz": "Mars/Olympus"}, 400, "invalid_timezone"),
        ({"case_id": people.case_id, "from": "yesterday"}, 400, "invalid_field"),
        ({"case_id": people.case_id, "from": "2026-03-09T00:00:00"}, 400, "invalid_field"),
        (
            {"case_id": people.case_id, "from": "2026-03-02T00:00Z", "to": "2026-06-02T00:00Z"},
            400,
            "invalid_range",
        ),
        ({"case_id": "no-such-case"}, 404, "case_not_found"),
    ):
        answer = await api.get(slots, params=params, headers=as_(w.applicant))
        assert (await _json(answer, status))["error"]["code"] == code, params
    # Someone else's case is as missing as a case that does not exist.
    stranger = await api.get(slots, params={"case_id": people.case_id}, headers=as_(w.officer2))
    assert (await _json(stranger, 404))["error"]["code"] == "case_not_found"
    naive = await api.post(
        "/api/appointments",
        json={"case_id": people.case_id, "starts_at": "2026-03-09T01:00", "timezone": "UTC"},
        headers=as_(w.applicant),
    )
    assert (await _json(naive, 400))["error"]["code"] == "invalid_field"
    nobody = await api.post(
        "/api/appointments",
        json={"case_id": people.case_id, "starts_at": "2026-03-09T01:00Z", "timezone": "UTC"},
        headers=as_(w.applicant),
    )
    assert (await _json(nobody, 409))["error"]["code"] == "slot_unavailable"
    missing = await api.post(
        "/api/appointments/00000000-0000-0000-0000-000000000000/cancel",
        json={},
        headers=as_(w.applicant),
    )
    assert (await _json(missing, 404))["error"]["code"] == "appointment_not_found"


async def test_changes_are_rate_limited(api: TestClient[Any, Any], people: People) -> None:
    w, as_ = people.world, people.headers
    statuses = []
    for _ in range(12):
        answer = await api.post(
            "/api/availability",
            json={"weekday": 6, "start": "20:00", "end": "21:00"},
            headers=as_(w.notary),
        )
        statuses.append(answer.status)
    assert statuses[:10] == [201] * 10
    assert statuses[10:] == [429, 429]


@pytest.mark.parametrize("notaries", [1, 2])
async def test_concurrent_requests_for_one_slot_book_it_once(
    api: TestClient[Any, Any], people: People, notaries: int
) -> None:
    w, as_ = people.world, people.headers
    async with api.app[PLATFORM].engine.begin() as conn:
        other_case = await accepted_case(conn, w)
    for notary in [w.notary, w.notary2][:notaries]:
        await api.post(
            "/api/availability",
            json={"date": "2026-03-09", "start": "09:00", "end": "09:30"},  # one slot each
            headers=as_(notary),
        )
    cases = [people.case_id, other_case, people.case_id, other_case]
    answers = await asyncio.gather(
        *(
            api.post(
                "/api/appointments",
                json={"case_id": c, "starts_at": "2026-03-09T01:00:00Z", "timezone": "UTC"},
                headers=as_(w.applicant),
            )
            for c in cases
        )
    )
    statuses = sorted(a.status for a in answers)
    # Each free notary is booked once, each case at most once; everything else is refused.
    assert statuses == [201] * notaries + [409] * (4 - notaries)
    booked = [(await a.json())["appointment"] for a in answers if a.status == 201]
    assert len({b["notary_id"] for b in booked}) == notaries
    assert len({b["case_id"] for b in booked}) == notaries
    refused = {(await a.json())["error"]["code"] for a in answers if a.status == 409}
    assert refused <= {"not_bookable", "already_booked", "slot_taken", "slot_unavailable"}


async def test_slot_searches_are_rate_limited(
    api: TestClient[Any, Any], people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bucket that does not refill during the test, so the count is exact on a slow machine.
    monkeypatch.setitem(appointments_api._LIMITS, "search", (0.001, 3))
    w, as_ = people.world, people.headers
    statuses = []
    for _ in range(5):
        answer = await api.get(
            "/api/appointments/slots",
            params={"case_id": people.case_id},
            headers=as_(w.applicant),
        )
        statuses.append(answer.status)
    assert statuses == [200, 200, 200, 429, 429]
    other = await api.get(
        "/api/appointments/slots", params={"case_id": people.case_id}, headers=as_(w.officer)
    )
    assert other.status == 404  # a bucket per account: another caller is not held back
