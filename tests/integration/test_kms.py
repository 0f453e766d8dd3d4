"""Sealing with an AWS KMS key through the real boto3 code path.

No KMS runs here: the stand-in is moto's server mode (``moto_server`` on a loopback port),
reached over HTTP by an unmodified boto3 client. The service signs with ``MessageType=RAW``
against it because moto mishandles ``DIGEST`` (it hashes the digest again); the DIGEST path
is checked against exactly that behaviour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from capture.sealing.seal import Sealer
from evidence.manifest import CaptureAssertion, Stage
from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.backends.kms import KMSKeyRef, KMSSigner
from keys.errors import SignerError
from keys.signer import signer_from_uri
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows
from tests.support.keys_cli import check_keys
from tests.support.moto_kms import MOTO_CREDENTIALS, MotoServer

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in MOTO_CREDENTIALS.items():
            patch.setenv(name, value)
        with MotoServer() as server:
            yield server


@pytest.fixture(scope="module")
def key_id(moto: MotoServer) -> str:
    client = boto3.client("kms", endpoint_url=moto.endpoint_url, region_name="us-east-1")
    created = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return created["KeyMetadata"]["KeyId"]


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    moto: MotoServer,
    key_id: str,
) -> Settings:
    kms_settings = make_settings(
        module_home,
        database_url=database_url,
        signer="kms",
        kms_key_id=key_id,
        kms_endpoint_url=moto.endpoint_url,
        kms_message_type="RAW",
        **storage_overrides,
    )
    check_keys(kms_settings, "rotate", env=MOTO_CREDENTIALS, process=True)
    return kms_settings


def _verify_raw(signer: KMSSigner, message: bytes, raw: bytes) -> None:
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    signer.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))


def test_kms_signature_is_raw_r_s_over_the_data(moto: MotoServer, key_id: str) -> None:
    uri = KMSKeyRef(key_id, "us-east-1", moto.endpoint_url, "RAW").to_uri()
    signer = signer_from_uri(uri, ())
    assert isinstance(signer, KMSSigner)
    signature = signer.sign(b"to be signed")
    assert len(signature) == 64
    _verify_raw(signer, b"to be signed", signature)


def test_kms_digest_mode_sends_the_sha256(moto: MotoServer, key_id: str) -> None:
    signer = signer_from_uri(
        KMSKeyRef(key_id, "us-east-1", moto.endpoint_url, "DIGEST").to_uri(), ()
    )
    assert isinstance(signer, KMSSigner)
    data = b"x" * 5000  # over real KMS's 4096-byte RAW limit: DIGEST is what production uses
    # moto signs SHA-256(message) even for DIGEST, so its signature is over our digest.
    _verify_raw(signer, hashlib.sha256(data).digest(), signer.sign(data))


def test_kms_raw_refuses_messages_over_the_kms_limit(moto: MotoServer, key_id: str) -> None:
    signer = signer_from_uri(KMSKeyRef(key_id, "us-east-1", moto.endpoint_url, "RAW").to_uri(), ())
    with pytest.raises(SignerError) as caught:
        signer.sign(b"x" * 5000)
    assert caught.value.code == "signer_unavailable"


def test_unknown_kms_key_is_a_signer_error(moto: MotoServer) -> None:
    signer = signer_from_uri(
        KMSKeyRef("no-such-key", "us-east-1", moto.endpoint_url, "RAW").to_uri(), ()
    )
    with pytest.raises(SignerError) as caught:
        signer.sign(b"data")
    assert caught.value.code == "signer_unavailable"


def test_kms_sealed_evidence_is_trusted(services: Services, tmp_path: Path) -> None:
    sealer = services.capture.sealer
    assert isinstance(sealer.signer, KMSSigner)
    now = datetime.now(UTC)
    source = make_jpeg(tmp_path / "src.jpg", seed=3, size=(320, 240))
    sealed = tmp_path / "sealed.jpg"
    Sealer(sealer.signer, sealer.trust_pem).seal(
        source,
        sealed,
        media_type="image/jpeg",
        assertion=CaptureAssertion(
            order_id="ORD-KMS",
            stage=Stage.SHIPMENT,
            device_id="station-kms",
            session_id="ss_kms",
            captured_at=(now - timedelta(seconds=1)).isoformat(),
            received_at=now.isoformat(),
            content_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
            media_type="image/jpeg",
        ),
        title="kms.jpg",
    )
    report = read_evidence(sealed, trust=TrustSettings(anchors_pem=sealer.trust_pem))
    assert report.state == "Trusted"
    assert report.failure_codes == ()


def test_kms_sealed_receipt_is_allowed(
    services: Services, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    files = flows.receive(cast, flows.ship(cast, order_id, tmp_path), tmp_path)
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "allow"
