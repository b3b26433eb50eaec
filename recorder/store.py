"""The object store: S3 buckets with object lock, where evidence is written once and kept.

The platform never deletes or overwrites evidence: every object is written with a COMPLIANCE
retention (or a legal hold) by retention class, buckets are versioned, and a key that already
exists is refused. The S3 server enforces the lock; this module only asks for it.
The minio SDK is synchronous: async callers run these methods in a thread.

Refusing an existing key costs no extra request where the server honours S3 conditional writes
(`If-None-Match: *` on PutObject: 412 PreconditionFailed when the key exists; AWS, MinIO and
SeaweedFS do). Whether it does is probed once per bucket, at the first write into it (never at
`bootstrap()`/`check()`: on SeaweedFS the first object of a bucket allocates volumes for it, and a
bucket that is never written should cost none); a server that ignores or rejects the header
gets the old way, a HEAD before the PUT.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.error import S3Error
from minio.helpers import ObjectWriteResult
from minio.retention import Retention
from minio.time import to_iso8601utc
from minio.versioningconfig import VersioningConfig

from recorder.retention import RetentionClass

logger = logging.getLogger(__name__)

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256: lets anyone compare without the chain
# Written once per bucket (no retention, outside `cases/`): later probes find it there.
PROBE_KEY = ".notarylink/conditional-write-probe"
_PROBE_BODY = b"probe: does this server refuse If-None-Match: * on an existing key?\n"
_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


class StoreError(RuntimeError):
    pass


class ObjectExists(StoreError):
    """The key is taken: evidence is never overwritten."""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    version_id: str | None
    sha256: str
    size: int
    retain_until: datetime | None
    legal_hold: bool


def connect(
    endpoint: str,
    access_key: str,
    secret_key: str,
    region: str,
    http_client: urllib3.PoolManager | None = None,
) -> Minio:
    """A client for an http(s)://host:port endpoint (the SDK wants host:port and a TLS flag)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StoreError(f"S3 endpoint must be http(s)://host:port, got {endpoint!r}")
    return Minio(
        parts.netloc,
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        secure=parts.scheme == "https",
        http_client=http_client,
    )


