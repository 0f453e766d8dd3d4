"""The backtest's candidate verifier differs from production in the policy only."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from evidence.reader import TrustSettings
from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.repository import Ledger
from infra.storage.local import LocalEvidenceStore
from keys.ca import create_root
from verifier.policy import DEFAULT_POLICY
from verifier.service import VerifierService

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_with_policy_keeps_sealing_keys_and_revocations(tmp_path: Path) -> None:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    create_schema(engine)
    sealing: tuple[x509.Certificate, ...] = (create_root("Sealing", now=NOW).certificate,)
    revoked = {"12345": NOW}
    production = VerifierService(
        ledger=Ledger(session_factory(engine)),
        store=LocalEvidenceStore(tmp_path / "evidence"),
        trust=TrustSettings(anchors_pem=""),
        revoked_service_certificates=lambda: revoked,
        sealing_certificates=lambda: sealing,
    )
    candidate_policy = dataclasses.replace(DEFAULT_POLICY, dry_run=True)
    candidate = production.with_policy(candidate_policy)
    assert candidate.policy is candidate_policy
    assert candidate.sealing_fingerprints() == production.sealing_fingerprints() != frozenset()
    assert candidate.revoked_service_certificates() == revoked
    assert (candidate.ledger, candidate.store, candidate.trust) == (
        production.ledger,
        production.store,
        production.trust,
    )
    assert candidate.audit_signer is None  # a backtest never writes the audit chain
