"""All ledger queries. Each method is one transaction; callers never see SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, delete, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from infra.errors import ConflictError
from infra.ledger.agent_work import AgentWork, hold_for_agent
from infra.ledger.api_keys import APIKeys, hash_api_key
from infra.ledger.audit_chain import GENESIS_HASH, AuditSealer, append_audit_entry
from infra.ledger.counting import hold_counting_lock
from infra.ledger.dispute_pages import has_reason, keyset_page
from infra.ledger.fingerprint_index import FingerprintIndex, fingerprint_rows
from infra.ledger.idempotency import IdempotencyRecords
from infra.ledger.jobs import NewJob, add_job
from infra.ledger.merchants import Merchants
from infra.ledger.models import (
    AuditEntry,
    CaptureSession,
    Device,
    Dispute,
    DisputeEvidence,
    Evidence,
    FlaggedUpload,
    MerchantResponse,
    Order,
    UsedNonce,
    Verdict,
)
from infra.ledger.provisional import ProvisionalLabels
from infra.ledger.sessions import GuardedSessions
from infra.ledger.webhooks import OutboxEvent, WebhookRepository, add_outbox_events

__all__ = [
    "GENESIS_HASH",
    "NONCE_PRUNE_BATCH",
    "NONCE_RETENTION",
    "AuditSealer",
    "Ledger",
    "StaleVerdictError",
    "VerdictBasis",
    "hash_api_key",
]

#: Expired request nonces deleted per accepted nonce (bounded work on the request path).
NONCE_PRUNE_BATCH = 100
#: The least time a nonce is kept: at least every signature window that records nonces.
NONCE_RETENTION = timedelta(minutes=10)


@dataclass(frozen=True)
class VerdictBasis:
    """What a dispute's evaluation read: compared again when its verdict is written."""

    latest_verdict_id: int | None
    attachment_ids: frozenset[int]


class StaleVerdictError(ConflictError):
    """The dispute changed between its evaluation and the write of the verdict."""

    code = "verdict_stale"


def _basis_now(session: Session, dispute_id: str) -> VerdictBasis:
    latest = session.scalar(select(func.max(Verdict.id)).where(Verdict.dispute_id == dispute_id))
    attached = session.scalars(
        select(DisputeEvidence.id).where(DisputeEvidence.dispute_id == dispute_id)
    )
    return VerdictBasis(latest, frozenset(attached))


def _shipment_bytes_elsewhere(
    original_sha256: str, *, merchant_id: str, order_id: str
) -> Select[Evidence]:
    """The earliest shipment evidence of these original bytes in another order of the merchant."""
    return (
        select(Evidence)
        .join(Order, Order.order_id == Evidence.order_id)
        .where(
            Evidence.original_sha256 == original_sha256,
            Evidence.stage == "shipment",
            Evidence.order_id != order_id,
            Order.merchant_id == merchant_id,
        )
        .order_by(Evidence.sealed_at)
        .limit(1)
    )


