"""The claim signer's certificate, read from the manifest store c2pa validated, decides."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization

from capture.manifest import CaptureAssertion, Stage
from capture.seal import Sealer
from infra.bootstrap import initialize_home
from infra.samples import make_jpeg, make_mp4, make_png
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
from keys.store import KeyStore
from keys.trust import certificates_to_pem
from tests.support.sealing import seal_file
from verifier.checks.integrity import check_integrity
from verifier.jumbf import signer_chains
from verifier.models import DisputeContext, EvidenceFacts
from verifier.reader import TrustSettings, read_evidence
from verifier.reasons import ReasonCode


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("jumbf")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("p.jpg", "image/jpeg"), ("p.png", "image/png"), ("v.mp4", "video/mp4")],
    ids=["jpeg", "png", "mp4"],
)
def test_signer_chain_is_the_sealing_certificate(
    keys: KeyStore, tmp_path: Path, name: str, media_type: str
) -> None:
    makers = {"image/jpeg": make_jpeg, "image/png": make_png, "video/mp4": make_mp4}
    source = makers[media_type](tmp_path / name, seed=3)
    sealed = seal_file(keys, source, media_type)
    report = read_evidence(sealed, trust=TrustSettings(anchors_pem=keys.trust_list().pem))
    chain = report.active_manifest.signer_chain
    expected = [c.public_bytes(serialization.Encoding.DER) for c in keys.service_chain()]
    assert list(chain) == expected
    assert report.active_manifest.signer_fingerprint is not None


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _superbox(label: str, *children: bytes) -> bytes:
    description = _box(b"jumd", b"\0" * 16 + b"\x03" + label.encode() + b"\0")
    return _box(b"jumb", description + b"".join(children))


@pytest.mark.parametrize(
    "store",
    [
        b"",
        b"\0\0\0\x01jumb",  # 64-bit size without its size field
        b"\xff\xff\xff\xffjumb" + b"\0" * 16,  # box larger than the data
        _superbox("c2pa", _superbox("urn:x", _superbox("c2pa.signature", _box(b"cbor", b"\xff")))),
        _superbox(
            "c2pa", _superbox("urn:x", _superbox("c2pa.signature", _box(b"cbor", b"\xd2\x80")))
        ),
        _superbox("c2pa", _superbox("urn:x", _superbox("c2pa.signature"))),
        _box(b"jumb", b"\0" * 4),
    ],
    ids=[
        "empty",
        "short-large-size",
        "oversized-box",
        "bad-cbor",
        "cose-wrong-shape",
        "no-cbor",
        "no-description",
    ],
)
def test_malformed_stores_give_no_chain(store: bytes) -> None:
    assert signer_chains(store) == {}


def test_a_hand_built_cose_sign1_yields_its_x5chain() -> None:
    protected = cbor2.dumps({1: -7, 33: [b"leaf-der", b"ca-der"]})
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, None, b"sig"]))
    store = _superbox("c2pa", _superbox("urn:x", _superbox("c2pa.signature", _box(b"cbor", cose))))
    assert signer_chains(store) == {"urn:x": (b"leaf-der", b"ca-der")}


def test_a_signer_under_an_extra_anchor_is_not_ours(keys: KeyStore, tmp_path: Path) -> None:
    """c2pa trusts it (its root is an anchor), the sealing authority does not."""
    now = datetime.now(UTC)
    root = create_root("Partner Root", now=now)
    issuing = issue_intermediate(root, "OrderSeal Service CA", now=now)  # a namesake CA
    key = generate_private_key()
    leaf = issue_certificate(
        issuing,
        key.public_key(),
        subject_name("OrderSeal Capture Service", unit="service"),
        role=CertificateRole.SERVICE,
        now=now,
        validity=timedelta(days=30),
    )
    anchors = certificates_to_pem((*keys.trust_list().anchors, root.certificate))
    sealer = Sealer(PEMFileSigner(key, (leaf, issuing.certificate)), anchors)
    source = make_jpeg(tmp_path / "staged.jpg", seed=11)
    dest = tmp_path / "signed.jpg"
    assertion = CaptureAssertion(
        order_id="ORD-T",
        stage=Stage.RECEIPT,
        device_id="app-t",
        session_id="rs_t",
        captured_at=now.isoformat(),
        received_at=now.isoformat(),
        content_sha256="0" * 64,
        media_type="image/jpeg",
    )
    sealer.seal(source, dest, media_type="image/jpeg", assertion=assertion, title="staged.jpg")
    report = read_evidence(dest, trust=TrustSettings(anchors_pem=anchors))
    assert report.state == "Trusted"
    ours = frozenset(
        hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()
        for c in keys.service_certificates()
    )
    facts = EvidenceFacts("signed.jpg", "0" * 64, "image/jpeg", report, sealing_fingerprints=ours)
    ctx = DisputeContext(order_id="ORD-T", buyer_id=None, order=None, now=now)
    failed = {r.code for r in check_integrity(facts, ctx) if not r.passed}
    assert failed == {ReasonCode.UNTRUSTED_SIGNER}
