"""How the buyer's page got the label token that opened a receipt session (issue 18 §4).

- ``scanned``: the page's own camera decoded the parcel's QR;
- ``link``: the phone's camera app (or WeChat's scanner) decoded it and opened our label URL;
- ``typed``: the buyer typed or pasted the code ("The code will not scan?").

The marker is declared by the buyer's page, which is not trusted: a buyer who lies can
always claim ``scanned``. It therefore only ever downgrades. ``typed`` sends the claim to a
person (``label_typed``, per policy); ``scanned`` and ``link`` are the status quo and never
raise trust above what a receipt had before the marker existed.

The server records the entry on the receipt session (``capture_sessions.label_entry``), seals
it into the receipt's ``org.orderseal.capture`` assertion as ``label_entry`` and shows it in
the agent's timeline.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LabelEntry", "recorded_entry"]


class LabelEntry(StrEnum):
    """How the label token reached the server (declared by the buyer's page)."""

    SCANNED = "scanned"
    LINK = "link"
    TYPED = "typed"


def recorded_entry(value: str | None) -> LabelEntry | None:
    """The entry a receipt session recorded (its ``label_entry`` column), None elsewhere."""
    return LabelEntry(value) if value else None
