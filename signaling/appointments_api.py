"""REST API for interview appointments: notaries' hours, free slots, book, reschedule, cancel.

Times go out twice: as UTC instants (`starts_at`) and as wall clocks with their offsets in the
viewer's zone (`local`), the office's (`office`) and, for three-party slots, the site's (`site`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import availability, booking
from notary.availability import AvailabilityError, parse_minute
from notary.booking import Appointment, BookingError
from notary.cases import CaseError
from notary.roles import Role
from notary.timezones import TimeZoneError, iso_in_zone, zone
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.http_limits import AppLimiters, enforce
from signaling.openapi import Api
from signaling.tokens import SessionClaims

T = TypeVar("T")

DEFAULT_RANGE_DAYS = 14
BUSY_RETRIES = 6  # SQLite refuses a second writer whose snapshot is stale; run it again
_NOT_FOUND = {"case_not_found", "appointment_not_found", "window_not_found", "office_not_found"}
_BAD_INPUT = {
    "invalid_time",
    "invalid_window",
    "invalid_range",
    "invalid_timezone",
    "invalid_reason",
    "reason_required",
}
# Changes: 10 at once, then one every 10 s per account (a script cannot churn slots). Slot
# searches: 30 at once, then one a second (each walks every window of the office's notaries).
_LIMITS = {"change": (0.1, 10), "search": (1.0, 30)}
_limiters = AppLimiters(_LIMITS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _limit(request: web.Request, claims: SessionClaims, kind: str = "change") -> None:
    enforce(_limiters.of(request.app, kind), claims.account_id, "changes")


def _domain_error(exc: BookingError | AvailabilityError | CaseError) -> ApiError:
    if exc.code in _NOT_FOUND:
        return ApiError(404, exc.code, exc.message)
    if exc.code == "forbidden":
        return ApiError(403, exc.code, exc.message)
    if exc.code in _BAD_INPUT:
        return ApiError(400, exc.code, exc.message)
    return ApiError(409, exc.code, exc.message)


async def _in_transaction(
    request: web.Request, work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    engine = request.app[PLATFORM].engine
    for attempt in range(BUSY_RETRIES):
        try:
            async with engine.begin() as conn:
                return await work(conn)
        except (BookingError, AvailabilityError, CaseError) as exc:
            raise _domain_error(exc) from None
        except TimeZoneError as exc:
            raise ApiError(400, "invalid_timezone", str(exc)) from None
        except OperationalError as exc:
            if "locked" not in str(exc.orig) or attempt == BUSY_RETRIES - 1:
                if "locked" in str(exc.orig):
                    raise ApiError(409, "busy", "the office is busy; try again") from None
                raise
            # Back off with jitter, so that writers that collided do not collide again.
            await asyncio.sleep(random.uniform(0.02, 0.05) * 2**attempt)
    raise AssertionError("unreachable")


def _instant(raw: str | None, name: str) -> dt.datetime | None:
    if raw is None:
        return None
    if len(raw) > 40:
        raise ApiError(400, "invalid_field", f"'{name}' is too long", {"field": name})
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_field", f"'{name}' must be an ISO 8601 time", {"field": name}
        ) from None
    if moment.tzinfo is None:
        raise ApiError(400, "invalid_field", f"'{name}' needs a UTC offset", {"field": name})
    return moment.astimezone(dt.UTC)


def _zone(raw: str | None, name: str = "tz") -> tuple[str, ZoneInfo]:
    value = raw or "UTC"
    try:
        return value, zone(value)
    except TimeZoneError as exc:
        raise ApiError(400, "invalid_timezone", str(exc), {"field": name}) from None


def _date(raw: str | None, name: str) -> dt.date | None:
    if raw is None:
        return None
    try:
        if len(raw) != 10:  # fromisoformat also reads week dates and compact forms
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_field", f"'{name}' must be a date like 2026-12-05", {"field": name}
        ) from None


def _span(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> dict[str, str]:
    return {"start": iso_in_zone(start, tz), "end": iso_in_zone(end, tz)}


async def _office_zone(conn: AsyncConnection, office_id: int) -> tuple[str, ZoneInfo]:
    tz = await availability.office_zone(conn, office_id)
    return tz.key, tz


# --- availability ---------------------------------------------------------------------------


async def publish_window(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY, Role.SITE_OFFICER)
    _limit(request, claims)
    body = await read_json(request)
    weekday = take(body, "weekday", int, required=False)
    on_date = _date(take(body, "date", str, required=False, max_length=10), "date")
    start = parse_or_400(take(body, "start", str, max_length=5), "start")
    end = parse_or_400(take(body, "end", str, max_length=5), "end")
    valid_from = _date(take(body, "valid_from", str, required=False, max_length=10), "valid_from")
    valid_until = _date(
        take(body, "valid_until", str, required=False, max_length=10), "valid_until"
    )

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        window = await availability.publish(
            conn,
            account_id=claims.account_id,
            weekday=weekday,
            on_date=on_date,
            start_minute=start,
            end_minute=end,
            valid_from=valid_from,
            valid_until=valid_until,
            now=_now(),
        )
        name, _ = await _office_zone(conn, window.office_id)
        return {"window": window.as_json(), "timezone": name}

    return web.json_response(await _in_transaction(request, work), status=201)


def parse_or_400(text: str, name: str) -> int:
    try:
        return parse_minute(text)
    except AvailabilityError as exc:
        raise ApiError(400, exc.code, exc.message, {"field": name}) from None


async def list_windows(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY, Role.SITE_OFFICER)
    if claims.office_id is None:
        raise ApiError(403, "forbidden", "your account belongs to no office")
    async with request.app[PLATFORM].engine.connect() as conn:
        windows = await availability.windows_of(conn, [claims.account_id])
        name, _ = await _office_zone(conn, claims.office_id)
    return web.json_response({"timezone": name, "windows": [w.as_json() for w in windows]})


async def remove_window(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY, Role.SITE_OFFICER)
    window_id = request.match_info["window_id"]

    async def work(conn: AsyncConnection) -> None:
        await availability.remove(
            conn, window_id=window_id, account_id=claims.account_id, role=claims.role
        )

    await _in_transaction(request, work)
    return web.json_response({"removed": window_id})


# --- slots and appointments ---------------------------------------------------------------


async def list_slots(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER)
    _limit(request, claims, "search")
    case_id = request.query.get("case_id", "")
    if not case_id or len(case_id) > 36:
        raise ApiError(400, "missing_field", "'case_id' is required", {"field": "case_id"})
    viewer_name, viewer = _zone(request.query.get("tz"))
    now = _now()
    start = _instant(request.query.get("from"), "from") or now
    end = _instant(request.query.get("to"), "to") or start + dt.timedelta(days=DEFAULT_RANGE_DAYS)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        case = await booking.case_info(conn, case_id)
        if claims.account_id not in (case.applicant_id, case.opened_by_id):
            raise BookingError("case_not_found", "no such case")
        found = await booking.free_slots(conn, case, start, end, now)
        office_name, office = await _office_zone(conn, case.office_id)
        site: tuple[str, ZoneInfo] | None = None
        if case.site_office_id is not None:
            site = await _office_zone(conn, case.site_office_id)
        slots = []
        for slot in found:
            entry: dict[str, Any] = {
                "starts_at": slot.starts_at.isoformat(),
                "ends_at": slot.ends_at.isoformat(),
                "local": _span(slot.starts_at, slot.ends_at, viewer),
                "office": _span(slot.starts_at, slot.ends_at, office),
                "three_party": slot.site_officer_id is not None,
            }
            if site is not None:
                entry["site"] = _span(slot.starts_at, slot.ends_at, site[1])
            slots.append(entry)
        return {
            "case_id": case.id,
            "case_state": case.state,
            "interview_minutes": int(case.interview.total_seconds() // 60),
            "timezone": viewer_name,
            "office_timezone": office_name,
            "site_timezone": site[0] if site else None,
            "slots": slots,
        }

    return web.json_response(await _in_transaction(request, work))


async def _appointment_json(
    conn: AsyncConnection, appointment: Appointment, viewer: ZoneInfo
) -> dict[str, Any]:
    _, office = await _office_zone(conn, appointment.office_id)
    applicant_zone = zone(appointment.applicant_timezone)
    return {
        **appointment.as_json(),
        "local": _span(appointment.starts_at, appointment.ends_at, viewer),
        "office": _span(appointment.starts_at, appointment.ends_at, office),
        "applicant": _span(appointment.starts_at, appointment.ends_at, applicant_zone),
    }


async def book(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER)
    _limit(request, claims)
    body = await read_json(request)
    case_id = take(body, "case_id", str, max_length=36)
    starts_at = _instant(take(body, "starts_at", str, max_length=40), "starts_at")
    assert starts_at is not None
    zone_name, viewer = _zone(take(body, "timezone", str, max_length=64), "timezone")

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        appointment = await booking.book(
            conn,
            case_id=case_id,
            actor_id=claims.account_id,
            actor_role=claims.role,
            starts_at=starts_at,
            applicant_timezone=zone_name,
            now=_now(),
        )
        return {"appointment": await _appointment_json(conn, appointment, viewer)}

    return web.json_response(await _in_transaction(request, work), status=201)


async def reschedule(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER, Role.NOTARY, Role.ADMIN)
    _limit(request, claims)
    body = await read_json(request)
    starts_at = _instant(take(body, "starts_at", str, max_length=40), "starts_at")
    assert starts_at is not None
    reason = take(body, "reason", str, required=False, max_length=booking.MAX_REASON_CHARS)
    _, viewer = _zone(take(body, "timezone", str, required=False, max_length=64), "timezone")
    appointment_id = request.match_info["appointment_id"]

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        moved = await booking.reschedule(
            conn,
            appointment_id=appointment_id,
            actor_id=claims.account_id,
            actor_role=claims.role,
            starts_at=starts_at,
            now=_now(),
            reason=reason,
        )
        return {"appointment": await _appointment_json(conn, moved, viewer)}

    return web.json_response(await _in_transaction(request, work))


async def cancel(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER, Role.NOTARY, Role.ADMIN)
    _limit(request, claims)
    body = await read_json(request)
    reason = take(body, "reason", str, required=False, max_length=booking.MAX_REASON_CHARS)
    appointment_id = request.match_info["appointment_id"]

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        cancelled = await booking.cancel(
            conn,
            appointment_id=appointment_id,
            actor_id=claims.account_id,
            actor_role=claims.role,
            now=_now(),
            reason=reason,
        )
        return {"appointment": await _appointment_json(conn, cancelled, zone("UTC"))}

    return web.json_response(await _in_transaction(request, work))


def _may_see(claims: SessionClaims, appointment: Appointment, opened_by: str | None) -> bool:
    if claims.role == Role.ADMIN.value:
        return claims.office_id == appointment.office_id
    return claims.account_id in (*appointment.participants, opened_by)


async def get_appointment(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER, Role.NOTARY, Role.ADMIN)
    _, viewer = _zone(request.query.get("tz"))
    appointment_id = request.match_info["appointment_id"]

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        appointment = await booking.get(conn, appointment_id)
        case = await booking.case_info(conn, appointment.case_id)
        if not _may_see(claims, appointment, case.opened_by_id):
            raise BookingError("appointment_not_found", "no such appointment")
        return {"appointment": await _appointment_json(conn, appointment, viewer)}

    return web.json_response(await _in_transaction(request, work))


async def list_appointments(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER, Role.NOTARY, Role.ADMIN)
    viewer_name, viewer = _zone(request.query.get("tz"))
    now = _now()
    start = _instant(request.query.get("from"), "from") or now - dt.timedelta(days=1)
    end = _instant(request.query.get("to"), "to") or start + dt.timedelta(days=31)
    include_cancelled = request.query.get("include_cancelled") == "true"

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        found = await booking.visible_to(
            conn,
            actor_id=claims.account_id,
            actor_role=claims.role,
            office_id=claims.office_id,
            start=start,
            end=end,
            include_cancelled=include_cancelled,
        )
        return {
            "timezone": viewer_name,
            "appointments": [await _appointment_json(conn, a, viewer) for a in found],
        }

    return web.json_response(await _in_transaction(request, work))


# --- declaration ----------------------------------------------------------------------------

_ID = {"type": "string", "maxLength": 36}
_PATH_APPOINTMENT = ({"name": "appointment_id", "in": "path", "required": True, "schema": _ID},)
_TZ = {
    "name": "tz",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "description": "IANA zone of the viewer, default UTC"},
}
_RANGE = (
    {
        "name": "from",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "to",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date-time"},
    },
)
_SPAN = {
    "type": "object",
    "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
}
APPOINTMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "case_id": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "state": {"enum": ["booked", "cancelled"]},
        "reschedule_count": {"type": "integer"},
        "local": _SPAN,
        "office": _SPAN,
        "applicant": _SPAN,
    },
}
WINDOW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "weekday": {"type": ["integer", "null"], "minimum": 0, "maximum": 6},
        "date": {"type": ["string", "null"], "format": "date"},
        "start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "end": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "valid_from": {"type": ["string", "null"], "format": "date"},
        "valid_until": {"type": ["string", "null"], "format": "date"},
    },
}
_ERRORS = {400: "invalid request", 401: "not logged in", 403: "role may not do this"}


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/availability",
        publish_window,
        summary="Publish hours for video interviews (weekly or one date, office's local time)",
        tags=("appointments",),
        security=True,
        responses={201: "published", **_ERRORS, 409: "too many windows", 429: "too many changes"},
        request_schema={**WINDOW_SCHEMA, "required": ["start", "end"]},
        response_schema={"type": "object", "properties": {"window": WINDOW_SCHEMA}},
    )
    api.add(
        "GET",
        "/api/availability",
        list_windows,
        summary="The caller's own published hours and the zone they are in",
        tags=("appointments",),
        security=True,
        responses={200: "the windows", 401: "not logged in", 403: "role may not do this"},
        response_schema={
            "type": "object",
            "properties": {
                "timezone": {"type": "string"},
                "windows": {"type": "array", "items": WINDOW_SCHEMA},
            },
        },
    )
    api.add(
        "DELETE",
        "/api/availability/{window_id}",
        remove_window,
        summary="Remove one of the caller's windows; booked interviews keep their time",
        tags=("appointments",),
        security=True,
        responses={200: "removed", 401: "not logged in", 403: "role", 404: "no such window"},
        parameters=({"name": "window_id", "in": "path", "required": True, "schema": _ID},),
        response_schema={"type": "object", "properties": {"removed": {"type": "string"}}},
    )
    api.add(
        "GET",
        "/api/appointments/slots",
        list_slots,
        summary="Free interview times for an accepted case, in the viewer's and the office's time",
        tags=("appointments",),
        security=True,
        responses={200: "the slots", **_ERRORS, 404: "no such case", 429: "too many searches"},
        parameters=(
            {"name": "case_id", "in": "query", "required": True, "schema": _ID},
            _TZ,
            *_RANGE,
        ),
        response_schema={
            "type": "object",
            "properties": {
                "timezone": {"type": "string"},
                "office_timezone": {"type": "string"},
                "site_timezone": {"type": ["string", "null"]},
                "slots": {"type": "array", "items": {"type": "object"}},
            },
        },
    )
    api.add(
        "POST",
        "/api/appointments",
        book,
        summary="Book the video interview of an accepted case at a free time",
        tags=("appointments",),
        security=True,
        responses={
            201: "booked; the case is scheduled",
            **_ERRORS,
            404: "no such case",
            409: "not bookable, or the time is not free",
            429: "too many changes",
        },
        request_schema={
            "type": "object",
            "required": ["case_id", "starts_at", "timezone"],
            "properties": {
                "case_id": _ID,
                "starts_at": {"type": "string", "format": "date-time"},
                "timezone": {"type": "string", "description": "the applicant's IANA zone"},
            },
        },
        response_schema={"type": "object", "properties": {"appointment": APPOINTMENT_SCHEMA}},
    )
    api.add(
        "GET",
        "/api/appointments",
        list_appointments,
        summary="Appointments the caller may see: their own; an office admin, the office's",
        tags=("appointments",),
        security=True,
        responses={200: "the appointments", 400: "invalid request", 401: "not logged in"},
        parameters=(
            _TZ,
            *_RANGE,
            {
                "name": "include_cancelled",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
        ),
        response_schema={
            "type": "object",
            "properties": {"appointments": {"type": "array", "items": APPOINTMENT_SCHEMA}},
        },
    )
    api.add(
        "GET",
        "/api/appointments/{appointment_id}",
        get_appointment,
        summary="One appointment, its times in the viewer's, the office's and the applicant's zone",
        tags=("appointments",),
        security=True,
        responses={200: "the appointment", 401: "not logged in", 404: "no such appointment"},
        parameters=(*_PATH_APPOINTMENT, _TZ),
        response_schema={"type": "object", "properties": {"appointment": APPOINTMENT_SCHEMA}},
    )
    api.add(
        "POST",
        "/api/appointments/{appointment_id}/reschedule",
        reschedule,
        summary="Move an interview to another free time (applicants: until the cutoff, twice)",
        tags=("appointments",),
        security=True,
        responses={
            200: "moved",
            **_ERRORS,
            404: "no such appointment",
            409: "too late, too often, or the time is not free",
            429: "too many changes",
        },
        parameters=_PATH_APPOINTMENT,
        request_schema={
            "type": "object",
            "required": ["starts_at"],
            "properties": {
                "starts_at": {"type": "string", "format": "date-time"},
                "reason": {"type": "string", "maxLength": booking.MAX_REASON_CHARS},
                "timezone": {"type": "string"},
            },
        },
        response_schema={"type": "object", "properties": {"appointment": APPOINTMENT_SCHEMA}},
    )
    api.add(
        "POST",
        "/api/appointments/{appointment_id}/cancel",
        cancel,
        summary="Call an interview off; the case goes back to accepted (staff give a reason)",
        tags=("appointments",),
        security=True,
        responses={
            200: "cancelled",
            **_ERRORS,
            404: "no such appointment",
            409: "too late",
            429: "too many changes",
        },
        parameters=_PATH_APPOINTMENT,
        request_schema={
            "type": "object",
            "properties": {"reason": {"type": "string", "maxLength": booking.MAX_REASON_CHARS}},
        },
        response_schema={"type": "object", "properties": {"appointment": APPOINTMENT_SCHEMA}},
    )
