"""The object store: S3 buckets with object lock, where evidence is written once and kept.

The platform never deletes or overwrites evidence: every object is written with a COMPLIANCE
retention (or a legal hold) by retention class, buckets are versioned, and a key that already
exists is refused before the write. The S3 server enforces the lock; this module only asks for it.
The minio SDK is synchronous: async callers run these methods in a thread.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from recorder.retention import RetentionClass

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256: lets anyone compare without the chain


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
    def __init__(self, client: Minio) -> None:
        self._client = client

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

    # --- objects --------------------------------------------------------------------------------

    def put_locked(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        retention: RetentionClass,
        content_type: str = "application/octet-stream",
        now: datetime | None = None,
    ) -> StoredObject:
        """Write one object under COMPLIANCE retention or legal hold; refuse an existing key."""
        body = data if isinstance(data, bytes) else data.read()
        if self.exists(bucket, key):
            raise ObjectExists(f"{bucket}/{key} already exists; evidence is never overwritten")
        digest = hashlib.sha256(body).hexdigest()
        retain_until = retention.retain_until(now or datetime.now(UTC))
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

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
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
