"""Opaque listing cursors: the last row's keyset position, bound to the filters of its listing.

A cursor is ``base64url(JSON).checksum``: the JSON holds the version, the last row's
(``updated_at``, id) and a digest of the filters it was made under. :func:`from_cursor`
refuses (``422 cursor_invalid``) a cursor that does not decode, whose checksum does not match
(altered or truncated), or that was made under other filters (its position would mean nothing
there). The checksum is not a secret: a cursor grants nothing, since its holder may list every
page anyway; it makes a damaged cursor an error rather than a silently different page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from infra.errors import InputError

__all__ = ["CURSOR_MAX_CHARS", "filters_digest", "from_cursor", "to_cursor"]

#: Longer strings are refused before decoding.
CURSOR_MAX_CHARS = 512
_VERSION = 1


def filters_digest(filters: Mapping[str, object]) -> str:
    """A short digest of a listing's filters (None values left out, order not counting)."""
    canonical = json.dumps({k: str(v) for k, v in filters.items() if v is not None}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _checksum(payload: str) -> str:
    return hashlib.sha256(b"orderseal-cursor\0" + payload.encode()).hexdigest()[:16]


def to_cursor(at: datetime, row_id: str, *, filters: Mapping[str, object]) -> str:
    """The cursor after the row (``at``, ``row_id``) of a listing under ``filters``."""
    body = json.dumps(
        {
            "v": _VERSION,
            "t": at.astimezone(UTC).isoformat(),
            "i": row_id,
            "f": filters_digest(filters),
        },
        separators=(",", ":"),
    )
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_checksum(payload)}"


def _invalid(why: str) -> InputError:
    return InputError(f"expected a cursor from this listing, found {why}", code="cursor_invalid")


def from_cursor(cursor: str, *, filters: Mapping[str, object]) -> tuple[datetime, str]:
    """The (``updated_at``, id) position a cursor of a listing under ``filters`` names.

    Raises:
        InputError: ``cursor_invalid``.
    """
    if len(cursor) > CURSOR_MAX_CHARS:
        raise _invalid("an over-long string")
    payload, dot, checksum = cursor.partition(".")
    if not dot or checksum != _checksum(payload):
        raise _invalid("an altered or truncated cursor")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        body = json.loads(raw)
        at = datetime.fromisoformat(body["t"])
        row_id = body["i"]
        version, digest = body["v"], body["f"]
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise _invalid("an undecodable cursor") from None
    if version != _VERSION or not isinstance(row_id, str) or at.tzinfo is None:
        raise _invalid("a cursor of another format")
    if digest != filters_digest(filters):
        raise _invalid("a cursor made under other filters")
    return at.astimezone(UTC), row_id
