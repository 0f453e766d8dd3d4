"""Errors of the evidence kernel: a file that is not a well-formed photo or video container."""

from __future__ import annotations

from infra.errors import InputError

__all__ = ["MediaError"]


class MediaError(InputError):
    """The container is malformed, padded with a second file or too large to decode.

    ``code`` is ``corrupt_media``, ``trailing_data`` or ``image_too_large``.
    """

    code = "corrupt_media"
