"""S3 evidence store: write-once, content-addressed blobs in an Object Lock bucket.

This is the only storage module that imports boto3. Every botocore/boto3 error is re-raised
as :class:`~infra.storage.base.StorageError` with a stable code:

``storage_unavailable``
    connection errors, timeouts, throttling and 5xx answers; the caller may retry.
``evidence_missing``
    the key is not stored (404).
``checksum_mismatch``
    the bytes do not have the SHA-256 the caller gave (the server refused them, or the
    multipart digest computed while uploading differs); nothing is stored.
``evidence_corrupt``
    a download does not hash to the SHA-256 in its key.
``storage_access_denied``
    wrong credentials or missing permissions; retrying will not help.
``storage_rejected``
    any other refusal by the server (4xx).
``invalid_key``, ``source_unreadable``, ``storage_misconfigured``
    local problems: a key not made by ``key_for``, an unreadable source file, a client
    that could not be built or has no credentials.

Integrity: a single PUT carries ``ChecksumSHA256`` (the caller's digest), so the server
refuses bytes that do not match it. A multipart upload sends a SHA-256 per part (verified by
the server), hashes the whole file while streaming it, aborts before completing if that
digest differs from the caller's, and records the caller's digest as ``x-amz-meta-sha256``,
which is read back and compared after completion. Blobs are never overwritten: the write is
conditional (``If-None-Match: *``) when the server supports it, so an existing key (or a
concurrent writer) answers 412 and nothing is added; multipart uploads, and servers without
conditional writes, first ask with HEAD (for a small PUT that round trip was a fifth of a
sealed photo's storage time on SeaweedFS, docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.exceptions
from boto3.exceptions import Boto3Error
from botocore.config import Config

from infra.storage.base import StorageError, key_for

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["ObjectLockMode", "ObjectLockUnavailableWarning", "S3EvidenceStore"]

ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]

_MIB = 1024 * 1024
_CHUNK = _MIB
_MIN_PART_BYTES = 5 * _MIB  # S3 minimum for every part but the last
_MAX_PARTS = 10_000  # S3 maximum parts per upload
_KEY_PATTERN = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_METADATA_SHA256 = "sha256"  # sent as x-amz-meta-sha256

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
    }
)
_RETRYABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
)
_NO_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NotImplemented", "MethodNotAllowed"}
)
_BOTO_ERRORS: tuple[type[Exception], ...] = (botocore.exceptions.BotoCoreError, Boto3Error)
_ANY_ERRORS: tuple[type[Exception], ...] = (*_BOTO_ERRORS, botocore.exceptions.ClientError)


class ObjectLockUnavailableWarning(UserWarning):
    """Object Lock was asked for but the bucket or server lacks it: blobs get no retention.

    Write-once then rests only on this store never overwriting; anyone holding the bucket's
    credentials could still delete evidence.
    """


def _status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: Exception, action: str) -> StorageError:
    """Map a boto3/botocore error to a StorageError with a stable code (never secrets)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        status, code = _status(exc), _error_code(exc)
        if status == 404 or code in _MISSING_CODES:
            return StorageError(
                f"could not {action}: expected stored evidence, found none",
                code="evidence_missing",
            )
        if code == "BadDigest" or code == "XAmzContentSHA256Mismatch":
            return StorageError(
                f"could not {action}: the server found a different SHA-256 than given",
                code="checksum_mismatch",
                http_status=500,
            )
        if status >= 500 or status == 429 or code in _RETRYABLE_CODES:
            return StorageError(f"could not {action}: the store answered {status} {code}")
        if status in (401, 403) or code in _DENIED_CODES:
            return StorageError(
                f"could not {action}: the store refused our credentials ({status} {code})",
                code="storage_access_denied",
                http_status=500,
            )
        return StorageError(
            f"could not {action}: the store answered {status} {code}",
            code="storage_rejected",
            http_status=500,
        )
    if isinstance(
        exc,
        botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.ResponseStreamingError,
    ):
        # Connection refused/reset, timeouts and broken downloads: the store is unreachable.
        return StorageError(f"could not {action}: the store is unreachable")
    return StorageError(
        f"could not {action}: {type(exc).__name__}",
        code="storage_misconfigured",
        http_status=500,
    )


