"""Object lock on a real S3 server: locked evidence cannot be deleted, overwritten or shortened.

An existing key is refused by the PUT itself (`If-None-Match: *`), or, where the condition does
not reach the server, by a HEAD first; the requests are counted from minio's own trace.
"""

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.helpers import DictType, ObjectWriteResult
from minio.retention import Retention

from recorder.local_s3 import LocalS3Server
from recorder.retention import parse_retention_classes
from recorder.store import PROBE_KEY, ObjectExists, ObjectStore, StoreError, connect
from signaling.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from tests.recorder.s3_trace import traced
from tests.support import unique_bucket

pytestmark = pytest.mark.integration

SHORT, _, PERMANENT = parse_retention_classes("short=20y,long=60y,permanent=hold")


@pytest.fixture
def bucket(object_store: ObjectStore) -> str:
    name = unique_bucket()
    object_store.bootstrap([name])
    return name


def test_bootstrap_creates_locked_versioned_buckets_and_is_idempotent(
    object_store: ObjectStore,
) -> None:
    name = unique_bucket()
    object_store.bootstrap([name])
    object_store.bootstrap([name])  # a second start finds it and accepts it
    # Nothing is written into a bucket before the platform writes into it (on SeaweedFS a
    # bucket's first object allocates its volumes: a probe per bucket ran the test server out).
    assert _probe_versions(object_store, name) == []
    client = object_store.client
    assert client.get_bucket_versioning(name).status == "Enabled"
    client.get_object_lock_config(name)  # raises when object lock is off


def test_bootstrap_refuses_an_existing_bucket_without_object_lock(
    object_store: ObjectStore,
) -> None:
    name = unique_bucket()
    object_store.client.make_bucket(name)  # created by hand, no object lock
    with pytest.raises(StoreError, match="without object lock"):
        object_store.bootstrap([name])


def test_put_locked_records_hash_version_and_retention(
    object_store: ObjectStore, bucket: str
) -> None:
    stored = object_store.put_locked(bucket, "case/1/a.bin", b"evidence", SHORT)
    assert stored.sha256 == hashlib.sha256(b"evidence").hexdigest()
    stat = object_store.client.stat_object(bucket, "case/1/a.bin")
    assert stat.version_id == stored.version_id
    assert (stat.metadata or {})["x-amz-meta-sha256"] == stored.sha256
    retention = object_store.client.get_object_retention(bucket, "case/1/a.bin")
    assert retention is not None and retention.mode == COMPLIANCE
    assert stored.retain_until is not None
    assert abs(retention.retain_until_date - stored.retain_until) < timedelta(seconds=2)
    assert retention.retain_until_date > datetime.now(UTC) + timedelta(days=365 * 19)


def test_locked_version_cannot_be_deleted(object_store: ObjectStore, bucket: str) -> None:
    stored = object_store.put_locked(bucket, "k", b"locked", SHORT)
    with pytest.raises(S3Error) as refused:
        object_store.client.remove_object(bucket, "k", version_id=stored.version_id)
    assert refused.value.code == "AccessDenied"
    assert object_store.read(bucket, "k", stored.version_id) == b"locked"


def test_locked_version_cannot_have_its_retention_shortened_or_downgraded(
    object_store: ObjectStore, bucket: str
) -> None:
    stored = object_store.put_locked(bucket, "k", b"locked", SHORT)
    assert stored.retain_until is not None
    client = object_store.client
    for weaker in (
        Retention(COMPLIANCE, stored.retain_until - timedelta(days=30)),
        Retention(GOVERNANCE, stored.retain_until),
    ):
        with pytest.raises(S3Error) as refused:
            client.set_object_retention(bucket, "k", weaker, version_id=stored.version_id)
        assert refused.value.code == "AccessDenied"
    retention = client.get_object_retention(bucket, "k", version_id=stored.version_id)
    assert retention is not None and retention.mode == COMPLIANCE


