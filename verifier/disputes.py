"""Dispute use cases: file, attach, decide (recorded in the audit chain), history, one-off checks.

Facts come from ``verifier.facts``, verdicts from ``verifier.engine``; this module stores and
reads them. ``with_policy`` gives the backtest a twin that differs in the policy only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from evidence.media import sniff_media_type
from infra.cursor import from_cursor, to_cursor
from infra.errors import NotFoundError
from infra.ledger.dispute_files import DisputeFiles, FileState
from infra.ledger.jobs import QueueBounds
from infra.ledger.models import Dispute, DisputeEvidence, Verdict
from infra.ledger.repository import StaleVerdictError, VerdictBasis
from infra.media import ReceivedFile
from infra.names import clean_name
from infra.storage.base import EvidenceStore
from infra.webhooks.events import dispute_event
from keys.signer import Signer
from keys.trust import TrustList
from verifier.attribution import dispute_attribution
from verifier.audit import AuditFinding, AuditLink, make_sealer, verify_audit_chain
from verifier.engine import evaluate
from verifier.errors import DisputeDecidedError, DisputeError, VerificationPendingError
from verifier.facts import AttachedFile, FactGatherer
from verifier.models import Decision, EvidenceFacts
from verifier.perceptual import fingerprint
from verifier.policy import DEFAULT_POLICY, Policy
from verifier.reasons import ReasonCode
from verifier.schemas import (
    CLAIM_TYPES,
    ChangeReason,
    DisputeSummary,
    HistoryEntryOut,
    PlatformDisputeFilters,
    PlatformDisputeListOut,
    PlatformDisputeSummary,
    VerdictOut,
)

__all__ = ["DisputeService", "FileQueueing"]

_log = logging.getLogger(__name__)
#: Evaluations of one decide that may go stale (files arriving meanwhile) before it gives up.
_DECIDE_ATTEMPTS = 3


@dataclass(frozen=True)
class FileQueueing:
    """Which dispute files a job verifies, and how much such work may wait.

    ``inline_max_bytes`` 0 queues every file; ``files`` None verifies every file inline.
    """

    files: DisputeFiles | None = None
    inline_max_bytes: int = 0
    bounds: QueueBounds = field(default_factory=QueueBounds)
    max_attempts: int = 3

    def queues(self, size: int) -> bool:
        """Whether a file of ``size`` bytes is verified by a job."""
        return self.files is not None and size > self.inline_max_bytes


class DisputeService:
    """Opens disputes, attaches their evidence, decides them and keeps every verdict."""

    def __init__(
        self,
        *,
        facts: FactGatherer,
        store: EvidenceStore,
        policy: Policy = DEFAULT_POLICY,
        audit_signer: Signer | None = None,
        queueing: FileQueueing | None = None,
    ) -> None:
        self.facts = facts
        self.ledger = facts.ledger
        self.store = store
        self.policy = policy
        self.audit_signer = audit_signer
        self.queueing = queueing or FileQueueing()

    def with_policy(self, policy: Policy) -> DisputeService:
        """The same service (facts, store) under ``policy``, never writing the audit chain.

        Used by the backtest, so the candidate differs from production in the policy only.
        """
        return DisputeService(
            facts=self.facts, store=self.store, policy=policy, queueing=self.queueing
        )

    # One-off verification (CLI) ----------------------------------------------
    def verify_files(
        self, files: Sequence[AttachedFile], *, order_id: str, buyer_id: str | None, now: datetime
    ) -> VerdictOut:
        """Decide files against an order without filing a dispute."""
        facts = [self.facts.gather(f, dispute_id=None) for f in files]
        ctx = self.facts.context(order_id, buyer_id, now, policy=self.policy)
        return evaluate(facts, ctx, policy=self.policy)

    # Disputes ------------------------------------------------------------------
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
        """Open a dispute (the order may be unknown: it is still examined and reported).

        Raises:
            DisputeError: ``claim_type_invalid`` when the claim type is not one of ours.
        """
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
            updated_at=now,
        )
        self.ledger.add_dispute(dispute)
        return dispute

    def dispute(self, dispute_id: str) -> Dispute:
        """Load a dispute.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        dispute = self.ledger.get_dispute(dispute_id)
        if dispute is None:
            raise NotFoundError("no such dispute", code="dispute_not_found")
        return dispute

    def summaries(
        self,
        *,
        decision: Decision | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[DisputeSummary]:
        """Disputes newest first, by decision, latest-verdict reason code and filing time.

        Every filter is applied in SQL before ``limit``; the page's latest verdicts come in one
        more query (two per page, whatever its size).
        """
        rows = self.ledger.list_disputes(
            decision=decision.value if decision else None,
            reason=reason,
            since=since,
            until=until,
            limit=limit,
        )
        latest = self.ledger.latest_verdicts(row.dispute_id for row in rows)
        return [
            DisputeSummary.from_dispute(
                row,
                VerdictOut.from_body(latest[row.dispute_id].body)
                if row.dispute_id in latest
                else None,
            )
            for row in rows
        ]

    def attach_upload(
        self, dispute_id: str, received: ReceivedFile, filename: str, *, now: datetime
    ) -> bool:
        """Store an uploaded file (any file) and attach it; False if already attached."""
        self.dispute(dispute_id)
        try:
            media_type = sniff_media_type(received.path)
            manifest_id = self.facts.manifest_id_of(received.path)
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

    def check_queue_room(self, dispute_id: str, owner: str | None) -> None:
        """Refuse a large file before its body is received when its queue share is used.

        Raises:
            QueueFullError: ``verification_queue_full`` (429).
        """
        if self.queueing.files is not None:
            self.queueing.files.room(dispute_id, owner, self.queueing.bounds)

    def attach_queued(
        self,
        dispute_id: str,
        received: ReceivedFile,
        filename: str,
        *,
        owner: str | None,
        now: datetime,
    ) -> bool:
        """Store a large file, attach it and queue its verification; False if already attached.

        Only the durable part runs here (the store's atomic put, then one transaction with
        the attached row and its ``verify_dispute_file`` job); the job reads the manifest and
        the perceptual hashes and, for a decided dispute, decides again.

        Raises:
            NotFoundError: ``dispute_not_found``.
            QueueFullError: ``verification_queue_full``: nothing was attached.
        """
        files = self.queueing.files
        if files is None:
            return self.attach_upload(dispute_id, received, filename, now=now)
        self.dispute(dispute_id)
        try:
            self.check_queue_room(dispute_id, owner)  # before storing the bytes
            media_type = sniff_media_type(received.path)  # the first bytes only
            key = self.store.put_file(received.path, received.sha256)
        finally:
            received.path.unlink(missing_ok=True)
        return files.attach_with_job(
            DisputeEvidence(
                dispute_id=dispute_id,
                content_sha256=received.sha256,
                storage_key=key,
                filename=_safe_filename(filename),
                media_type=media_type,
                size=received.size,
                manifest_id=None,
                perceptual_hashes=None,
                attached_at=now,
            ),
            max_attempts=self.queueing.max_attempts,
            owner=owner,
            bounds=self.queueing.bounds,
        )

    def file_states(self, attachments: Sequence[DisputeEvidence]) -> dict[int, FileState]:
        """Each attachment's verification state (``verified`` when no job is involved)."""
        if self.queueing.files is None:
            return {a.id: "verified" for a in attachments}
        return self.queueing.files.states(attachments)

    def pending_files(self, dispute_id: str) -> list[str]:
        """SHA-256 of the dispute's files a job is still verifying."""
        attachments = self.ledger.attachments(dispute_id)
        states = self.file_states(attachments)
        return [a.content_sha256 for a in attachments if states[a.id] == "pending"]

    def attach_sealed(self, dispute_id: str, evidence_id: str, *, now: datetime) -> bool:
        """Attach sealed evidence by its id; False if already attached.

        Raises:
            NotFoundError: ``dispute_not_found`` or ``evidence_not_found``.
        """
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

    def evaluate_dispute(
        self, dispute_id: str, *, now: datetime, settled: Mapping[int, FileState] | None = None
    ) -> VerdictOut:
        """Evaluate a dispute's stored evidence under this service's policy without recording.

        A file whose verification job dead-lettered is not read again (it crashed the
        verifier ``max_attempts`` times): it counts as ``check_crashed``, so the verdict is
        ``review``. ``settled`` overrides the state of files whose job is finishing now.
        """
        dispute = self.dispute(dispute_id)
        facts: list[EvidenceFacts] = []
        attachments = self.ledger.attachments(dispute_id)
        states = {**self.file_states(attachments), **(settled or {})}
        for attachment in attachments:
            if states[attachment.id] == "failed":
                facts.append(_failed_facts(attachment))
                continue
            with self.store.open_local(attachment.storage_key) as path:
                facts.append(
                    self.facts.gather(
                        AttachedFile(
                            path,
                            attachment.filename,
                            attachment.content_sha256,
                            perceptual_hashes=tuple(attachment.perceptual_hashes)
                            if attachment.perceptual_hashes
                            else None,
                        ),
                        dispute_id=dispute_id,
                    )
                )
        ctx = self.facts.context(
            dispute.order_id, dispute.buyer_id, now, policy=self.policy, dispute=dispute
        )
        return evaluate(facts, ctx, policy=self.policy)

    def decide(
        self,
        dispute_id: str,
        *,
        now: datetime,
        settled: Mapping[int, FileState] | None = None,
        basis: VerdictBasis | None = None,
    ) -> VerdictOut:
        """Evaluate every attached file and append the verdict to the dispute's history.

        ``settled`` names files whose verification job is deciding now (their state is final).
        The verdict is written only if nothing changed while it was evaluated (another verdict,
        a file attached or detached); otherwise the evaluation runs again, a few times. With
        ``basis`` (what the caller saw when it chose to decide) it runs once, from that.

        Raises:
            NotFoundError: ``dispute_not_found``.
            VerificationPendingError: ``verification_pending``: a job still verifies a file.
            StaleVerdictError: ``verdict_stale``: the dispute kept changing (or changed since
                ``basis``); nothing was written.
        """
        if basis is not None:
            return self._decide_once(dispute_id, now=now, settled=settled, basis=basis)
        for _attempt in range(_DECIDE_ATTEMPTS - 1):
            try:
                return self._decide_once(dispute_id, now=now, settled=settled)
            except StaleVerdictError:
                continue  # a file came or another verdict was written meanwhile: again
        return self._decide_once(dispute_id, now=now, settled=settled)

    def _decide_once(
        self,
        dispute_id: str,
        *,
        now: datetime,
        settled: Mapping[int, FileState] | None,
        basis: VerdictBasis | None = None,
    ) -> VerdictOut:
        """One evaluation and its write, refused (``StaleVerdictError``) if it went stale."""
        basis = basis or self.ledger.verdict_basis(dispute_id)
        dispute = self.dispute(dispute_id)
        attachments = self.ledger.attachments(dispute_id)
        states = {**self.file_states(attachments), **(settled or {})}
        waiting = [a.content_sha256 for a in attachments if states[a.id] == "pending"]
        if waiting:
            raise VerificationPendingError(
                f"expected every file verified, found {len(waiting)} still pending; decide "
                "again once GET /v1/disputes/{id} lists no pending_files"
            )
        verdict = self.evaluate_dispute(dispute_id, now=now, settled=settled)
        # A re-decision records why it was made (the history entry's ``change_reason``), inside
        # the stored body too, so the audit chain signs it; a first verdict's body is unchanged.
        change = _change_reason(self.ledger.verdicts(dispute_id), verdict)
        body = verdict.to_body() | ({"change_reason": change} if change else {})
        self.ledger.record_verdict(
            dispute_id,
            verdict.decision.value,
            body,
            now,
            change_reason=change,
            reason_codes=[r.code.value for r in verdict.reasons],
            attribution=dispute_attribution(verdict),
            audit=make_sealer(self.audit_signer) if self.audit_signer else None,
            basis=basis,
            events=[
                dispute_event(
                    dispute_id=dispute_id,
                    order_id=dispute.order_id,
                    decision=verdict.decision.value,
                    previous_decision=dispute.decision,
                    reason_codes=tuple(r.code.value for r in verdict.platform_view().reasons),
                    at=now,
                )
            ],
        )
        _log.info("dispute %s decided %s", dispute_id, verdict.decision.value)
        return verdict

    def history(self, dispute_id: str) -> list[VerdictOut]:
        """Every verdict of a dispute, oldest first, with the agent-only details.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        self.dispute(dispute_id)
        return [VerdictOut.from_body(v.body) for v in self.ledger.verdicts(dispute_id)]

    def history_entries(self, dispute_id: str) -> list[HistoryEntryOut]:
        """Every verdict of a dispute, oldest first, each with why it was made.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        self.dispute(dispute_id)
        return [
            HistoryEntryOut.model_validate({**v.body, "change_reason": v.change_reason})
            for v in self.ledger.verdicts(dispute_id)
        ]

    def detach(self, dispute_id: str, content_sha256: str, *, now: datetime) -> None:
        """Remove a file from an undecided dispute (to replace it, attach the new one).

        Raises:
            NotFoundError: ``dispute_not_found`` or ``attachment_not_found``.
            DisputeDecidedError: ``dispute_decided``: a decided dispute keeps its files.
        """
        queued = [
            a.id for a in self.ledger.attachments(dispute_id) if a.content_sha256 == content_sha256
        ]
        outcome = self.ledger.detach(dispute_id, content_sha256, now=now)
        if outcome == "detached" and self.queueing.files is not None:
            # Its job has nothing left to verify (and would run to "detached" anyway); cancel
            # it now so it no longer counts against the dispute's and the caller's bounds.
            for attachment_id in queued:
                self.queueing.files.cancel_job(attachment_id, now=now)
        if outcome == "no_dispute":
            raise NotFoundError("no such dispute", code="dispute_not_found")
        if outcome == "not_attached":
            raise NotFoundError(
                "no file with this SHA-256 is attached to the dispute", code="attachment_not_found"
            )
        if outcome == "decided":
            raise DisputeDecidedError(
                f"expected an undecided dispute, found {dispute_id} decided: its files are kept"
            )
        _log.info("dispute %s: detached %s", dispute_id, content_sha256)

    def platform_page(self, filters: PlatformDisputeFilters) -> PlatformDisputeListOut:
        """One page of the platform's disputes (one query), with the cursor of the next.

        Raises:
            InputError: ``cursor_invalid`` (altered, or made under other filters).
        """
        listing = filters.listing()
        after = from_cursor(filters.cursor, filters=listing) if filters.cursor else None
        rows = self.ledger.platform_disputes(
            status=filters.status,
            decision=filters.decision.value if filters.decision else None,
            reason=filters.reason.value if filters.reason else None,
            order_id=filters.order_id,
            buyer_id=filters.buyer_id,
            updated_since=filters.updated_since,
            after=after,
            limit=filters.limit + 1,
        )
        page, more = rows[: filters.limit], len(rows) > filters.limit
        next_cursor = (
            to_cursor(page[-1].updated_at, page[-1].dispute_id, filters=listing) if more else None
        )
        return PlatformDisputeListOut(
            disputes=[PlatformDisputeSummary.from_dispute(row) for row in page],
            next_cursor=next_cursor,
        )

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


def _change_reason(previous: Sequence[Verdict], verdict: VerdictOut) -> ChangeReason | None:
    """Why ``verdict`` follows ``previous``: by the files of the last verdict and of this one."""
    if not previous:
        return None
    before = {e.content_sha256 for e in VerdictOut.from_body(previous[-1].body).evidence}
    after = {e.content_sha256 for e in verdict.evidence}
    if after == before:
        return "re_evaluated"
    return "evidence_added" if after > before else "evidence_changed"


def _failed_facts(attachment: DisputeEvidence) -> EvidenceFacts:
    """A file the verifier could not get through: reviewed by a person, never allowed."""
    return EvidenceFacts(
        filename=attachment.filename,
        content_sha256=attachment.content_sha256,
        media_type=attachment.media_type,
        report=None,
        read_error=ReasonCode.CHECK_CRASHED,
        read_error_detail="verifying this file failed on every attempt",
    )


def _safe_filename(name: str) -> str:
    return clean_name(name, keep=_filename_char, fallback="evidence")


def _filename_char(c: str) -> bool:
    return c.isprintable() and c not in "/\\"
