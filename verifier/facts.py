"""The gather step: one file plus the ledger becomes ``EvidenceFacts`` before any check runs.

This is the verifier's I/O edge for reading evidence (the c2pa reader, the ledger's evidence,
dispute and revocation rows, the sealing certificates); the checks stay pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from evidence.fingerprints import query_fingerprints, to_int
from evidence.manifest import ASSERTION_LABEL, CaptureAssertion
from evidence.media import IMAGE_TYPES, sniff_media_type
from evidence.reader import (
    NoManifestError,
    ReaderError,
    ReaderReport,
    TrustSettings,
    read_evidence,
)
from evidence.recapture import load_recapture_score
from infra.errors import OrderSealError
from infra.ledger.fingerprint_index import FingerprintMatch
from infra.ledger.models import Dispute, Evidence, Order
from infra.ledger.repository import Ledger
from verifier.models import (
    DisputeContext,
    EvidenceFacts,
    LedgerEvidence,
    OrderFacts,
    RecoveredCopy,
)
from verifier.perceptual import RECOVERY_DISTANCE, REUSE_DISTANCE, fingerprint, near_duplicate
from verifier.policy import Policy
from verifier.reasons import ReasonCode

__all__ = ["AttachedFile", "FactGatherer"]


@dataclass(frozen=True)
class AttachedFile:
    """A file to examine: where it is and what it is called."""

    path: Path
    filename: str
    sha256: str
    #: The perceptual hashes recorded when the file was attached (they depend on the bytes
    #: only), so deciding does not decode a long video's frames again; None: compute them.
    perceptual_hashes: tuple[str, ...] | None = None


class FactGatherer:
    """Reads evidence files and looks up what the checks need about them in the ledger."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        trust: TrustSettings,
        revoked_service_certificates: Callable[[], Mapping[str, datetime]] | None = None,
        sealing_certificates: Callable[[], Iterable[x509.Certificate]] | None = None,
        open_sealed: Callable[[str], AbstractContextManager[Path]] | None = None,
    ) -> None:
        self.ledger = ledger
        # Opens a sealed original by its storage key (the evidence store), so a stripped copy
        # is judged on what we sealed; None turns recovery off.
        self.open_sealed = open_sealed
        self.trust = trust
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

    def manifest_id_of(self, path: Path) -> str | None:
        """The active manifest's id, or None when the file has no readable manifest."""
        try:
            return read_evidence(path, trust=self.trust).active_manifest.label
        except ReaderError:
            return None

    def context(
        self,
        order_id: str,
        buyer_id: str | None,
        now: datetime,
        *,
        policy: Policy,
        dispute: Dispute | None = None,
    ) -> DisputeContext:
        """The claim the evidence is checked against, with the claimant's history."""
        order = self.ledger.get_order(order_id)
        facts = None
        if order is not None:
            delivery = (
                datetime.combine(order.expected_delivery, time(23, 59, 59), tzinfo=now.tzinfo)
                if order.expected_delivery
                else None
            )
            facts = OrderFacts(
                order.order_id,
                order.buyer_id,
                order.created_at,
                delivery,
                serials=tuple(str(s) for item in order.items for s in (item.get("serials") or ())),
            )
        ctx = DisputeContext(
            order_id=order_id,
            buyer_id=buyer_id,
            order=facts,
            now=now,
            receipt_window_days=policy.receipt_window_days,
            recapture_review=policy.recapture_review,
        )
        if dispute is None:
            return ctx
        since = now - timedelta(days=policy.buyer_window_days)
        total, wrong = self._merchant_counts(order, dispute, now=now, policy=policy)
        return replace(
            ctx,
            claim_type=dispute.claim_type,
            amount=Decimal(dispute.amount),
            currency=dispute.currency,
            prior_refunds_for_order=self.ledger.count_refunds_for_order(
                order_id,
                excluding=dispute.dispute_id,
                filed_at=dispute.created_at,
                buyer_id=order.buyer_id if order is not None else dispute.buyer_id,
            ),
            prior_disputes_for_buyer=self.ledger.count_disputes_by_buyer(
                dispute.buyer_id, since=since, excluding=dispute.dispute_id
            ),
            prior_swaps_for_buyer=self.ledger.merchants.buyer_swaps(
                dispute.buyer_id, since=since, excluding=dispute.dispute_id
            ),
            merchant_disputes=total,
            merchant_wrong_items=wrong,
        )

    def _merchant_counts(
        self, order: Order | None, dispute: Dispute, *, now: datetime, policy: Policy
    ) -> tuple[int, int]:
        """The order's merchant's decided and wrong-item disputes in the merchant window."""
        if order is None or policy.max_wrong_item_rate is None:
            return 0, 0
        return self.ledger.merchants.attributed_counts(
            order.merchant_id,
            since=now - timedelta(days=policy.merchant_window_days),
            excluding=dispute.dispute_id,
        )

    def gather(
        self,
        file: AttachedFile,
        *,
        dispute_id: str | None,
        with_reuse: bool = True,
        recover: bool | None = None,
    ) -> EvidenceFacts:
        """Read one file and look up everything the checks need about it.

        ``with_reuse=False`` skips the dispute lookups (exact and perceptual): the public page
        judges a file without any claim, and must not cost a scan of every dispute.
        ``recover`` (default: as ``with_reuse``) traces a file without a manifest to its
        sealed original through the fingerprint index (no dispute scan); the review check
        asks for it without the dispute lookups.
        """
        recover = with_reuse if recover is None else recover
        media_type = sniff_media_type(file.path)
        # Of the submitted file itself, also when it is judged on a recovered original; only
        # where a claim is judged (not for the original read back here, nor the public page).
        recapture = load_recapture_score(file.path, media_type) if recover or with_reuse else None
        similar = self._similar_disputes(file, media_type, dispute_id) if with_reuse else ()
        try:
            report: ReaderReport = read_evidence(file.path, trust=self.trust)
        except ReaderError as exc:
            other = self._other_disputes(file, dispute_id, None) if with_reuse else ()
            recovered = (
                self._recover(file, media_type, dispute_id, other, similar)
                if recover and isinstance(exc, NoManifestError)
                else None
            )
            if recovered is not None:
                return replace(recovered, recapture_score=recapture)
            return EvidenceFacts(
                filename=file.filename,
                content_sha256=file.sha256,
                media_type=media_type,
                report=None,
                recapture_score=recapture,
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
            recapture_score=recapture,
        )

    def _recover(
        self,
        file: AttachedFile,
        media_type: str | None,
        dispute_id: str | None,
        other: tuple[str, ...],
        similar: tuple[str, ...],
    ) -> EvidenceFacts | None:
        """The sealed original of a stripped copy, as facts, or None when none is near.

        The lookup is the fingerprint index (no scan); a video needs most of its sampled
        frames to match the same original, like :func:`verifier.perceptual.near_duplicate`.
        """
        if self.open_sealed is None:
            return None
        if media_type in IMAGE_TYPES or file.perceptual_hashes is None:
            hashes = query_fingerprints(file.path, media_type)
        else:
            hashes = list(file.perceptual_hashes)
        if not hashes:
            return None
        queries = [to_int(h) for h in hashes]
        found = self.ledger.fingerprints.lookup(queries, radius=RECOVERY_DISTANCE)
        claim = self.ledger.get_dispute(dispute_id) if dispute_id else None
        best = _best_original(
            found.matches,
            frames=0 if media_type in IMAGE_TYPES else len(queries),
            claimed_order=claim.order_id if claim else None,
        )
        if best is None:
            return None
        evidence_id, distance = best
        row = self.ledger.get_evidence(evidence_id)
        if row is None:
            return None
        if claim is not None and row.order_id != claim.order_id and distance > REUSE_DISTANCE:
            # Another order's original, but only as near as unrelated pictures come at scale
            # (docs/benchmarks.md): no accusation of reuse, the file stays one without a
            # manifest (review).
            return None
        try:
            with self.open_sealed(row.storage_key) as path:
                original = self.gather(
                    AttachedFile(path, row.title, row.sealed_sha256),
                    dispute_id=None,
                    with_reuse=False,
                )
        except (OSError, OrderSealError):
            return None  # the original is unreadable: the copy stays a file without a manifest
        record = self._ledger_facts([row])[row.manifest_id]
        return replace(
            original,
            other_disputes=other,
            similar_disputes=similar,
            dispute_orders=self.ledger.dispute_orders((*other, *similar)),
            recovered=RecoveredCopy(
                submitted_sha256=file.sha256,
                submitted_filename=file.filename,
                original=record,
                distance=distance,
                truncated=found.truncated,
            ),
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

    def _other_disputes(
        self, file: AttachedFile, dispute_id: str | None, manifest_id: str | None
    ) -> tuple[str, ...]:
        return tuple(self.ledger.other_disputes_with(dispute_id or "", file.sha256, manifest_id))

    def _similar_disputes(
        self, file: AttachedFile, media_type: str | None, dispute_id: str | None
    ) -> tuple[str, ...]:
        ours = (
            list(file.perceptual_hashes)
            if file.perceptual_hashes is not None
            else fingerprint(file.path, media_type)
        )
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


def _best_original(
    matches: Sequence[FingerprintMatch], *, frames: int, claimed_order: str | None = None
) -> tuple[str, int] | None:
    """(evidence id, distance) of the nearest original; for a video of ``frames`` query
    frames, only an original most of them match counts (the nearest such).

    The claimed order's own originals come first: among 10^6 sealed pictures an unrelated
    one falls within the radius of some original now and then (docs/benchmarks.md), and such
    a false match of another order must not hide this order's real one.
    """
    own = [m for m in matches if m.order_id == claimed_order]
    if own:
        found = _best_original(own, frames=frames)
        if found is not None:
            return found
    if not matches:
        return None
    if frames == 0:
        return matches[0].evidence_id, matches[0].distance
    per_original: dict[str, set[int]] = {}
    nearest: dict[str, int] = {}
    for match in matches:
        per_original.setdefault(match.evidence_id, set()).add(match.query)
        nearest.setdefault(match.evidence_id, match.distance)
    enough = [e for e, hit in per_original.items() if len(hit) * 2 > frames]
    if not enough:
        return None
    chosen = min(enough, key=lambda e: (-len(per_original[e]), nearest[e], e))
    return chosen, nearest[chosen]


def _assertion(report: ReaderReport) -> CaptureAssertion | None:
    data = report.active_manifest.assertions.get(ASSERTION_LABEL)
    if data is None:
        return None
    try:
        return CaptureAssertion.model_validate(data)
    except ValidationError:
        return None
