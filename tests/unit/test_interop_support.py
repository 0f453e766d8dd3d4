"""The encypher-c2pa second-opinion helper tells trusted, untrusted and tampered apart.

Uses the public fixtures under ``/work/shared/c2pa-fixtures`` (see its MANIFEST.tsv)
and the C2PA test root bundle that ships with c2pa-rs.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from tests.support.interop import InteropResult, validate_with_encypher


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError("repository root (pyproject.toml) not found")


FIXTURES = _repo_root().parent / "shared" / "c2pa-fixtures"
TRUST_DIR = FIXTURES / "c2pa-rs" / "trust"
ANCHORS = TRUST_DIR / "test_cert_root_bundle.pem"

pytestmark = pytest.mark.skipif(
    not ANCHORS.is_file(), reason=f"public C2PA fixtures not found at {FIXTURES}"
)

UNTRUSTED = "signingCredential.untrusted"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OrderSeal Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _self_signed_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _pem(*certs: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)


@pytest.fixture(scope="module")
def unrelated_anchor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cert, _ = _self_signed_ca("Unrelated Throwaway Root")
    path = tmp_path_factory.mktemp("unrelated") / "unrelated.pem"
    path.write_text(_pem(cert))
    return path


def test_es256_chain_to_c2pa_test_root_is_trusted() -> None:
    # Signed by c2pa-ts (not c2pa-rs) with the C2PA test ES256 chain.
    result = validate_with_encypher(
        FIXTURES / "c2pa-ts" / "trustnxt-icon-signed-timestamp.jpg", ANCHORS
    )
    assert result.trusted, result.describe()
    assert result.state == "Trusted"
    assert result.failure_codes == ()
    assert result.ingredient_failure_codes == ()


@pytest.mark.parametrize("form", ["file", "directory", "pem-text"])
def test_anchor_forms_are_equivalent(form: str) -> None:
    forms: dict[str, Path | str] = {
        "file": ANCHORS,
        "directory": TRUST_DIR,
        "pem-text": ANCHORS.read_text(),
    }
    anchors = forms[form]
    result = validate_with_encypher(
        FIXTURES / "c2pa-ts" / "trustnxt-icon-signed-timestamp.jpg", anchors
    )
    assert result.trusted, result.describe()


def test_c_jpg_pss_chain_is_not_path_built_by_encypher() -> None:
    """Known divergence: C.jpg chains to the bundle through RSASSA-PSS signed CAs.

    c2pa-python calls it Trusted under this bundle; encypher-c2pa 1.7.1 cannot verify
    PSS certificate signatures while building the path, so it reads the otherwise
    intact file as untrusted. If this starts failing, encypher has learnt PSS: turn it
    into a plain "trusted" assertion.
    """
    result = validate_with_encypher(FIXTURES / "c2pa-rs" / "C.jpg", ANCHORS)
    assert result.raw["integrity"] == "valid", result.describe()
    assert result.raw["signature"] == "valid", result.describe()
    assert result.raw["hard_binding"] == "match", result.describe()
    assert not result.trusted
    assert result.failure_codes == (UNTRUSTED,), result.describe()


@pytest.mark.parametrize("fixture", ["c2pa-ts/trustnxt-icon-signed-timestamp.jpg", "c2pa-rs/C.jpg"])
def test_unrelated_anchor_is_untrusted(fixture: str, unrelated_anchor: Path) -> None:
    result = validate_with_encypher(FIXTURES / fixture, unrelated_anchor)
    assert not result.trusted
    assert result.state == "Valid"
    assert UNTRUSTED in result.failure_codes, result.describe()


def test_tampered_image_bytes_are_rejected() -> None:
    result = validate_with_encypher(FIXTURES / "c2pa-rs" / "XCA.jpg", ANCHORS)
    assert not result.trusted
    assert result.state == "Invalid"
    assert "assertion.dataHash.mismatch" in result.failure_codes, result.describe()


def test_broken_ingredient_is_reported_and_not_trusted() -> None:
    # Active manifest intact; its ingredient's claim signature is broken.
    result = validate_with_encypher(FIXTURES / "c2pa-rs" / "CIE-sig-CA.jpg", ANCHORS)
    assert not result.trusted
    assert "claimSignature.mismatch" in result.ingredient_failure_codes, result.describe()


def test_missing_anchor_material_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(ValueError, match="no PEM certificate"):
        validate_with_encypher(FIXTURES / "c2pa-rs" / "C.jpg", empty)


def _seal_jpeg(tmp_path: Path) -> tuple[Path, Path]:
    """Seal a JPEG with c2pa-python under a fresh root -> intermediate -> leaf (ES256)."""
    root, root_key = _self_signed_ca("OrderSeal Interop Root")
    now = dt.datetime.now(dt.UTC)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = (
        x509.CertificateBuilder()
        .subject_name(_name("OrderSeal Interop Intermediate"))
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("OrderSeal Interop Signer"))
        .issuer_name(inter.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()), False
        )
        .sign(inter_key, hashes.SHA256())
    )

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(leaf_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    anchors = tmp_path / "root.pem"
    anchors.write_text(_pem(root))
    context = c2pa.Context.from_dict(
        {
            "trust": {"trust_anchors": _pem(root)},
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        }
    )
    manifest = {
        "claim_generator_info": [{"name": "orderseal-interop-test", "version": "0"}],
        "title": "interop.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": (
                                "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
                            ),
                        }
                    ]
                },
            }
        ],
    }
    source = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(source, "JPEG")
    source.seek(0)
    signer = c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ES256, _pem(leaf, inter), None)
    sealed = io.BytesIO()
    c2pa.Builder(json.dumps(manifest), context).sign(signer, "image/jpeg", source, sealed)
    out = tmp_path / "sealed.jpg"
    out.write_bytes(sealed.getvalue())
    return out, anchors


def test_own_seal_round_trip(tmp_path: Path, unrelated_anchor: Path) -> None:
    sealed, anchors = _seal_jpeg(tmp_path)

    result: InteropResult = validate_with_encypher(sealed, anchors)
    assert result.trusted, result.describe()

    assert not validate_with_encypher(sealed, unrelated_anchor).trusted

    data = bytearray(sealed.read_bytes())
    data[-10] ^= 0xFF  # inside the entropy-coded image, before EOI
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    bad = validate_with_encypher(tampered, anchors)
    assert not bad.trusted
    assert "assertion.dataHash.mismatch" in bad.failure_codes, bad.describe()
