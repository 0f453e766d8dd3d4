"""S3EvidenceStore against a real SeaweedFS S3 endpoint (``weed mini``), no mocks.

The real boto3 code path runs against the closest local S3 server. A missing ``weed``
binary fails the module (it never skips).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from infra.storage.base import StorageError, key_for
from infra.storage.s3 import ObjectLockUnavailableWarning, S3EvidenceStore
from tests.support.seaweed import SeaweedS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MIB = 1024 * 1024


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedS3]:
    """One SeaweedFS for the module (tests use their own buckets)."""
    with SeaweedS3() as server:
        yield server


@pytest.fixture(scope="module")
def client(seaweed: SeaweedS3) -> S3Client:
    """A raw boto3 client, for assertions the store does not offer."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name per test."""
    return f"evidence-{secrets.token_hex(6)}"


def make_store(server: SeaweedS3, bucket: str, **options: Any) -> S3EvidenceStore:
    """A store with fast failure (one attempt, short timeouts) so outage tests stay quick."""
    options.setdefault("access_key", server.access_key)
    options.setdefault("secret_key", server.secret_key)
    return S3EvidenceStore.from_settings(
        server.endpoint_url,
        bucket,
        region=server.region,
        max_attempts=1,
        connect_timeout_seconds=2.0,
        read_timeout_seconds=20.0,
        **options,
    )


def write_blob(folder: Path, data: bytes, name: str = "blob.bin") -> tuple[Path, str]:
    """Write ``data`` to a new file; return its path and SHA-256."""
    path = folder / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_round_trip(seaweed: SeaweedS3, bucket: str, tmp_path: Path) -> None:
    store = make_store(seaweed, bucket)
    store.ensure_bucket()
    data = os.urandom(2 * _MIB + 12345)
    path, sha = write_blob(tmp_path, data)

    key = store.put_file(path, sha)

    assert key == key_for(sha)
    assert not path.exists()
    assert store.exists(key)
    assert not store.exists(key_for("0" * 64))
    with store.open_local(key) as local:
        assert local.read_bytes() == data
    assert not local.exists()
    chunks = list(store.iter_bytes(key))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [_MIB, _MIB, 12345]


@pytest.mark.parametrize("conditional_writes", [True, False])
def test_put_same_content_twice_keeps_first_version(
    seaweed: SeaweedS3, client: S3Client, bucket: str, tmp_path: Path, conditional_writes: bool
) -> None:
    # Conditional writes: the second PUT answers 412. Without them: HEAD finds the blob first.
    store = make_store(seaweed, bucket)
    store._conditional_writes = conditional_writes
    store.ensure_bucket()
    data = os.urandom(4096)
    first, sha = write_blob(tmp_path, data, "first.bin")
    key = store.put_file(first, sha)
    before = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]

    second, _ = write_blob(tmp_path, data, "second.bin")
    assert store.put_file(second, sha) == key

    assert not second.exists()
    after = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(after) == 1
    assert after[0]["VersionId"] == before[0]["VersionId"]


def test_server_refuses_bad_checksum_directly(
    seaweed: SeaweedS3, client: S3Client, bucket: str
) -> None:
    make_store(seaweed, bucket).ensure_bucket()
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.put_object(
            Bucket=bucket,
            Key="probe",
            Body=b"evidence",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256="A" * 43 + "=",
        )
    assert caught.value.response["Error"]["Code"] == "BadDigest"


@pytest.mark.parametrize(
    ("size_bytes", "threshold_bytes"),
    [(4096, 64 * _MIB), (12 * _MIB, 5 * _MIB)],
    ids=["single-put", "multipart"],
)
def test_wrong_sha256_is_refused_and_nothing_stored(
    seaweed: SeaweedS3,
    client: S3Client,
    bucket: str,
    tmp_path: Path,
    size_bytes: int,
    threshold_bytes: int,
) -> None:
    store = make_store(
        seaweed, bucket, multipart_threshold_bytes=threshold_bytes, part_size_bytes=5 * _MIB
    )
    store.ensure_bucket()
    path, _ = write_blob(tmp_path, os.urandom(size_bytes))
    wrong = hashlib.sha256(b"other content").hexdigest()

    with pytest.raises(StorageError) as caught:
        store.put_file(path, wrong)

    assert caught.value.code == "checksum_mismatch"
    assert path.exists()
    assert not store.exists(key_for(wrong))
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_multipart_round_trip_records_sha256(
    seaweed: SeaweedS3, client: S3Client, bucket: str, tmp_path: Path
) -> None:
    store = make_store(
        seaweed, bucket, multipart_threshold_bytes=5 * _MIB, part_size_bytes=5 * _MIB
    )
    store.ensure_bucket()
    data = os.urandom(12 * _MIB)
    path, sha = write_blob(tmp_path, data)

    key = store.put_file(path, sha)

    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == sha
    assert head["ContentLength"] == len(data)
    # The server's own checksum is composite (hash of part hashes), hence the metadata.
    assert head.get("ChecksumSHA256", "").endswith("-3")
    with store.open_local(key) as local:
        assert hashlib.sha256(local.read_bytes()).hexdigest() == sha
    assert not path.exists()