class ObjectStore:
    def __init__(self, client: Minio, conditional_writes: bool | None = None) -> None:
        """`conditional_writes`: None probes each bucket once; True/False say it without probing
        (False: a HEAD before each PUT, for a server known to ignore `If-None-Match`)."""
        self._client = client
        self._conditional_writes = conditional_writes
        self._honours: dict[str, bool] = {}  # bucket -> refuses a conditional PUT (probed)
        self._probing = threading.Lock()

    @property
    def client(self) -> Minio:
        return self._client

    # --- buckets --------------------------------------------------------------------------------

    def bootstrap(self, buckets: Iterable[str]) -> None:
        """Create missing buckets with object lock (which turns versioning on); check existing ones.

        Object lock can only be chosen when a bucket is created, so an existing bucket without it
        is an error to fix by hand, not something to paper over.
        """
        for bucket in buckets:
            if not self._client.bucket_exists(bucket):
                try:
                    self._client.make_bucket(bucket, object_lock=True)
                except S3Error as exc:  # another node created it in between
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._require_locking(bucket)

    def _require_locking(self, bucket: str) -> None:
        try:
            self._client.get_object_lock_config(bucket)
        except S3Error as exc:
            raise StoreError(
                f"bucket {bucket!r} exists without object lock ({exc.code}); evidence needs a "
                "bucket created with object lock: create a new one and point the settings at it"
            ) from exc
        if self._client.get_bucket_versioning(bucket).status != ENABLED:
            # Object-lock buckets are versioned by S3 rules; re-assert in case a server differs.
            self._client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))

    def check(self, buckets: Iterable[str]) -> None:
        """Raise StoreError naming the first bucket that is missing or unreachable."""
        for bucket in buckets:
            if not self._client.bucket_exists(bucket):
                raise StoreError(f"bucket {bucket!r} does not exist")

    def conditional_writes(self, bucket: str) -> bool:
        """Whether writes to `bucket` refuse an existing key in the PUT itself (probed once,
        by the first `put_locked` into it)."""
        if self._conditional_writes is not None:
            return self._conditional_writes
        with self._probing:
            if bucket not in self._honours:
                self._honours[bucket] = self._probe(bucket)
            return self._honours[bucket]

    def _probe(self, bucket: str) -> bool:
        """Write PROBE_KEY with `If-None-Match: *` until it exists, then once more: honoured
        when that last write is refused. Races with other nodes only make it refused sooner.
        Only an answer that says the header is not supported decides "no"; any other error
        (denied, unreachable, server trouble) is raised and the next call probes again."""
        if not callable(getattr(self._client, "_put_object", None)):
            logger.warning("this minio SDK cannot send If-None-Match; a HEAD precedes each PUT")
            return False
        written: list[str | None] = []
        for _ in range(2):
            try:
                written.append(self._conditional_put(bucket, PROBE_KEY, _PROBE_BODY, {}).version_id)
            except TypeError as exc:  # an SDK whose `_put_object` changed: do without it
                logger.warning("minio's _put_object changed (%s); a HEAD precedes each PUT", exc)
                return False
            except S3Error as exc:
                if exc.code == "PreconditionFailed":
                    return True
                status = exc.response.status if exc.response is not None else 0
                if exc.code != "NotImplemented" and status not in (400, 405, 501):
                    raise  # denied, no bucket, server trouble: nothing is decided
                logger.warning(
                    "bucket %s: the server rejects If-None-Match on PUT (%s); a HEAD precedes "
                    "each PUT",
                    bucket,
                    exc.code,
                )
                return False
        logger.warning(
            "bucket %s: the server ignores If-None-Match on PUT; a HEAD precedes each PUT", bucket
        )
        for version_id in written:  # not locked: leave no trace of a probe that found nothing
            try:
                self._client.remove_object(bucket, PROBE_KEY, version_id=version_id)
            except S3Error as exc:
                logger.warning("bucket %s: probe version not removed (%s)", bucket, exc.code)
        return False

    # --- objects --------------------------------------------------------------------------------

    def put_locked(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        retention: RetentionClass,
        content_type: str = "application/octet-stream",
        now: datetime | None = None,
        sha256: str | None = None,
    ) -> StoredObject:
        """Write one object under COMPLIANCE retention or legal hold; refuse an existing key.

        One request where the bucket honours conditional writes: the PUT's answer carries the
        version id, so nothing is read back. `sha256`: the hex SHA-256 of `data` when the
        caller has just computed it (saves hashing the body once more).
        """
        body = data if isinstance(data, bytes) else data.read()
        digest = sha256 or hashlib.sha256(body).hexdigest()
        retain_until = retention.retain_until(now or datetime.now(UTC))
        if self.conditional_writes(bucket):
            headers = {"Content-Type": content_type, f"x-amz-meta-{SHA256_METADATA}": digest}
            if retain_until:
                headers["x-amz-object-lock-mode"] = COMPLIANCE
                headers["x-amz-object-lock-retain-until-date"] = str(to_iso8601utc(retain_until))
            if retention.legal_hold:
                headers["x-amz-object-lock-legal-hold"] = "ON"
            try:
                result = self._conditional_put(bucket, key, body, headers)
            except S3Error as exc:
                if exc.code == "PreconditionFailed":
                    raise ObjectExists(_exists_message(bucket, key)) from exc
                raise
        else:
            if self.exists(bucket, key):
                raise ObjectExists(_exists_message(bucket, key))
            result = self._client.put_object(
                bucket,
                key,
                io.BytesIO(body),
                len(body),
                content_type=content_type,
                metadata={SHA256_METADATA: digest},
                retention=Retention(COMPLIANCE, retain_until) if retain_until else None,
                legal_hold=retention.legal_hold,
            )
        return StoredObject(
            bucket=bucket,
            key=key,
            version_id=result.version_id,
            sha256=digest,
            size=len(body),
            retain_until=retain_until,
            legal_hold=retention.legal_hold,
        )

    def _conditional_put(
        self, bucket: str, key: str, body: bytes, headers: dict[str, str]
    ) -> ObjectWriteResult:
        """One PutObject with `If-None-Match: *` (412 PreconditionFailed when the key exists).

        minio-py 7.2's public put_object turns any header it does not know into user metadata
        (x-amz-meta-if-none-match), so this calls the single-request `_put_object` it is built
        on. The probe checks that the header still reaches the server and is honoured; if this
        SDK ever loses `_put_object`, the probe says no and the HEAD-first path is used.
        """
        result: ObjectWriteResult = self._client._put_object(
            bucket, key, body, {**headers, "If-None-Match": "*"}
        )
        return result

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                return False
            raise
        return True

    def read(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        response = self._client.get_object(bucket, key, version_id=version_id)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()


def _exists_message(bucket: str, key: str) -> str:
    return f"{bucket}/{key} already exists; evidence is never overwritten"
