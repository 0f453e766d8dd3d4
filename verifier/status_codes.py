"""The one table from C2PA validation status codes to OrderSeal reason codes.

Every failure code C2PA 2.1 §15.2.3 defines (plus the ones c2pa-rs emits) maps to exactly
one reason code, so a report never names two reasons for one finding and a new c2pa code
is a deliberate decision. ``tests/unit/verifier/test_status_codes.py`` pins the table.

* ``signature_invalid``: the claim signature, its algorithm or its credential is unusable.
* ``untrusted_signer``: the signature verifies but its certificate does not chain to a
  trusted anchor.
* ``signer_revoked``: the issuer revoked the signing credential.
* ``content_tampered``: the asset or an assertion no longer matches what was signed.
* ``chain_broken``: an ingredient's manifest or signature is missing or altered.
* ``corrupt_media``: the manifest store itself is malformed.

A failure code missing from the table maps to ``signature_invalid`` (fail closed: the file
is refused until someone decides what the new code means).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from verifier.reasons import ReasonCode

__all__ = ["STATUS_REASONS", "UNKNOWN_STATUS_REASON", "reason_for_status"]

_SIGNATURE = ReasonCode.SIGNATURE_INVALID
_UNTRUSTED = ReasonCode.UNTRUSTED_SIGNER
_REVOKED = ReasonCode.SIGNER_REVOKED
_TAMPERED = ReasonCode.CONTENT_TAMPERED
_CHAIN = ReasonCode.CHAIN_BROKEN
_CORRUPT = ReasonCode.CORRUPT_MEDIA

UNKNOWN_STATUS_REASON: Final = ReasonCode.SIGNATURE_INVALID

STATUS_REASONS: Final[Mapping[str, ReasonCode]] = MappingProxyType(
    {
        # Claim signature and signing credential (§15.2.3.1, §14.5).
        "claimSignature.missing": _SIGNATURE,
        "claimSignature.mismatch": _SIGNATURE,
        "claimSignature.outsideValidity": _SIGNATURE,
        "signingCredential.invalid": _SIGNATURE,
        "signingCredential.expired": _SIGNATURE,
        "signingCredential.ocsp.unknown": _SIGNATURE,
        "signingCredential.untrusted": _UNTRUSTED,
        "signingCredential.revoked": _REVOKED,
        "signingCredential.ocsp.revoked": _REVOKED,
        "timeStamp.mismatch": _SIGNATURE,
        "timeStamp.malformed": _SIGNATURE,
        "timeStamp.outsideValidity": _SIGNATURE,
        "algorithm.unsupported": _SIGNATURE,
        "general.error": _SIGNATURE,
        # Hard bindings and assertions: the content or a signed statement changed.
        "assertion.dataHash.mismatch": _TAMPERED,
        "assertion.dataHash.malformed": _TAMPERED,
        "assertion.bmffHash.mismatch": _TAMPERED,
        "assertion.bmffHash.malformed": _TAMPERED,
        "assertion.boxesHash.mismatch": _TAMPERED,
        "assertion.boxesHash.unknownBox": _TAMPERED,
        "assertion.collectionHash.mismatch": _TAMPERED,
        "assertion.collectionHash.malformed": _TAMPERED,
        "assertion.hashedURI.mismatch": _TAMPERED,
        "assertion.missing": _TAMPERED,
        "assertion.undeclared": _TAMPERED,
        "assertion.inaccessible": _TAMPERED,
        "assertion.notRedacted": _TAMPERED,
        "assertion.selfRedacted": _TAMPERED,
        "assertion.required.missing": _TAMPERED,
        "assertion.json.invalid": _TAMPERED,
        "assertion.cbor.invalid": _TAMPERED,
        "assertion.action.ingredientMismatch": _TAMPERED,
        "assertion.action.malformed": _TAMPERED,
        "assertion.action.redacted": _TAMPERED,
        "assertion.action.redactionMismatch": _TAMPERED,
        "assertion.cloud-data.hardBinding": _TAMPERED,
        "assertion.cloud-data.actions": _TAMPERED,
        "assertion.multipleHardBindings": _TAMPERED,
        "claim.hardBindings.missing": _TAMPERED,
        # Ingredients: the chain to earlier manifests.
        "ingredient.hashedURI.mismatch": _CHAIN,
        "ingredient.manifest.missing": _CHAIN,
        "ingredient.manifest.mismatch": _CHAIN,
        "ingredient.claimSignature.missing": _CHAIN,
        "ingredient.claimSignature.mismatch": _CHAIN,
        "manifest.inaccessible": _CHAIN,
        "manifest.unreferenced": _CHAIN,
        # The manifest store's own structure.
        "claim.missing": _CORRUPT,
        "claim.malformed": _CORRUPT,
        "claim.multiple": _CORRUPT,
        "claim.required.missing": _CORRUPT,
        "claim.cbor.invalid": _CORRUPT,
        "manifest.multipleParents": _CORRUPT,
        "manifest.update.invalid": _CORRUPT,
        "manifest.update.wrongParents": _CORRUPT,
        "manifest.timestamp.invalid": _CORRUPT,
        "manifest.timestamp.wrongParents": _CORRUPT,
        "manifest.compressed.invalid": _CORRUPT,
    }
)


def reason_for_status(status_code: str) -> ReasonCode:
    """The reason code of one C2PA failure status code (unknown codes fail closed)."""
    return STATUS_REASONS.get(status_code, UNKNOWN_STATUS_REASON)
