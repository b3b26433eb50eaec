"""One session's recording: a segmenter per participant, the evidence chain, the upload spool, and
the sealed manifest at the end.

Everything needed to finish the evidence after a crash is on disk in the session's spool
directory (`chain.jsonl`, closed segments, receipts), so `recover_orphans()` at the next start
can seal what a dead process left behind, with the interruption recorded as a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.chain import ChainLog
from recorder.frames import Frame, PushSource
from recorder.keys import public_key_pem
from recorder.manifest import SessionInfo, build_manifest, seal
from recorder.retention import RetentionClass
from recorder.segmenter import Segmenter, SegmentInfo, utc_iso
from recorder.spool import KeyLayout, Uploader
from recorder.store import ObjectExists, ObjectStore
from recorder.store_source import case_key, index_key, session_prefix
from recorder.timestamp import TimestampError, request_timestamp
from recorder.verify import MANIFEST, PUBLIC_KEY, SIGNATURE, TIMESTAMP

log = logging.getLogger(__name__)

CHAIN_FILE = "chain.jsonl"
SESSION_FILE = "session.json"  # what recover_orphans needs to seal a session nobody finished
SEALED_DIR = "sealed"


@dataclass(frozen=True)
class RecorderConfig:
    store: ObjectStore
    bucket: str
    spool_root: Path
    key: Ed25519PrivateKey
    tsa_url: str = ""
    tsa_roots: tuple[bytes, ...] = ()  # the TSA's answer is verified against these at once
    segment_seconds: float = 3.0


def now_iso() -> str:
    return utc_iso(time.time())


class SessionRecorder:
    def __init__(
        self,
        config: RecorderConfig,
        session_id: str,
        case_ref: str,
        title: str,
        retention: RetentionClass,
        office_id: int | None = None,
        created_by: str | None = None,
    ) -> None:
        self.config = config
        self.session_id = session_id
        self.case_ref = case_ref
        self.title = title
        self.retention = retention
        # Who may play the recording back: the notary who ran it, the office's supervisors.
        self.office_id = office_id
        self.created_by = created_by
        self.directory = config.spool_root / session_id
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_session_file()
        # Written behind: the event loop that forwards every session's media must not wait
        # for an fsync; the seal waits for every line (recorder/chain.py).
        self.chain = ChainLog(self.directory / CHAIN_FILE, write_behind=True)
        self.uploader = Uploader(
            config.store,
            config.bucket,
            self.directory,
            layout=KeyLayout(case_key(case_ref), session_id),
            retention=retention,
        )
        self.participants: dict[str, dict[str, str]] = {}
        self._segmenters: dict[str, tuple[Segmenter, asyncio.Task[None]]] = {}
        self.started_at = self._first_time() or now_iso()
        self.sealed = False

    # --- the session's life ---------------------------------------------------------------

    def _write_session_file(self) -> None:
        path = self.directory / SESSION_FILE
        if not path.exists():
            path.write_text(
                json.dumps(
                    {
                        "session_id": self.session_id,
                        "case_ref": self.case_ref,
                        "title": self.title,
                        "retention": self.retention.spec,
                        "office_id": self.office_id,
                        "created_by": self.created_by,
                    },
                    ensure_ascii=False,
                )
            )

    def _first_time(self) -> str | None:
        entries = self.chain.chain.entries
        return entries[0].at if entries else None

    async def start(self) -> None:
        """Recover what an earlier process left, index the session, begin the chain."""
        resumed = bool(len(self.chain.chain))
        self._recover()
        await asyncio.to_thread(self._write_index)
        self.event("recording_resumed" if resumed else "recording_started")
        self.uploader.start()

    def _write_index(self) -> None:
        index = {
            "session_id": self.session_id,
            "case_ref": self.case_ref,
            "prefix": session_prefix(self.case_ref, self.session_id),
            "office_id": self.office_id,
            "created_by": self.created_by,
        }
        with contextlib.suppress(ObjectExists):  # written by this session's earlier start
            self.config.store.put_locked(
                self.config.bucket,
                index_key(self.session_id),
                json.dumps(index).encode(),
                self.retention,
                content_type="application/json",
            )

    def _recover(self) -> None:
        if self.chain.torn is not None:
            self.event("gap", reason="the chain's last entry was torn by a crash; kept aside")
        recovery = self.uploader.recover()
        self._chain_closed_segments()
        for lost in recovery.incomplete:
            self.event(
                "gap",
                participant=lost.participant_id,
                segments=[lost.sequence],
                reason="the process stopped while this segment was being written; its partial "
                "file is kept locally as .incomplete",
            )

    def _chain_closed_segments(self) -> None:
        """Closed segments a crash kept out of the chain (closed, then died) go in now."""
        chained = {
            (e.body["participant"], e.body["seq"])
            for e in self.chain.chain.entries
            if e.kind == "segment"
        }
        for sidecar in sorted(self.directory.glob("*/[0-9]*.json")) + sorted(
            self.directory.glob("*/confirmed/[0-9]*.json")
        ):
            data = json.loads(sidecar.read_text())
            segment = data.get("segment", data)  # a receipt wraps the sidecar's content
            key = (segment["participant_id"], segment["sequence"])
            if key not in chained:
                self._append_segment(segment)
                chained.add(key)

    def event(self, kind: str, **body: Any) -> None:
        if self.sealed:
            return
        self.chain.append("event", now_iso(), {"type": kind, **body})

    async def add_participant(
        self,
        participant_id: str,
        role: str,
        name: str,
        frames: AsyncIterable[Frame] | PushSource,
        request_keyframe: Callable[[], None] | None = None,
    ) -> None:
        """Record one participant's encoded stream until it ends or `stop_participant`."""
        # A rejoin: the old stream ended with the old connection; let its last segment close
        # before the new segmenter numbers its own.
        await self.stop_participant(participant_id, wait=2.0)
        self.participants[participant_id] = {"id": participant_id, "role": role, "name": name}
        self.event("participant_recorded", participant=participant_id, role=role, name=name)
        segmenter = Segmenter(
            participant_id,
            self.uploader.participant_dir(participant_id),
            target_duration=self.config.segment_seconds,
            request_keyframe=request_keyframe,
            on_segment=self._segment_closed,
        )
        task = asyncio.create_task(segmenter.run(frames), name=f"record-{participant_id}")
        self._segmenters[participant_id] = (segmenter, task)

    def _segment_closed(self, info: SegmentInfo) -> None:
        self._append_segment(info.as_dict())
        self.uploader.submit(info)

    def _append_segment(self, segment: dict[str, Any]) -> None:
        participant = segment["participant_id"]
        self.chain.append(
            "segment",
            segment["end"],
            {
                "participant": participant,
                "seq": segment["sequence"],
                "file": f"{participant}/{segment['file_name']}",
                "sha256": segment["sha256"],
                "size": segment["size"],
                "start": segment["start"],
                "end": segment["end"],
                "duration": segment["duration"],
                "container": segment["container"],
                "ended_by": segment["ended_by"],
                "tracks": segment["tracks"],
            },
        )

    async def stop_participant(self, participant_id: str, wait: float = 5.0) -> None:
        """Finish a participant's recording once its stream has ended (the caller closes the
        subscription first); a stream that does not end within `wait` is cut."""
        entry = self._segmenters.pop(participant_id, None)
        if entry is None:
            return
        segmenter, task = entry
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await segmenter.close()  # idempotent when run() already closed it

    async def finish(self, drain_timeout: float = 30.0) -> dict[str, Any]:
        """Close every segment, seal the manifest, upload it; returns the manifest."""
        for participant_id in list(self._segmenters):
            await self.stop_participant(participant_id)
        self.event("recording_stopped")
        manifest = await self._seal()
        with contextlib.suppress(TimeoutError):
            await self.uploader.drain(drain_timeout)
        await self.uploader.stop()
        return manifest

    async def _seal(self) -> dict[str, Any]:
        info = SessionInfo(
            session_id=self.session_id,
            case_ref=self.case_ref,
            title=self.title,
            retention_class=self.retention.name,
            started_at=self.started_at,
            ended_at=now_iso(),
            office_id=self.office_id,
            created_by=self.created_by,
        )
        participants = list(self.participants.values()) or _participants_from_chain(self)
        # The manifest seals the chain: nothing more goes in, every line of it is on disk first.
        self.sealed = True
        await asyncio.to_thread(self.chain.close, 30.0)
        manifest = build_manifest(info, participants, self.chain.chain, self.config.key)
        sealed = seal(manifest, self.config.key)
        files: dict[str, bytes] = {
            MANIFEST: sealed.manifest,
            SIGNATURE: sealed.signature.encode(),
            PUBLIC_KEY: public_key_pem(self.config.key),
        }
        if self.config.tsa_url:
            try:
                files[TIMESTAMP] = await request_timestamp(
                    self.config.tsa_url,
                    sealed.manifest,
                    trusted_roots=list(self.config.tsa_roots) or None,
                )
            except TimestampError as exc:
                # The signature stands without it; the missing timestamp is visible to verifiers.
                log.error(
                    "timestamp failed", extra={"session": self.session_id, "reason": str(exc)}
                )
        sealed_dir = self.directory / SEALED_DIR
        sealed_dir.mkdir(exist_ok=True)
        for name, data in files.items():
            (sealed_dir / name).write_bytes(data)
        await self._upload_sealed(files)
        return manifest

    async def _upload_sealed(self, files: dict[str, bytes], attempts: int = 8) -> None:
        """The seal goes up like segments do: retried, and kept locally until confirmed."""
        prefix = session_prefix(self.case_ref, self.session_id)
        pending = dict(files)
        delay = 0.5
        for _ in range(attempts):
            for name, data in list(pending.items()):
                try:
                    await asyncio.to_thread(
                        self.config.store.put_locked,
                        self.config.bucket,
                        prefix + name,
                        data,
                        self.retention,
                    )
                except ObjectExists:
                    pass  # uploaded before a lost answer; the verifier compares the bytes
                except Exception as exc:
                    log.warning("seal upload failed, retrying", extra={"reason": str(exc)})
                    continue
                del pending[name]
            if not pending:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
        log.error(
            "sealed files not uploaded yet; kept in the spool for the next start",
            extra={"session": self.session_id, "files": sorted(pending)},
        )


