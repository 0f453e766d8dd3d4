"""A client generated from the served /openapi.json alone files a dispute and reads its verdict.

Issue 16 ("Done when"): the platform's side of the refund gate runs through
``tests.support.spec_client``, which knows nothing but the spec: operation ids, where each
parameter goes, the credential each operation's ``security`` names, the media types of the
raw upload, and the response models (strict: an undocumented field fails). The station and
the buyer app seal the evidence with their own clients first; the platform then registers
nothing by hand.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderseal.samples import make_jpeg, make_png
from tests.support import flows
from tests.support.spec_client import SpecAPIError, SpecClient, SpecError

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def spec(live_api: str) -> dict[str, Any]:
    response = httpx.get(f"{live_api}/openapi.json", timeout=60)
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


@pytest.fixture(scope="module")
def platform(spec: dict[str, Any], live_api: str, credentials: dict[str, str]) -> Iterator[Any]:
    client = SpecClient(spec, live_api, {"apiKey": credentials["platform"]})
    yield client
    client.close()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openapi-client")


def _register_order(platform: SpecClient, buyer_id: str) -> str:
    order_id = f"ORD-{secrets.token_hex(4).upper()}"
    order = platform.call(
        "register_order",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "49.00",
            "currency": "USD",
            "expected_delivery": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        },
    )
    assert order.order_id == order_id
    return order_id


def _file(platform: SpecClient, order_id: str, buyer_id: str) -> str:
    dispute = platform.call(
        "file_dispute",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    assert dispute.verdict is None
    assert dispute.history == []
    dispute_id: str = dispute.dispute_id
    return dispute_id


def _attach(platform: SpecClient, dispute_id: str, path: Path, media_type: str) -> None:
    attached = platform.call(
        "attach_file",
        params={"dispute_id": dispute_id, "X-OrderSeal-Filename": path.name},
        content=path.read_bytes(),
        media_type=media_type,
    )
    assert attached.attached is True


def test_generated_types_are_the_enums(platform: SpecClient) -> None:
    decision = platform.models["Decision"]
    assert issubclass(decision, StrEnum)
    assert {d.value for d in decision} == {"allow", "review", "block"}
    assert "no_manifest" in {code.value for code in platform.models["ReasonCode"]}
    assert {s.value for s in platform.models["Stage"]} == {"shipment", "receipt", "review"}
    assert "damaged" in {claim.value for claim in platform.models["ClaimType"]}


def test_sealed_evidence_is_allowed_through_the_generated_client(
    platform: SpecClient, live_api: str, credentials: dict[str, str], work: Path
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id = _register_order(platform, cast.buyer_id)
    shipped = flows.ship(cast, order_id, work)
    (sealed,) = flows.receive(cast, shipped, work)

    dispute_id = _file(platform, order_id, cast.buyer_id)
    _attach(platform, dispute_id, sealed, "image/jpeg")
    decided = platform.call("decide", params={"dispute_id": dispute_id})

    decision, reason_code, stage = (platform.models[n] for n in ("Decision", "ReasonCode", "Stage"))
    verdict = decided.verdict
    assert isinstance(verdict, platform.models["VerdictOut"])
    assert verdict.decision is decision.ALLOW
    assert decided.decision is decision.ALLOW
    (evidence,) = verdict.evidence
    assert evidence.stage is stage.RECEIPT
    assert evidence.checks
    for check in evidence.checks:
        # A passed check has no failure code; a failed one has a typed reason code.
        assert (check.code is None) is check.passed, check
        assert check.code is None or isinstance(check.code, reason_code)
    assert [entry.decision for entry in decided.history] == [decision.ALLOW]

    again = platform.call("get_dispute", params={"dispute_id": dispute_id})
    assert again.verdict == verdict


def test_unsealed_files_go_to_review_with_typed_reasons(
    platform: SpecClient, credentials: dict[str, str], work: Path
) -> None:
    buyer_id = f"buyer-{secrets.token_hex(3)}"
    order_id = _register_order(platform, buyer_id)
    dispute_id = _file(platform, order_id, buyer_id)
    _attach(platform, dispute_id, make_jpeg(work / "phone.jpg", seed=11), "image/jpeg")
    _attach(platform, dispute_id, make_png(work / "screen.png", seed=12), "image/png")
    decided = platform.call("decide", params={"dispute_id": dispute_id})

    decision, reason_code = platform.models["Decision"], platform.models["ReasonCode"]
    assert decided.verdict.decision is decision.REVIEW
    assert reason_code.NO_MANIFEST in {reason.code for reason in decided.verdict.reasons}
    assert [e.filename for e in decided.verdict.evidence] == ["phone.jpg", "screen.png"]
    failed = {c.code for e in decided.verdict.evidence for c in e.checks if not c.passed}
    assert reason_code.NO_MANIFEST in failed


def test_errors_are_documented_and_typed(platform: SpecClient) -> None:
    with pytest.raises(SpecAPIError) as missing:
        platform.call("get_dispute", params={"dispute_id": "no-such-dispute"})
    assert missing.value.status == 404
    assert isinstance(missing.value.body, platform.models["ErrorOut"])
    assert missing.value.body.error.code == "dispute_not_found"

    # The platform key on an agent operation: the spec's 403, the registry's code.
    with pytest.raises(SpecAPIError) as refused:
        platform.call("list_disputes")
    assert refused.value.status == 403
    assert refused.value.body.error.code == "wrong_role"


def test_the_client_refuses_what_the_spec_does_not_declare(platform: SpecClient) -> None:
    with pytest.raises(SpecError, match="declares no parameter"):
        platform.call("get_dispute", params={"dispute_id": "d", "offset": 2})
    with pytest.raises(SpecError, match="takes no text/plain body"):
        platform.call(
            "attach_file", params={"dispute_id": "d"}, content=b"x", media_type="text/plain"
        )
    with pytest.raises(SpecError, match="no credential"):
        SpecClient(platform.spec, "http://127.0.0.1:9", {}).call(
            "get_dispute", params={"dispute_id": "d"}
        )
