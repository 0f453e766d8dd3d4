"""Review images (issue 19 §3): the platform's question and the seller's counter-image.

Each honest answer sits next to the abuse it must refuse: a receipt photo shown as a review
photo, another order's or buyer's review, a buyer's own-key-signed "review", a generated
picture, a review chained to the wrong stage; and for the seller, a generated picture, another
order's station photo, a buyer's photo, another merchant's order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from evidence.manifest import ASSERTION_LABEL, CaptureAssertion, Stage
from infra.errors import NotFoundError
from keys.ca import generate_private_key, subject_name
from keys.profile import CertificateRole
from orderseal.forgery import legacy_device_certificate
from orderseal.samples import make_jpeg, make_png
from tests.support.device_signers import sign_as_device
from tests.unit.verifier.conftest import NOW, Sealed, World
from verifier.facts import AttachedFile
from verifier.public import STAGE_WORDS, PublicVerifier
from verifier.reasons import ReasonCode
from verifier.reviews import CounterAnswer, ReviewAnswer, ReviewImageQuery, ReviewImages

_QUERY = ReviewImageQuery(order_id="ORD-1", buyer_id="B-1")


def _reviewed(
    world: World, order_id: str = "ORD-1", buyer_id: str = "B-1", *, seed: int = 1
) -> list[Sealed]:
    """Shipment, the buyer's receipt chained to it, a review photo chained to the receipt.

    Each order gets its own pictures (``seed``): one photo evidences one parcel.
    """
    world.order(order_id, buyer_id)
    shipped = world.seal(order_id, Stage.SHIPMENT, seed=seed * 10)
    received = world.seal(
        order_id, Stage.RECEIPT, buyer_id=buyer_id, shipment=shipped, seed=seed * 10 + 1
    )
    review = world.seal(
        order_id, Stage.REVIEW, buyer_id=buyer_id, shipment=received, seed=seed * 10 + 2
    )
    return [shipped, received, review]


def test_the_buyers_sealed_review_photo_is_review_sealed(world: World) -> None:
    _, _, review = _reviewed(world)
    answer = ReviewImages(facts=world.facts).review_image(review.attached(), _QUERY, now=NOW)
    assert answer.answer is ReviewAnswer.REVIEW_SEALED
    assert answer.review_sealed
    assert answer.stage == "review"
    assert answer.evidence_id == review.row.evidence_id
    assert answer.reasons == []


def test_a_receipt_photo_shown_as_a_review_photo_is_wrong_stage(world: World) -> None:
    _, received, _ = _reviewed(world)
    answer = ReviewImages(facts=world.facts).review_image(received.attached(), _QUERY, now=NOW)
    assert answer.answer is ReviewAnswer.WRONG_STAGE
    assert not answer.review_sealed


def test_another_orders_review_photo_is_order_mismatch(world: World) -> None:
    _reviewed(world)
    _, _, other = _reviewed(world, "ORD-2", "B-2", seed=2)
    answer = ReviewImages(facts=world.facts).review_image(other.attached(), _QUERY, now=NOW)
    assert answer.answer is ReviewAnswer.ORDER_MISMATCH
    assert ReasonCode.ORDER_MISMATCH in {r.code for r in answer.reasons}


def test_a_review_shown_under_another_buyers_name_is_buyer_mismatch(world: World) -> None:
    _, _, review = _reviewed(world)
    query = ReviewImageQuery(order_id="ORD-1", buyer_id="B-9")
    answer = ReviewImages(facts=world.facts).review_image(review.attached(), query, now=NOW)
    assert answer.answer is ReviewAnswer.BUYER_MISMATCH


def test_a_generated_picture_is_no_manifest(world: World) -> None:
    _reviewed(world)
    plain = make_png(world.work / "generated.png", seed=9, size=(64, 64))
    answer = ReviewImages(facts=world.facts).review_image(
        AttachedFile(plain, "generated.png", "0" * 64), _QUERY, now=NOW
    )
    assert answer.answer is ReviewAnswer.NO_MANIFEST
    assert answer.stage is None


def test_a_buyers_own_key_signed_review_is_untrusted_signer(world: World) -> None:
    world.order("ORD-1", "B-1")
    device_ca = world.keys.load_ca("device-ca")
    key = generate_private_key()
    certificate = legacy_device_certificate(
        device_ca,
        key.public_key(),
        subject_name("buyer-app-t", unit="buyer"),
        role=CertificateRole.BUYER,
        now=NOW - timedelta(days=1),
        validity=timedelta(days=30),
    )
    source = make_jpeg(world.work / "staged.jpg", seed=7)
    # It even carries our assertion, claiming the review stage of this order and buyer.
    forged = CaptureAssertion(
        order_id="ORD-1",
        stage=Stage.REVIEW,
        device_id="buyer-app-t",
        session_id="vs_forged",
        captured_at=NOW.isoformat(),
        received_at=NOW.isoformat(),
        content_sha256="0" * 64,
        media_type="image/jpeg",
    )
    signed = sign_as_device(
        source,
        world.work / "device-signed.jpg",
        private_key=key,
        chain=(certificate, *device_ca.chain_to_root[:-1]),
        assertions=({"label": ASSERTION_LABEL, "data": forged.model_dump(mode="json")},),
    )
    answer = ReviewImages(facts=world.facts).review_image(
        AttachedFile(signed, signed.name, "d" * 64), _QUERY, now=NOW
    )
    assert answer.answer is ReviewAnswer.UNTRUSTED_SIGNER


def test_a_review_chained_to_shipment_not_receipt_is_not_verified(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    # Sealed by us, but chained past the buyer's receipt: the chain check refuses it.
    review = world.seal("ORD-1", Stage.REVIEW, buyer_id="B-1", shipment=shipped, seed=3)
    answer = ReviewImages(facts=world.facts).review_image(review.attached(), _QUERY, now=NOW)
    assert answer.answer is ReviewAnswer.NOT_VERIFIED
    assert ReasonCode.CHAIN_BROKEN in {r.code for r in answer.reasons}


def test_a_review_chained_to_another_buyers_receipt_is_not_verified(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    received = world.seal("ORD-1", Stage.RECEIPT, buyer_id="B-2", shipment=shipped, seed=2)
    review = world.seal("ORD-1", Stage.REVIEW, buyer_id="B-1", shipment=received, seed=3)
    answer = ReviewImages(facts=world.facts).review_image(review.attached(), _QUERY, now=NOW)
    assert answer.answer is ReviewAnswer.NOT_VERIFIED
    assert ReasonCode.CHAIN_BROKEN in {r.code for r in answer.reasons}


# The seller's counter-image ---------------------------------------------------------------
def test_the_orders_station_photo_counts(world: World) -> None:
    shipped, _, _ = _reviewed(world)
    answer = ReviewImages(facts=world.facts).counter_image(
        shipped.attached(), merchant_id="default", order_id="ORD-1", now=NOW
    )
    assert answer.answer is CounterAnswer.COUNTER_SEALED
    assert answer.counts
    assert answer.evidence_id == shipped.row.evidence_id


def test_another_orders_station_photo_does_not_count(world: World) -> None:
    _reviewed(world)
    other, _, _ = _reviewed(world, "ORD-2", "B-2", seed=2)
    answer = ReviewImages(facts=world.facts).counter_image(
        other.attached(), merchant_id="default", order_id="ORD-1", now=NOW
    )
    assert answer.answer is CounterAnswer.ORDER_MISMATCH
    assert not answer.counts


def test_a_generated_counter_image_does_not_count(world: World) -> None:
    _reviewed(world)
    plain = make_png(world.work / "generated.png", seed=11, size=(64, 64))
    answer = ReviewImages(facts=world.facts).counter_image(
        AttachedFile(plain, "generated.png", "1" * 64),
        merchant_id="default",
        order_id="ORD-1",
        now=NOW,
    )
    assert answer.answer is CounterAnswer.NO_MANIFEST
    assert not answer.counts


@pytest.mark.parametrize("index", [1, 2], ids=["receipt", "review"])
def test_a_buyers_photo_is_no_counter_image(world: World, index: int) -> None:
    buyer_photo = _reviewed(world)[index]
    answer = ReviewImages(facts=world.facts).counter_image(
        buyer_photo.attached(), merchant_id="default", order_id="ORD-1", now=NOW
    )
    assert answer.answer is CounterAnswer.WRONG_STAGE


def test_another_merchants_order_is_unknown(world: World) -> None:
    shipped, _, _ = _reviewed(world)
    with pytest.raises(NotFoundError) as raised:
        ReviewImages(facts=world.facts).counter_image(
            shipped.attached(), merchant_id="another-seller", order_id="ORD-1", now=NOW
        )
    assert raised.value.code == "order_unknown"


# The public page ----------------------------------------------------------------------------
def test_the_public_page_names_each_stage_in_plain_words(world: World) -> None:
    _, _, review = _reviewed(world)
    answer = PublicVerifier(facts=world.facts).examine(review.attached(), now=NOW)
    assert answer.intact
    # (Receipt and review share a sealing time here, so the order between them is not fixed.)
    assert {s.stage: s.label for s in answer.stages} == {
        stage: STAGE_WORDS[stage] for stage in ("shipment", "receipt", "review")
    }


# A review photo in a refund dispute --------------------------------------------------------
def test_a_review_photo_is_not_receipt_evidence_in_a_dispute(world: World) -> None:
    _, _, review = _reviewed(world)
    verdict = world.disputes.verify_files(
        [review.attached()], order_id="ORD-1", buyer_id="B-1", now=NOW
    )
    failed = {c.code for e in verdict.evidence for c in e.checks if c.code is not None}
    assert failed == {ReasonCode.WRONG_STAGE}