def _participants_from_chain(recorder: SessionRecorder) -> list[dict[str, str]]:
    """After a crash the participants are known from the chain's own events."""
    seen: dict[str, dict[str, str]] = {}
    for entry in recorder.chain.chain.entries:
        body = entry.body
        if body.get("type") == "participant_recorded":
            pid = str(body["participant"])
            seen[pid] = {"id": pid, "role": str(body["role"]), "name": str(body["name"])}
    return list(seen.values())


def unsealed_sessions(spool_root: Path) -> list[str]:
    """Sessions in the spool without a seal. Taken before serving, it names exactly those a
    dead process left: sessions that start later must not be mistaken for them."""
    if not spool_root.is_dir():
        return []
    return [
        directory.name
        for directory in sorted(p for p in spool_root.iterdir() if p.is_dir())
        if (directory / SESSION_FILE).is_file() and not (directory / SEALED_DIR / MANIFEST).exists()
    ]


async def recover_orphans(
    config: RecorderConfig,
    retention_classes: dict[str, RetentionClass],
    sessions: list[str] | None = None,
) -> list[str]:
    """Seal the given unsealed sessions (default: all found now); returns their ids."""
    recovered: list[str] = []
    for session_id in unsealed_sessions(config.spool_root) if sessions is None else sessions:
        directory = config.spool_root / session_id
        meta_path = directory / SESSION_FILE
        meta = json.loads(meta_path.read_text())
        name = meta["retention"].split("=", 1)[0]
        recorder = SessionRecorder(
            config,
            meta["session_id"],
            meta["case_ref"],
            meta["title"],
            retention_classes[name],
            office_id=meta.get("office_id"),
            created_by=meta.get("created_by"),
        )
        recorder._recover()
        await asyncio.to_thread(recorder._write_index)
        recorder.event("gap", reason="the server stopped during the session; recording ended")
        recorder.uploader.start()
        await recorder.finish()
        recovered.append(recorder.session_id)
    return recovered