def test_put_locked_is_one_conditional_put_whose_answer_is_the_record(
    object_store: ObjectStore, bucket: str
) -> None:
    assert object_store.conditional_writes(bucket)  # decided (the first write would probe)
    with traced(object_store.client) as trace:
        stored = object_store.put_locked(bucket, "case/1/one.bin", b"one request", SHORT)
    [put] = trace.requests()  # no HEAD before, no read-back after
    assert (put.method, put.key, put.status) == ("PUT", "case/1/one.bin", 200)
    assert "if-none-match" in put.headers
    stat = object_store.client.stat_object(bucket, "case/1/one.bin")
    assert stored.version_id and stat.version_id == stored.version_id
    assert stat.size == stored.size == len(b"one request")
    assert (stat.metadata or {})["x-amz-meta-sha256"] == stored.sha256


def test_a_given_sha256_is_what_is_recorded(object_store: ObjectStore, bucket: str) -> None:
    digest = hashlib.sha256(b"segment").hexdigest()
    stored = object_store.put_locked(bucket, "s.webm", b"segment", SHORT, sha256=digest)
    assert stored.sha256 == digest
    stat = object_store.client.stat_object(bucket, "s.webm")
    assert (stat.metadata or {})["x-amz-meta-sha256"] == digest


def test_existing_key_is_refused_by_the_put_itself_and_the_original_stays(
    object_store: ObjectStore, bucket: str
) -> None:
    stored = object_store.put_locked(bucket, "k", b"original", SHORT)
    with traced(object_store.client) as trace, pytest.raises(ObjectExists):
        object_store.put_locked(bucket, "k", b"forged", SHORT)
    assert [(r.method, r.status) for r in trace.requests()] == [("PUT", 412)]
    assert object_store.read(bucket, "k") == b"original"
    versions = object_store.client.list_objects(bucket, prefix="k", include_version=True)
    assert [v.version_id for v in versions] == [stored.version_id]  # no second version either


def test_concurrent_writers_of_one_key_have_one_winner(
    object_store: ObjectStore, bucket: str
) -> None:
    # A HEAD before the PUT let every writer through; the server's own check lets one.
    for trial in range(5):
        key = f"race/{trial}"
        start = threading.Barrier(8)

        def write(body: bytes, key: str = key, start: threading.Barrier = start) -> bool:
            start.wait()
            try:
                object_store.put_locked(bucket, key, body, SHORT)
            except ObjectExists:
                return False
            return True

        bodies = [b"writer %d" % i for i in range(8)]
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(write, bodies))
        assert won.count(True) == 1
        versions = list(object_store.client.list_objects(bucket, prefix=key, include_version=True))
        assert len(versions) == 1
        assert object_store.read(bucket, key) == bodies[won.index(True)]


def test_overwrite_is_refused_by_us_and_cannot_replace_the_locked_version(
    object_store: ObjectStore, bucket: str
) -> None:
    stored = object_store.put_locked(bucket, "k", b"original", SHORT)
    with pytest.raises(ObjectExists):
        object_store.put_locked(bucket, "k", b"forged", SHORT)
    # Going around the platform with a raw PUT makes a new version; the locked one stays intact.
    object_store.client.put_object(bucket, "k", io.BytesIO(b"forged"), 6)
    assert object_store.read(bucket, "k", stored.version_id) == b"original"
    # ...and a delete (which only adds a delete marker on a versioned bucket) does not remove it.
    object_store.client.remove_object(bucket, "k")
    assert object_store.read(bucket, "k", stored.version_id) == b"original"


def test_permanent_class_uses_a_legal_hold_that_blocks_deletion(
    object_store: ObjectStore, bucket: str
) -> None:
    stored = object_store.put_locked(bucket, "will.pdf", b"%PDF-1.7 will", PERMANENT)
    assert stored.legal_hold and stored.retain_until is None
    assert object_store.client.is_object_legal_hold_enabled(bucket, "will.pdf")
    with pytest.raises(S3Error) as refused:
        object_store.client.remove_object(bucket, "will.pdf", version_id=stored.version_id)
    assert refused.value.code == "AccessDenied"


