"""Streaming request bodies into bounded temp files (shared by capture and dispute routes).

Every body is bounded in size, in time and in disk space, so no caller can park a temp file:

- a pause longer than the idle timeout, or an average rate below the minimum once the grace
  period is over, gives 408 ``body_too_slow`` (a trickling client cannot hold a file open);
- the public ``/verify`` route admits a bounded number of bodies at once, in total (503
  ``uploads_busy``) and per client address (429 ``too_many_uploads``);
- a body that would leave less than the reserve free in the work folder gives 507
  ``insufficient_storage``: a declared ``Content-Length`` is checked before any byte is read, a
  chunked body every few MiB as it arrives;
- a client that disconnects mid-body is not an error of ours: 499 ``client_disconnected``,
  logged by the access line at info level.

The counters live in one :class:`UploadGate` per app (per worker process).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.requests import ClientDisconnect

from infra.errors import InputError, OrderSealError, UnavailableError
from infra.media import PayloadTooLargeError, ReceivedFile, receive_stream

if TYPE_CHECKING:
    from infra.settings import Settings

__all__ = [
    "BodyTooSlowError",
    "ClientDisconnectedError",
    "InsufficientStorageError",
    "MultipartUnsupportedError",
    "TooManyUploadsError",
    "UploadGate",
    "UploadsBusyError",
    "receive_body",
    "refuse_multipart",
]

#: How often a body is re-checked against the disk reserve as it arrives.
_DISK_CHECK_BYTES = 4 * 1024 * 1024
_RETRY_AFTER_SECONDS = 5


class MultipartUnsupportedError(InputError):
    """A file upload sent as ``multipart/form-data``: the file must be the raw body."""

    code = "multipart_unsupported"
    http_status = 415


def refuse_multipart(request: Request) -> None:
    """Refuse a form upload before a byte of it is read or stored.

    A multipart body (``curl -F file=@...``) wraps the file in a form: stored as it is, it would
    be no media type at all and fail every check later. The upload routes take the raw body.

    Raises:
        MultipartUnsupportedError: ``multipart_unsupported`` (415).
    """
    content_type = request.headers.get("content-type", "").strip().lower()
    if content_type.startswith("multipart/"):
        raise MultipartUnsupportedError(
            "expected the file as the raw request body (curl --data-binary @file), found a "
            f"{content_type.partition(';')[0]} form"
        )


class BodyTooSlowError(InputError):
    """The body paused too long or arrived below the minimum rate."""

    code = "body_too_slow"
    http_status = 408

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # The rest of the body is never read: the connection cannot carry another request.
        self.headers = {"Connection": "close"}


class ClientDisconnectedError(OrderSealError):
    """The client went away mid-body (nginx's 499: nobody receives the answer)."""

    code = "client_disconnected"
    http_status = 499


class _RetryLaterError(OrderSealError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.details = {"retry_after_seconds": _RETRY_AFTER_SECONDS}
        self.headers = {"Retry-After": str(_RETRY_AFTER_SECONDS)}


class UploadsBusyError(_RetryLaterError, UnavailableError):
    """All public upload slots of this worker are taken."""

    code = "uploads_busy"
    http_status = 503


class TooManyUploadsError(_RetryLaterError):
    """This client address already has its share of public uploads in flight."""

    code = "too_many_uploads"
    http_status = 429


class InsufficientStorageError(UnavailableError):
    """Receiving the body would leave less than the reserve free in the work folder."""

    code = "insufficient_storage"
    http_status = 507


def _free_bytes(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(directory).free


@dataclass
class UploadGate:
    """Admission and pacing for bodies streamed to the work folder, one per app.

    Limits of 0 disable that limit. Counters are per process: with several workers each
    admits its own share (docs/security.md).
    """

    idle_timeout_seconds: float
    min_bytes_per_second: int
    rate_grace_seconds: float
    max_public: int
    max_public_per_client: int
    reserve_bytes: int
    free_bytes: Callable[[Path], int] = _free_bytes
    _public: int = field(default=0, init=False)
    _by_client: dict[str, int] = field(default_factory=dict, init=False)
    _promised: int = field(default=0, init=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadGate:
        """The gate the settings describe."""
        return cls(
            idle_timeout_seconds=settings.body_idle_timeout_seconds,
            min_bytes_per_second=settings.body_min_bytes_per_second,
            rate_grace_seconds=settings.body_rate_grace_seconds,
            max_public=settings.public_uploads_max_concurrent,
            max_public_per_client=settings.public_uploads_max_per_client,
            reserve_bytes=settings.work_dir_reserve_bytes,
        )

    @contextmanager
    def public_slot(self, client: str) -> Iterator[None]:
        """Hold one public upload slot for ``client`` for the block.

        Raises:
            UploadsBusyError: every slot of this worker is taken.
            TooManyUploadsError: ``client`` holds its share already.
        """
        if self.max_public and self._public >= self.max_public:
            raise UploadsBusyError(
                f"expected at most {self.max_public} public uploads at once; retry later"
            )
        held = self._by_client.get(client, 0)
        if self.max_public_per_client and held >= self.max_public_per_client:
            raise TooManyUploadsError(
                f"expected at most {self.max_public_per_client} uploads at once per address"
            )
        self._public += 1
        self._by_client[client] = held + 1
        try:
            yield
        finally:
            self._public -= 1
            left = self._by_client[client] - 1
            if left:
                self._by_client[client] = left
            else:
                del self._by_client[client]

    @contextmanager
    def disk_admission(self, directory: Path, declared_bytes: int) -> Iterator[None]:
        """Admit a body of ``declared_bytes`` (0 when chunked) if the reserve stays free.

        Bytes promised to bodies still arriving count as used, so concurrent uploads cannot
        each see the same free space.

        Raises:
            InsufficientStorageError: the body would eat into the reserve.
        """
        self.verify_disk(directory, pending_bytes=declared_bytes)
        self._promised += declared_bytes
        try:
            yield
        finally:
            self._promised -= declared_bytes

    def verify_disk(self, directory: Path, *, pending_bytes: int = 0) -> None:
        """Raise unless ``pending_bytes`` more still leave the reserve free.

        Raises:
            InsufficientStorageError: free space minus promised bytes is below the reserve.
        """
        free = self.free_bytes(directory) - self._promised - pending_bytes
        if free < self.reserve_bytes:
            raise InsufficientStorageError(
                f"expected {self.reserve_bytes} bytes to stay free for the upload, "
                "found less; retry later"
            )

    def deadline(self, *, started: float, received: int, now: float) -> float | None:
        """Loop time by which the next piece of body must arrive (None: no limit)."""
        limits: list[float] = []
        if self.idle_timeout_seconds > 0:
            limits.append(now + self.idle_timeout_seconds)
        if self.min_bytes_per_second > 0:
            # At time t past the grace period the body must hold rate * (t - started) bytes,
            # so the bytes received so far buy time up to started + received / rate.
            allowed = max(self.rate_grace_seconds, received / self.min_bytes_per_second)
            limits.append(started + allowed)
        return min(limits) if limits else None


async def _paced_chunks(
    request: Request, gate: UploadGate, directory: Path, *, chunked: bool
) -> AsyncIterator[bytes]:
    """The body's chunks, cut off when too slow, disconnected or (chunked) the disk fills."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = 0
    next_disk_check = _DISK_CHECK_BYTES
    stream = request.stream().__aiter__()
    while True:
        deadline = gate.deadline(started=started, received=received, now=loop.time())
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise BodyTooSlowError(
                f"expected the body at {gate.min_bytes_per_second} bytes/s or more with "
                f"pauses under {gate.idle_timeout_seconds} s; received {received} bytes"
            ) from exc
        except ClientDisconnect as exc:
            raise ClientDisconnectedError(
                f"the client disconnected after {received} bytes of body"
            ) from exc
        received += len(chunk)
        if chunked and received >= next_disk_check:
            gate.verify_disk(directory)
            next_disk_check = received + _DISK_CHECK_BYTES
        yield chunk


async def receive_body(
    request: Request, directory: Path, *, max_bytes: int, public: bool = False
) -> ReceivedFile:
    """Stream the body to disk, refusing early when Content-Length already exceeds the limit.

    Args:
        request: the request whose body to read.
        directory: the work folder the temp file goes to.
        max_bytes: the size limit for this route.
        public: an unauthenticated route; holds one of the gate's public slots while reading.

    Raises:
        PayloadTooLargeError: declared or actual size above ``max_bytes``.
        InputError: empty body or malformed Content-Length.
        BodyTooSlowError: the body paused too long or arrived too slowly.
        ClientDisconnectedError: the client went away mid-body.
        UploadsBusyError, TooManyUploadsError: no public slot free (``public`` only).
        InsufficientStorageError: the work folder would fill into its reserve.
        MultipartUnsupportedError: a form upload (415), refused before a byte is read: every
            upload route takes the file as the raw body.

    Returns:
        The received file (the caller deletes it).
    """
    refuse_multipart(request)
    declared = request.headers.get("content-length")
    length = 0
    if declared is not None:
        try:
            length = int(declared)
        except ValueError as exc:
            raise InputError("expected a numeric Content-Length", code="invalid_request") from exc
        if length > max_bytes:
            raise PayloadTooLargeError(f"expected at most {max_bytes} bytes, declared {length}")
    gate: UploadGate = request.app.state.upload_gate
    client = request.client.host if request.client else "unknown"
    with (
        gate.public_slot(client) if public else _no_slot(),
        gate.disk_admission(directory, length),
    ):
        chunks = _paced_chunks(request, gate, directory, chunked=declared is None)
        return await receive_stream(chunks, directory, max_bytes=max_bytes)


@contextmanager
def _no_slot() -> Iterator[None]:
    yield
