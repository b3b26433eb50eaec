"""REST API for recorded sessions: playback for the notary who ran a session and the supervisors of
its office.

`GET /api/recordings/{session_id}` reads the sealed evidence back from the object store: the
session, its participants with their segments, the event timeline, and the verifier's verdict
(signature pinned to the platform key). `GET .../playback/{participant_id}` serves one
participant's segments joined without re-encoding (recorder.join) from a local cache, with Range
support so a <video> element can seek. A video element cannot send an Authorization header, so
the JSON answer hands out short-lived media tokens bound to one session and one participant; they
travel in the query string, which the access log never records.

The joined files are a convenience for people, rebuilt from the store whenever the cache is
gone; the sealed segments stay the evidence. The minio SDK is synchronous: every store read runs
in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import urllib3
from aiohttp import web
from minio.error import S3Error

from notary.roles import Role
from recorder.chain import sha256_hex
from recorder.join import Part, join_segments
from recorder.store import ObjectStore
from recorder.store_source import StoreSource, index_key
from recorder.verify import MANIFEST, verify
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.platform import Platform
from signaling.tokens import SessionClaims, TokenError

log = logging.getLogger(__name__)

# Session and participant ids become file names in the cache: nothing but these characters, and
# never a name of dots only.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MEDIA_TOKEN_TTL_SECONDS = 10 * 60
# Verifying reads every segment from the store; page loads within this share one verdict.
VERDICT_TTL_SECONDS = 300.0
CACHE_DIR = "playback-cache"
MEDIA_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska"}


def _valid_id(value: str, what: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise ApiError(400, "invalid_id", f"not a valid {what}", {"field": what})
    return value


def _not_found() -> ApiError:
    # Another office's or another notary's recording answers like a missing one.
    return ApiError(404, "recording_not_found", "no such recording")


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def may_view(index: dict[str, Any], claims: SessionClaims) -> bool:
    """The notary who ran the session; supervisors of the session's office."""
    if claims.role == Role.NOTARY.value:
        return index.get("created_by") is not None and index.get("created_by") == claims.account_id
    if claims.role == Role.SUPERVISOR.value:
        return index.get("office_id") is not None and index.get("office_id") == claims.office_id
    return False


@dataclass(frozen=True)
class Recording:
    """What the store holds about one session."""

    session_id: str
    index: dict[str, Any]
    source: StoreSource
    manifest: dict[str, Any] | None  # None until the session is sealed

    def segments(self, participant_id: str) -> list[dict[str, Any]]:
        if self.manifest is None:
            return []
        found = [
            body
            for body in _bodies(self.manifest, "segment")
            if body.get("participant") == participant_id and "file" in body and "start" in body
        ]
        return sorted(found, key=lambda body: int(body.get("seq", 0)))

    def participants(self) -> list[dict[str, Any]]:
        if self.manifest is None:
            return []
        listed = [dict(p) for p in self.manifest.get("participants", [])]
        known = {p.get("id") for p in listed}
        for body in _bodies(self.manifest, "segment"):  # recorded but not listed: still shown
            pid = body.get("participant")
            if pid is not None and pid not in known:
                listed.append({"id": pid, "role": "", "name": ""})
                known.add(pid)
        return listed


