"""REST API for the paper original promised in a consulate session: promised → posted → received.

The promise is in the session's sealed evidence (`record_paper_original`); the steps after the
session are signed addenda under the session's prefix in the evidence store (notary.paper_original)
and, when a case with the session's `case_ref` as its id exists, entries in that case's journal
too. The notary who ran the session moves it on; the supervisors of its office may read it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import urllib3
from aiohttp import web
from minio.error import S3Error

from notary import journal
from notary.cases import get_case
from notary.paper_original import PaperError, Step, next_step, read_steps, status_of
from notary.roles import Role
from recorder.addenda import MAX_ADDENDA, addendum_name
from recorder.store import ObjectExists
from recorder.verify import MANIFEST
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.platform import Platform
from signaling.recordings_api import (
    SESSION_PARAMETER,
    Recording,
    _read_recording,
    _valid_id,
    may_view,
)

log = logging.getLogger(__name__)


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no paper original is tracked for this session")


def _promise(recording: Recording) -> dict[str, Any] | None:
    """The last promise written in the sealed record (the notary may have corrected it)."""
    found = None
    for entry in (recording.manifest or {}).get("entries", []):
        body = entry.get("body") if isinstance(entry, dict) else None
        if isinstance(body, dict) and body.get("type") == "record_paper_original":
            found = body
    return found


def _load(platform: Platform, session_id: str) -> tuple[Recording, list[Step], str] | None:
    """Runs in a thread: the recording, its checked addenda and the manifest's SHA-256."""
    recording = _read_recording(platform.store, platform.settings.evidence_bucket, session_id)
    if recording is None or recording.manifest is None or platform.recorder is None:
        return None
    manifest = recording.source.read(MANIFEST) or b""
    digest = hashlib.sha256(manifest).hexdigest()
    documents = []
    for seq in range(MAX_ADDENDA):
        raw = recording.source.read(addendum_name(seq))
        if raw is None:
            break
        documents.append(raw)
    steps = read_steps(documents, digest, platform.recorder.key.public_key())
    return recording, steps, digest


async def _tracked(
    request: web.Request, *roles: Role
) -> tuple[Any, Recording, list[Step], str, dict[str, Any]]:
    claims = require(request, *roles)
    session_id = _valid_id(request.match_info["session_id"], "session_id")
    platform = request.app[PLATFORM]
    try:
        loaded = await asyncio.to_thread(_load, platform, session_id)
    except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
        log.warning("paper original not readable", extra={"reason": str(exc)})
        raise ApiError(503, "store_unavailable", "the evidence store does not answer") from None
    except PaperError as exc:
        raise ApiError(409, exc.code, exc.message) from None
    if loaded is None or not may_view(loaded[0].index, claims):
        raise _not_found()
    recording, steps, digest = loaded
    promise = _promise(recording)
    if promise is None:
        raise _not_found()
    return claims, recording, steps, digest, promise


def _answer(recording: Recording, steps: list[Step], promise: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": recording.session_id,
        "case_ref": recording.index.get("case_ref"),
        "mission": promise.get("mission"),
        "expected_posting": promise.get("expected_posting"),
        "status": status_of(steps).value,
        "steps": [step.as_dict() for step in steps],
    }


async def get_paper_original(request: web.Request) -> web.Response:
    _, recording, steps, _, promise = await _tracked(request, Role.NOTARY, Role.SUPERVISOR)
    return web.json_response(_answer(recording, steps, promise))


async def post_paper_original(request: web.Request) -> web.Response:
    claims, recording, steps, digest, promise = await _tracked(request, Role.NOTARY)
    body = await read_json(request)
    status = take(body, "status", str, max_length=20)
    note = take(body, "note", str, required=False, max_length=500) or ""
    platform = request.app[PLATFORM]
    assert platform.recorder is not None  # _tracked found a sealed recording
    try:
        step = next_step(
            steps,
            status,
            note=note,
            at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            by=claims.account_id,
            manifest_sha256=digest,
            key=platform.recorder.key,
        )
    except PaperError as exc:
        raise ApiError(409 if exc.code == "bad_state" else 400, exc.code, exc.message) from None
    case_ref = str(recording.index.get("case_ref") or "")
    manifest = recording.manifest or {}
    retention = platform.retention_class(str(manifest.get("retention_class", "long")))
    # The journal entry and the addendum go together: the store write happens inside the
    # transaction, so a failed write leaves no entry behind.
    async with platform.engine.begin() as conn:
        case = await get_case(conn, case_ref) if len(case_ref) <= 36 else None
        if case is not None:
            await journal.append(
                conn,
                action="case.paper_original",
                actor_id=claims.account_id,
                actor_role=Role.NOTARY.value,
                case_id=case.id,
                reason=step.note or None,
                before={"status": status_of(steps).value},
                after={
                    "status": step.status.value,
                    "session_id": recording.session_id,
                    "mission": promise.get("mission"),
                },
            )
        try:
            await asyncio.to_thread(
                platform.store.put_locked,
                platform.settings.evidence_bucket,
                recording.source.prefix + addendum_name(step.seq),
                step.document(),
                retention,
                "application/json",
            )
        except ObjectExists:
            raise ApiError(409, "conflict", "someone else moved it on just now; reload") from None
    answer = _answer(recording, [*steps, step], promise)
    answer["journaled"] = case is not None
    return web.json_response(answer, status=201)


PAPER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["session_id", "status", "steps"],
    "properties": {
        "session_id": {"type": "string"},
        "case_ref": {"type": ["string", "null"]},
        "mission": {"type": ["string", "null"]},
        "expected_posting": {"type": ["string", "null"]},
        "status": {"enum": ["promised", "posted", "received"]},
        "steps": {"type": "array", "items": {"type": "object"}},
        "journaled": {"type": "boolean"},
    },
}


def declare(api: Api) -> None:
    api.add(
        "GET",
        "/api/recordings/{session_id}/paper-original",
        get_paper_original,
        summary="Where the hand-signed paper original of a consulate session is",
        tags=("recordings",),
        security=True,
        responses={
            200: "the promise and its steps",
            401: "not logged in",
            403: "neither a notary nor a supervisor",
            404: "no such session, not yours, or no paper original promised in it",
            409: "an addendum in the store does not check out",
            503: "the evidence store does not answer",
        },
        parameters=(SESSION_PARAMETER,),
        response_schema=PAPER_SCHEMA,
    )
    api.add(
        "POST",
        "/api/recordings/{session_id}/paper-original",
        post_paper_original,
        summary="Move the paper original on: posted, then received (the session's notary)",
        tags=("recordings",),
        security=True,
        request_schema={
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["posted", "received"]},
                "note": {"type": "string", "maxLength": 500},
            },
        },
        responses={
            201: "recorded",
            400: "bad input",
            401: "not logged in",
            403: "not a notary",
            404: "no such session, not yours, or no paper original promised in it",
            409: "not the next step, or moved on concurrently",
            503: "the evidence store does not answer",
        },
        parameters=(SESSION_PARAMETER,),
        response_schema=PAPER_SCHEMA,
    )
