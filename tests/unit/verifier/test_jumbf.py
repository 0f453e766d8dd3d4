"""The claim signer's certificate, read from the manifest store c2pa validated, decides."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from capture.sealing.seal import Sealer
from evidence.jumbf import signer_chains
from evidence.manifest import CaptureAssertion, Stage
from evidence.reader import TrustSettings, read_evidence
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
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg, make_mp4, make_png
from tests.support.sealing import seal_file
from verifier.checks.integrity import check_integrity
from verifier.models import DisputeContext, EvidenceFacts
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


_CLAIM = cbor2.dumps({"claim_generator": "test", "alg": "sha256"})


def _signed_store(
    protected_headers: dict[Any, Any],
    *,
    unprotected: dict[Any, Any] | None = None,
    signing_key: ec.EllipticCurvePrivateKey,
    labels: tuple[str, ...] = ("urn:x",),
) -> bytes:
    protected = cbor2.dumps({1: -7, **protected_headers})
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", _CLAIM])
    r, s = decode_dss_signature(signing_key.sign(to_be_signed, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected or {}, None, signature]))
    manifests = [
        _superbox(
            label,
            _superbox("c2pa.claim.v2", _box(b"cbor", _CLAIM)),
            _superbox("c2pa.signature", _box(b"cbor", cose)),
        )
        for label in labels
    ]
    return _superbox("c2pa", *manifests)


@pytest.fixture(scope="module")
def signing() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    """A signing key with its certificate's DER, and another certificate's DER."""
    now = datetime.now(UTC)
    ours = create_root("Signer", now=now)
    other = create_root("Someone else", now=now)
    der = serialization.Encoding.DER
    return ours.private_key, ours.certificate.public_bytes(der), other.certificate.public_bytes(der)


def test_a_signed_cose_sign1_yields_its_x5chain(
    signing: tuple[ec.EllipticCurvePrivateKey, bytes, bytes],
) -> None:
    key, leaf, _ = signing
    store = _signed_store({33: [leaf, b"ca-der"]}, signing_key=key)
    assert signer_chains(store) == {"urn:x": (leaf, b"ca-der")}


@pytest.mark.parametrize(
    "case",
    [
        "claimed-leaf-did-not-sign",
        "both-spellings-in-protected",
        "x5chain-also-unprotected",
        "text-label-unprotected-only",
        "non-bytes-in-chain",
        "duplicated-manifest-label",
    ],
)
def test_ambiguous_or_unproven_chains_are_refused(
    case: str, signing: tuple[ec.EllipticCurvePrivateKey, bytes, bytes]
) -> None:
    """Each way a forger could make us read one certificate while c2pa checks another."""
    key, leaf, sealing = signing
    stores = {
        "claimed-leaf-did-not-sign": lambda: _signed_store({33: sealing}, signing_key=key),
        "both-spellings-in-protected": lambda: _signed_store(
            {"x5chain": leaf, 33: sealing}, signing_key=key
        ),
        "x5chain-also-unprotected": lambda: _signed_store(
            {33: leaf}, unprotected={"x5chain": sealing}, signing_key=key
        ),
        "text-label-unprotected-only": lambda: _signed_store(
            {}, unprotected={"x5chain": leaf}, signing_key=key
        ),
        "non-bytes-in-chain": lambda: _signed_store({33: [leaf, 0]}, signing_key=key),
        "duplicated-manifest-label": lambda: _signed_store(
            {33: leaf}, signing_key=key, labels=("urn:x", "urn:x")
        ),
    }
    assert signer_chains(stores[case]()) == {}


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
