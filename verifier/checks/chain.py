"""Chain back to the shipment record: ledger rows and the file's own ingredients agree."""

from __future__ import annotations

from capture.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_chain"]


def check_chain(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Receipt evidence must be in the ledger and chain to this order's shipment evidence."""
    assertion, report = facts.assertion, facts.report
    if assertion is None or report is None:
        return []
    problems: list[str] = []
    record = facts.ledger_record
    if record is None:
        problems.append("the seal is not recorded in the OrderSeal ledger")
    elif record.manifest_id != report.active_manifest.label:
        problems.append("the ledger records a different manifest for this file")
    if assertion.stage == Stage.RECEIPT:
        problems.extend(_receipt_chain_problems(facts, ctx))
    return [
        CheckResult(
            "chain",
            ReasonCode.CHAIN_BROKEN,
            not problems,
            "; ".join(problems) if problems else "chains to the order's shipment record",
        )
    ]


def _receipt_chain_problems(facts: EvidenceFacts, ctx: DisputeContext) -> list[str]:
    if facts.assertion is None or facts.report is None:
        return ["the file carries no OrderSeal capture assertion"]
    links = facts.assertion.chain
    if not links:
        return ["the receipt names no shipment evidence"]
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
        if shipped.stage != Stage.SHIPMENT or shipped.order_id != facts.assertion.order_id:
            problems.append(f"{link.evidence_id} is not shipment evidence of the same order")
        if shipped.original_sha256 != link.content_sha256:
            problems.append(f"{link.evidence_id} content hash differs from the ledger")
        if facts.ledger_record and shipped.sealed_at > facts.ledger_record.sealed_at:
            problems.append(f"{link.evidence_id} was sealed after the receipt")
        ingredient = ingredients.get(link.manifest_id)
        if ingredient is None:
            problems.append(f"{link.evidence_id} is missing from the file's ingredients")
        elif ingredient.validation_failures:
            problems.append(
                f"ingredient {link.evidence_id} fails validation: "
                + ", ".join(ingredient.validation_failures)
            )
    if facts.report.ingredient_failure_codes and not problems:
        problems.append(
            "an ingredient fails validation: " + ", ".join(facts.report.ingredient_failure_codes)
        )
    return problems
