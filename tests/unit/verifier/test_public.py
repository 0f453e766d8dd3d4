"""The public view runs the dispute engine with the public check set and says fixed things."""

from __future__ import annotations

import pytest

from evidence.manifest import Stage
from orderseal.samples import make_png
from tests.unit.verifier.conftest import NOW, World
from verifier import public
from verifier.facts import AttachedFile
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.public import PUBLIC_MESSAGES, PublicVerifier
from verifier.reasons import ReasonCode


def test_intact_sealed_evidence_shows_its_stages(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    received = world.seal("ORD-1", Stage.RECEIPT, buyer_id="B-1", shipment=shipped, seed=2)
    answer = PublicVerifier(facts=world.facts).examine(received.attached(), now=NOW)
    assert answer.intact
    assert answer.carries_orderseal_chain
    assert answer.findings == []
    assert [s.stage for s in answer.stages] == ["shipment", "receipt"]
    assert "ORD-1" not in answer.model_dump_json()
    assert "B-1" not in answer.model_dump_json()


def test_an_unsigned_file_gets_the_fixed_message(world: World) -> None:
    plain = make_png(world.work / "plain.png", seed=5, size=(64, 64))
    answer = PublicVerifier(facts=world.facts).examine(
        AttachedFile(plain, "upload", "0" * 64), now=NOW
    )
    assert not answer.intact
    assert [(f.code, f.message) for f in answer.findings] == [
        (ReasonCode.NO_MANIFEST, PUBLIC_MESSAGES[ReasonCode.NO_MANIFEST])
    ]


def test_a_changed_copy_is_not_as_sealed(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    data = bytearray(shipped.path.read_bytes())
    data[-300] ^= 0x10
    changed = world.work / "changed.jpg"
    changed.write_bytes(bytes(data))
    answer = PublicVerifier(facts=world.facts).examine(
        AttachedFile(changed, "upload", "e" * 64), now=NOW
    )
    assert not answer.intact
    assert answer.stages == []
    assert {f.code for f in answer.findings} >= {ReasonCode.CONTENT_TAMPERED}


def test_a_crashing_check_fails_closed_like_a_dispute(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check_broken(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
        raise RuntimeError("boom")

    monkeypatch.setattr(public, "public_checks", lambda facts: (check_broken,))
    plain = make_png(world.work / "plain.png", seed=6, size=(64, 64))
    answer = PublicVerifier(facts=world.facts).examine(
        AttachedFile(plain, "upload", "0" * 64), now=NOW
    )
    assert [f.code for f in answer.findings] == [ReasonCode.CHECK_CRASHED]
    assert not answer.intact