def _sha256_of_key(key: str) -> str:
    match = _KEY_PATTERN.fullmatch(key)
    if match is None or match.group(1) + match.group(2) != match.group(3)[:4]:
        raise StorageError("expected a key made by key_for", code="invalid_key")
    return match.group(3)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3EvidenceStore:
    """Blobs under ``sha256/ab/cd/<hash>`` in one S3 bucket, never overwritten.

    Args:
        client: a boto3 S3 client; use path-style addressing (see :meth:`from_settings`).
        bucket: the bucket name.
        object_lock_mode: retention mode applied to every new blob, or None for none.
        retention_days: retention length from the time of upload; required with a mode.
        multipart_threshold_bytes: files larger than this are uploaded in parts.
        part_size_bytes: the size of each part (at least 5 MiB; grown for huge files so
            an upload never needs more than 10,000 parts). One part is held in memory.
        conditional_writes: send ``If-None-Match: *``; turned off automatically when the
            server answers 501 to it.
        tmp_dir: where :meth:`open_local` puts its temporary copies (default: system temp).

    Raises:
        ValueError: inconsistent options.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        object_lock_mode: ObjectLockMode | None = None,
        retention_days: int = 0,
        multipart_threshold_bytes: int = 64 * _MIB,
        part_size_bytes: int = 16 * _MIB,
        conditional_writes: bool = True,
        tmp_dir: Path | None = None,
    ) -> None:
        if object_lock_mode is not None and retention_days < 1:
            raise ValueError("expected retention_days >= 1 with an Object Lock mode")
        if object_lock_mode not in (None, "GOVERNANCE", "COMPLIANCE"):
            raise ValueError("expected object_lock_mode GOVERNANCE, COMPLIANCE or None")
        if part_size_bytes < _MIN_PART_BYTES:
            raise ValueError(f"expected part_size_bytes >= {_MIN_PART_BYTES}")
        if multipart_threshold_bytes < 0:
            raise ValueError("expected multipart_threshold_bytes >= 0")
        self._client = client
        self.bucket = bucket
        self.object_lock_mode: ObjectLockMode | None = object_lock_mode
        self.retention_days = retention_days
        self.multipart_threshold_bytes = multipart_threshold_bytes
        self.part_size_bytes = part_size_bytes
        self._conditional_writes = conditional_writes
        self._tmp_dir = tmp_dir
        self._lock_available: bool | None = None

    @classmethod
    def from_settings(
        cls,
        endpoint_url: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        *,
        object_lock_mode: ObjectLockMode | None = None,
        retention_days: int = 0,
        multipart_threshold_bytes: int = 64 * _MIB,
        part_size_bytes: int = 16 * _MIB,
        max_attempts: int = 3,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 60.0,
        tmp_dir: Path | None = None,
    ) -> S3EvidenceStore:
        """Build a store with its own boto3 client (path-style addressing, bounded retries).

        Args:
            endpoint_url: the S3 endpoint; empty or None for AWS.
            bucket: the bucket name.
            access_key: the access key id; empty or None for boto3's default chain.
            secret_key: the secret key; empty or None for boto3's default chain.
            region: the signing region.
            object_lock_mode: see the class.
            retention_days: see the class.
            multipart_threshold_bytes: see the class.
            part_size_bytes: see the class.
            max_attempts: total attempts per request, including the first.
            connect_timeout_seconds: TCP connect timeout.
            read_timeout_seconds: socket read timeout.
            tmp_dir: see the class.

        Raises:
            StorageError: ``storage_misconfigured`` when boto3 refuses the configuration.
            ValueError: inconsistent options.

        Returns:
            The store. No request is made; call :meth:`ensure_bucket` at start-up.
        """
        config = Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout_seconds,
            read_timeout=read_timeout_seconds,
            # We send ChecksumSHA256 ourselves; no extra CRC trailers (aws-chunked bodies)
            # that some S3-compatible servers mishandle.
            request_checksum_calculation="when_required",
        )
        try:
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                region_name=region,
                config=config,
            )
        except _BOTO_ERRORS as exc:
            raise _translate(exc, "build the S3 client") from exc
        return cls(
            client,
            bucket,
            object_lock_mode=object_lock_mode,
            retention_days=retention_days,
            multipart_threshold_bytes=multipart_threshold_bytes,
            part_size_bytes=part_size_bytes,
            tmp_dir=tmp_dir,
        )

    # -- bucket ---------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket (Object Lock and versioning on) unless it exists; check its lock.

        Warns :class:`ObjectLockUnavailableWarning` when a lock mode is configured but the
        bucket has no Object Lock.

        Raises:
            StorageError: the bucket could not be checked or created.
        """
        try:
            self._client.head_bucket(Bucket=self.bucket)
            exists = True
        except botocore.exceptions.ClientError as exc:
            if _status(exc) != 404 and _error_code(exc) not in ("404", "NoSuchBucket"):
                raise _translate(exc, "check the bucket") from exc
            exists = False
        except _BOTO_ERRORS as exc:
            raise _translate(exc, "check the bucket") from exc
        if not exists:
            # An existing bucket is left as it is: the service role needs no bucket-admin
            # rights in production, and Object Lock cannot be added to a bucket here anyway.
            try:
                region = self._client.meta.region_name
                if region and region != "us-east-1":
                    self._client.create_bucket(
                        Bucket=self.bucket,
                        ObjectLockEnabledForBucket=True,
                        CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                    )
                else:
                    self._client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
                # Object Lock turns versioning on; say so explicitly for servers that don't.
                self._client.put_bucket_versioning(
                    Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                )
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) != "BucketAlreadyOwnedByYou":  # lost a creation race
                    raise _translate(exc, "create the bucket") from exc
            except _BOTO_ERRORS as exc:
                raise _translate(exc, "create the bucket") from exc
        self._lock_available = None
        self._lock_arguments()

    def check_object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled.

        Raises:
            StorageError: the bucket could not be asked (missing, unreachable, denied).

        Returns:
            True when the bucket's Object Lock configuration says ``Enabled``.
        """
        try:
            answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _NO_LOCK_CODES or _status(exc) == 501:
                return False
            raise _translate(exc, "read the Object Lock configuration") from exc
        except _BOTO_ERRORS as exc:
            raise _translate(exc, "read the Object Lock configuration") from exc
        enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        return enabled == "Enabled"

    def _lock_arguments(self) -> dict[str, Any]:
        """Retention arguments for a new object; empty (with one warning) without a lock."""
        if self.object_lock_mode is None:
            return {}
        if self._lock_available is None:
            self._lock_available = self.check_object_lock()
            if not self._lock_available:
                warnings.warn(
                    f"bucket {self.bucket!r} has no Object Lock: evidence is stored "
                    f"without {self.object_lock_mode} retention",
                    ObjectLockUnavailableWarning,
                    stacklevel=3,
                )
        if not self._lock_available:
            return {}
        # Aware UTC now: retention is counted from the upload, as S3 does for default rules.
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        return {"ObjectLockMode": self.object_lock_mode, "ObjectLockRetainUntilDate": until}

    # -- EvidenceStore --------------------------------------------------------------------

    def put_file(self, path: Path, sha256: str) -> str:
        """Upload ``path`` under its content address and delete the local file.

        An existing key is left untouched (and the source deleted). On any failure the
        source file is kept, so evidence is never lost.

        Args:
            path: the file to store.
            sha256: the lowercase hex SHA-256 of the file, computed by the caller.

        Raises:
            ValueError: ``sha256`` is not a lowercase hex SHA-256.
            StorageError: ``checksum_mismatch`` when the file does not hash to ``sha256``,
                ``storage_unavailable`` when the store is unreachable, and the other codes
                in the module docstring.

        Returns:
            The key, ``sha256/ab/cd/<sha256>``.
        """
        key = key_for(sha256)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(
                "expected a readable source file", code="source_unreadable", http_status=500
            ) from exc
        single_conditional = self._conditional_writes and size <= self.multipart_threshold_bytes
        if not single_conditional and self.exists(key):
            path.unlink(missing_ok=True)
            return key
        lock = self._lock_arguments()
        if size > self.multipart_threshold_bytes:
            stored = self._put_multipart(path, key, sha256, size, lock)
        else:
            stored = self._put_single(path, key, sha256, size, lock)
        if stored and size > self.multipart_threshold_bytes:
            self._verify_metadata(key, sha256, size)
        path.unlink(missing_ok=True)
        return key

    def ping(self) -> None:
        """Check the bucket answers (readiness probe).

        Raises:
            StorageError: unreachable, missing bucket or denied.
        """
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _translate(exc, "reach the bucket") from exc

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``.

        Raises:
            StorageError: ``invalid_key``, or the store could not be asked.
        """
        _sha256_of_key(key)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if _status(exc) == 404 or _error_code(exc) in _MISSING_CODES:
                return False
            raise _translate(exc, "check for evidence") from exc
        except _BOTO_ERRORS as exc:
            raise _translate(exc, "check for evidence") from exc
        return True

    @contextlib.contextmanager
    def open_local(self, key: str) -> Iterator[Path]:
        """Download the blob to a temporary file, yield its path, delete it afterwards.

        The download is streamed to disk and its SHA-256 checked against the key.

        Raises:
            StorageError: ``evidence_missing``, ``evidence_corrupt``, ``invalid_key``, or
                ``storage_unavailable`` (including a local disk that cannot hold the copy).
        """
        expected = _sha256_of_key(key)
        body = self._get_body(key)
        try:
            fd, name = tempfile.mkstemp(prefix="orderseal-", suffix=".blob", dir=self._tmp_dir)
        except OSError as exc:
            body.close()
            raise StorageError("could not create a temporary copy of evidence") from exc
        temp = Path(name)
        try:
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in self._chunks(body, key, expected):
                        out.write(chunk)
            except OSError as exc:
                raise StorageError("could not write the temporary copy of evidence") from exc
            yield temp
        finally:
            temp.unlink(missing_ok=True)

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        """Stream the blob in 1 MiB chunks.

        The request is made now, so a missing blob raises before any byte is sent; a
        stream whose bytes do not hash to the key raises after its last chunk.

        Raises:
            StorageError: ``evidence_missing``, ``invalid_key`` or ``storage_unavailable``
                now; ``evidence_corrupt`` or ``storage_unavailable`` while iterating.
        """
        expected = _sha256_of_key(key)
        return self._chunks(self._get_body(key), key, expected)

    # -- internals ------------------------------------------------------------------------

    def _conditional(self) -> dict[str, Any]:
        return {"IfNoneMatch": "*"} if self._conditional_writes else {}

    def _unsupported_condition(self, exc: botocore.exceptions.ClientError) -> bool:
        """True (and conditional writes switched off) when the server lacks If-None-Match."""
        if self._conditional_writes and (
            _status(exc) == 501 or _error_code(exc) == "NotImplemented"
        ):
            self._conditional_writes = False
            return True
        return False

    def _put_single(
        self, path: Path, key: str, sha256: str, size: int, lock: dict[str, Any]
    ) -> bool:
        """One PUT with the caller's SHA-256 for the server to check. False if it existed."""
        while True:
            try:
                with path.open("rb") as handle:
                    self._client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=handle,
                        ContentLength=size,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=_b64(bytes.fromhex(sha256)),
                        Metadata={_METADATA_SHA256: sha256},
                        **self._conditional(),
                        **lock,
                    )
                return True
            except OSError as exc:
                raise StorageError(
                    "expected a readable source file", code="source_unreadable", http_status=500
                ) from exc
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) == "PreconditionFailed":
                    return False  # a concurrent writer stored the same content first
                if self._unsupported_condition(exc):
                    if self.exists(key):  # no conditional writes: ask first, then write
                        return False
                    continue
                raise _translate(exc, "store evidence") from exc
            except _BOTO_ERRORS as exc:
                raise _translate(exc, "store evidence") from exc

    def _part_size(self, size: int) -> int:
        needed = -(-size // _MAX_PARTS)
        return max(self.part_size_bytes, needed)

    def _put_multipart(
        self, path: Path, key: str, sha256: str, size: int, lock: dict[str, Any]
    ) -> bool:
        """Upload in parts, each checked by the server. False if the key already existed."""
        try:
            upload_id = self._client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                ChecksumAlgorithm="SHA256",
                Metadata={_METADATA_SHA256: sha256},
                **lock,
            )["UploadId"]
        except _ANY_ERRORS as exc:
            raise _translate(exc, "start a multipart upload") from exc
        try:
            parts = self._upload_parts(path, key, upload_id, sha256, size)
            stored = self._complete(key, upload_id, parts)
        except BaseException:
            self._abort(key, upload_id)
            raise
        if not stored:
            # A refused conditional completion leaves the upload open: close it too.
            self._abort(key, upload_id)
        return stored

    def _abort(self, key: str, upload_id: str) -> None:
        """Best effort: leave no orphaned parts behind (they cost money and are invisible)."""
        with contextlib.suppress(*_ANY_ERRORS):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _upload_parts(
        self, path: Path, key: str, upload_id: str, sha256: str, size: int
    ) -> list[CompletedPartTypeDef]:
        part_size = self._part_size(size)
        whole = hashlib.sha256()
        parts: list[CompletedPartTypeDef] = []
        try:
            with path.open("rb") as handle:
                number = 1
                while chunk := handle.read(part_size):
                    whole.update(chunk)
                    checksum = _b64(hashlib.sha256(chunk).digest())
                    answer = self._client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum,
                    )
                    parts.append(
                        {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
                    )
                    number += 1
        except OSError as exc:
            raise StorageError(
                "expected a readable source file", code="source_unreadable", http_status=500
            ) from exc
        except _ANY_ERRORS as exc:
            raise _translate(exc, "upload a part") from exc
        if whole.hexdigest() != sha256:
            raise StorageError(
                "expected the file to hash to the given SHA-256, found another digest",
                code="checksum_mismatch",
                http_status=500,
            )
        return parts

    def _complete(self, key: str, upload_id: str, parts: list[CompletedPartTypeDef]) -> bool:
        while True:
            try:
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **self._conditional(),
                )
                return True
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) == "PreconditionFailed":
                    return False
                if self._unsupported_condition(exc):
                    continue
                raise _translate(exc, "complete a multipart upload") from exc
            except _BOTO_ERRORS as exc:
                raise _translate(exc, "complete a multipart upload") from exc

    def _verify_metadata(self, key: str, sha256: str, size: int) -> None:
        """Multipart checksums are composite: compare the recorded whole-object SHA-256."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except _ANY_ERRORS as exc:
            raise _translate(exc, "check stored evidence") from exc
        found = head.get("Metadata", {}).get(_METADATA_SHA256)
        if found != sha256 or head.get("ContentLength") != size:
            raise StorageError(
                "expected the stored object to record the given SHA-256 and size, found "
                f"sha256={found} size={head.get('ContentLength')}",
                code="checksum_mismatch",
                http_status=500,
            )

    def _get_body(self, key: str) -> StreamingBody:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except _ANY_ERRORS as exc:
            raise _translate(exc, "read evidence") from exc

    def _chunks(self, body: StreamingBody, key: str, expected: str) -> Iterator[bytes]:
        digest = hashlib.sha256()
        try:
            for chunk in body.iter_chunks(_CHUNK):
                digest.update(chunk)
                yield chunk
        except _ANY_ERRORS as exc:
            raise _translate(exc, "read evidence") from exc
        finally:
            body.close()
        if digest.hexdigest() != expected:
            raise StorageError(
                "expected the stored bytes to hash to their key, found another digest",
                code="evidence_corrupt",
                http_status=500,
            )
