"""Each reason code the slice can produce, triggered by a real crafted file through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import c2pa
import httpx
import pytest
from PIL import Image

from capture.sealing.seal import Sealer
from clients.client import PlatformClient
from evidence.manifest import CaptureAssertion, ChainLink, Stage
from infra.settings import Settings
from keys.backends.pem import PEMFileSigner
from keys.ca import (
    create_root,
    generate_private_key,
    issue_certificate,
    issue_intermediate,
    subject_name,
)
from keys.profile import CertificateRole
from keys.trust import certificates_to_pem
from orderseal.app import create_app
from orderseal.samples import make_jpeg
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.conftest import free_port, make_settings
from tests.support import flows


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """This module files many claims for one buyer: claimant limits are not under test here."""
    policy = tmp_path_factory.mktemp("policy") / "no-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 100\nmax_disputes_per_buyer = 1000\n")
    return make_settings(
        module_home, database_url=database_url, policy_file=policy, **storage_overrides
    )


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crafted")


@pytest.fixture(scope="module")
def received(cast: flows.Actors, work: Path) -> tuple[flows.Shipped, list[Path]]:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work, video=True)
    return shipped, flows.receive(cast, shipped, work, video=True)


def _foreign_sealer() -> tuple[Sealer, str]:
    now = datetime.now(UTC)
    root = create_root("Foreign Root", now=now)
    intermediate = issue_intermediate(root, "Foreign CA", now=now)
    key = generate_private_key()
    leaf = issue_certificate(
        intermediate,
        key.public_key(),
        subject_name("foreign signer"),
        role=CertificateRole.SERVICE,
        now=now,
        validity=timedelta(days=30),
    )
    root_pem = certificates_to_pem((root.certificate,))
    return Sealer(PEMFileSigner(key, (leaf, intermediate.certificate)), root_pem), root_pem


def test_honest_receipt_is_allowed(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]]
) -> None:
    shipped, files = received
    decided = flows.dispute(cast, shipped.order_id, files)
    assert decided["verdict"]["decision"] == "allow"
    assert flows.codes(decided) == set()


def test_flipped_byte_in_image_data_is_content_tampered(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, files = received
    data = bytearray(files[0].read_bytes())
    data[-200] ^= 0x01
    tampered = work / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    decided = flows.dispute(cast, shipped.order_id, [tampered])
    assert decided["verdict"]["decision"] == "block"
    assert "content_tampered" in flows.codes(decided)


def test_reencoded_copy_has_no_manifest(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, files = received
    copy = work / "reencoded.jpg"
    with Image.open(files[0]) as image:
        image.save(copy, format="JPEG", quality=90)
    decided = flows.dispute(cast, shipped.order_id, [copy])
    # The seal is gone, but the copy is traced to its sealed original (manifest_recovered: a
    # person decides by default). On its own order a near copy of the honest file is not
    # reuse: a second claim on one order is the refund limit's business.
    assert decided["verdict"]["decision"] == "review"
    assert "manifest_recovered" in flows.codes(decided)
    assert "evidence_reused" not in flows.codes(decided)
    # On another order the same stripped copy is another order's sealed evidence.
    elsewhere = flows.dispute(cast, flows.register_order(cast), [copy])
    assert elsewhere["verdict"]["decision"] == "block"
    assert flows.codes(elsewhere) == {"order_mismatch", "evidence_reused"}


def test_foreign_ca_signature_is_untrusted(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, _ = received
    sealer, _ = _foreign_sealer()
    source = make_jpeg(work / "foreign-src.jpg", seed=5, size=(320, 240))
    forged = work / "foreign.jpg"
    assertion = CaptureAssertion(
        order_id=shipped.order_id,
        stage=Stage.RECEIPT,
        device_id="forger",
        session_id="rs_forged",
        captured_at=datetime.now(UTC).isoformat(),
        received_at=datetime.now(UTC).isoformat(),
        content_sha256="0" * 64,
        media_type="image/jpeg",
    )
    sealer.seal(source, forged, media_type="image/jpeg", assertion=assertion, title="x.jpg")
    decided = flows.dispute(cast, shipped.order_id, [forged])
    assert decided["verdict"]["decision"] == "block"
    assert {"untrusted_signer", "chain_broken"} <= flows.codes(decided)


def test_foreign_file_declaring_ai_generation(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, _ = received
    sealer, root_pem = _foreign_sealer()
    source = make_jpeg(work / "ai-src.jpg", seed=9, size=(320, 240))
    generated = work / "generated.jpg"
    definition = {
        "label": f"urn:c2pa:{uuid.uuid4()}",
        "claim_generator_info": [{"name": "ImageGen", "version": "1"}],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                        }
                    ]
                },
            }
        ],
    }
    context = c2pa.Context.from_dict(
        {"trust": {"trust_anchors": root_pem}, "builder": {"thumbnail": {"enabled": False}}}
    )
    with (
        c2pa.Builder(definition, context=context) as builder,
        source.open("rb") as src,
        generated.open("w+b") as dst,
    ):
        builder.sign(sealer._c2pa_signer(), "image/jpeg", src, dst)
    decided = flows.dispute(cast, shipped.order_id, [generated])
    assert decided["verdict"]["decision"] == "block"
    assert {"ai_generated_declared", "untrusted_signer"} <= flows.codes(decided)


def test_receipt_of_order_a_on_order_b(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    _, files = received
    other = flows.register_order(cast)
    flows.ship(cast, other, work)
    decided = flows.dispute(cast, other, [files[1]])
    assert decided["verdict"]["decision"] == "block"
    assert "order_mismatch" in flows.codes(decided)


def test_shipment_photo_as_receipt_is_wrong_stage(
    cast: flows.Actors,
    received: tuple[flows.Shipped, list[Path]],
    work: Path,
    credentials: dict[str, str],
) -> None:
    shipped, _ = received
    evidence_id = shipped.evidence[0]["evidence_id"]
    response = httpx.get(
        f"{cast.base_url}/v1/evidence/{evidence_id}/file",
        headers={"Authorization": f"Bearer {credentials['agent']}"},
    )
    assert response.status_code == 200
    packing = work / "packing-photo.jpg"
    packing.write_bytes(response.content)
    decided = flows.dispute(cast, shipped.order_id, [packing])
    assert decided["verdict"]["decision"] == "block"
    assert "wrong_stage" in flows.codes(decided)


def test_second_claim_on_one_order_is_the_refund_limit_not_reuse(
    cast: flows.Actors, work: Path
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    files = flows.receive(cast, shipped, work)
    first = flows.dispute(cast, order_id, files)
    second = flows.dispute(cast, order_id, files)
    # This module's policy sets no per-order refund limit, so nothing holds the second claim:
    # the same sealed files on their own order are not reuse (the default limit is tested in
    # tests/integration/test_concurrency.py).
    assert first["verdict"]["decision"] == "allow"
    assert second["verdict"]["decision"] == "allow"
    assert "evidence_reused" not in flows.codes(second)


def test_truncated_mp4_is_corrupt(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, files = received
    truncated = work / "truncated.mp4"
    truncated.write_bytes(files[1].read_bytes()[:1024])
    decided = flows.dispute(cast, shipped.order_id, [truncated])
    assert decided["verdict"]["decision"] == "review"
    assert flows.codes(decided) == {"corrupt_media"}


def test_text_file_is_unsupported(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]], work: Path
) -> None:
    shipped, _ = received
    note = work / "note.txt"
    note.write_text("the crab was rotten, trust me")
    decided = flows.dispute(cast, shipped.order_id, [note])
    assert decided["verdict"]["decision"] == "review"
    assert flows.codes(decided) == {"unsupported_media"}


def test_unknown_order_is_never_allowed(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]]
) -> None:
    _, files = received
    decided = flows.dispute(cast, "ORD-NOT-REGISTERED", [files[0]])
    assert decided["verdict"]["decision"] != "allow"
    assert {"order_unknown", "order_mismatch"} <= flows.codes(decided)


def test_claimant_other_than_buyer_is_buyer_mismatch(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]]
) -> None:
    shipped, files = received
    decided = flows.dispute(cast, shipped.order_id, [files[0]], buyer_id="someone-else")
    assert decided["verdict"]["decision"] == "block"
    assert "buyer_mismatch" in flows.codes(decided)


def test_receipt_chained_to_unrecorded_shipment_is_chain_broken(
    cast: flows.Actors,
    received: tuple[flows.Shipped, list[Path]],
    services: Services,
    work: Path,
) -> None:
    shipped, _ = received
    source = make_jpeg(work / "unchained-src.jpg", seed=12, size=(320, 240))
    sealed = work / "unchained.jpg"
    now = datetime.now(UTC).isoformat()
    assertion = CaptureAssertion(
        order_id=shipped.order_id,
        stage=Stage.RECEIPT,
        device_id=cast.buyer_device.device_id,
        session_id="rs_unrecorded",
        captured_at=now,
        received_at=now,
        content_sha256="1" * 64,
        media_type="image/jpeg",
        chain=(
            ChainLink(
                evidence_id="ev_missing",
                manifest_id=f"urn:c2pa:{uuid.uuid4()}",
                content_sha256="2" * 64,
            ),
        ),
    )
    # Signed with OUR service key (a stolen-key scenario): trusted, yet unknown to the ledger.
    services.capture.sealer.seal(
        source, sealed, media_type="image/jpeg", assertion=assertion, title="u.jpg"
    )
    decided = flows.dispute(cast, shipped.order_id, [sealed])
    assert decided["verdict"]["decision"] == "block"
    assert flows.codes(decided) == {"chain_broken"}


@pytest.fixture(scope="module")
def late_api(settings: Settings) -> Iterator[str]:
    """The same home served by a process whose clock reads 45 days later."""
    later = settings.model_copy(update={"port": free_port()})
    shifted = build_services(later, clock=lambda: datetime.now(UTC) + timedelta(days=45))
    with serve_in_thread(create_app(later, services=shifted), host="127.0.0.1", port=later.port):
        yield later.base_url


def test_receipt_captured_after_the_window(
    cast: flows.Actors, late_api: str, credentials: dict[str, str], work: Path
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    late_cast = flows.Actors(
        base_url=late_api,
        platform=PlatformClient(late_api, credentials["platform"]),
        station=cast.station,
        # Device leaves live 30 days: the buyer's app renewed its enrolment meanwhile.
        buyer_device=flows.enrol(
            PlatformClient(late_api, credentials["admin"]), "buyer", cast.buyer_id
        ),
        buyer_id=cast.buyer_id,
    )
    files = flows.receive(late_cast, shipped, work)
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "review"
    assert flows.codes(decided) == {"capture_outside_window"}


def test_verdict_json_lists_every_check(
    cast: flows.Actors, received: tuple[flows.Shipped, list[Path]]
) -> None:
    shipped, files = received
    decided = flows.dispute(cast, shipped.order_id, [files[0]])
    checks = {c["check"] for c in decided["verdict"]["evidence"][0]["checks"]}
    assert {
        "signature",
        "binding",
        "trust",
        "order_match",
        "stage",
        "chain",
        "window",
        "reuse",
    } <= checks
    failed = {c["check"] for c in decided["verdict"]["evidence"][0]["checks"] if not c["passed"]}
    assert failed <= {"reuse"}  # earlier tests attach the same photo to other disputes
