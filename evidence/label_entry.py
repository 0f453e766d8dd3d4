"""How the buyer's page got the label token that opened a receipt session (issue 18 §4).

- ``scanned``: the page's own camera decoded the parcel's QR;
- ``link``: the phone's camera app (or WeChat's scanner) decoded it and opened our label URL;
- ``typed``: the buyer typed or pasted the code ("The code will not scan?").

The marker is declared by the buyer's page, which is not trusted: a buyer who lies can
always claim ``scanned``. It therefore only ever downgrades. ``typed`` sends the claim to a
person (``label_typed``, per policy); ``scanned`` and ``link`` are the status quo and never
raise trust above what a receipt had before the marker existed.

The server records the entry in the receipt session's id (a prefix it mints itself, so no
schema change), seals it into the receipt's ``org.orderseal.capture`` assertion as
``label_entry`` and shows it in the agent's timeline.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LabelEntry", "entry_of_receipt_session", "receipt_session_prefix"]


class LabelEntry(StrEnum):
    """How the label token reached the server (declared by the buyer's page)."""

    SCANNED = "scanned"
    LINK = "link"
    TYPED = "typed"


# Sessions opened before the marker existed carry ``rs_`` and read as ``scanned``: the page
# then showed them exactly so, and the marker never upgrades an old session either.
_PREFIXES = {LabelEntry.SCANNED: "rs_", LabelEntry.LINK: "rl_", LabelEntry.TYPED: "rt_"}


def receipt_session_prefix(entry: LabelEntry) -> str:
    """The session id prefix that records ``entry``."""
    return _PREFIXES[entry]


def entry_of_receipt_session(session_id: str) -> LabelEntry | None:
    """The entry a receipt session id records, or None for an id that is no receipt session's."""
    for entry, prefix in _PREFIXES.items():
        if session_id.startswith(prefix):
            return entry
    return None
