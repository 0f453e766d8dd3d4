"""Checks: pure functions from parsed facts to ``CheckResult`` lists (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Callable

from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.entry import check_label_entry
from verifier.checks.identity import check_identity
from verifier.checks.integrity import check_integrity
from verifier.checks.order import check_buyer, check_order, check_stage
from verifier.checks.recapture import check_recapture
from verifier.checks.recovered import check_recovered
from verifier.checks.reuse import check_reuse
from verifier.checks.revocation import check_revocation
from verifier.checks.serial import check_serial
from verifier.checks.sighting import check_label_sighting
from verifier.checks.window import check_window
from verifier.models import CheckResult, DisputeContext, EvidenceFacts

__all__ = ["ALL_CHECKS", "Check"]

Check = Callable[[EvidenceFacts, DisputeContext], list[CheckResult]]

#: Order matters only for the report; every check always runs.
ALL_CHECKS: tuple[Check, ...] = (
    check_integrity,
    check_identity,
    check_ai_declared,
    check_edited_after_capture,
    check_revocation,
    check_order,
    check_buyer,
    check_stage,
    check_chain,
    check_window,
    check_reuse,
    check_serial,
    check_recovered,
    check_label_sighting,
    check_label_entry,
    check_recapture,
)
