"""Reading one session's evidence straight from the object store (for `notarylink verify ID`)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from minio.error import S3Error

from recorder.store import ObjectStore

INDEX_PREFIX = "index/sessions/"


def index_key(session_id: str) -> str:
    return f"{INDEX_PREFIX}{session_id}.json"


def case_key(case_ref: str) -> str:
    """A case reference as an object-key segment: readable ASCII plus a hash that keeps it
    unique. Real ones look like (2026)京中信内经证字第00001号; the manifest keeps them verbatim."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", case_ref).strip("._-")[:48] or "case"
    digest = hashlib.sha256(case_ref.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}"


def session_prefix(case_ref: str, session_id: str) -> str:
    return f"cases/{case_key(case_ref)}/sessions/{session_id}/"


class StoreSource:
    """An EvidenceSource over the objects under one session's prefix."""

    def __init__(self, store: ObjectStore, bucket: str, prefix: str) -> None:
        self.store = store
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def for_session(cls, store: ObjectStore, bucket: str, session_id: str) -> StoreSource:
        """Find the session through its index object (written when recording starts)."""
        try:
            index = json.loads(store.read(bucket, index_key(session_id)))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise LookupError(f"no recorded session {session_id!r} in {bucket}") from None
            raise
        return cls(store, bucket, str(index["prefix"]))

    def read(self, name: str) -> bytes | None:
        try:
            return self.store.read(self.bucket, self.prefix + name)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise

    def digest(self, name: str) -> tuple[int, str] | None:
        try:
            response = self.store.client.get_object(self.bucket, self.prefix + name)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in response.stream(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        finally:
            response.close()
            response.release_conn()
        return size, digest.hexdigest()

    def names(self) -> Iterable[str]:
        for item in self.store.client.list_objects(self.bucket, prefix=self.prefix, recursive=True):
            if item.object_name:
                yield item.object_name[len(self.prefix) :]
