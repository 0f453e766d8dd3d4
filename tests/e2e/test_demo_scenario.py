"""The README demo scenario, end to end through the HTTP API."""

from __future__ import annotations

from pathlib import Path

import httpx

from infra.settings import Settings
from orderseal.demo import decode_label, run_scenario
from orderseal.services import Services


def test_demo_scenario_verdicts(
    live_api: str, settings: Settings, credentials: dict[str, str], services: Services
) -> None:
    result = run_scenario(live_api, settings.resolved_home, credentials, verifier=services.verifier)

    by_name = {d.name: d for d in result.disputes}
    assert by_name["honest receipt photo + video"].decision == "allow"
    assert by_name["honest receipt photo + video"].reasons == ()
    assert by_name["unsigned damage image"].decision == "review"
    assert "no_manifest" in by_name["unsigned damage image"].reasons
    assert by_name["tampered receipt photo"].decision == "block"
    assert "content_tampered" in by_name["tampered receipt photo"].reasons
    reused = by_name["receipt photo reused on another order"]
    assert reused.decision == "block"
    assert {"order_mismatch", "evidence_reused"} <= set(reused.reasons)
    forged = by_name["buyer signs a staged photo with their own app key"]
    assert forged.decision == "block"
    assert "untrusted_signer" in forged.reasons
    reverified = by_name["honest receipt re-verified after its reuse on another order"]
    assert reverified.decision == "allow"
    assert reverified.reasons == ()
    assert [d.name for d in result.disputes][-2:] == [
        "receipt photo reused on another order",
        "honest receipt re-verified after its reuse on another order",
    ]
    assert len(result.disputes) == 6
    # The honest receipt photo, recompressed without its manifest, is traced to its seal.
    assert result.recovered is not None
    assert result.recovered.decision == "review"
    assert "manifest_recovered" in result.recovered.reasons
    # A sealed receipt video that never shows the parcel's label goes to a person.
    assert result.unlabelled is not None
    assert result.unlabelled.decision == "review"
    assert "label_not_in_capture" in result.unlabelled.reasons
    assert result.ok
    # The agent denies the review; the chain still verifies, the report link opens.
    step = result.agent_step
    assert step is not None
    assert (step.dispute_id, step.action, step.decision) == (
        by_name["unsigned damage image"].dispute_id,
        "deny",
        "block",
    )
    assert services.verifier.verify_audit(services.keys.trust_list()).ok
    assert httpx.get(f"{live_api}{step.report_link}").status_code == 200
    assert len(result.shipment_evidence) == 3
    assert len(result.receipt_evidence) == 2
    # The seller lists the disputes on its order (not the other order's) and answers one.
    seller = result.seller_step
    assert seller is not None
    on_order = {d.dispute_id for d in result.disputes[:4]}
    assert {row[0] for row in seller.disputes} == on_order
    assert all(row[2] in ("-", "merchant", "buyer") for row in seller.disputes)
    responses = services.ledger.merchant_responses(seller.answered_dispute_id)
    assert [r.response_id for r in responses] == [seller.response_id]
    assert seller.evidence_ids == (result.shipment_evidence[-1],)


def test_label_png_round_trips_through_a_real_qr_decoder(
    live_api: str, settings: Settings, credentials: dict[str, str], services: Services
) -> None:
    result = run_scenario(live_api, settings.resolved_home, credentials, verifier=services.verifier)
    scanned = decode_label(Path(result.label_png))
    # Our capture page's URL (any camera opens it), the signed token in the fragment.
    assert scanned.startswith(f"{live_api}/capture#t=OS1.")
    assert result.order_id not in scanned  # the order id travels signed, not as plain text


def test_agent_report_requires_the_agent_role(
    live_api: str, settings: Settings, credentials: dict[str, str], services: Services
) -> None:
    result = run_scenario(live_api, settings.resolved_home, credentials, verifier=services.verifier)
    # report_url is the agents' page (a browser opens it); the HTML report is behind the key.
    dispute_id = result.disputes[0].dispute_id
    assert result.disputes[0].report_url == f"{live_api}/agent#dispute={dispute_id}"
    url = f"{live_api}/v1/disputes/{dispute_id}/report"
    as_agent = httpx.get(url, headers={"Authorization": f"Bearer {credentials['agent']}"})
    assert as_agent.status_code == 200
    assert 'class="decision allow"' in as_agent.text
    as_platform = httpx.get(url, headers={"Authorization": f"Bearer {credentials['platform']}"})
    assert as_platform.status_code == 403
    assert as_platform.json()["error"]["code"] == "wrong_role"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
