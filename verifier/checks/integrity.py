"""Readability, claim signature, hash binding and trust chain, from the C2PA reader's report."""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["SIGNATURE_FAILURES", "TAMPER_FAILURES", "check_integrity"]

#: C2PA 2.1 §15.10 status codes that mean the claim signature or its credential is bad.
SIGNATURE_FAILURES = frozenset(
    {
        "claimSignature.mismatch",
        "claimSignature.missing",
        "claimSignature.outsideValidity",
        "signingCredential.invalid",
        "signingCredential.expired",
        "algorithm.unsupported",
        "general.error",
    }
)
#: Codes that mean the content or an assertion no longer matches what was signed.
TAMPER_FAILURES = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
        "assertion.hashedURI.mismatch",
        "assertion.missing",
        "claim.hardBindings.missing",
    }
)


def check_integrity(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Signature, binding and trust: all three must hold for the file to count as ours."""
    if facts.read_error is not None or facts.report is None:
        code = facts.read_error or ReasonCode.CORRUPT_MEDIA
        return [CheckResult("readable", code, False, facts.read_error_detail or code.value)]
    report = facts.report
    codes = set(report.failure_codes)
    if report.state == "Invalid" and not codes & (SIGNATURE_FAILURES | TAMPER_FAILURES):
        # c2pa can mark the store Invalid for an ingredient's failure alone: classify by it.
        codes |= set(report.ingredient_failure_codes)
        if not codes & (SIGNATURE_FAILURES | TAMPER_FAILURES):
            codes.add("general.error")
    results = [CheckResult("readable", ReasonCode.NO_MANIFEST, True, "C2PA manifest found")]
    bad_signature = sorted(codes & SIGNATURE_FAILURES)
    results.append(
        CheckResult(
            "signature",
            ReasonCode.SIGNATURE_INVALID,
            not bad_signature,
            f"claim signature failures: {', '.join(bad_signature)}"
            if bad_signature
            else "claim signature verifies",
        )
    )
    tampered = sorted(codes & TAMPER_FAILURES)
    results.append(
        CheckResult(
            "binding",
            ReasonCode.CONTENT_TAMPERED,
            not tampered,
            f"content no longer matches its manifest: {', '.join(tampered)}"
            if tampered
            else "content hash matches the manifest",
        )
    )
    revoked = "signingCredential.revoked" in codes
    if revoked:
        results.append(
            CheckResult("trust", ReasonCode.SIGNER_REVOKED, False, "signing certificate is revoked")
        )
    else:
        trusted = report.state == "Trusted"
        issuer = report.active_manifest.signer_issuer or "unknown issuer"
        results.append(
            CheckResult(
                "trust",
                ReasonCode.UNTRUSTED_SIGNER,
                trusted,
                f"signed under the OrderSeal CA ({issuer})"
                if trusted
                else f"signer does not chain to the OrderSeal CA (signed by {issuer}, "
                f"state {report.state})",
            )
        )
    return results
