"""Second-opinion validation with encypher-c2pa, an independent C2PA implementation.

c2pa-python wraps c2pa-rs; encypher-c2pa (Rust, verification only) shares no code
with it. Tests use :func:`validate_with_encypher` to show that what OrderSeal seals
with c2pa-python is accepted as *trusted* by a different validator when OrderSeal's
published claim-signing anchors (``keys.publish``: the service CAs) are the only trust
anchors, that tampered copies are rejected, and that device-signed claims are not trusted.

The call made is::

    encypher_c2pa.verify(path, trust_pem=<anchors PEM text>, no_default_trust=True,
                         online=False, telemetry=False)

``no_default_trust=True`` drops encypher's bundled C2PA/IPTC/Encypher trust
snapshots so only the supplied anchors count. encypher has no EKU configuration:
its built-in leaf EKU allow list is c2pa-kp-claimSigning, id-kp-documentSigning,
Adobe documentSigning, id-kp-emailProtection and the Microsoft C2PA OID. A
certificate in ``trust_pem`` that is not a CA is treated as a directly trusted
end-entity certificate, so pass CA certificates only if chain building is what
you want to prove.

Limits (encypher-c2pa 1.7.1): path assets over 128 MiB are refused with
``OSError``; certificate chains whose CA signatures are RSASSA-PSS are not
path-built (the signer then reads ``signingCredential.untrusted`` even under the
right root), so seal with ECDSA or Ed25519 CAs. ``telemetry=False`` makes
encypher save that "off" preference in its per-user config file
(``ENCYPHER_C2PA_CONFIG_DIR``, default ``~/.config/encypher``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import encypher_c2pa

_PEM_MARKER = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class InteropResult:
    """encypher-c2pa's verdict on one asset.

    ``trusted`` is True only when encypher reports integrity ``valid``, signature
    ``valid``, hard binding ``match``, state ``Trusted`` and no failure code at all,
    neither for the active manifest nor for any ingredient.
    """

    trusted: bool
    state: str
    failure_codes: tuple[str, ...]
    ingredient_failure_codes: tuple[str, ...]
    raw: Mapping[str, Any]

    def describe(self) -> str:
        """One line for assertion messages."""
        raw = self.raw
        return (
            f"encypher: state={self.state} integrity={raw.get('integrity')} "
            f"signature={raw.get('signature')} hard_binding={raw.get('hard_binding')} "
            f"trust={_trust_status(raw)} failures={list(self.failure_codes)} "
            f"ingredient_failures={list(self.ingredient_failure_codes)}"
        )


def _trust_status(report: Mapping[str, Any]) -> Any:
    trust = report.get("trust")
    return trust.get("status") if isinstance(trust, Mapping) else None


def _load_anchors(anchors_pem: Path | str) -> str:
    """PEM text from PEM text, a PEM file, or a directory of ``*.pem`` files."""
    if isinstance(anchors_pem, str) and _PEM_MARKER in anchors_pem:
        text = anchors_pem
    else:
        location = Path(anchors_pem)
        if location.is_dir():
            files = sorted(location.glob("*.pem"))
            text = "\n".join(f.read_text(encoding="ascii") for f in files)
        else:
            text = location.read_text(encoding="ascii")
    if _PEM_MARKER not in text:
        raise ValueError(f"no PEM certificate found in trust anchors {anchors_pem!r}")
    return text


def _codes(entries: Any) -> tuple[str, ...]:
    if not isinstance(entries, Iterable):
        return ()
    return tuple(
        str(entry["code"]) for entry in entries if isinstance(entry, Mapping) and "code" in entry
    )


def _ingredient_failures(report: Mapping[str, Any]) -> tuple[str, ...]:
    manifest_report = report.get("manifest_report")
    if not isinstance(manifest_report, Mapping):
        return ()
    results = manifest_report.get("validation_results")
    if not isinstance(results, Mapping):
        return ()
    codes: list[str] = []
    for delta in results.get("ingredientDeltas") or ():
        if not isinstance(delta, Mapping):
            continue
        deltas = delta.get("validationDeltas")
        if isinstance(deltas, Mapping):
            codes.extend(_codes(deltas.get("failure")))
    return tuple(codes)


def validate_with_encypher(path: Path, anchors_pem: Path | str) -> InteropResult:
    """Validate ``path`` with encypher-c2pa, trusting only ``anchors_pem``.

    ``anchors_pem`` is PEM text, a PEM file, or a directory whose ``*.pem`` files
    are concatenated. The media type is inferred from the file extension.
    """
    report: Mapping[str, Any] = encypher_c2pa.verify(
        Path(path),
        trust_pem=_load_anchors(anchors_pem),
        no_default_trust=True,
        online=False,
        telemetry=False,
    )
    results = report.get("validation_results")
    failures = _codes(results.get("failure")) if isinstance(results, Mapping) else ()
    ingredient_failures = _ingredient_failures(report)
    state = str(report.get("validation_state"))
    trusted = (
        report.get("present") is True
        and report.get("integrity") == "valid"
        and report.get("signature") == "valid"
        and report.get("hard_binding") == "match"
        and state == "Trusted"
        and not failures
        and not ingredient_failures
    )
    return InteropResult(
        trusted=trusted,
        state=state,
        failure_codes=failures,
        ingredient_failure_codes=ingredient_failures,
        raw=report,
    )


__all__ = ["InteropResult", "validate_with_encypher"]
