"""Streaming request bodies into bounded temp files (shared by capture and dispute routes)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from infra.errors import InputError
from infra.media import PayloadTooLargeError, ReceivedFile, receive_stream

__all__ = ["receive_body"]


async def receive_body(request: Request, directory: Path, *, max_bytes: int) -> ReceivedFile:
    """Stream the body to disk, refusing early when Content-Length already exceeds the limit.

    Raises:
        PayloadTooLargeError: declared or actual size above ``max_bytes``.
        InputError: empty body or malformed Content-Length.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError as exc:
            raise InputError("expected a numeric Content-Length", code="invalid_request") from exc
        if length > max_bytes:
            raise PayloadTooLargeError(f"expected at most {max_bytes} bytes, declared {length}")
    return await receive_stream(request.stream(), directory, max_bytes=max_bytes)
