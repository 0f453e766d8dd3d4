"""Published trust: what a third party needs to verify OrderSeal evidence with any C2PA tool.

Only the sealing service signs C2PA claims (docs/trust.md), so the claim-signing anchors we
publish are our **service CAs** (current and retired) plus any foreign anchor in the key folder
(a TSA root), never the root: that root also issues the device CA, and a device leaf under it
must not read ``Trusted`` to anyone's C2PA validator. c2pa-rs accepts an intermediate given as
a trust anchor (it checks whether any certificate of the signer's chain was issued by an
anchor), and so does encypher-c2pa; ``tests/integration/test_trust_export.py`` and
``tests/interop`` prove both.

``export_trust`` writes ``anchors.pem`` (those anchors), ``c2pa-settings.json`` (the c2pa-rs
settings format that c2patool's ``--settings`` and every c2pa SDK's ``Context``/``Settings``
load: the same anchors, trust checks on, offline), ``device-ca-chain.pem`` (device CA and root:
for checking the device attestation inside our assertion, never for a C2PA validator) and the
current CRLs (``device-ca.crl``, ``service-ca.crl``, DER), and ``webhook-keys.json``: the
ed25519 keys that sign verdict webhooks (``v1a``), as ``GET /v1/trust/webhook-keys`` serves them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from keys.store import KeyStore
from keys.trust import TrustList, certificates_to_pem
from keys.webhooks import load_webhook_keys

__all__ = ["c2pa_settings", "claim_signing_trust", "export_trust", "webhook_keys"]


def claim_signing_trust(keys: KeyStore) -> TrustList:
    """The anchors a C2PA validator should trust for OrderSeal evidence.

    Our service CAs (current first, then retired, so old seals keep reading ``Trusted``),
    then every anchor of the key folder that is not part of our own hierarchy (a TSA root added
    with ``orderseal keys add-anchor``: c2pa has one anchor list for claims and timestamps).

    Raises:
        KeysError: the key folder holds no hierarchy.
    """
    ours = keys.hierarchy_certificates()
    foreign = tuple(a for a in keys.trust_list().anchors if a not in ours)
    return TrustList((*keys.service_ca_certificates(), *foreign))


def c2pa_settings(anchors_pem: str) -> dict[str, Any]:
    """c2pa settings that verify against ``anchors_pem`` only, without network access."""
    return {
        "version": 1,
        "trust": {"trust_anchors": anchors_pem},
        "verify": {
            "verify_trust": True,
            "verify_timestamp_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }


def webhook_keys(keys: KeyStore, *, now: datetime | None = None) -> dict[str, Any]:
    """The published webhook signing keys (the body of ``GET /v1/trust/webhook-keys``): the
    current one, and the previous one during a rotation's overlap."""
    live = load_webhook_keys(keys.directory).live(now or datetime.now(UTC))
    return {
        "keys": [
            {"key_id": key.key_id, "algorithm": "ed25519", "public_key": key.public_key}
            for key in live
        ]
    }


def export_trust(keys: KeyStore, destination: Path, *, now: datetime) -> list[Path]:
    """Write the published trust files into ``destination``.

    Returns:
        The files written.
    """
    destination.mkdir(parents=True, exist_ok=True)
    anchors = claim_signing_trust(keys).pem
    written = [
        destination / "anchors.pem",
        destination / "c2pa-settings.json",
        destination / "device-ca-chain.pem",
    ]
    written[0].write_text(anchors)
    written[1].write_text(json.dumps(c2pa_settings(anchors), indent=2) + "\n")
    written[2].write_text(certificates_to_pem(keys.device_ca_chain()))
    for name in ("device-ca", "service-ca"):
        crl = keys.published_crl(name, now=now)
        path = destination / f"{name}.crl"
        path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
        written.append(path)
    hooks = destination / "webhook-keys.json"
    hooks.write_text(json.dumps(webhook_keys(keys, now=now), indent=2) + "\n")
    written.append(hooks)
    return written
