"""Whose side a verdict points to: the merchant (a wrong item shipped) or the buyer (a swap).

Pure: read from the verdict's failed checks, which carry ``attribution`` where a check can tell
(``serial``, docs/reason-codes.md). The merchant's side wins when both appear, so a seller's
mistake is never hidden behind a buyer's.
"""

from __future__ import annotations

from typing import Literal

from verifier.schemas import VerdictOut

__all__ = ["Attribution", "dispute_attribution"]

Attribution = Literal["merchant", "buyer"]


def dispute_attribution(verdict: VerdictOut) -> Attribution | None:
    """``merchant`` if any failed check points to the merchant, else ``buyer`` if one points to
    the buyer, else None."""
    sides = {
        check.attribution
        for evidence in verdict.evidence
        for check in evidence.checks
        if not check.passed and check.attribution is not None
    }
    if "merchant" in sides:
        return "merchant"
    if "buyer" in sides:
        return "buyer"
    return None
