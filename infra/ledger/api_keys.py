"""Operator API keys (platform, agent, admin, merchant): issue, list, rotate, revoke, authenticate.

A key is a long random secret shown to the operator once; the ledger keeps only its SHA-256
and a public id (``kid_...``) that lists and logs name instead. A key is refused from the
moment it is revoked, and from its ``expires_at`` on: rotation gives the old key an expiry
at the end of the overlap, so callers can switch without an outage. A ``merchant`` key acts for
one registered merchant (``merchant_id``, kept through rotation); no other role names one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infra.errors import ConflictError, InputError, NotFoundError
from infra.ledger.merchants import MerchantNotFoundError
from infra.ledger.models import APIKey, Merchant
from infra.ledger.sessions import GuardedSessions

__all__ = [
    "API_ROLES",
    "DEFAULT_OVERLAP",
    "LAST_USED_GRANULARITY",
    "APIKeyInfo",
    "APIKeys",
    "IssuedAPIKey",
    "hash_api_key",
]

#: The roles an API key may carry (stations and buyers hold device credentials instead).
API_ROLES = ("platform", "agent", "admin", "merchant")
#: How long a rotated-out key keeps working unless the operator says otherwise.
DEFAULT_OVERLAP = timedelta(hours=24)
#: ``last_used_at`` is written at most this often per key: one write, not one per request.
LAST_USED_GRANULARITY = timedelta(minutes=5)

_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}")
_KEY_ID = re.compile(r"kid_[0-9a-f]{16}")
_MAX_LABEL = 64


def hash_api_key(key: str) -> str:
    """API keys are stored only as SHA-256 (they are long random strings, no salt needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class APIKeyInfo:
    """What may be shown about a key: never its secret or hash."""

    key_id: str
    role: str
    subject: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    last_used_at: datetime | None
    #: The merchant a ``merchant`` key acts for (None for every other role).
    merchant_id: str | None = None

    @classmethod
    def from_row(cls, row: APIKey) -> APIKeyInfo:
        """The public view of a ledger row."""
        return cls(
            key_id=row.key_id,
            role=row.role,
            subject=row.subject,
            label=row.label,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            replaced_by=row.replaced_by,
            last_used_at=row.last_used_at,
            merchant_id=row.merchant_id,
        )

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired``, ``expiring`` (in a rotation overlap or due) or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "expired" if now >= self.expires_at else "expiring"
        return "active"

    def usable(self, now: datetime) -> bool:
        """Whether the key authenticates at ``now``."""
        return self.state(now) in ("active", "expiring")


@dataclass(frozen=True)
class IssuedAPIKey:
    """A new key: its public record and the secret, which exists nowhere else."""

    info: APIKeyInfo
    # Kept out of repr so a logged or printed result never carries it.
    secret: str = field(repr=False)


def _usable(row: APIKey, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or now < row.expires_at)


def _check_role(role: str) -> str:
    if role not in API_ROLES:
        raise InputError(f"expected a role of {', '.join(API_ROLES)}, found {role!r}")
    return role


def _check_subject(subject: str) -> str:
    if not _SUBJECT.fullmatch(subject):
        raise InputError(
            "expected a subject of 1-64 letters, digits and . _ @ : - (starting alphanumeric)"
        )
    return subject


def _check_merchant(role: str, merchant_id: str | None) -> str | None:
    if (role == "merchant") != (merchant_id is not None):
        raise InputError("expected a merchant id for a merchant key, and only for one")
    return merchant_id


def _check_label(label: str | None) -> str | None:
    if label is None:
        return None
    label = label.strip()
    if len(label) > _MAX_LABEL or not label.isprintable():
        raise InputError(f"expected a label of at most {_MAX_LABEL} printable characters")
    return label or None


def _new_row(
    *,
    role: str,
    subject: str,
    label: str | None,
    now: datetime,
    expires_at: datetime | None,
    merchant_id: str | None = None,
) -> tuple[APIKey, str]:
    # The role prefix lets secret scanners and operators tell keys apart; the id is separate
    # random, so nothing about the secret can be learned from what lists and logs show.
    secret = f"osk_{role}_{secrets.token_urlsafe(32)}"
    row = APIKey(
        key_hash=hash_api_key(secret),
        key_id=f"kid_{secrets.token_hex(8)}",
        role=role,
        subject=subject,
        label=label,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        replaced_by=None,
        last_used_at=None,
        merchant_id=merchant_id,
    )
    return row, secret


class APIKeys:
    """Repository of operator API keys; each method is one transaction.

    Every method raises ``UnavailableError`` (``ledger_unavailable``, 503) when the database
    is down or drops the connection.
    """

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    def issue(
        self,
        *,
        role: str,
        subject: str,
        label: str | None = None,
        now: datetime,
        expires_at: datetime | None = None,
        merchant_id: str | None = None,
    ) -> IssuedAPIKey:
        """Make and store a new key.

        Args:
            role: one of ``API_ROLES``; the key acts only in it.
            subject: who the key stands for (the principal's subject).
            label: an optional note for the operator (where the key is deployed).
            now: the creation time.
            expires_at: when the key stops working (None: until revoked or rotated).
            merchant_id: the merchant a ``merchant`` key acts for (required for that role,
                refused for any other).

        Raises:
            InputError: an unknown role, or a subject or label of the wrong shape; a merchant
                key without a merchant, or another role's key with one.
            MerchantNotFoundError: ``merchant_not_found``, the merchant is not registered.
            ConflictError: an id or hash collision (retry).

        Returns:
            The stored record and the secret, which only the caller now holds.
        """
        row, secret = _new_row(
            role=_check_role(role),
            subject=_check_subject(subject),
            label=_check_label(label),
            now=now,
            expires_at=expires_at,
            merchant_id=_check_merchant(role, merchant_id),
        )
        try:
            with self._sessions.begin() as session:
                if row.merchant_id is not None and session.get(Merchant, row.merchant_id) is None:
                    raise MerchantNotFoundError(
                        f"expected a registered merchant, found {row.merchant_id!r}"
                    )
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError("expected a new API key id, found an existing one") from exc
        return IssuedAPIKey(APIKeyInfo.from_row(row), secret)

    def list_keys(self) -> list[APIKeyInfo]:
        """Every key, oldest first (revoked and expired ones too)."""
        with self._sessions() as session:
            rows = session.scalars(select(APIKey).order_by(APIKey.created_at, APIKey.key_id))
            return [APIKeyInfo.from_row(row) for row in rows]

    def get(self, key_id: str) -> APIKeyInfo | None:
        """The key with this public id, or None."""
        with self._sessions() as session:
            row = session.scalars(select(APIKey).where(APIKey.key_id == key_id)).one_or_none()
            return None if row is None else APIKeyInfo.from_row(row)

    def rotate(
        self,
        key_id: str,
        *,
        now: datetime,
        overlap: timedelta = DEFAULT_OVERLAP,
        label: str | None = None,
    ) -> IssuedAPIKey:
        """Issue a replacement with the same role and subject; the old key expires after
        ``overlap`` (zero: at once). An earlier expiry of the old key stands.

        Args:
            key_id: the key to replace.
            now: the rotation time.
            overlap: how long the old key keeps working (not negative).
            label: the new key's label (default: the old key's).

        Raises:
            InputError: a negative overlap or a label of the wrong shape.
            NotFoundError: ``api_key_not_found``.
            ConflictError: ``api_key_inactive``: the key is revoked, expired or already
                rotated (rotate its replacement instead).

        Returns:
            The replacement's record and secret.
        """
        if overlap < timedelta(0):
            raise InputError("expected an overlap of zero or more")
        new_label = _check_label(label)
        with self._sessions.begin() as session:
            old = self._locked(session, key_id)
            if not _usable(old, now) or old.replaced_by is not None:
                raise ConflictError(
                    f"expected an active key that was not rotated, found {key_id} is not",
                    code="api_key_inactive",
                )
            row, secret = _new_row(
                role=old.role,
                subject=old.subject,
                label=new_label if label is not None else old.label,
                now=now,
                expires_at=None,
                merchant_id=old.merchant_id,
            )
            session.add(row)
            old.replaced_by = row.key_id
            ends = now + overlap
            old.expires_at = ends if old.expires_at is None else min(old.expires_at, ends)
            return IssuedAPIKey(APIKeyInfo.from_row(row), secret)

    def revoke(self, key_id: str, *, now: datetime) -> APIKeyInfo:
        """Refuse the key from ``now`` on (the first revocation time stands).

        Raises:
            NotFoundError: ``api_key_not_found``.

        Returns:
            The revoked key's record.
        """
        with self._sessions.begin() as session:
            row = self._locked(session, key_id)
            if row.revoked_at is None:
                row.revoked_at = now
            return APIKeyInfo.from_row(row)

    def find(self, key: str) -> APIKeyInfo | None:
        """The record of a presented secret, in any state (``APIKeyInfo.usable`` decides).

        The key is found by its hash, as stored: the secret is never compared itself.
        """
        with self._sessions() as session:
            row: APIKey | None = session.get(APIKey, hash_api_key(key))
            return None if row is None else APIKeyInfo.from_row(row)

    def mark_used(self, info: APIKeyInfo, *, now: datetime) -> None:
        """Record that the key was used, at most once per ``LAST_USED_GRANULARITY``.

        Most requests write nothing: only a ``last_used_at`` older than the granularity is
        refreshed, and only if no other worker refreshed it meanwhile.
        """
        if info.last_used_at is not None and now - info.last_used_at < LAST_USED_GRANULARITY:
            return
        stale = now - LAST_USED_GRANULARITY
        with self._sessions.begin() as session:
            session.execute(
                update(APIKey)
                .where(APIKey.key_id == info.key_id)
                .where(or_(APIKey.last_used_at.is_(None), APIKey.last_used_at <= stale))
                .values(last_used_at=now)
            )

    @staticmethod
    def _locked(session: Session, key_id: str) -> APIKey:
        row = None
        if _KEY_ID.fullmatch(key_id):
            row = session.scalars(
                select(APIKey).where(APIKey.key_id == key_id).with_for_update()
            ).one_or_none()
        if row is None:
            raise NotFoundError(
                f"expected a listed key id (kid_...), found {key_id[:40]!r}",
                code="api_key_not_found",
            )
        return row