class Ledger:
    """Repository over the ledger tables.

    Every method raises ``UnavailableError`` (``ledger_unavailable``, 503) when the
    database is down or drops the connection.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = GuardedSessions(sessions)
        #: First answers to requests sent with an Idempotency-Key (infra.idempotency).
        self.idempotency = IdempotencyRecords(self._sessions)
        #: Operator API keys (their own repository over the same sessions).
        self.api_keys = APIKeys(self._sessions)
        #: Webhook endpoints, deliveries and their log (the outbox is written with its record).
        self.webhooks = WebhookRepository(self._sessions)
        #: Merchant tenants: merchants, scoped reads, the reopen log and merchant responses.
        self.merchants = Merchants(self._sessions)
        #: The agents' queue, decisions and report links (infra.ledger.agent_work).
        self.agent_work = AgentWork(self._sessions, outbox_written=self._outbox_written)
        #: Perceptual hashes of sealed evidence, for Hamming lookups (issue 19 §1).
        self.fingerprints = FingerprintIndex(self._sessions)
        #: Offline packing: provisional labels and what replaced them (issue 18 §1).
        self.provisional = ProvisionalLabels(self._sessions)
        #: Called after a commit that wrote outbox events (wakes an in-process delivery worker).
        self.outbox_listener: Callable[[], None] | None = None
        #: Called after a commit that wrote background jobs (wakes an in-process job worker).
        self.job_listener: Callable[[], None] | None = None

    def _add(self, *rows: Any) -> None:
        try:
            with self._sessions.begin() as session:
                session.add_all(rows)
        except IntegrityError as exc:
            raise ConflictError("expected a new record, found an existing one") from exc

    def _one(self, model: type[Any], key: str) -> Any:
        with self._sessions() as session:
            return session.get(model, key)

    def ping(self) -> None:
        """Raise UnavailableError unless the database answers (readiness)."""
        with self._sessions() as session:
            session.execute(select(1))

    # Orders -----------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        """Register an order; a duplicate id is a conflict."""
        self._add(order)

    def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""
        result: Order | None = self._one(Order, order_id)
        return result

    def update_open_order(
        self, order_id: str, values: dict[str, Any], *, now: datetime
    ) -> Order | None:
        """Set ``values`` on the order if it is open; the order, or None (unknown or cancelled)."""
        with self._sessions.begin() as session:
            order = session.get(Order, order_id, with_for_update=True)
            if order is None or order.status != "open":
                return None
            for name, value in values.items():
                setattr(order, name, value)
            order.updated_at = now
            return order

    def cancel_order(self, order_id: str, *, now: datetime) -> Order | None:
        """Mark the order cancelled (a second cancel keeps the first time); None if unknown."""
        with self._sessions.begin() as session:
            order = session.get(Order, order_id, with_for_update=True)
            if order is None:
                return None
            if order.status != "cancelled":
                order.status = "cancelled"
                order.cancelled_at = now
                order.updated_at = now
            return order

    # Devices and credentials -------------------------------------------------
    def add_device(self, device: Device) -> None:
        """Record an enrolled device."""
        self._add(device)

    def get_device(self, device_id: str) -> Device | None:
        """The device, or None."""
        result: Device | None = self._one(Device, device_id)
        return result

    def revoked_devices(self) -> dict[str, datetime]:
        """Device id to revocation time, for every revoked device."""
        with self._sessions() as session:
            rows = session.execute(
                select(Device.device_id, Device.revoked_at).where(Device.revoked_at.is_not(None))
            )
            return {device_id: at for device_id, at in rows if at is not None}

    def revoke_device(self, device_id: str, *, at: datetime, reason: str) -> Device | None:
        """Mark a device revoked (the first revocation time stands); None if unknown."""
        with self._sessions.begin() as session:
            row: Device | None = session.get(Device, device_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = at
                row.revoke_reason = reason[:128]
            return row

    def renew_device(
        self, device_id: str, *, certificate_pem: str, serial_hex: str, not_after: datetime
    ) -> None:
        """Replace a device's certificate with its renewal (same key, new serial)."""
        with self._sessions.begin() as session:
            row = session.get(Device, device_id)
            if row is not None:
                row.certificate_pem = certificate_pem
                row.serial_hex = serial_hex
                row.not_after = not_after

    def use_nonce(
        self, nonce: str, device_id: str, now: datetime, *, keep_for: timedelta = NONCE_RETENTION
    ) -> bool:
        """Record a request nonce; False if it was already used (a replay).

        Nonces seen more than ``keep_for`` (the caller's signature window, never less than
        ``NONCE_RETENTION``: the table is shared, so one caller's short window must not
        drop another's live nonces) before ``now`` can no longer be replayed, since their
        signatures have expired: each call deletes up to ``NONCE_PRUNE_BATCH`` of them,
        the oldest first, in the same transaction. Each accepted request removes more than
        it adds, so the table holds about one window of traffic. Rows another worker is
        pruning are skipped, never waited for.
        """
        expired = (
            select(UsedNonce.nonce)
            .where(UsedNonce.seen_at < now - max(keep_for, NONCE_RETENTION))
            .order_by(UsedNonce.seen_at)
            .limit(NONCE_PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        try:
            with self._sessions.begin() as session:
                session.execute(
                    delete(UsedNonce)
                    .where(UsedNonce.nonce.in_(expired))
                    .execution_options(synchronize_session=False)
                )
                session.add(UsedNonce(nonce=nonce, device_id=device_id, seen_at=now))
        except IntegrityError:
            return False
        return True

    # Sessions ----------------------------------------------------------------
    def add_session(self, session_row: CaptureSession) -> None:
        """Open a capture session."""
        self._add(session_row)

    def get_session(self, session_id: str) -> CaptureSession | None:
        """The session, or None."""
        result: CaptureSession | None = self._one(CaptureSession, session_id)
        return result

    def close_session(self, session_id: str, now: datetime) -> None:
        """Mark a session closed (idempotent)."""
        with self._sessions.begin() as session:
            row = session.get(CaptureSession, session_id)
            if row is not None and row.closed_at is None:
                row.closed_at = now

    def close_open_receipt_sessions(
        self, order_id: str, buyer_id: str, now: datetime, *, stage: str = "receipt"
    ) -> int:
        """Close the buyer's still-open sessions of ``stage`` (a buyer's stage: receipt or
        review) of an order; returns how many."""
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(CaptureSession).where(
                    CaptureSession.order_id == order_id,
                    CaptureSession.stage == stage,
                    CaptureSession.buyer_id == buyer_id,
                    CaptureSession.closed_at.is_(None),
                )
            ).all()
            for row in rows:
                row.closed_at = now
            return len(rows)

    def latest_shipment_session(
        self, order_id: str, *, closed: bool = False
    ) -> CaptureSession | None:
        """The most recent shipment session of an order (only closed ones if ``closed``)."""
        query = select(CaptureSession).where(
            CaptureSession.order_id == order_id, CaptureSession.stage == "shipment"
        )
        if closed:
            query = query.where(CaptureSession.closed_at.is_not(None))
        with self._sessions() as session:
            return session.scalars(query.order_by(CaptureSession.opened_at.desc())).first()

    # Evidence ----------------------------------------------------------------
    def add_evidence(
        self,
        evidence: Evidence,
        *,
        events: Sequence[OutboxEvent] = (),
        jobs: Sequence[NewJob] = (),
        fingerprints: Sequence[int] = (),
        max_in_stage: int | None = None,
    ) -> None:
        """Record sealed evidence (and its webhook ``events``, background ``jobs`` and
        perceptual ``fingerprints`` for the index, in the same transaction).

        Unique manifest and sealed hash keep it single. Shipment bytes evidence one order of
        their merchant: checked again here under a lock on the bytes, so two stations sealing
        the same photo into two orders at once do not both succeed. ``max_in_stage`` bounds
        the order's rows of this stage (review photos), counted under a lock on the order's
        stage: concurrent uploads that each passed the early check cannot all be recorded.

        Raises:
            ConflictError: a duplicate row; ``capture_sealed_elsewhere`` for shipment bytes
                already sealed into another order of the merchant; ``review_limit_reached``
                for a row past ``max_in_stage``.
        """
        try:
            with self._sessions.begin() as session:
                if max_in_stage is not None:
                    hold_counting_lock(session, f"stage_rows:{evidence.order_id}:{evidence.stage}")
                    held = session.scalar(
                        select(func.count()).where(
                            Evidence.order_id == evidence.order_id,
                            Evidence.stage == evidence.stage,
                        )
                    )
                    if (held or 0) >= max_in_stage:
                        raise ConflictError(
                            f"expected fewer than {max_in_stage} {evidence.stage} captures for "
                            f"this order, found {held}",
                            code="review_limit_reached",
                        )
                if evidence.stage == "shipment":
                    hold_counting_lock(session, f"shipment_bytes:{evidence.original_sha256}")
                    merchant_id = session.scalar(
                        select(Order.merchant_id).where(Order.order_id == evidence.order_id)
                    )
                    earlier = session.scalars(
                        _shipment_bytes_elsewhere(
                            evidence.original_sha256,
                            merchant_id=merchant_id or "",
                            order_id=evidence.order_id,
                        )
                    ).first()
                    if earlier is not None:
                        raise ConflictError(
                            f"these bytes are already sealed for order {earlier.order_id}: "
                            "one photo evidences one parcel, take a new one",
                            code="capture_sealed_elsewhere",
                        )
                session.add(evidence)
                session.flush()
                session.add_all(
                    fingerprint_rows(evidence.evidence_id, evidence.order_id, fingerprints)
                )
                add_outbox_events(session, events)
                for job in jobs:
                    add_job(session, job)
        except IntegrityError as exc:
            raise ConflictError("expected a new record, found an existing one") from exc
        self._outbox_written(events)
        if jobs and self.job_listener is not None:
            self.job_listener()

    def _outbox_written(self, events: Sequence[OutboxEvent]) -> None:
        if events and self.outbox_listener is not None:
            self.outbox_listener()

    def set_ingredient_archive(self, evidence_id: str, key: str, sha256: str) -> None:
        """Remember the ingredient archive built for shipment evidence (first one wins)."""
        with self._sessions.begin() as session:
            row = session.get(Evidence, evidence_id)
            if row is not None and row.archive_key is None:
                row.archive_key, row.archive_sha256 = key, sha256

    def get_evidence(self, evidence_id: str) -> Evidence | None:
        """One evidence row."""
        result: Evidence | None = self._one(Evidence, evidence_id)
        return result

    def find_by_idempotency(self, device_id: str, key: str) -> Evidence | None:
        """The evidence an earlier upload with the same idempotency key produced."""
        with self._sessions() as session:
            return session.scalars(
                select(Evidence).where(
                    Evidence.device_id == device_id, Evidence.idempotency_key == key
                )
            ).first()

    def evidence_by_manifest(self, manifest_ids: Iterable[str]) -> dict[str, Evidence]:
        """Evidence rows by manifest id."""
        ids = list(manifest_ids)
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.scalars(select(Evidence).where(Evidence.manifest_id.in_(ids)))
            return {row.manifest_id: row for row in rows}

    def evidence_by_sealed_sha256(self, sealed_sha256: str) -> Evidence | None:
        """The evidence whose sealed file has exactly these bytes (the content identity)."""
        with self._sessions() as session:
            return session.scalars(
                select(Evidence).where(Evidence.sealed_sha256 == sealed_sha256)
            ).first()

    def evidence_for_order(self, order_id: str, stage: str | None = None) -> list[Evidence]:
        """An order's evidence, oldest first."""
        query = select(Evidence).where(Evidence.order_id == order_id)
        if stage:
            query = query.where(Evidence.stage == stage)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Evidence.sealed_at)))

    def add_flagged_upload(self, row: FlaggedUpload) -> bool:
        """Keep an upload intake screening refused; False if the session already holds it."""
        try:
            self._add(row)
        except ConflictError:
            return False
        return True

    def shipment_evidence_elsewhere(
        self, original_sha256: str, *, merchant_id: str, order_id: str
    ) -> Evidence | None:
        """Shipment evidence of the same original bytes in another order of the merchant.

        One packing photo evidences one parcel; ``original_sha256`` is indexed.
        """
        query = _shipment_bytes_elsewhere(
            original_sha256, merchant_id=merchant_id, order_id=order_id
        )
        with self._sessions() as session:
            return session.scalars(query).first()

    def flagged_uploads(self, order_id: str) -> list[FlaggedUpload]:
        """Flagged receipt uploads of an order, oldest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(FlaggedUpload)
                    .where(FlaggedUpload.order_id == order_id)
                    .order_by(FlaggedUpload.received_at)
                )
            )

    # Disputes ----------------------------------------------------------------
    def add_dispute(self, dispute: Dispute) -> None:
        """File a dispute."""
        self._add(dispute)

    def get_dispute(self, dispute_id: str) -> Dispute | None:
        """One dispute."""
        result: Dispute | None = self._one(Dispute, dispute_id)
        return result

    def attach(self, attachment: DisputeEvidence) -> bool:
        """Attach a file to a dispute (moving its ``updated_at``); False if already attached."""
        try:
            with self._sessions.begin() as session:
                session.add(attachment)
                session.flush()
                dispute = session.get(Dispute, attachment.dispute_id)
                if dispute is not None:
                    dispute.updated_at = attachment.attached_at
        except IntegrityError:
            return False
        return True

    def detach(self, dispute_id: str, content_sha256: str, *, now: datetime) -> str:
        """Remove an attachment from an undecided dispute.

        The dispute row is locked, so a decision and a detach never interleave. The stored
        bytes stay in the evidence store (content-addressed, possibly shared; never deleted).

        Returns:
            ``detached``, ``decided`` (the dispute has a verdict: nothing removed),
            ``no_dispute`` or ``not_attached``.
        """
        with self._sessions.begin() as session:
            dispute = session.get(Dispute, dispute_id, with_for_update=True)
            if dispute is None:
                return "no_dispute"
            if dispute.decision is not None:
                return "decided"
            removed = session.scalars(
                delete(DisputeEvidence)
                .where(
                    DisputeEvidence.dispute_id == dispute_id,
                    DisputeEvidence.content_sha256 == content_sha256,
                )
                .returning(DisputeEvidence.id)
            ).all()
            if not removed:
                return "not_attached"
            dispute.updated_at = now
            return "detached"

    def attachments(self, dispute_id: str) -> list[DisputeEvidence]:
        """Files attached to a dispute, in order."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(DisputeEvidence)
                    .where(DisputeEvidence.dispute_id == dispute_id)
                    .order_by(DisputeEvidence.id)
                )
            )

    def perceptual_candidates(self, dispute_id: str) -> list[tuple[str, list[str]]]:
        """(dispute id, perceptual hashes) of every attachment on other disputes.

        A linear scan is fine at this scale; a large deployment indexes the hashes (for
        example a BK-tree service or a vector index in PostgreSQL).
        """
        with self._sessions() as session:
            rows = session.execute(
                select(DisputeEvidence.dispute_id, DisputeEvidence.perceptual_hashes).where(
                    DisputeEvidence.dispute_id != dispute_id,
                    DisputeEvidence.perceptual_hashes.is_not(None),
                )
            )
            return [(other, list(hashes or [])) for other, hashes in rows]

    def other_disputes_with(
        self, dispute_id: str, content_sha256: str, manifest_id: str | None
    ) -> list[str]:
        """Other disputes holding the same bytes or the same manifest."""
        condition = DisputeEvidence.content_sha256 == content_sha256
        if manifest_id:
            condition = or_(condition, DisputeEvidence.manifest_id == manifest_id)
        with self._sessions() as session:
            rows = session.scalars(
                select(DisputeEvidence.dispute_id)
                .where(condition, DisputeEvidence.dispute_id != dispute_id)
                .distinct()
            )
            return sorted(rows)

    def dispute_orders(self, dispute_ids: Iterable[str]) -> dict[str, str]:
        """Order id of each named dispute (unknown ids are absent)."""
        ids = sorted(set(dispute_ids))
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(Dispute.dispute_id, Dispute.order_id).where(Dispute.dispute_id.in_(ids))
            )
            return {dispute_id: order_id for dispute_id, order_id in rows}

    def record_verdict(
        self,
        dispute_id: str,
        decision: str,
        body: dict[str, Any],
        at: datetime,
        *,
        change_reason: str | None = None,
        reason_codes: Iterable[str] = (),
        audit: AuditSealer | None = None,
        events: Sequence[OutboxEvent] = (),
        attribution: str | None = None,
        basis: VerdictBasis | None = None,
    ) -> None:
        """Append a verdict, set the dispute's decision and extend the audit chain, atomically.

        ``basis`` is what the verdict was evaluated on (the latest verdict then, the attached
        files). When another writer appended a verdict, or a file was attached or detached,
        while this one was evaluated, nothing is written and ``StaleVerdictError`` is raised:
        the caller evaluates again, so the latest verdict always covers what it claims to.

        ``events`` (webhooks announcing the verdict) are written in the same transaction.

        ``audit(prev_hash, verdict_id, body)`` returns (entry_hash, signature, certificate PEM).
        A concurrent writer that extended the chain first makes this one retry on the new tip.

        ``change_reason`` says why a re-decision was made; ``reason_codes`` (the verdict's) are
        kept on the dispute row so the platform listing filters by reason in SQL;
        ``attribution`` (``merchant``, ``buyer`` or None) is kept there for the policy counts.

        After an agent approved or denied the dispute, the verdict is appended (and signed) with
        ``agent_decision_stands``, and the dispute keeps the agent's decision; no event is sent.
        """
        codes = ",".join(sorted(set(reason_codes)))
        for _attempt in range(20):
            try:
                with self._sessions.begin() as session:
                    # Written first, so SQLite takes its write lock before anything is read,
                    # as PostgreSQL's row lock does: a detach (undecided disputes only) and an
                    # agent's decision (infra.ledger.agent_work) wait for the verdict.
                    session.execute(
                        update(Dispute)
                        .where(Dispute.dispute_id == dispute_id)
                        .values(updated_at=at)
                        .execution_options(synchronize_session=False)
                    )
                    dispute = session.get(Dispute, dispute_id, with_for_update=True)
                    if basis is not None and _basis_now(session, dispute_id) != basis:
                        raise StaleVerdictError(
                            "the dispute changed while it was evaluated; evaluate again",
                            code="verdict_stale",
                        )
                    # After an agent's approve or deny, a new automatic verdict is history only.
                    held = dispute is not None and hold_for_agent(session, dispute_id, at=at)
                    stored = body | {"agent_decision_stands": True} if held else body
                    written = () if held else events
                    verdict = Verdict(
                        dispute_id=dispute_id,
                        decision=decision,
                        body=stored,
                        decided_at=at,
                        change_reason=change_reason,
                    )
                    session.add(verdict)
                    if dispute is not None and not held:
                        dispute.decision = decision
                        dispute.decided_at = at
                        dispute.updated_at = at
                        dispute.reason_codes = f",{codes},"
                        dispute.attribution = attribution
                    if audit is not None:
                        session.flush()
                        append_audit_entry(
                            session,
                            verdict_id=verdict.id,
                            dispute_id=dispute_id,
                            body=stored,
                            at=at,
                            audit=audit,
                        )
                    add_outbox_events(session, written)
                self._outbox_written(written)
                return
            except IntegrityError:
                continue
        raise ConflictError("the audit chain is too busy; retry", code="audit_contention")

    def audit_entries(self) -> list[tuple[AuditEntry, str]]:
        """The audit chain in order, each entry with the body of the verdict it covers.

        The body comes as the text stored, not decoded: the audit check must report an
        edited body that is no longer JSON as a broken entry, not fail while loading it.
        """
        with self._sessions() as session:
            rows = session.execute(
                select(AuditEntry, cast(Verdict.body, Text))
                .join(Verdict, Verdict.id == AuditEntry.verdict_id)
                .order_by(AuditEntry.id)
            )
            return [(entry, body) for entry, body in rows]

    def count_refunds_for_order(
        self,
        order_id: str,
        *,
        excluding: str,
        filed_at: datetime | None = None,
        buyer_id: str | None = None,
    ) -> int:
        """Other disputes on the order that are, or may become, a refund.

        Counted: every other dispute decided ``allow``, and every undecided one of
        ``buyer_id`` (the order's buyer) filed before ``filed_at`` (ties broken by id).
        Counting pending earlier claims keeps the per-order refund limit whole when several
        claims on one order are decided at the same moment: the earliest may pass, the rest
        see it. Another account's claim can pay nothing (``buyer_mismatch``), so it never
        holds the buyer's claim back.
        """
        pending_earlier: ColumnElement[bool] = false()
        if filed_at is not None and buyer_id is not None:
            pending_earlier = and_(
                Dispute.decision.is_(None),
                Dispute.buyer_id == buyer_id,
                or_(
                    Dispute.created_at < filed_at,
                    and_(Dispute.created_at == filed_at, Dispute.dispute_id < excluding),
                ),
            )
        with self._sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Dispute)
                    .where(
                        Dispute.order_id == order_id,
                        Dispute.dispute_id != excluding,
                        or_(Dispute.decision == "allow", pending_earlier),
                    )
                )
                or 0
            )

    def count_disputes_by_buyer(self, buyer_id: str, *, since: datetime, excluding: str) -> int:
        """Other disputes the buyer filed since ``since``."""
        with self._sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Dispute)
                    .where(
                        Dispute.buyer_id == buyer_id,
                        Dispute.created_at >= since,
                        Dispute.dispute_id != excluding,
                    )
                )
                or 0
            )

    def list_disputes(
        self,
        *,
        decision: str | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[Dispute]:
        """Disputes, newest first, filtered for the agent list (every filter before the limit)."""
        query = select(Dispute)
        if decision:
            query = query.where(Dispute.decision == decision)
        if reason:
            query = query.where(has_reason(reason))
        if since:
            query = query.where(Dispute.created_at >= since)
        if until:
            query = query.where(Dispute.created_at < until)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Dispute.created_at.desc()).limit(limit)))

    def platform_disputes(
        self,
        *,
        status: str | None = None,
        decision: str | None = None,
        reason: str | None = None,
        order_id: str | None = None,
        buyer_id: str | None = None,
        updated_since: datetime | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Dispute]:
        """One page of disputes in (``updated_at``, id) order, every filter applied in SQL.

        ``status`` is ``open`` (no verdict yet) or ``decided``; ``reason`` is a reason code of
        the latest verdict; ``after`` is the last (updated_at, dispute_id) of the previous
        page (a keyset cursor: no offset, one query per page).
        """
        query = select(Dispute)
        if status == "open":
            query = query.where(Dispute.decision.is_(None))
        elif status == "decided":
            query = query.where(Dispute.decision.is_not(None))
        query = keyset_page(
            query,
            decision=decision,
            reason=reason,
            order_id=order_id,
            buyer_id=buyer_id,
            updated_since=updated_since,
            after=after,
            limit=limit,
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def disputes_since(self, since: datetime | None) -> list[Dispute]:
        """Disputes in filing order (for backtests)."""
        query = select(Dispute)
        if since:
            query = query.where(Dispute.created_at >= since)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Dispute.created_at)))

    def latest_verdicts(self, dispute_ids: Iterable[str]) -> dict[str, Verdict]:
        """The latest verdict of each named dispute that has one, in one query."""
        ids = sorted(set(dispute_ids))
        if not ids:
            return {}
        latest = (
            select(func.max(Verdict.id))
            .where(Verdict.dispute_id.in_(ids))
            .group_by(Verdict.dispute_id)
        )
        with self._sessions() as session:
            rows = session.scalars(select(Verdict).where(Verdict.id.in_(latest)))
            return {row.dispute_id: row for row in rows}

    def merchant_responses(self, dispute_id: str) -> list[MerchantResponse]:
        """The merchants' responses to a dispute, oldest first (for the agent's workspace)."""
        return self.merchants.responses(dispute_id)

    def verdict_basis(self, dispute_id: str) -> VerdictBasis:
        """The latest verdict id and the attached file ids: what an evaluation starts from."""
        with self._sessions() as session:
            return _basis_now(session, dispute_id)

    def verdicts(self, dispute_id: str) -> list[Verdict]:
        """Every verdict of a dispute, oldest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(Verdict).where(Verdict.dispute_id == dispute_id).order_by(Verdict.id)
                )
            )

    # Packing state -----------------------------------------------------------
    def packed_shipment_session(self, order_id: str) -> CaptureSession | None:
        """The order's closed shipment session not released by a reopen, latest first."""
        with self._sessions() as session:
            return session.scalars(
                select(CaptureSession)
                .where(
                    CaptureSession.order_id == order_id,
                    CaptureSession.stage == "shipment",
                    CaptureSession.closed_at.is_not(None),
                    CaptureSession.released_at.is_(None),
                )
                .order_by(CaptureSession.closed_at.desc())
            ).first()

    def release_shipment_sessions(self, order_id: str, *, by: str, at: datetime) -> list[str]:
        """Mark the order's closed, unreleased shipment sessions released; returns their ids."""
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(CaptureSession).where(
                    CaptureSession.order_id == order_id,
                    CaptureSession.stage == "shipment",
                    CaptureSession.closed_at.is_not(None),
                    CaptureSession.released_at.is_(None),
                )
            ).all()
            for row in rows:
                row.released_at = at
                row.released_by = by[:64]
            return sorted(row.session_id for row in rows)

    def count_active_buyer_devices(self, buyer_id: str, *, now: datetime) -> int:
        """Buyer app installs of ``buyer_id`` neither revoked nor expired at ``now``."""
        with self._sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Device)
                .where(
                    Device.kind == "buyer",
                    Device.owner_id == buyer_id,
                    Device.revoked_at.is_(None),
                    Device.not_after > now,
                )
            )
        return int(count or 0)

    def prune_flagged_uploads(self, *, before: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` flagged uploads received before ``before``, oldest first.

        Returns:
            How many rows went. Stored objects of rows from before issue 14.4 stay in the
            write-once evidence store (it deletes nothing); only their ledger rows go.
        """
        with self._sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(FlaggedUpload.flagged_id)
                    .where(FlaggedUpload.received_at < before)
                    .order_by(FlaggedUpload.received_at)
                    .limit(limit)
                )
            )
            if ids:
                session.execute(delete(FlaggedUpload).where(FlaggedUpload.flagged_id.in_(ids)))
        return len(ids)

    def upload_bytes_for_order(self, order_id: str) -> int:
        """Bytes of the order's sealed captures (all stages) and of its kept refusals."""
        with self._sessions() as session:
            sealed = session.scalar(
                select(func.coalesce(func.sum(Evidence.sealed_size), 0)).where(
                    Evidence.order_id == order_id
                )
            )
            refused = session.scalar(
                select(func.coalesce(func.sum(FlaggedUpload.size), 0)).where(
                    FlaggedUpload.order_id == order_id
                )
            )
        return int(sealed or 0) + int(refused or 0)

    def upload_bytes_for_buyer(self, buyer_id: str, *, since: datetime) -> int:
        """Bytes the buyer's receipt sessions sealed or had refused since ``since``."""
        with self._sessions() as session:
            sealed = session.scalar(
                select(func.coalesce(func.sum(Evidence.sealed_size), 0))
                .join(CaptureSession, CaptureSession.session_id == Evidence.session_id)
                .where(CaptureSession.buyer_id == buyer_id, Evidence.received_at >= since)
            )
            refused = session.scalar(
                select(func.coalesce(func.sum(FlaggedUpload.size), 0)).where(
                    FlaggedUpload.buyer_id == buyer_id, FlaggedUpload.received_at >= since
                )
            )
        return int(sealed or 0) + int(refused or 0)
