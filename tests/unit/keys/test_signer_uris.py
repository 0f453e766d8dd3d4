"""Backend selection by key URI and by ``ORDERSEAL_SIGNER``."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from keys.backends.kms import KMSKeyRef
from keys.backends.pkcs11 import PKCS11KeyRef
from keys.errors import KeysError, SignerError
from keys.signer import signer_from_uri
from keys.store import KeyStore
from orderseal.signing import service_key_uri


def test_pkcs11_uri_round_trip() -> None:
    ref = PKCS11KeyRef("/usr/lib/softhsm/libsofthsm2.so", "orderseal", "service")
    assert PKCS11KeyRef.from_uri(ref.to_uri().removeprefix("pkcs11:")) == ref


def test_kms_uri_round_trip() -> None:
    ref = KMSKeyRef("alias/orderseal", "eu-west-1", "http://127.0.0.1:1", "RAW")
    assert KMSKeyRef.from_uri(ref.to_uri().removeprefix("awskms:")) == ref
    assert KMSKeyRef.from_uri("key-1").message_type == "DIGEST"


@pytest.mark.parametrize(
    "uri",
    ["gpg:key", "pkcs11:object=x", "awskms:", "awskms:k?message-type=HEX"],
    ids=["unknown-scheme", "pkcs11-no-token", "kms-no-key", "kms-bad-message-type"],
)
def test_bad_uris_are_signer_errors(uri: str) -> None:
    with pytest.raises(SignerError) as caught:
        signer_from_uri(uri, (), password=b"1234")
    assert caught.value.code == "signer_unavailable"


def test_settings_select_the_backend(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    assert service_key_uri(Settings(home=tmp_path), keys) == f"file:{tmp_path / 'service.key'}"
    hsm = Settings(home=tmp_path, signer="pkcs11", pkcs11_token="t", pkcs11_key_label="k")
    assert service_key_uri(hsm, keys).startswith("pkcs11:token=t;object=k?module-path=")
    kms = Settings(home=tmp_path, signer="kms", kms_key_id="abc", kms_message_type="RAW")
    assert service_key_uri(kms, keys) == "awskms:abc?region=us-east-1&message-type=RAW"
    explicit = Settings(home=tmp_path, signer="kms", service_key_uri="file:/k.pem")
    assert service_key_uri(explicit, keys) == "file:/k.pem"


@pytest.mark.parametrize("signer", ["pkcs11", "kms"], ids=["pkcs11", "kms"])
def test_backend_without_its_settings_is_misconfigured(tmp_path: Path, signer: str) -> None:
    with pytest.raises(KeysError) as caught:
        service_key_uri(Settings(home=tmp_path, signer=signer), KeyStore(tmp_path))
    assert caught.value.code == "signer_misconfigured"
