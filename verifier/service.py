"""Verifier service: turns files and ledger rows into facts, runs the engine, stores verdicts.

This is the I/O edge of the verifier; the checks themselves stay pure.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from evidence.manifest import ASSERTION_LABEL, CaptureAssertion
from evidence.media import sniff_media_type
from evidence.reader import ReaderError, ReaderReport, TrustSettings, read_evidence
from infra.errors import NotFoundError
from infra.ledger.models import Dispute, DisputeEvidence, Evidence
from infra.ledger.repository import Ledger
from infra.media import ReceivedFile
from infra.names import clean_name
from infra.storage.base import EvidenceStore
from keys.signer import Signer
from keys.trust import TrustList
from verifier.audit import AuditFinding, AuditLink, make_sealer, verify_audit_chain
from verifier.engine import evaluate
from verifier.errors import DisputeError
from verifier.models import DisputeContext, EvidenceFacts, LedgerEvidence, OrderFacts, Verdict
from verifier.perceptual import fingerprint, near_duplicate
from verifier.policy import DEFAULT_POLICY, Policy
from verifier.reasons import ReasonCode

__all__ = ["CLAIM_TYPES", "AttachedFile", "VerifierService"]

_log = logging.getLogger(__name__)

CLAIM_TYPES = frozenset({"damaged", "wrong_item", "missing_item", "not_as_described", "spoiled"})


@dataclass(frozen=True)
class AttachedFile:
    """A file to examine: where it is and what it is called."""

    path: Path
    filename: str
    sha256: str


class VerifierService:
    """Examines evidence and decides disputes."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        store: EvidenceStore,
        trust: TrustSettings,
        policy: Policy = DEFAULT_POLICY,
        audit_signer: Signer | None = None,
        revoked_service_certificates: Callable[[], Mapping[str, datetime]] | None = None,
        sealing_certificates: Callable[[], Iterable[x509.Certificate]] | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.trust = trust
        self.policy = policy
        self.audit_signer = audit_signer
        # Decimal serial (as c2pa reports it) -> revocation time; read on every check.
        self.revoked_service_certificates = revoked_service_certificates or dict
        # Every sealing certificate we ever used (key folder: current and retired); read on
        # every check so a rotation by another process counts at once. None trusts nothing.
        self.sealing_certificates = sealing_certificates or tuple

    def sealing_fingerprints(self) -> frozenset[str]:
        """SHA-256 of the DER of each OrderSeal sealing certificate, current and retired."""
        return frozenset(
            hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
            for cert in self.sealing_certificates()
        )

    def with_policy(self, policy: Policy) -> VerifierService:
        """The same verifier (ledger, store, trust, sealing keys, revocations) under ``policy``.

        Used by the backtest, so the candidate differs from production in the policy only.
        """
        return VerifierService(
            ledger=self.ledger,
            store=self.store,
            trust=self.trust,
            policy=policy,
            audit_signer=None,
            revoked_service_certificates=self.revoked_service_certificates,
            sealing_certificates=self.sealing_certificates,
        )

    # Facts -------------------------------------------------------------------
    def _context(
        self,
        order_id: str,
        buyer_id: str | None,
        now: datetime,
        dispute: Dispute | None = None,
    ) -> DisputeContext:
        order = self.ledger.get_order(order_id)
        facts = None
        if order is not None:
            delivery = (
                datetime.combine(order.expected_delivery, time(23, 59, 59), tzinfo=now.tzinfo)
                if order.expected_delivery
                else None
            )
            facts = OrderFacts(order.order_id, order.buyer_id, order.created_at, delivery)
        claim: dict[str, Any] = {}
        if dispute is not None:
            since = now - timedelta(days=self.policy.buyer_window_days)
            claim = {
                "claim_type": dispute.claim_type,
                "amount": Decimal(dispute.amount),
                "currency": dispute.currency,
                "prior_refunds_for_order": self.ledger.count_refunds_for_order(
                    order_id,
                    excluding=dispute.dispute_id,
                    filed_at=dispute.created_at,
                    buyer_id=order.buyer_id if order is not None else dispute.buyer_id,
                ),
                "prior_disputes_for_buyer": self.ledger.count_disputes_by_buyer(
                    dispute.buyer_id, since=since, excluding=dispute.dispute_id
                ),
            }
        return DisputeContext(
            order_id=order_id,
            buyer_id=buyer_id,
            order=facts,
            now=now,
            receipt_window_days=self.policy.receipt_window_days,
            **claim,
        )

    def _ledger_facts(self, rows: Sequence[Evidence]) -> dict[str, LedgerEvidence]:
        facts: dict[str, LedgerEvidence] = {}
        for row in rows:
            session = self.ledger.get_session(row.session_id)
            facts[row.manifest_id] = LedgerEvidence(
                evidence_id=row.evidence_id,
                order_id=row.order_id,
                stage=row.stage,
                manifest_id=row.manifest_id,
                original_sha256=row.original_sha256,
                sealed_sha256=row.sealed_sha256,
                device_id=row.device_id,
                session_buyer_id=session.buyer_id if session else None,
                captured_at=row.captured_at,
                sealed_at=row.sealed_at,
            )
        return facts

    def gather(
        self, file: AttachedFile, *, dispute_id: str | None, with_reuse: bool = True
    ) -> EvidenceFacts:
        """Read one file and look up everything the checks need about it.

        ``with_reuse=False`` skips the dispute lookups (exact and perceptual): the public page
        judges a file without any claim, and must not cost a scan of every dispute.
        """
        media_type = sniff_media_type(file.path)
        similar = self._similar_disputes(file, media_type, dispute_id) if with_reuse else ()
        try:
            report: ReaderReport = read_evidence(file.path, trust=self.trust)
        except ReaderError as exc:
            other = self._other_disputes(file, dispute_id, None) if with_reuse else ()
            return EvidenceFacts(
                filename=file.filename,
                content_sha256=file.sha256,
                media_type=media_type,
                report=None,
                read_error=ReasonCode(exc.code),
                read_error_detail=exc.message,
                other_disputes=other,
                similar_disputes=similar,
                dispute_orders=self.ledger.dispute_orders((*other, *similar)),
            )
        assertion = _assertion(report)
        active_id = report.active_manifest.label
        # Identity by content: the row whose sealed bytes are this file. The manifest id
        # only finds the row a changed (or forged) copy claims to be.
        by_content = self.ledger.evidence_by_sealed_sha256(file.sha256)
        named = self.ledger.evidence_by_manifest([active_id]).get(active_id)
        altered = named if named is not None and named.sealed_sha256 != file.sha256 else None
        own = self._ledger_facts([r for r in (by_content, altered) if r is not None])
        links = [link.manifest_id for link in assertion.chain] if assertion else []
        shipped = self._ledger_facts(list(self.ledger.evidence_by_manifest(links).values()))
        other = self._other_disputes(file, dispute_id, active_id) if with_reuse else ()
        return EvidenceFacts(
            filename=file.filename,
            content_sha256=file.sha256,
            media_type=media_type,
            report=report,
            assertion=assertion,
            ledger_record=own.get(by_content.manifest_id) if by_content else None,
            altered_record=own.get(altered.manifest_id) if altered else None,
            shipment_records=shipped,
            other_disputes=other,
            similar_disputes=similar,
            dispute_orders=self.ledger.dispute_orders((*other, *similar)),
            revoked_devices=self.ledger.revoked_devices(),
            revoked_service_certificates=self.revoked_service_certificates(),
            sealing_fingerprints=self.sealing_fingerprints(),
        )

    def _other_disputes(
        self, file: AttachedFile, dispute_id: str | None, manifest_id: str | None
    ) -> tuple[str, ...]:
        return tuple(self.ledger.other_disputes_with(dispute_id or "", file.sha256, manifest_id))

    def _similar_disputes(
        self, file: AttachedFile, media_type: str | None, dispute_id: str | None
    ) -> tuple[str, ...]:
        ours = fingerprint(file.path, media_type)
        if not ours:
            return ()
        return tuple(
            sorted(
                {
                    other
                    for other, theirs in self.ledger.perceptual_candidates(dispute_id or "")
                    if near_duplicate(ours, theirs)
                }
            )
        )

    # One-off verification (CLI, public page) ---------------------------------
    def verify_files(
        self, files: Sequence[AttachedFile], *, order_id: str, buyer_id: str | None, now: datetime
    ) -> Verdict:
        """Decide files against an order without filing a dispute."""
        facts = [self.gather(f, dispute_id=None) for f in files]
        return evaluate(facts, self._context(order_id, buyer_id, now), policy=self.policy)

    # Disputes ----------------------------------------------------------------
    def file_dispute(
        self,
        *,
        order_id: str,
        buyer_id: str,
        claim_type: str,
        amount: Decimal,
        currency: str,
        now: datetime,
    ) -> Dispute:
        """Open a dispute (the order may be unknown: it is still examined and reported)."""
        if claim_type not in CLAIM_TYPES:
            raise DisputeError(
                f"expected claim type one of {sorted(CLAIM_TYPES)}, found {claim_type!r}",
                code="claim_type_invalid",
            )
        dispute = Dispute(
            dispute_id=f"dp_{secrets.token_hex(8)}",
            order_id=order_id,
            buyer_id=buyer_id,
            claim_type=claim_type,
            amount=str(amount),
            currency=currency,
            created_at=now,
            decision=None,
            decided_at=None,
        )
        self.ledger.add_dispute(dispute)
        return dispute

    def dispute(self, dispute_id: str) -> Dispute:
        """Load a dispute or raise ``dispute_not_found``."""
        dispute = self.ledger.get_dispute(dispute_id)
        if dispute is None:
            raise NotFoundError("no such dispute", code="dispute_not_found")
        return dispute

    def attach_upload(
        self, dispute_id: str, received: ReceivedFile, filename: str, *, now: datetime
    ) -> bool:
        """Store an uploaded file (any file) and attach it; False if already attached."""
        self.dispute(dispute_id)
        try:
            media_type = sniff_media_type(received.path)
            manifest_id = self._manifest_id_of(received.path)
            hashes = fingerprint(received.path, media_type)
            key = self.store.put_file(received.path, received.sha256)
        finally:
            received.path.unlink(missing_ok=True)
        return self.ledger.attach(
            DisputeEvidence(
                dispute_id=dispute_id,
                content_sha256=received.sha256,
                storage_key=key,
                filename=_safe_filename(filename),
                media_type=media_type,
                size=received.size,
                manifest_id=manifest_id,
                perceptual_hashes=hashes or None,
                attached_at=now,
            )
        )

    def attach_sealed(self, dispute_id: str, evidence_id: str, *, now: datetime) -> bool:
        """Attach sealed evidence by its id."""
        self.dispute(dispute_id)
        row = self.ledger.get_evidence(evidence_id)
        if row is None:
            raise NotFoundError("no such evidence", code="evidence_not_found")
        with self.store.open_local(row.storage_key) as path:
            hashes = fingerprint(path, row.media_type)
        return self.ledger.attach(
            DisputeEvidence(
                dispute_id=dispute_id,
                perceptual_hashes=hashes or None,
                content_sha256=row.sealed_sha256,
                storage_key=row.storage_key,
                filename=row.title,
                media_type=row.media_type,
                size=row.sealed_size,
                manifest_id=row.manifest_id,
                attached_at=now,
            )
        )

    def _manifest_id_of(self, path: Path) -> str | None:
        try:
            return read_evidence(path, trust=self.trust).active_manifest.label
        except ReaderError:
            return None

    def evaluate_dispute(self, dispute_id: str, *, now: datetime) -> Verdict:
        """Evaluate a dispute's stored evidence under this service's policy without recording."""
        dispute = self.dispute(dispute_id)
        facts: list[EvidenceFacts] = []
        for attachment in self.ledger.attachments(dispute_id):
            with self.store.open_local(attachment.storage_key) as path:
                facts.append(
                    self.gather(
                        AttachedFile(path, attachment.filename, attachment.content_sha256),
                        dispute_id=dispute_id,
                    )
                )
        return evaluate(
            facts,
            self._context(dispute.order_id, dispute.buyer_id, now, dispute),
            policy=self.policy,
        )

    def decide(self, dispute_id: str, *, now: datetime) -> Verdict:
        """Evaluate every attached file and append the verdict to the dispute's history."""
        verdict = self.evaluate_dispute(dispute_id, now=now)
        self.ledger.record_verdict(
            dispute_id,
            verdict.decision.value,
            verdict.to_json(),
            now,
            audit=make_sealer(self.audit_signer) if self.audit_signer else None,
        )
        _log.info("dispute %s decided %s", dispute_id, verdict.decision.value)
        return verdict

    def verify_audit(self, trust: TrustList) -> AuditFinding:
        """Check the whole audit chain against the verdicts as stored now."""
        links = [
            AuditLink(
                position=index,
                verdict_id=entry.verdict_id,
                dispute_id=entry.dispute_id,
                prev_hash=entry.prev_hash,
                entry_hash=entry.entry_hash,
                signature=entry.signature,
                certificate_pem=entry.signer_certificate_pem,
                verdict_json=body,
                created_at=entry.created_at,
            )
            for index, (entry, body) in enumerate(self.ledger.audit_entries(), start=1)
        ]
        return verify_audit_chain(links, trust)

    def history(self, dispute_id: str) -> list[dict[str, Any]]:
        """Every verdict of a dispute, oldest first."""
        self.dispute(dispute_id)
        return [v.body for v in self.ledger.verdicts(dispute_id)]


def _assertion(report: ReaderReport) -> CaptureAssertion | None:
    data = report.active_manifest.assertions.get(ASSERTION_LABEL)
    if data is None:
        return None
    try:
        return CaptureAssertion.model_validate(data)
    except ValidationError:
        return None


def _safe_filename(name: str) -> str:
    return clean_name(name, keep=_filename_char, fallback="evidence")


def _filename_char(c: str) -> bool:
    return c.isprintable() and c not in "/\\"
