"""What a scanned QR is to the buyer who scanned it: the states the capture page tells apart.

Only ``official`` opens a receipt session. The others say why not without treating the
buyer's own expired label, or a family member's genuine one, like a scam card (issue 18 §4):

- ``expired``: a genuine label of one of the buyer's orders, past its expiry;
- ``other_account``: a genuine label of an order of another account (the order is not named);
- ``revoked``: signed with a sealing key since revoked; a stolen key could print it, so the
  page warns as for a scam card and sends the buyer to the platform;
- ``not_yet_synced``: a genuine station's provisional label (printed offline, issue 18 §1)
  before the service replaced it; ``provisional_refused``: one policy does not accept;
- ``not_official``: anything else (a foreign URL, a forged or malformed token).

Adversary: a scam card that copies a real label's look or token. A forged signature, or a
genuine token inside a URL that is not exactly ours, is ``not_official``; ``other_account``
requires our signature and never names the order or its buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from infra.ledger.models import Order

__all__ = ["BuyerPageLimits", "LabelCheck", "LabelState"]


class LabelState(StrEnum):
    """The answer states of ``POST /v1/qr/check``."""

    OFFICIAL = "official"
    EXPIRED = "expired"
    OTHER_ACCOUNT = "other_account"
    REVOKED = "revoked"
    NOT_OFFICIAL = "not_official"
    #: A station's provisional label (printed offline) the service has not replaced yet.
    NOT_YET_SYNCED = "not_yet_synced"
    #: A synced provisional label that policy does not accept (``offline_provisional_labels``).
    PROVISIONAL_REFUSED = "provisional_refused"


@dataclass(frozen=True)
class LabelCheck:
    """A scanned payload's state, and the buyer's own order when it names one."""

    state: LabelState
    order: Order | None = None


@dataclass(frozen=True)
class BuyerPageLimits:
    """What the capture page is told with a QR check: help link and video limits."""

    help_url: str = ""
    video_seconds: int = 180
    video_bytes: int = 8 * 1024 * 1024 * 1024