def test_compliance_lock_refuses_version_delete(
    seaweed: SeaweedS3, client: S3Client, bucket: str, tmp_path: Path
) -> None:
    store = make_store(seaweed, bucket, object_lock_mode="COMPLIANCE", retention_days=1)
    store.ensure_bucket()
    assert store.check_object_lock()
    path, sha = write_blob(tmp_path, os.urandom(1024))
    key = store.put_file(path, sha)
    version = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"][0]["VersionId"]

    with pytest.raises(botocore.exceptions.ClientError):
        client.delete_object(
            Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
        )

    assert client.get_object_retention(Bucket=bucket, Key=key)["Retention"]["Mode"] == "COMPLIANCE"
    assert store.exists(key)


def test_governance_lock_sets_retention(
    seaweed: SeaweedS3, client: S3Client, bucket: str, tmp_path: Path
) -> None:
    store = make_store(seaweed, bucket, object_lock_mode="GOVERNANCE", retention_days=2)
    store.ensure_bucket()
    path, sha = write_blob(tmp_path, os.urandom(1024))
    now = datetime.now(UTC)

    key = store.put_file(path, sha)

    retention = client.get_object_retention(Bucket=bucket, Key=key)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    until = retention["RetainUntilDate"]
    assert now + timedelta(days=2) - timedelta(minutes=5) <= until
    assert until <= now + timedelta(days=2, minutes=5)


def test_bucket_without_object_lock_warns_and_stores(
    seaweed: SeaweedS3, client: S3Client, bucket: str, tmp_path: Path
) -> None:
    client.create_bucket(Bucket=bucket)
    store = make_store(seaweed, bucket, object_lock_mode="COMPLIANCE", retention_days=1)
    assert not store.check_object_lock()
    path, sha = write_blob(tmp_path, os.urandom(1024))

    with pytest.warns(ObjectLockUnavailableWarning):
        key = store.put_file(path, sha)

    assert store.exists(key)


def test_missing_and_invalid_keys(seaweed: SeaweedS3, bucket: str) -> None:
    store = make_store(seaweed, bucket)
    store.ensure_bucket()
    missing = key_for("ab" * 32)

    with pytest.raises(StorageError) as caught, store.open_local(missing):
        pass
    assert caught.value.code == "evidence_missing"
    with pytest.raises(StorageError) as caught:
        store.iter_bytes(missing)
    assert caught.value.code == "evidence_missing"
    with pytest.raises(StorageError) as caught:
        store.exists("../etc/passwd")
    assert caught.value.code == "invalid_key"


def test_corrupt_blob_is_detected_on_read(
    seaweed: SeaweedS3, client: S3Client, bucket: str
) -> None:
    store = make_store(seaweed, bucket)
    store.ensure_bucket()
    key = key_for(hashlib.sha256(b"the original").hexdigest())
    client.put_object(Bucket=bucket, Key=key, Body=b"something else")

    with pytest.raises(StorageError) as caught, store.open_local(key):
        pass
    assert caught.value.code == "evidence_corrupt"
    with pytest.raises(StorageError) as caught:
        list(store.iter_bytes(key))
    assert caught.value.code == "evidence_corrupt"


def test_wrong_secret_is_refused(seaweed: SeaweedS3, bucket: str, tmp_path: Path) -> None:
    make_store(seaweed, bucket).ensure_bucket()
    store = make_store(seaweed, bucket, secret_key="not-the-secret")
    path, sha = write_blob(tmp_path, os.urandom(1024))

    with pytest.raises(StorageError) as caught:
        store.exists(key_for(sha))
    assert caught.value.code == "storage_access_denied"
    with pytest.raises(StorageError) as caught:
        store.put_file(path, sha)
    assert caught.value.code == "storage_access_denied"
    assert path.exists()


def test_outage_keeps_source_and_recovers(tmp_path: Path) -> None:
    # Its own server: stopping the shared one would disturb the other tests.
    with SeaweedS3(tmp_path / "seaweed") as server:
        store = make_store(server, "evidence-outage")
        store.ensure_bucket()
        before_path, before_sha = write_blob(tmp_path, os.urandom(2048), "before.bin")
        before_key = store.put_file(before_path, before_sha)
        path, sha = write_blob(tmp_path, os.urandom(2048))

        server.stop()
        with pytest.raises(StorageError) as caught:
            store.put_file(path, sha)
        assert caught.value.code == "storage_unavailable"
        assert path.exists()

        server.start()
        key = store.put_file(path, sha)
        assert not path.exists()
        assert store.exists(key)
        with store.open_local(before_key) as local:
            assert hashlib.sha256(local.read_bytes()).hexdigest() == before_sha


@pytest.mark.parametrize(
    ("size_bytes", "threshold_bytes"),
    [(4096, 64 * _MIB), (6 * _MIB, 5 * _MIB)],
    ids=["single-put", "multipart"],
)
def test_concurrent_writer_race_is_a_no_op(
    seaweed: SeaweedS3,
    client: S3Client,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size_bytes: int,
    threshold_bytes: int,
) -> None:
    store = make_store(
        seaweed, bucket, multipart_threshold_bytes=threshold_bytes, part_size_bytes=5 * _MIB
    )
    store.ensure_bucket()
    data = os.urandom(size_bytes)
    first, sha = write_blob(tmp_path, data, "first.bin")
    key = store.put_file(first, sha)
    # Another writer stored the blob between our HEAD and our PUT: only If-None-Match stops us.
    monkeypatch.setattr(store, "exists", lambda key: False)
    second, _ = write_blob(tmp_path, data, "second.bin")

    assert store.put_file(second, sha) == key

    assert not second.exists()
    assert len(client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]) == 1
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
