"""Seal a file with a test home's service key, outside the API (unit tests of the sealer)."""

from __future__ import annotations

from pathlib import Path

from capture.sealing.seal import Sealer
from evidence.manifest import CaptureAssertion, Stage
from keys.store import KeyStore

__all__ = ["seal_file"]


def seal_file(keys: KeyStore, source: Path, media_type: str) -> Path:
    """Seal ``source`` as shipment evidence into ``sealed-<name>`` beside it; return that path."""
    sealer = Sealer(signer=keys.service_signer(), trust_pem=keys.trust_list().pem)
    assertion = CaptureAssertion(
        order_id="ORD-T",
        stage=Stage.SHIPMENT,
        device_id="station-t",
        session_id="ss_t",
        captured_at="2025-01-01T00:00:00+00:00",
        received_at="2025-01-01T00:00:01+00:00",
        content_sha256="0" * 64,
        media_type=media_type,
    )
    dest = source.with_name(f"sealed-{source.name}")
    sealer.seal(source, dest, media_type=media_type, assertion=assertion, title=source.name)
    return dest
