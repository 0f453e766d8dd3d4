"""Our assertion, the ledger row it belongs to, and the chain back to earlier evidence.

A receipt chains to the order's shipment evidence; a review photo (issue 19 §3) chains to the
same buyer's receipt evidence of the order, so a review is only as good as the unboxing it
follows.
"""

from __future__ import annotations

from evidence.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_chain"]


def check_chain(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Sealed evidence must carry our assertion, match its ledger row and chain to shipment.

    A file without our assertion is judged here only when our sealing key signed it (a
    third-party C2PA photo is ``untrusted_signer``'s business, not a broken chain).
    """
    assertion, report = facts.assertion, facts.report
    if report is None or (assertion is None and not facts.sealed_by_orderseal):
        return []
    problems: list[str] = []
    record = facts.ledger_record
    if assertion is None:
        problems.append("the file carries no OrderSeal capture assertion")
    elif record is None and facts.altered_record is None:
        # (A changed copy of a recorded seal is the identity check's not_as_sealed.)
        problems.append("these bytes are not recorded as sealed in the OrderSeal ledger")
    else:
        problems.extend(_record_problems(facts))
    if assertion is not None and assertion.stage in _CHAINS_TO:
        problems.extend(_link_problems(facts, _CHAINS_TO[assertion.stage]))
    return [
        CheckResult(
            "chain",
            ReasonCode.CHAIN_BROKEN,
            not problems,
            "; ".join(problems) if problems else "chains to the order's shipment record",
        )
    ]


def _record_problems(facts: EvidenceFacts) -> list[str]:
    record, assertion = facts.ledger_record, facts.assertion
    if record is None or assertion is None or facts.report is None:
        return []
    problems = []
    if record.manifest_id != facts.report.active_manifest.label:
        problems.append("the ledger records a different manifest for this file")
    if record.order_id != assertion.order_id or record.stage != assertion.stage.value:
        problems.append("the capture assertion disagrees with the ledger's order or stage")
    if record.original_sha256 != assertion.content_sha256:
        problems.append("the capture assertion names other content than the ledger")
    return problems


#: The stage each chained stage's links must name.
_CHAINS_TO = {Stage.RECEIPT: Stage.SHIPMENT, Stage.REVIEW: Stage.RECEIPT}


def _link_problems(facts: EvidenceFacts, linked: Stage) -> list[str]:
    if facts.assertion is None or facts.report is None:
        return ["the file carries no OrderSeal capture assertion"]
    links = facts.assertion.chain
    if not links:
        return [f"the {facts.assertion.stage.value} names no {linked.value} evidence"]
    problems: list[str] = []
    ingredients = {
        ing.active_manifest: ing
        for ing in facts.report.active_manifest.ingredients
        if ing.active_manifest
    }
    for link in links:
        shipped = facts.shipment_records.get(link.manifest_id)
        if shipped is None:
            problems.append(f"shipment evidence {link.evidence_id} is not in the ledger")
            continue
        if shipped.stage != linked or shipped.order_id != facts.assertion.order_id:
            problems.append(f"{link.evidence_id} is not {linked.value} evidence of the same order")
        own = facts.ledger_record
        if linked == Stage.RECEIPT and (
            own is None or shipped.session_buyer_id != own.session_buyer_id
        ):
            problems.append(f"{link.evidence_id} was not captured by the reviewing buyer")
        if shipped.original_sha256 != link.content_sha256:
            problems.append(f"{link.evidence_id} content hash differs from the ledger")
        if facts.ledger_record and shipped.sealed_at > facts.ledger_record.sealed_at:
            problems.append(
                f"{link.evidence_id} was sealed after the {facts.assertion.stage.value}"
            )
        ingredient = ingredients.get(link.manifest_id)
        if ingredient is None:
            problems.append(f"{link.evidence_id} is missing from the file's ingredients")
        elif ingredient.validation_failures:
            problems.append(
                f"ingredient {link.evidence_id} fails validation: "
                + ", ".join(ingredient.validation_failures)
            )
        manifest = facts.report.manifests.get(link.manifest_id)
        if manifest is None or manifest.signer_fingerprint not in facts.sealing_fingerprints:
            problems.append(
                f"{linked.value} manifest {link.evidence_id} is not signed by an OrderSeal "
                "sealing key"
            )
    if facts.report.ingredient_failure_codes and not problems:
        problems.append(
            "an ingredient fails validation: " + ", ".join(facts.report.ingredient_failure_codes)
        )
    return problems