def test_check_names_a_missing_bucket(object_store: ObjectStore) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        object_store.check([unique_bucket("nl-missing")])


def test_wrong_credentials_are_refused(s3_server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    intruder = ObjectStore(connect(s3_server.endpoint, "someone", "wrong-secret", "us-east-1"))
    with pytest.raises(S3Error):
        intruder.put_locked(bucket, "x", b"x", SHORT)


def test_connect_refuses_a_bad_endpoint() -> None:
    with pytest.raises(StoreError, match="http"):
        connect("ftp://example", "a", "b", "us-east-1")


# --- whether the server honours If-None-Match: probed once per bucket, at its first write -----


def _probe_versions(store: ObjectStore, bucket: str) -> list[str | None]:
    listed = store.client.list_objects(bucket, prefix=PROBE_KEY, include_version=True)
    return [v.version_id for v in listed]


def test_the_probe_finds_conditional_writes_honoured_once_and_leaves_one_unlocked_object(
    object_store: ObjectStore, bucket: str
) -> None:
    assert _probe_versions(object_store, bucket) == []  # bootstrapped, never written
    object_store.put_locked(bucket, "first", b"evidence", SHORT)  # the first write probes
    assert object_store.conditional_writes(bucket)
    [probe] = _probe_versions(object_store, bucket)
    # Another node starting: its probe is one refused PUT, written nothing; then it is decided.
    other = ObjectStore(object_store.client)
    with traced(other.client) as trace:
        other.check([bucket])
        assert other.conditional_writes(bucket)
        assert other.conditional_writes(bucket)
    assert [(r.method, r.status) for r in trace.requests()] == [("HEAD", 200), ("PUT", 412)]
    assert _probe_versions(object_store, bucket) == [probe]
    # No retention on it: it is not evidence and can go.
    object_store.client.remove_object(bucket, PROBE_KEY, version_id=probe)


def test_no_probe_where_the_mode_is_given(object_store: ObjectStore) -> None:
    name = unique_bucket()
    ObjectStore(object_store.client, conditional_writes=False).bootstrap([name])
    assert _probe_versions(object_store, name) == []


class ConditionDroppingMinio(Minio):
    """As an SDK or a proxy that drops If-None-Match: the real server never sees the condition."""

    def _put_object(
        self,
        bucket_name: str,
        object_name: str,
        data: bytes,
        headers: DictType | None = None,
        query_params: DictType | None = None,
    ) -> ObjectWriteResult:
        kept = {k: v for k, v in (headers or {}).items() if k.lower() != "if-none-match"}
        return super()._put_object(bucket_name, object_name, data, kept, query_params)


def test_where_the_condition_is_ignored_a_head_comes_first_and_nothing_is_overwritten(
    s3_server: LocalS3Server, object_store: ObjectStore, bucket: str
) -> None:
    assert object_store.conditional_writes(bucket)  # probed by a store that sends the header
    [probe] = _probe_versions(object_store, bucket)
    client = ConditionDroppingMinio(
        urlsplit(s3_server.endpoint).netloc,
        access_key=DEV_S3_ACCESS_KEY,
        secret_key=DEV_S3_SECRET_KEY,
        region="us-east-1",
        secure=False,
    )
    store = ObjectStore(client)
    store.bootstrap([bucket])
    assert not store.conditional_writes(bucket)
    assert _probe_versions(store, bucket) == [probe]  # the probe removed what it wrote

    with traced(client) as trace:
        stored = store.put_locked(bucket, "k", b"original", SHORT)
    assert trace.methods() == ["HEAD", "PUT"]
    with traced(client) as trace, pytest.raises(ObjectExists):
        store.put_locked(bucket, "k", b"forged", SHORT)
    assert trace.methods() == ["HEAD"]
    assert store.read(bucket, "k") == b"original"
    assert client.stat_object(bucket, "k").version_id == stored.version_id