def _bodies(manifest: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The bodies of the manifest's entries of one kind (a malformed one is skipped: the
    verdict already says the manifest is broken)."""
    entries = manifest.get("entries")
    return [
        entry["body"]
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
        and entry.get("kind") == kind
        and isinstance(entry.get("body"), dict)
    ]


def _read_recording(store: ObjectStore, bucket: str, session_id: str) -> Recording | None:
    """Runs in a thread: the index object, then the manifest when there is one."""
    try:
        index = json.loads(store.read(bucket, index_key(session_id)))
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            return None
        raise
    source = StoreSource(store, bucket, str(index["prefix"]))
    raw = source.read(MANIFEST)
    manifest: dict[str, Any] | None = None
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None  # the verdict says what is wrong with it
        manifest = parsed if isinstance(parsed, dict) else {}
    return Recording(session_id, index, source, manifest)


def _suffix(segments: list[dict[str, Any]]) -> str:
    return ".mkv" if any(str(s.get("file", "")).endswith(".mkv") for s in segments) else ".webm"


def fetch_parts(source: StoreSource, segments: list[dict[str, Any]], workdir: Path) -> list[Part]:
    """Runs in a thread: the participant's segments from the store into `workdir`, only those
    matching their sealed hash (playback shows what was sealed; the verdict names the rest)."""
    parts: list[Part] = []
    for segment in segments:
        name = str(segment["file"])
        data = source.read(name)
        if data is None or sha256_hex(data) != segment.get("sha256"):
            log.warning("segment left out of playback", extra={"file": name})
            continue
        local = workdir / f"{int(segment['seq']):06d}{Path(name).suffix}"
        local.write_bytes(data)
        parts.append(Part(local, _seconds(str(segment["start"]))))
    return sorted(parts, key=lambda part: part.start_time)


def join_main() -> None:
    """The child process that joins (`python -m signaling.recordings_api`): muxing is native
    code, and a crash there must end this process, not the server holding live sessions."""
    job = json.load(sys.stdin)
    parts = [Part(Path(path), float(start)) for path, start in job["parts"]]
    join_segments(parts, Path(job["out"]))


async def build_playback(
    source: StoreSource, segments: list[dict[str, Any]], out: Path, timeout: float = 600
) -> Path:
    """Fetch the segments, join them without re-encoding in a child process into a temporary
    file beside `out`, then rename it into place (atomic: a viewer never sees half a file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        parts = await asyncio.to_thread(fetch_parts, source, segments, workdir)
        if not parts:
            raise LookupError("no playable segment")
        joined = workdir / f"joined{out.suffix}"
        job = {
            "workdir": str(workdir),
            "out": str(joined),
            "parts": [[str(part.path), part.start_time] for part in parts],
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(child.communicate(json.dumps(job).encode()), timeout)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        if child.returncode != 0:
            reason = errors.decode(errors="replace")[-500:]
            raise RuntimeError(f"joining failed (exit {child.returncode}): {reason}")
        os.replace(joined, out)
        return out
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)


class Recordings:
    """The handlers, with what they share: builds in progress and recent verdicts."""

    def __init__(self) -> None:
        # One build per file at a time: a second viewer waits for the first one's build.
        self._builds: dict[Path, asyncio.Task[Path]] = {}
        self._verdicts: dict[str, tuple[float, asyncio.Task[dict[str, Any]]]] = {}

    # --- reading and access ----------------------------------------------------------------

    async def _load(self, platform: Platform, session_id: str) -> Recording:
        try:
            recording = await asyncio.to_thread(
                _read_recording, platform.store, platform.settings.evidence_bucket, session_id
            )
        except (S3Error, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("recording not readable", extra={"reason": str(exc)})
            raise ApiError(
                503, "store_unavailable", "the evidence store does not answer; try again"
            ) from None
        if recording is None:
            raise _not_found()
        return recording

    async def _viewable(self, request: web.Request) -> tuple[SessionClaims, Recording]:
        """The caller's claims and the recording: 401/403 by role, then 400 for a malformed id,
        then 404 for a recording that is missing or not the caller's to see."""
        claims = require(request, Role.NOTARY, Role.SUPERVISOR)
        session_id = _valid_id(request.match_info["session_id"], "session_id")
        recording = await self._load(request.app[PLATFORM], session_id)
        if not may_view(recording.index, claims):
            raise _not_found()
        return claims, recording

    # --- the verdict -------------------------------------------------------------------------

    async def _verdict(self, platform: Platform, recording: Recording) -> dict[str, Any]:
        key = platform.recorder.key.public_key() if platform.recorder is not None else None
        roots = platform.recorder.tsa_roots if platform.recorder is not None else ()

        def check() -> dict[str, Any]:
            report = verify(recording.source, trusted_key=key, tsa_roots=roots)
            return {**report.as_dict(), "checked_at": int(time.time())}

        if recording.manifest is None:
            return await asyncio.to_thread(check)  # unsealed: says so, quickly; not kept
        now = time.monotonic()
        for session_id, (at, _) in list(self._verdicts.items()):
            if now - at > VERDICT_TTL_SECONDS:
                del self._verdicts[session_id]
        cached = self._verdicts.get(recording.session_id)
        if cached is None:
            cached = (now, asyncio.create_task(asyncio.to_thread(check)))
            self._verdicts[recording.session_id] = cached
        try:
            return await asyncio.shield(cached[1])
        except Exception:
            self._verdicts.pop(recording.session_id, None)  # a failed check is not remembered
            raise

    # --- joined files ------------------------------------------------------------------------

    def _cache_path(self, platform: Platform, recording: Recording, participant_id: str) -> Path:
        suffix = _suffix(recording.segments(participant_id))
        return (
            platform.settings.data_dir
            / CACHE_DIR
            / recording.session_id
            / f"{participant_id}{suffix}"
        )

    def _build(self, out: Path, recording: Recording, participant_id: str) -> asyncio.Task[Path]:
        task = self._builds.get(out)
        if task is None:
            task = asyncio.create_task(
                build_playback(recording.source, recording.segments(participant_id), out),
                name=f"playback-{recording.session_id}-{participant_id}",
            )
            self._builds[out] = task
            task.add_done_callback(lambda done: self._build_done(out, done))
        return task

    def _build_done(self, out: Path, task: asyncio.Task[Path]) -> None:
        self._builds.pop(out, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "playback file not built",
                extra={"file": str(out), "reason": repr(task.exception())},
            )

    # --- handlers ----------------------------------------------------------------------------

    async def get_recording(self, request: web.Request) -> web.Response:
        platform = request.app[PLATFORM]
        claims, recording = await self._viewable(request)
        session_id = recording.session_id
        participants = []
        for person in recording.participants():
            pid = str(person.get("id"))
            segments = recording.segments(pid)
            playable = bool(segments) and ID_PATTERN.fullmatch(pid) is not None
            if playable and not self._cache_path(platform, recording, pid).exists():
                # Start joining now: by the time the page asks for the video it may be ready.
                self._build(self._cache_path(platform, recording, pid), recording, pid)
            participants.append(
                _participant_json(request, recording, person, segments, claims, playable)
            )
        verdict = await self._verdict(platform, recording)
        manifest = recording.manifest or {}
        session = manifest.get("session", {})
        started = _offset_origin(session)
        return web.json_response(
            {
                "session": {
                    "id": session_id,
                    "case_ref": session.get("case_ref", recording.index.get("case_ref")),
                    "title": session.get("title"),
                    "started_at": session.get("started_at"),
                    "ended_at": session.get("ended_at"),
                    "duration": _duration(session),
                    "retention_class": manifest.get("retention_class"),
                    "office_id": recording.index.get("office_id"),
                    "created_by": recording.index.get("created_by"),
                },
                "sealed": recording.manifest is not None,
                "verdict": verdict,
                "participants": participants,
                "events": [
                    {
                        "seq": entry.get("seq"),
                        "at": entry.get("at"),
                        "offset": _offset(started, entry.get("at")),
                        "type": entry["body"].get("type"),
                        "participant": entry["body"].get("participant"),
                        "details": {
                            k: v
                            for k, v in entry["body"].items()
                            if k not in ("type", "participant")
                        },
                    }
                    for entry in manifest.get("entries", [])
                    if isinstance(entry, dict)
                    and entry.get("kind") == "event"
                    and isinstance(entry.get("body"), dict)
                ],
            }
        )

    async def get_playback(self, request: web.Request) -> web.StreamResponse:
        platform = request.app[PLATFORM]
        media_token = request.query.get("t")
        if media_token is None:
            require(request, Role.NOTARY, Role.SUPERVISOR)
        session_id = _valid_id(request.match_info["session_id"], "session_id")
        participant_id = _valid_id(request.match_info["participant_id"], "participant_id")
        if media_token is not None:
            try:
                platform.tokens.verify_media(media_token, session_id, participant_id)
            except TokenError as exc:
                raise ApiError(401, exc.code, exc.message) from None
            # Access was checked when the token was issued; a built file needs no store read
            # (a seeking video sends many range requests).
            for suffix in MEDIA_TYPES:
                cached = platform.settings.data_dir / CACHE_DIR / session_id
                if (cached / f"{participant_id}{suffix}").is_file():
                    return _file_response(cached / f"{participant_id}{suffix}")
            recording = await self._load(platform, session_id)
        else:
            _, recording = await self._viewable(request)
        if recording.manifest is None:
            raise ApiError(
                409, "not_sealed", "the recording is not sealed yet; play it back after it ends"
            )
        if not recording.segments(participant_id):
            raise ApiError(404, "no_recording", "this participant has no recorded media")
        out = self._cache_path(platform, recording, participant_id)
        if not out.is_file():
            try:
                await asyncio.shield(self._build(out, recording, participant_id))
            except LookupError:
                raise ApiError(
                    404, "no_recording", "none of this participant's segments is playable"
                ) from None
        return _file_response(out)


def _file_response(path: Path) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            "Content-Type": MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _offset_origin(session: dict[str, Any]) -> float | None:
    try:
        return _seconds(str(session["started_at"]))
    except (KeyError, ValueError):
        return None


def _offset(origin: float | None, at: Any) -> float | None:
    if origin is None or not isinstance(at, str):
        return None
    try:
        return round(_seconds(at) - origin, 3)
    except ValueError:
        return None


def _duration(session: dict[str, Any]) -> float | None:
    return _offset(_offset_origin(session), session.get("ended_at"))


def _participant_json(
    request: web.Request,
    recording: Recording,
    person: dict[str, Any],
    segments: list[dict[str, Any]],
    claims: SessionClaims,
    playable: bool,
) -> dict[str, Any]:
    pid = str(person.get("id"))
    origin = _offset_origin((recording.manifest or {}).get("session", {}))
    url = None
    if playable:
        token = request.app[PLATFORM].tokens.issue_media(
            claims.account_id, recording.session_id, pid, MEDIA_TOKEN_TTL_SECONDS
        )
        url = f"/api/recordings/{recording.session_id}/playback/{pid}?t={token}"
    first = segments[0] if segments else None
    last = segments[-1] if segments else None
    return {
        "id": pid,
        "role": person.get("role"),
        "name": person.get("name"),
        # Where the joined file's time 0 lies on the session's timeline (seconds).
        "start_offset": _offset(origin, first["start"]) if first else None,
        "duration": round(_seconds(last["end"]) - _seconds(first["start"]), 3)
        if first and last
        else 0.0,
        "segments": [
            {
                "seq": s.get("seq"),
                "start": s.get("start"),
                "end": s.get("end"),
                "duration": s.get("duration"),
                "file": s.get("file"),
            }
            for s in segments
        ],
        "playback_url": url,
        "playback_expires_in": MEDIA_TOKEN_TTL_SECONDS if url else None,
    }


# --- OpenAPI ------------------------------------------------------------------------------------

SESSION_PARAMETER = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
}

RECORDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["session", "sealed", "verdict", "participants", "events"],
    "properties": {
        "session": {"type": "object"},
        "sealed": {"type": "boolean", "description": "false until the session is sealed"},
        "verdict": {
            "type": "object",
            "description": "the verifier's report, signature pinned to the platform key",
            "properties": {
                "ok": {"type": "boolean"},
                "checks": {"type": "array", "items": {"type": "object"}},
                "checked_at": {"type": "integer"},
            },
        },
        "participants": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "role": {"type": "string"},
                    "name": {"type": "string"},
                    "start_offset": {"type": ["number", "null"]},
                    "duration": {"type": "number"},
                    "segments": {"type": "array", "items": {"type": "object"}},
                    "playback_url": {
                        "type": ["string", "null"],
                        "description": "the joined file, with a media token valid 10 minutes",
                    },
                },
            },
        },
        "events": {"type": "array", "items": {"type": "object"}},
    },
}


