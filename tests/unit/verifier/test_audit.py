"""The audit chain check reports every malformed stored field as a break (issue 14, item 14).

Adversary: an insider with write access to the ledger, who edits the audit columns or the
verdict body directly. Whatever they write, ``verify_audit_chain`` returns a finding naming
the entry; it never raises.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from keys.attestation import b64url_decode, b64url_encode
from keys.backends.pem import PEMFileSigner
from keys.ca import create_root, issue_certificate, issue_intermediate, subject_name
from keys.profile import CertificateRole
from keys.trust import TrustList
from verifier.audit import GENESIS, AuditLink, make_sealer, verify_audit_chain

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed() -> tuple[list[AuditLink], TrustList]:
    """Three genuine entries and the trust they verify under."""
    root = create_root("Audit Root", now=NOW)
    service_ca = issue_intermediate(root, "Service CA", now=NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate(
        service_ca,
        key.public_key(),
        subject_name("sealer", unit="service"),
        role=CertificateRole.SERVICE,
        now=NOW,
        validity=timedelta(days=30),
    )
    seal = make_sealer(PEMFileSigner(key, (leaf, service_ca.certificate)))
    links, prev = [], GENESIS
    for index in range(1, 4):
        body = {"decision": "allow", "reasons": [{"code": "ok", "n": index}]}
        digest, signature, certificate = seal(prev, index, body)
        links.append(
            AuditLink(
                position=index,
                verdict_id=index,
                dispute_id=f"dsp_{index}",
                prev_hash=prev,
                entry_hash=digest,
                signature=signature,
                certificate_pem=certificate,
                verdict_json=json.dumps(body),
                created_at=NOW + timedelta(hours=index),
            )
        )
        prev = digest
    return links, TrustList((root.certificate,))


def _raw_zero_s(signature: str) -> str:
    return b64url_encode(b64url_decode(signature)[:32] + bytes(32))


TAMPERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "signature-bad-padding": ("signature", lambda v: "a"),
    "signature-not-ascii": ("signature", lambda v: "é" * 10),
    "signature-empty": ("signature", lambda v: ""),
    "signature-der-length": ("signature", lambda v: b64url_encode(b"\x30" + bytes(70))),
    "signature-zero-s": ("signature", _raw_zero_s),
    "signature-all-zero": ("signature", lambda v: b64url_encode(bytes(64))),
    "certificate-garbage": ("certificate_pem", lambda v: "garbage"),
    "certificate-empty": ("certificate_pem", lambda v: ""),
    "certificate-bad-base64": (
        "certificate_pem",
        lambda v: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ),
    "body-not-json": ("verdict_json", lambda v: "not json"),
    "body-not-object": ("verdict_json", lambda v: "[1, 2]"),
    "body-deeply-nested": ("verdict_json", lambda v: "[" * 1400),
    "body-empty": ("verdict_json", lambda v: ""),
    "entry-hash-short": ("entry_hash", lambda v: "abc"),
    "entry-hash-not-hex": ("entry_hash", lambda v: "zz" * 32),
    "entry-hash-upper": ("entry_hash", lambda v: v.upper()),
    "prev-hash-short": ("prev_hash", lambda v: "abc"),
    "prev-hash-not-hex": ("prev_hash", lambda v: "zz" * 32),
}


def test_the_honest_chain_is_intact(signed: tuple[list[AuditLink], TrustList]) -> None:
    links, trust = signed
    finding = verify_audit_chain(links, trust)
    assert (finding.ok, finding.entries, finding.failed_at) == (True, 3, None)


@pytest.mark.parametrize("tamper", list(TAMPERS), ids=list(TAMPERS))
def test_a_malformed_field_is_a_break_at_its_entry(
    signed: tuple[list[AuditLink], TrustList], tamper: str
) -> None:
    links, trust = signed
    field, change = TAMPERS[tamper]
    changes: dict[str, Any] = {field: change(getattr(links[1], field))}
    edited = dataclasses.replace(links[1], **changes)
    finding = verify_audit_chain([links[0], edited, links[2]], trust)
    assert (finding.ok, finding.failed_at, finding.dispute_id) == (False, 2, "dsp_2")
    assert finding.problem
