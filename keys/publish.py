"""Published trust: what a third party needs to verify OrderSeal evidence with any C2PA tool.

``export_trust`` writes ``anchors.pem`` (our root, plus a TSA root when timestamps are on),
``c2pa-settings.json`` (the c2pa-rs settings format that c2patool's ``--settings`` and every
c2pa SDK's ``Context``/``Settings`` load: our anchors, trust checks on, offline), and the
current CRLs (``device-ca.crl``, ``service-ca.crl``, DER).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from keys.store import KeyStore

__all__ = ["c2pa_settings", "export_trust"]


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


def export_trust(keys: KeyStore, destination: Path, *, now: datetime) -> list[Path]:
    """Write the published trust files into ``destination``.

    Returns:
        The files written.
    """
    destination.mkdir(parents=True, exist_ok=True)
    anchors = keys.trust_list().pem
    written = [destination / "anchors.pem", destination / "c2pa-settings.json"]
    written[0].write_text(anchors)
    written[1].write_text(json.dumps(c2pa_settings(anchors), indent=2) + "\n")
    for name in ("device-ca", "service-ca"):
        crl = keys.published_crl(name, now=now)
        path = destination / f"{name}.crl"
        path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
        written.append(path)
    return written
