"""Inputs the atheris fuzzer (tests/fuzz) found crashing; each now gets a verdict, never a 500."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clients.client import PlatformClient
from orderseal.services import Services
from verifier.facts import AttachedFile

REGRESSIONS = sorted((Path(__file__).parents[1] / "fuzz" / "regressions").iterdir())


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_finding_gets_a_verdict(services: Services, path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    verdict = services.verifier.verify_files(
        [AttachedFile(path, path.name, digest)],
        order_id="ORD-FUZZ",
        buyer_id=None,
        now=datetime.now(UTC),
    )
    assert verdict.decision.value in ("review", "block")


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_finding_attaches_to_a_dispute(
    live_api: str, credentials: dict[str, str], path: Path
) -> None:
    platform = PlatformClient(live_api, credentials["platform"])
    order = f"ORD-FZ-{path.stem[:20]}"
    platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order,
            "buyer_id": "fuzz-buyer",
            "items": [{"sku": "S", "quantity": 1}],
            "declared_value": "1.00",
            "currency": "USD",
        },
    )
    dispute = platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order,
            "buyer_id": "fuzz-buyer",
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    assert platform.attach_file(dispute["dispute_id"], path, filename=path.name)["attached"]
    decided = platform.call("POST", f"/v1/disputes/{dispute['dispute_id']}/decide")
    assert decided["verdict"]["decision"] in ("review", "block")
