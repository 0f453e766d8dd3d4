"""The gather step: what the ledger and the file say about one piece of evidence."""

from __future__ import annotations

from decimal import Decimal

from evidence.manifest import Stage
from orderseal.samples import make_png
from tests.unit.verifier.conftest import NOW, World
from verifier.facts import AttachedFile
from verifier.policy import DEFAULT_POLICY


def test_a_sealed_file_is_found_by_its_bytes(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    received = world.seal("ORD-1", Stage.RECEIPT, buyer_id="B-1", shipment=shipped, seed=2)
    facts = world.facts.gather(received.attached(), dispute_id=None)
    assert facts.sealed_by_orderseal
    assert facts.ledger_record is not None
    assert facts.ledger_record.evidence_id == received.row.evidence_id
    assert facts.ledger_record.session_buyer_id == "B-1"
    assert facts.altered_record is None
    assert set(facts.shipment_records) == {shipped.row.manifest_id}
    assert facts.assertion is not None
    assert facts.assertion.order_id == "ORD-1"


def test_changed_bytes_find_only_the_row_their_manifest_names(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    data = bytearray(shipped.path.read_bytes())
    data[-300] ^= 0x10
    changed = world.work / "changed.jpg"
    changed.write_bytes(bytes(data))
    facts = world.facts.gather(AttachedFile(changed, "changed.jpg", "f" * 64), dispute_id=None)
    assert facts.ledger_record is None
    assert facts.altered_record is not None
    assert facts.altered_record.evidence_id == shipped.row.evidence_id


def test_an_unsigned_file_is_a_read_error_with_a_reason_code(world: World) -> None:
    plain = make_png(world.work / "plain.png", seed=4, size=(64, 64))
    facts = world.facts.gather(AttachedFile(plain, "plain.png", "0" * 64), dispute_id=None)
    assert facts.report is None
    assert facts.read_error == "no_manifest"
    assert not facts.sealed_by_orderseal


def test_public_gather_skips_the_dispute_lookups(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    first = world.disputes.file_dispute(
        order_id="ORD-1",
        buyer_id="B-1",
        claim_type="damaged",
        amount=Decimal(1),
        currency="USD",
        now=NOW,
    )
    world.disputes.attach_sealed(first.dispute_id, shipped.row.evidence_id, now=NOW)
    reuse = world.facts.gather(shipped.attached(), dispute_id="dp_other")
    public = world.facts.gather(shipped.attached(), dispute_id=None, with_reuse=False)
    assert reuse.other_disputes == (first.dispute_id,)
    assert public.other_disputes == ()
    assert public.similar_disputes == ()


def test_recorded_perceptual_hashes_are_used_instead_of_decoding_again(world: World) -> None:
    # Deciding reads the hashes the attach (or its job) recorded: a long video's frames are
    # not decoded a second time. Shown by a picture whose recorded hashes are another's.
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    first = world.disputes.file_dispute(
        order_id="ORD-1",
        buyer_id="B-1",
        claim_type="damaged",
        amount=Decimal(1),
        currency="USD",
        now=NOW,
    )
    world.disputes.attach_sealed(first.dispute_id, shipped.row.evidence_id, now=NOW)
    (stored,) = world.ledger.attachments(first.dispute_id)
    assert stored.perceptual_hashes
    other = make_png(world.work / "other.png", seed=9, size=(64, 64))
    fresh = world.facts.gather(AttachedFile(other, "o.png", "1" * 64), dispute_id="dp_x")
    assert fresh.similar_disputes == ()
    recorded = AttachedFile(
        other, "o.png", "1" * 64, perceptual_hashes=tuple(stored.perceptual_hashes)
    )
    assert world.facts.gather(recorded, dispute_id="dp_x").similar_disputes == (first.dispute_id,)


def test_context_carries_the_claim_and_the_claimant_history(world: World) -> None:
    world.order("ORD-1", "B-1")
    dispute = world.disputes.file_dispute(
        order_id="ORD-1",
        buyer_id="B-1",
        claim_type="damaged",
        amount=Decimal(5),
        currency="USD",
        now=NOW,
    )
    ctx = world.facts.context("ORD-1", "B-1", NOW, policy=DEFAULT_POLICY, dispute=dispute)
    assert ctx.order is not None
    assert ctx.order.buyer_id == "B-1"
    assert (ctx.claim_type, ctx.currency, str(ctx.amount)) == ("damaged", "USD", "5")
    assert ctx.prior_disputes_for_buyer == 0
    bare = world.facts.context("ORD-404", None, NOW, policy=DEFAULT_POLICY)
    assert bare.order is None
    assert bare.claim_type is None
