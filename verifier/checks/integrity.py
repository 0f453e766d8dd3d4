"""Readability, claim signature, hash binding and the sealing authority, from the reader.

Every c2pa failure code is classified once, by :data:`verifier.status_codes.STATUS_REASONS`.
Who signed is decided here from the signing certificate itself: only an OrderSeal sealing
certificate (current or retired, matched by the SHA-256 of its DER) makes a file OrderSeal
evidence. A device key, a timestamp authority or any certificate under an extra anchor is
``untrusted_signer``, however it chains and whatever c2pa's trust state says.
"""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode
from verifier.status_codes import reason_for_status

__all__ = ["check_integrity"]


def check_integrity(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Signature, binding and signer: all must hold for the file to count as ours."""
    if facts.read_error is not None or facts.report is None:
        code = facts.read_error or ReasonCode.CORRUPT_MEDIA
        return [CheckResult("readable", code, False, facts.read_error_detail or code.value)]
    report = facts.report
    codes = list(report.failure_codes)
    if report.state == "Invalid" and not _explains_invalid(codes):
        # c2pa can mark the store Invalid for an ingredient's failure alone: classify by it,
        # and fail closed when nothing explains the state.
        codes.extend(report.ingredient_failure_codes)
        if not _explains_invalid(codes):
            codes.append("general.error")
    by_reason: dict[ReasonCode, list[str]] = {}
    for status in dict.fromkeys(codes):
        by_reason.setdefault(reason_for_status(status), []).append(status)
    results = [CheckResult("readable", ReasonCode.NO_MANIFEST, True, "C2PA manifest found")]
    results.append(_found("signature", ReasonCode.SIGNATURE_INVALID, by_reason))
    results.append(_found("binding", ReasonCode.CONTENT_TAMPERED, by_reason))
    for reason in (ReasonCode.CHAIN_BROKEN, ReasonCode.CORRUPT_MEDIA):
        if reason in by_reason:
            results.append(_found("manifest_store", reason, by_reason))
    results.append(_signer(facts, by_reason))
    return results


def _explains_invalid(codes: list[str]) -> bool:
    """Whether a code other than "untrusted" (which leaves c2pa's state Valid) is present."""
    return any(reason_for_status(code) != ReasonCode.UNTRUSTED_SIGNER for code in codes)


def _found(check: str, reason: ReasonCode, by_reason: dict[ReasonCode, list[str]]) -> CheckResult:
    found = by_reason.get(reason, [])
    passes = {
        ReasonCode.SIGNATURE_INVALID: "claim signature verifies",
        ReasonCode.CONTENT_TAMPERED: "content hash matches the manifest",
    }
    return CheckResult(
        check,
        reason,
        not found,
        f"c2pa reports {', '.join(found)}" if found else passes.get(reason, "no failure"),
    )


def _signer(facts: EvidenceFacts, by_reason: dict[ReasonCode, list[str]]) -> CheckResult:
    assert facts.report is not None  # noqa: S101 - checked by the caller
    manifest = facts.report.active_manifest
    who = manifest.signer_common_name or manifest.signer_issuer or "an unknown signer"
    if ReasonCode.SIGNER_REVOKED in by_reason:
        return CheckResult("trust", ReasonCode.SIGNER_REVOKED, False, "signing certificate revoked")
    if not facts.sealed_by_orderseal:
        return CheckResult(
            "trust",
            ReasonCode.UNTRUSTED_SIGNER,
            False,
            f"signed by {who}, which is not an OrderSeal sealing certificate: only the "
            "OrderSeal capture service seals evidence",
        )
    if ReasonCode.UNTRUSTED_SIGNER in by_reason or facts.report.state == "Valid":
        # Our certificate, but c2pa could not chain it to our anchors (expired CA, wrong
        # trust settings): not trusted until a person looks.
        return CheckResult(
            "trust",
            ReasonCode.UNTRUSTED_SIGNER,
            False,
            f"signed by an OrderSeal sealing certificate that c2pa does not trust "
            f"(state {facts.report.state})",
        )
    return CheckResult(
        "trust", ReasonCode.UNTRUSTED_SIGNER, True, "sealed by the OrderSeal capture service"
    )
