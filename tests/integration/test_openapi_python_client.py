"""openapi-python-client, given only the served /openapi.json, drives the refund gate.

Issue 16 ("Done when"): the generated package (attrs models, enums, one module per operation,
``AuthenticatedClient`` for the bearer key) registers an order, files a dispute, attaches the
buyer's sealed receipt photo and an unsealed phone photo as raw bodies, and reads the typed
verdict; a documented error comes back parsed as ``ErrorOut``. The generator runs from its own
folder (``tests/support/openapi_generator.py`` says why); ``tests/integration/
test_openapi_client.py`` checks the same contract strictly with a client built at test time.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from orderseal.samples import make_jpeg
from tests.support import flows
from tests.support.openapi_generator import PACKAGE, generate_client

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def generated(live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    work = tmp_path_factory.mktemp("openapi-python-client")
    spec = work / "openapi.json"
    spec.write_bytes(httpx.get(f"{live_api}/openapi.json", timeout=60).content)
    folder = str(generate_client(spec, work))
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(folder)
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _api(operation: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.platform.{operation}")


def test_generated_client_files_a_dispute_and_reads_a_typed_verdict(
    generated: ModuleType, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    client = generated.AuthenticatedClient(base_url=live_api, token=credentials["platform"])

    cast = flows.actors(live_api, credentials)
    order_id = f"ORD-{secrets.token_hex(4).upper()}"
    order = _api("register_order").sync(
        client=client,
        body=models.OrderIn(
            order_id=order_id,
            buyer_id=cast.buyer_id,
            items=[models.OrderItemIn(sku="SKU-1", quantity=1)],
            declared_value="49.00",
            currency="USD",
        ),
    )
    assert isinstance(order, models.OrderOut)
    shipped = flows.ship(cast, order_id, tmp_path)
    (sealed,) = flows.receive(cast, shipped, tmp_path)

    dispute = _api("file_dispute").sync(
        client=client,
        body=models.DisputeIn(
            order_id=order_id,
            buyer_id=cast.buyer_id,
            claim_type=models.DisputeInClaimType.DAMAGED,
            amount="49.00",
            currency="USD",
        ),
    )
    assert isinstance(dispute, models.DisputeOut)
    phone = make_jpeg(tmp_path / "phone.jpg", seed=21)
    for path in (sealed, phone):
        with path.open("rb") as body:
            attached = _api("attach_file").sync(
                dispute.dispute_id,
                client=client,
                body=types.File(payload=body, file_name=path.name),
                x_orderseal_filename=path.name,
            )
        assert isinstance(attached, models.AttachOut)
        assert attached.attached is True

    decided = _api("decide").sync(dispute.dispute_id, client=client)
    assert isinstance(decided, models.DisputeOut)
    verdict = decided.verdict
    assert isinstance(verdict, models.VerdictOut)
    # The unsealed phone photo sends the claim to a person; the sealed photo passes.
    assert verdict.decision is models.Decision.REVIEW
    assert models.ReasonCode.NO_MANIFEST in {reason.code for reason in verdict.reasons}
    by_name = {item.filename: item for item in verdict.evidence}
    assert by_name[sealed.name].decision is models.Decision.ALLOW
    assert by_name[sealed.name].stage is models.Stage.RECEIPT
    for item in verdict.evidence:
        for check in item.checks:
            # A passed check has no code (Unset); a failed one a ReasonCode.
            assert isinstance(check.code, types.Unset) is check.passed, check
    assert [entry.decision for entry in decided.history] == [models.Decision.REVIEW]


def test_generated_client_parses_documented_errors(
    generated: ModuleType, live_api: str, credentials: dict[str, str]
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.AuthenticatedClient(base_url=live_api, token=credentials["platform"])
    response = _api("get_dispute").sync_detailed("no-such-dispute", client=client)
    assert response.status_code == 404
    assert isinstance(response.parsed, models.ErrorOut)
    assert response.parsed.error.code.value == "dispute_not_found"
