"""The services one running NotaryLink holds, wired from the settings (the composition root)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.consent import TemplateStore
from identity.faces import FaceWorker
from identity.policy import MatchPolicy
from notary.db import create_engine
from recorder.keys import load_private_key
from recorder.retention import RetentionClass, find_class
from recorder.session import RecorderConfig, recover_orphans, unsealed_sessions
from recorder.store import ObjectStore, connect
from signaling.metrics import Metrics
from signaling.ratelimit import RateLimiter
from signaling.settings import Settings
from signaling.tokens import TokenSigner

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    store: ObjectStore
    tokens: TokenSigner
    metrics: Metrics = field(default_factory=Metrics)
    # Logins: 5 at once, then one every 6 s per client address and per login name.
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(rate=1 / 6, burst=5))
    recorder: RecorderConfig | None = None  # None: sessions are not recorded (tests of signaling)
    redis: Redis | None = None  # several nodes share room state through it; None on one node
    store_bootstrapped: bool = False
    templates: TemplateStore = field(default_factory=TemplateStore, repr=False)
    _face_worker: FaceWorker | None = field(default=None, repr=False)
    _face_warm_up: asyncio.Task[None] | None = field(default=None, repr=False)
    # Seals of ended sessions still uploading; shutdown waits for them.
    pending_seals: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)
    _bootstrap_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.settings.evidence_bucket, self.settings.materials_bucket)

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        # Short connect timeout and no SDK-level retries: a dead store must show up in /readyz
        # within seconds, and evidence uploads get their own retrying spool.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=60.0),
            retries=urllib3.Retry(total=0),
            maxsize=16,
        )
        client = connect(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.value,
            settings.s3_region,
            http_client=http,
        )
        if settings.token_secret is None:
            raise ValueError("the token secret must be prepared before the platform starts")
        redis = (
            Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=5)
            if settings.redis_url
            else None
        )
        store = ObjectStore(client)
        recorder = RecorderConfig(
            store=store,
            bucket=settings.evidence_bucket,
            spool_root=settings.data_dir / "spool",
            key=load_private_key(settings.effective_signing_key_path),
            tsa_url=settings.tsa_url,
            tsa_roots=(settings.tsa_roots_path.read_bytes(),) if settings.tsa_roots_path else (),
        )
        return cls(
            settings=settings,
            recorder=recorder,
            redis=redis,
            tokens=TokenSigner(settings.token_secret.value),
            engine=create_engine(settings.effective_database_url),
            store=store,
        )

    async def bootstrap_store(self) -> None:
        async with self._bootstrap_lock:  # startup and /readyz may both try at once
            if not self.store_bootstrapped:
                await asyncio.to_thread(self.store.bootstrap, self.buckets)
                self.store_bootstrapped = True

    async def keep_bootstrapping_store(self, interval: float = 5.0) -> None:
        """Retry bucket creation until the store answers; /readyz says why until then."""
        while not self.store_bootstrapped:
            try:
                await self.bootstrap_store()
                log.info("object store ready", extra={"buckets": list(self.buckets)})
            except Exception as exc:
                log.warning("object store not ready, retrying", extra={"reason": str(exc)})
                await asyncio.sleep(interval)

    def face_worker(self) -> FaceWorker:
        """Made on first use: loading the face models costs a second nobody else should pay."""
        if self._face_worker is None:
            self._face_worker = FaceWorker(encoder_processes=self.settings.face_encoder_processes)
        return self._face_worker

    def warm_faces(self) -> asyncio.Task[None]:
        """Load the face models in the background (about 0.7 s a thread, ~1 s for the encoder
        processes, which start meanwhile) so that the first
        session's first verdict does not wait for them. Only the real server calls it
        (signaling/serve.py): the test app makes its worker on first use, if ever."""
        if self._face_warm_up is None:
            self._face_warm_up = asyncio.get_running_loop().create_task(
                self._warm_faces(), name="warm-face-models"
            )
        return self._face_warm_up

    async def _warm_faces(self) -> None:
        started = time.monotonic()
        try:
            await self.face_worker().warm_up()
        except Exception:  # a session loads them on first use instead
            log.exception("loading the face models in advance failed")
            return
        log.info("face models loaded", extra={"seconds": round(time.monotonic() - started, 2)})

    @property
    def match_policy(self) -> MatchPolicy:
        """The office's calibrated face threshold, or the provisional default (identity/policy)."""
        threshold = self.settings.face_match_threshold
        if threshold is None:
            return MatchPolicy()
        return MatchPolicy(threshold, "calibrated by the office (NOTARYLINK_FACE_MATCH_THRESHOLD)")

    def unsealed_recordings(self) -> list[str]:
        return [] if self.recorder is None else unsealed_sessions(self.recorder.spool_root)

    def track_seal(self, task: asyncio.Task[Any]) -> None:
        self.pending_seals.add(task)
        task.add_done_callback(self.pending_seals.discard)

    async def wait_for_seals(self) -> None:
        if self.pending_seals:
            await asyncio.gather(*self.pending_seals, return_exceptions=True)

    def retention_class(self, name: str) -> RetentionClass:
        return find_class(self.settings.retention_classes, name)

    async def recover_recordings(self, sessions: list[str]) -> None:
        """Seal the recordings a crashed process left unsealed (after the store is ready)."""
        if self.recorder is None or not sessions:
            return
        while not self.store_bootstrapped:
            await asyncio.sleep(1)
        classes = {c.name: c for c in self.settings.retention_classes}
        try:
            sealed = await recover_orphans(self.recorder, classes, sessions)
        except Exception:
            log.exception("sealing interrupted recordings failed; they stay in the spool")
            return
        if sealed:
            log.warning("sealed recordings interrupted by a crash", extra={"sessions": sealed})

    async def close(self) -> None:
        if self._face_warm_up is not None and not self._face_warm_up.done():
            self._face_warm_up.cancel()  # the worker's shutdown below waits for its threads
        if self._face_worker is not None:
            self._face_worker.close()
        await self.engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()
