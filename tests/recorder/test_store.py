"""Object lock on a real S3 server: locked evidence cannot be deleted, overwritten or shortened."""

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention

from recorder.retention import parse_retention_classes
from recorder.store import ObjectExists, ObjectStore, StoreError, connect
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
    assert stat.metadata["x-amz-meta-sha256"] == stored.sha256
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
    assert retention.mode == COMPLIANCE


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
