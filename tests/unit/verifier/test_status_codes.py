"""The c2pa-status-to-reason table is pinned: changing a row is a decision, made here too."""

from __future__ import annotations

import pytest

from verifier.reasons import ReasonCode
from verifier.status_codes import STATUS_REASONS, UNKNOWN_STATUS_REASON, reason_for_status

_PINNED: dict[ReasonCode, set[str]] = {
    ReasonCode.SIGNATURE_INVALID: {
        "claimSignature.missing",
        "claimSignature.mismatch",
        "claimSignature.outsideValidity",
        "signingCredential.invalid",
        "signingCredential.expired",
        "signingCredential.ocsp.unknown",
        "timeStamp.mismatch",
        "timeStamp.malformed",
        "timeStamp.outsideValidity",
        "algorithm.unsupported",
        "general.error",
    },
    ReasonCode.UNTRUSTED_SIGNER: {"signingCredential.untrusted"},
    ReasonCode.SIGNER_REVOKED: {"signingCredential.revoked", "signingCredential.ocsp.revoked"},
    ReasonCode.CONTENT_TAMPERED: {
        "assertion.dataHash.mismatch",
        "assertion.dataHash.malformed",
        "assertion.bmffHash.mismatch",
        "assertion.bmffHash.malformed",
        "assertion.boxesHash.mismatch",
        "assertion.boxesHash.unknownBox",
        "assertion.collectionHash.mismatch",
        "assertion.collectionHash.malformed",
        "assertion.hashedURI.mismatch",
        "assertion.missing",
        "assertion.undeclared",
        "assertion.inaccessible",
        "assertion.notRedacted",
        "assertion.selfRedacted",
        "assertion.required.missing",
        "assertion.json.invalid",
        "assertion.cbor.invalid",
        "assertion.action.ingredientMismatch",
        "assertion.action.malformed",
        "assertion.action.redacted",
        "assertion.action.redactionMismatch",
        "assertion.cloud-data.hardBinding",
        "assertion.cloud-data.actions",
        "assertion.multipleHardBindings",
        "claim.hardBindings.missing",
    },
    ReasonCode.CHAIN_BROKEN: {
        "ingredient.hashedURI.mismatch",
        "ingredient.manifest.missing",
        "ingredient.manifest.mismatch",
        "ingredient.claimSignature.missing",
        "ingredient.claimSignature.mismatch",
        "manifest.inaccessible",
        "manifest.unreferenced",
    },
    ReasonCode.CORRUPT_MEDIA: {
        "claim.missing",
        "claim.malformed",
        "claim.multiple",
        "claim.required.missing",
        "claim.cbor.invalid",
        "manifest.multipleParents",
        "manifest.update.invalid",
        "manifest.update.wrongParents",
        "manifest.timestamp.invalid",
        "manifest.timestamp.wrongParents",
        "manifest.compressed.invalid",
    },
}


def test_table_is_exactly_the_pinned_one() -> None:
    pinned = {status: reason for reason, codes in _PINNED.items() for status in codes}
    assert sum(len(codes) for codes in _PINNED.values()) == len(pinned)  # one reason each
    assert dict(STATUS_REASONS) == pinned


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("assertion.dataHash.mismatch", ReasonCode.CONTENT_TAMPERED),
        ("signingCredential.untrusted", ReasonCode.UNTRUSTED_SIGNER),
        ("signingCredential.invalid", ReasonCode.SIGNATURE_INVALID),
        ("a.code.c2pa.adds.later", UNKNOWN_STATUS_REASON),
    ],
    ids=["tamper", "untrusted", "device-eku-refused", "unknown-fails-closed"],
)
def test_reason_for_status(status: str, reason: ReasonCode) -> None:
    assert reason_for_status(status) == reason


def test_unknown_codes_block_rather_than_pass() -> None:
    assert UNKNOWN_STATUS_REASON == ReasonCode.SIGNATURE_INVALID
