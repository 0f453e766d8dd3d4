"""Signed, short-lived, read-only links to one dispute's report, for the platform's back office.

The token is the credential: 32 random bytes (base64url), shown once in the link, stored only
as its SHA-256 with the dispute, the creating platform subject, the expiry and the revocation.
``GET /r/{token}`` serves that one dispute's HTML report and nothing else.

Adversaries (docs/security.md, "Report links"):
- an anonymous client guessing or altering tokens: 256 bits, looked up by hash; unknown,
  malformed, expired and revoked tokens all answer the same ``404 report_link_invalid``;
- a leaked link used later: it expires (60 s to 24 h) and its creator can revoke it;
- a link of dispute X aimed at dispute Y or another route: the token names its dispute, the
  path carries nothing else, and the token is accepted by ``/r/`` only;
- another platform subject revoking someone's link: answered ``404 report_link_not_found``,
  as a link that does not exist;
- a platform key minting links in a loop to fill the ledger: at most 20 live links per
  subject and dispute (``409 report_link_limit_reached``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from infra.errors import NotFoundError
from infra.ledger.agent_models import ReportLink
from infra.ledger.agent_work import MAX_LIVE_LINKS, AgentWork
from verifier.agent_schemas import ReportLinkOut, ReportLinkRevokedOut
from verifier.disputes import DisputeService
from verifier.wording import utc_text

__all__ = [
    "DEAD_LINK_HEADERS",
    "MAX_LIVE_LINKS",
    "ReportLinkInvalidError",
    "ReportLinkService",
    "hash_token",
]

#: ``secrets.token_urlsafe(32)``: 43 base64url characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def hash_token(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(b"orderseal-report-link\0" + token.encode()).hexdigest()


#: A dead link's answer is not cached, indexed or referred either (the URL held a token).
DEAD_LINK_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow, noarchive",
}


class ReportLinkInvalidError(NotFoundError):
    """The link opens nothing: unknown, malformed, altered, expired or revoked, all alike."""

    code = "report_link_invalid"

    def __init__(self) -> None:
        super().__init__("no report at this link")
        #: Read by the app's error handler (as for rate limits' Retry-After).
        self.headers = dict(DEAD_LINK_HEADERS)


def _invalid() -> ReportLinkInvalidError:
    # One answer for unknown, malformed, expired and revoked: a prober learns nothing.
    return ReportLinkInvalidError()


class ReportLinkService:
    """Creates, revokes and resolves report links."""

    def __init__(self, *, disputes: DisputeService, work: AgentWork) -> None:
        self.disputes = disputes
        self.work = work

    def create(
        self, dispute_id: str, *, ttl_seconds: int, owner: str, now: datetime
    ) -> ReportLinkOut:
        """A new link to the dispute's report, working for ``ttl_seconds``.

        Raises:
            NotFoundError: ``dispute_not_found``.
            ConflictError: ``report_link_limit_reached`` (:data:`MAX_LIVE_LINKS` live already).
        """
        self.disputes.dispute(dispute_id)
        token = secrets.token_urlsafe(32)
        link = ReportLink(
            link_id=f"rl_{secrets.token_hex(8)}",
            token_sha256=hash_token(token),
            dispute_id=dispute_id,
            created_by=owner,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        self.work.add_link(link, max_live=MAX_LIVE_LINKS)
        return ReportLinkOut(
            link_id=link.link_id,
            dispute_id=dispute_id,
            url=f"/r/{token}",
            expires_at=utc_text(link.expires_at),
        )

    def revoke(self, link_id: str, *, owner: str, now: datetime) -> ReportLinkRevokedOut:
        """Revoke one of the owner's links (again: the first revocation time stays).

        Raises:
            NotFoundError: ``report_link_not_found`` (unknown, or another subject's link).
        """
        link = self.work.revoke_link(link_id, owner=owner, at=now)
        if link is None or link.revoked_at is None:
            raise NotFoundError("no such report link", code="report_link_not_found")
        return ReportLinkRevokedOut(link_id=link.link_id, revoked_at=utc_text(link.revoked_at))

    def resolve(self, token: str, *, now: datetime) -> str:
        """The dispute a live token opens.

        Raises:
            ReportLinkInvalidError: ``report_link_invalid`` for every token that opens nothing.
        """
        if not _TOKEN.fullmatch(token):
            raise _invalid()
        link = self.work.link_by_token_hash(hash_token(token))
        if link is None or link.revoked_at is not None or now >= link.expires_at:
            raise _invalid()
        return link.dispute_id