def declare(api: Api) -> None:
    handlers = Recordings()
    api.add(
        "GET",
        "/api/recordings/{session_id}",
        handlers.get_recording,
        summary="A recorded session for playback: participants, segments, timeline, verdict",
        tags=("recordings",),
        security=True,
        responses={
            200: "the recording",
            400: "malformed session id",
            401: "not logged in",
            403: "neither a notary nor a supervisor",
            404: "no such recording (or not yours to see)",
            503: "the evidence store does not answer",
        },
        parameters=(SESSION_PARAMETER,),
        response_schema=RECORDING_SCHEMA,
    )
    api.add(
        "GET",
        "/api/recordings/{session_id}/playback/{participant_id}",
        handlers.get_playback,
        summary="One participant's segments joined without re-encoding, for a video element "
        "(Range requests; auth by a media token from the recording, or a bearer token)",
        tags=("recordings",),
        security=True,
        responses={
            200: "the whole file",
            206: "the requested byte range",
            400: "malformed id",
            401: "no valid token",
            403: "neither a notary nor a supervisor",
            404: "no such recording or participant",
            409: "the recording is not sealed yet",
            503: "the evidence store does not answer",
        },
        parameters=(
            SESSION_PARAMETER,
            {**SESSION_PARAMETER, "name": "participant_id"},
            {
                "name": "t",
                "in": "query",
                "required": False,
                "description": "media token (playback_url carries one)",
                "schema": {"type": "string"},
            },
        ),
        response_content_type="video/webm",
        response_schema={"type": "string", "format": "binary"},
    )


if __name__ == "__main__":
    join_main()
