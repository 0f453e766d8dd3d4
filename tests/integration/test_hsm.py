"""Sealing with a key inside a real SoftHSM2 token (PKCS#11), selected by configuration.

The token is initialised in a temporary folder with its own ``SOFTHSM2_CONF``; the key is
generated inside it by ``orderseal keys hsm-keygen`` and certified by ``orderseal keys
rotate``. The capture service is unchanged: only ``ORDERSEAL_SIGNER=pkcs11`` and its
settings differ. Evidence reads ``Trusted`` and a dispute over it is ``allow``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.errors import KeysError
from orderseal.services import Services, build_services
from tests.conftest import make_settings
from tests.support import flows
from tests.support.keys_cli import check_keys, run_keys
from tests.support.softhsm import SOFTHSM_MODULE, HSMToken, SoftHSM

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def token(softhsm: SoftHSM) -> HSMToken:
    return softhsm.init_token(f"orderseal-{secrets.token_hex(3)}")


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    token: HSMToken,
) -> Settings:
    hsm_settings = make_settings(
        module_home,
        database_url=database_url,
        signer="pkcs11",
        pkcs11_module=SOFTHSM_MODULE,
        pkcs11_token=token.label,
        pkcs11_pin=token.pin,
        **storage_overrides,
    )
    check_keys(hsm_settings, "hsm-keygen", process=True)
    check_keys(hsm_settings, "rotate", process=True)
    return hsm_settings


def test_the_key_was_generated_in_the_token_and_cannot_leave_it(
    settings: Settings, token: HSMToken
) -> None:
    library = pkcs11.lib(SOFTHSM_MODULE)
    with library.get_token(token_label=token.label).open(user_pin=token.pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="orderseal-service")
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.LOCAL] is True  # generated on the token, never imported


def test_services_seal_with_the_hsm(services: Services) -> None:
    signer = services.capture.sealer.signer
    assert type(signer).__name__ == "PKCS11Signer"
    assert "pin" not in repr(
        signer
    ).lower() or services.settings.pkcs11_pin.get_secret_value() not in repr(signer)


def test_hsm_sealed_evidence_is_trusted_and_allowed(
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, tmp_path)
    files = flows.receive(cast, shipped, tmp_path)
    report = read_evidence(
        files[0], trust=TrustSettings(anchors_pem=services.keys.trust_list().pem)
    )
    assert report.state == "Trusted"
    assert report.active_manifest.cert_serial_number == str(
        services.capture.sealer.signer.certificate_chain[0].serial_number
    )
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "allow"
    assert flows.codes(decided) == set()


def test_wrong_pin_is_a_signer_error(settings: Settings) -> None:
    # A fresh process: PKCS#11 login is per application, and this one is logged in.
    result = run_keys(settings, "rotate", env={"ORDERSEAL_PKCS11_PIN": "0000"}, process=True)
    assert result.returncode == 3
    assert "signer_unavailable" in result.stdout
    assert "0000" not in result.stdout + result.stderr


def test_pkcs11_without_a_token_is_misconfigured(settings: Settings) -> None:
    with pytest.raises(KeysError) as caught:
        build_services(settings.model_copy(update={"pkcs11_token": ""}))
    assert caught.value.code == "signer_misconfigured"


def test_a_chain_for_another_key_is_refused(settings: Settings) -> None:
    other_settings = settings.model_copy(update={"pkcs11_key_label": "not-certified"})
    check_keys(other_settings, "hsm-keygen", process=True)
    with pytest.raises(KeysError) as caught:
        build_services(other_settings)
    assert caught.value.code == "service_certificate_mismatch"
