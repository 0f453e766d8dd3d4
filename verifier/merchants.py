"""The merchant's side of disputes: list and read the disputes on its orders, fetch what the
buyer submitted, and answer with a statement pointing to its own sealed evidence.

Every read is scoped to the caller's merchant in the ledger query itself
(``infra.ledger.merchants``): another merchant's dispute, file or evidence is answered exactly
like one that does not exist. Adversaries: a seller reading a competitor's disputes, buyers
or packing videos by guessing ids; a seller "answering" a dispute with another order's sealed
video to make its own parcel look packed, or with a capture sealed after the claim (the order
reopened and packed again for the camera) (``422 response_evidence_invalid``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

from evidence.redaction import redacted_chunks
from infra.cursor import from_cursor, to_cursor
from infra.errors import InputError, NotFoundError
from infra.ledger.models import Dispute, DisputeEvidence, MerchantResponse
from infra.ledger.repository import Ledger
from infra.storage.base import EvidenceStore
from verifier.merchant_schemas import (
    MerchantBuyerFileOut,
    MerchantDisputeFilters,
    MerchantDisputeListOut,
    MerchantDisputeOut,
    MerchantDisputeSummary,
    MerchantEvidenceOut,
    MerchantResponseIn,
    MerchantResponseOut,
    merchant_reason,
)
from verifier.reasons import ReasonCode
from verifier.schemas import VerdictOut

__all__ = ["MAX_RESPONSES_PER_DISPUTE", "BuyerIdentity", "MerchantDisputes", "response_out"]

#: Responses one dispute keeps; more is a flood, not an answer (``409 response_limit_reached``).
MAX_RESPONSES_PER_DISPUTE = 50
_PSEUDONYM_CONTEXT = b"orderseal-merchant-buyer-pseudonym-v1"


class BuyerIdentity:
    """What merchants see of a buyer (``ORDERSEAL_MERCHANT_BUYER_IDENTITY``).

    ``pseudonymous``: ``byr_`` + an HMAC of (merchant, buyer) under a key derived from the
    service's secret, so one merchant sees the same buyer as the same pseudonym, two merchants
    see unrelated ones (they cannot join their lists), and no one without the key can reverse
    or test a guess.
    """

    def __init__(self, mode: str, secret: bytes) -> None:
        self.mode = mode
        self._key = hmac.new(secret, _PSEUDONYM_CONTEXT, hashlib.sha256).digest()

    def shown(self, merchant_id: str, buyer_id: str) -> str | None:
        """The buyer as ``merchant_id`` may see them."""
        if self.mode == "full":
            return buyer_id
        if self.mode == "hidden":
            return None
        mac = hmac.new(self._key, f"{merchant_id}\0{buyer_id}".encode(), hashlib.sha256)
        return f"byr_{mac.hexdigest()[:20]}"


def response_out(row: MerchantResponse) -> MerchantResponseOut:
    """The API view of a stored response."""
    return MerchantResponseOut(
        response_id=row.response_id,
        dispute_id=row.dispute_id,
        merchant_id=row.merchant_id,
        statement=row.statement,
        evidence_ids=[str(e) for e in row.evidence_ids],
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive UTC times, PostgreSQL aware ones.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _codes(dispute: Dispute) -> list[ReasonCode]:
    known = {code.value for code in ReasonCode}
    return [ReasonCode(c) for c in (dispute.reason_codes or "").split(",") if c in known]


class MerchantDisputes:
    """A merchant's disputes, files and responses, scoped to that merchant."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        store: EvidenceStore,
        identity: BuyerIdentity,
        base_url: str,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.identity = identity
        self.base_url = base_url

    def _summary(self, merchant_id: str, row: Dispute) -> MerchantDisputeSummary:
        return MerchantDisputeSummary(
            dispute_id=row.dispute_id,
            order_id=row.order_id,
            buyer=self.identity.shown(merchant_id, row.buyer_id),
            claim_type=row.claim_type,
            amount=row.amount,
            currency=row.currency,
            status="open" if row.decision is None else "decided",
            decision=row.decision,
            reason_codes=_codes(row),
            attribution="merchant"
            if row.attribution == "merchant"
            else "buyer"
            if row.attribution == "buyer"
            else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            decided_at=row.decided_at,
        )

    def page(self, merchant_id: str, filters: MerchantDisputeFilters) -> MerchantDisputeListOut:
        """One page of the merchant's disputes (one query), with the cursor of the next.

        Raises:
            InputError: ``cursor_invalid`` (altered, of other filters or another merchant).
        """
        listing = filters.listing(merchant_id)
        after = from_cursor(filters.cursor, filters=listing) if filters.cursor else None
        rows = self.ledger.merchants.disputes(
            merchant_id,
            decision=filters.decision.value if filters.decision else None,
            reason=filters.reason.value if filters.reason else None,
            order_id=filters.order_id,
            updated_since=filters.updated_since,
            after=after,
            limit=filters.limit + 1,
        )
        page, more = rows[: filters.limit], len(rows) > filters.limit
        next_cursor = (
            to_cursor(page[-1].updated_at, page[-1].dispute_id, filters=listing) if more else None
        )
        return MerchantDisputeListOut(
            disputes=[self._summary(merchant_id, row) for row in page], next_cursor=next_cursor
        )

    def dispute(self, merchant_id: str, dispute_id: str) -> Dispute:
        """A dispute on one of the merchant's orders.

        Raises:
            NotFoundError: ``dispute_not_found``, for another merchant's as for none.
        """
        row = self.ledger.merchants.dispute(merchant_id, dispute_id)
        if row is None:
            raise NotFoundError("no such dispute", code="dispute_not_found")
        return row

    def detail(self, merchant_id: str, dispute_id: str) -> MerchantDisputeOut:
        """The dispute with its reasons, the order's sealed evidence, the buyer's files and the
        merchant's responses.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        row = self.dispute(merchant_id, dispute_id)
        latest = self.ledger.latest_verdicts([dispute_id]).get(dispute_id)
        verdict = VerdictOut.from_body(latest.body) if latest is not None else None
        per_file = {e.content_sha256: e for e in verdict.evidence} if verdict else {}
        base = f"{self.base_url}/v1/merchant"
        shipment = [
            MerchantEvidenceOut(
                evidence_id=e.evidence_id,
                stage=e.stage,
                media_type=e.media_type,
                title=e.title,
                sealed_at=e.sealed_at,
                sealed_sha256=e.sealed_sha256,
                size=e.sealed_size,
                file_url=f"{base}/evidence/{e.evidence_id}/file",
                thumbnail_url=f"{base}/evidence/{e.evidence_id}/thumbnail.jpg",
            )
            for e in self.ledger.evidence_for_order(row.order_id, "shipment")
        ]
        files = [
            MerchantBuyerFileOut(
                content_sha256=a.content_sha256,
                media_type=a.media_type,
                size=a.size,
                attached_at=a.attached_at,
                decision=per_file[a.content_sha256].decision
                if a.content_sha256 in per_file
                else None,
                reason_codes=[r.code for r in per_file[a.content_sha256].reasons]
                if a.content_sha256 in per_file
                else [],
                file_url=f"{base}/disputes/{dispute_id}/files/{a.content_sha256}",
            )
            for a in self.ledger.attachments(dispute_id)
        ]
        summary = self._summary(merchant_id, row)
        return MerchantDisputeOut(
            **summary.model_dump(),
            reasons=[merchant_reason(r.code) for r in verdict.reasons] if verdict else [],
            shipment_evidence=shipment,
            buyer_files=files,
            responses=[
                response_out(r)
                for r in self.ledger.merchant_responses(dispute_id)
                if r.merchant_id == merchant_id
            ],
        )

    def buyer_file(
        self, merchant_id: str, dispute_id: str, content_sha256: str
    ) -> tuple[DisputeEvidence, Iterator[bytes]]:
        """A file the buyer submitted to a dispute on the merchant's order.

        As stored when merchants see the buyer's id (``full``); otherwise without the parts
        that identify the buyer across merchants (their device certificate in the C2PA
        manifest, EXIF: ``evidence.redaction``), the pictures unchanged.

        Raises:
            NotFoundError: ``dispute_not_found`` (another merchant's, or none) or
                ``attachment_not_found``.
        """
        self.dispute(merchant_id, dispute_id)
        for attachment in self.ledger.attachments(dispute_id):
            if attachment.content_sha256 == content_sha256:
                if self.identity.mode == "full":
                    return attachment, self.store.iter_bytes(attachment.storage_key)
                return attachment, self._redacted(attachment)
        raise NotFoundError(
            "no file with this SHA-256 is attached to the dispute", code="attachment_not_found"
        )

    def _redacted(self, attachment: DisputeEvidence) -> Iterator[bytes]:
        chunks = self._redacted_chunks(attachment)
        # Primed here, before the response starts: a withheld file is a 403, not a cut stream.
        first = next(chunks, b"")
        return itertools.chain((first,), chunks)

    def _redacted_chunks(self, attachment: DisputeEvidence) -> Iterator[bytes]:
        with (
            self.store.open_local(attachment.storage_key) as path,
            path.open("rb") as handle,
        ):
            yield from redacted_chunks(handle, attachment.media_type or "")

    def respond(
        self,
        merchant_id: str,
        dispute_id: str,
        body: MerchantResponseIn,
        *,
        by: str,
        now: datetime,
    ) -> MerchantResponseOut:
        """Store the merchant's response to a dispute on its order.

        Raises:
            NotFoundError: ``dispute_not_found``.
            InputError: ``response_evidence_invalid``: an id that is not the merchant's own
                packing evidence of the dispute's order sealed before the dispute was filed
                (another order's, another merchant's, the buyer's receipt capture, a capture
                sealed after the claim, or none).
            ConflictError: ``response_limit_reached``.
        """
        row = self.dispute(merchant_id, dispute_id)
        if not body.statement.strip():
            raise InputError("expected a statement with text", code="invalid_request")
        evidence_ids = list(dict.fromkeys(body.evidence_ids))
        for evidence_id in evidence_ids:
            # Packing evidence is sealed before the parcel left: a capture sealed after the
            # claim (the order reopened and "packed" again) shows nothing about what shipped.
            evidence = self.ledger.merchants.evidence(merchant_id, evidence_id)
            if (
                evidence is None
                or evidence.order_id != row.order_id
                or _utc(evidence.sealed_at) > _utc(row.created_at)
            ):
                raise InputError(
                    f"expected sealed evidence of order {row.order_id}, found {evidence_id[:64]!r}",
                    code="response_evidence_invalid",
                )
        stored = self.ledger.merchants.add_response(
            dispute_id,
            merchant_id=merchant_id,
            statement=body.statement,
            evidence_ids=evidence_ids,
            created_by=by,
            now=now,
            max_responses=MAX_RESPONSES_PER_DISPUTE,
        )
        return response_out(stored)
