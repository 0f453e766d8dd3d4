"""API key states: refused from the revocation or the expiry on, one second either side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.ledger.api_keys import APIKeyInfo, IssuedAPIKey

_T = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _info(*, expires_at: datetime | None = None, revoked_at: datetime | None = None) -> APIKeyInfo:
    return APIKeyInfo(
        key_id="kid_0123456789abcdef",
        role="agent",
        subject="agent-1",
        label=None,
        created_at=_T - timedelta(days=1),
        expires_at=expires_at,
        revoked_at=revoked_at,
        replaced_by=None,
        last_used_at=None,
    )


@pytest.mark.parametrize(
    ("info", "now", "state", "usable"),
    [
        (_info(), _T, "active", True),
        (_info(expires_at=_T), _T - _SECOND, "expiring", True),
        (_info(expires_at=_T), _T, "expired", False),
        (_info(expires_at=_T), _T + _SECOND, "expired", False),
        (_info(revoked_at=_T), _T - _SECOND, "revoked", False),
        (_info(revoked_at=_T, expires_at=_T + timedelta(hours=1)), _T, "revoked", False),
    ],
    ids=[
        "no-expiry",
        "second-before-expiry",
        "at-expiry",
        "second-after-expiry",
        "revoked",
        "revoked-in-overlap",
    ],
)
def test_state(info: APIKeyInfo, now: datetime, state: str, usable: bool) -> None:
    assert info.state(now) == state
    assert info.usable(now) is usable


def test_an_issued_key_never_shows_its_secret_in_repr() -> None:
    issued = IssuedAPIKey(_info(), "osk_agent_" + "s" * 43)
    assert "s" * 43 not in repr(issued)
