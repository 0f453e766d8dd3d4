"""The upload pipeline: one streamed capture from a device to a sealed, stored, recorded file.

Every upload goes through these steps, in this order; a step that refuses raises, and the
received temporary file is deleted whatever happens (:meth:`UploadService.seal_upload`).
The order is the security argument: nothing is decoded, converted or sealed for a caller
before it is known to own a live session, and nothing is stored before every check passed.

1. **Replay.** An ``Idempotency-Key`` the device already used answers with the earlier
   evidence, if the retry repeats the same session and the same original SHA-256; the same
   key with another session or other bytes is ``409 idempotency_key_reused``, never a
   "replayed" answer for a capture that was dropped. The key is scoped to the device.
2. **Own, open session.** The caller's own session (a station by its device id, a buyer by
   the buyer id, whose app :meth:`UploadService.buyer_app` checked first: ``403
   wrong_device``), open and unexpired. Another caller's session looks absent (``404
   session_not_found``); a closed or expired one is ``409 session_closed``.
3. **Quota.** The order's bytes, and for a receipt the buyer's bytes in the last 24 hours,
   stay within their quotas (``413 upload_quota_exceeded`` with the ``scope``). Uploads in
   flight are counted when recorded; the per-credential rate limit bounds those.
4. **Statement.** The device's capture statement parses (``attestation_malformed``), is
   signed by the device's certificate (``403 attestation_invalid``) and names this device,
   order, session, stage and the received SHA-256 (``attestation_mismatch``).
5. **Serials.** At most 1000 well-formed serials (``invalid_serial``); at shipment each is
   one the order lists (``409 serial_mismatch``: the wrong item); at receipt they are what
   the buyer read off the unit, recorded for the verifier. At shipment the bytes must not be
   packing evidence of another order of the same merchant already
   (``409 capture_sealed_elsewhere``: an old photo, or one photo for several parcels).
6. **Media.** A WebM is converted to MP4 under the transcode budget (normally done before,
   by :meth:`UploadService.transcode_upload` on its own thread limit; the signed SHA-256
   stays the one the device sent). The sniffed type must be sealable
   (``unsupported_media``), a photo within ``max_photo_bytes`` (413), and the container
   structure sound within ``max_image_pixels``.
   A review photo (issue 19 §3) must be a photo, and the order must have room for it
   (``409 review_limit_reached``).
7. **Screening (receipt and review).** Intake screening compares the file's own metadata with a
   live capture; a flagged file is kept as a refusal record (hash, size and its first bytes,
   never as evidence) and refused with ``422 intake_flagged``.
8. **Seal.** A receipt chains to every shipment evidence of its order (ingredient archives,
   built on first use; ``chain_missing`` without one); a review photo chains to the buyer's
   own receipt evidence of the order in closed sessions (``chain_missing`` without any).
   A receipt video's frames are sampled for the session's own label and its timestamps
   checked for continuity, within the sighting budget (``capture/label_sighting.py``); the
   result is sealed as ``label_sighting`` and never refuses the upload (the verifier weighs
   it). The ``org.orderseal.capture`` assertion binds order, stage, device, session, times,
   hashes, serials and the device's signed statement; the sealer signs the C2PA manifest.
9. **Store and record.** The sealed file goes to the write-once store under its SHA-256,
   then the ledger records the evidence row. A concurrent request with the same
   idempotency key that recorded first wins: its result is answered (step 1's rule), and
   our sealed copy stays unreferenced, so it is never served.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from capture.devices import DeviceIdentity, DeviceService
from capture.errors import (
    CaptureError,
    CaptureSealedElsewhereError,
    IdempotencyKeyReusedError,
    IntakeFlaggedError,
    SerialMismatchError,
    UploadQuotaExceededError,
)
from capture.intake import screen_upload
from capture.label_sighting import SightingBudget, sight_label
from capture.orders import OrderService
from capture.sealing.seal import SEALABLE_MEDIA_TYPES, Sealer
from capture.sessions import SessionService
from capture.thumbnail_jobs import thumbnail_job
from capture.transcode import TRANSCODED_MEDIA_TYPES, TranscodeBudget, webm_to_mp4
from evidence.fingerprints import fingerprint, to_int
from evidence.label_entry import recorded_entry
from evidence.manifest import (
    CaptureAssertion,
    ChainLink,
    DeviceAttestation,
    OfflinePacking,
    Stage,
)
from evidence.media import IMAGE_TYPES, VIDEO_TYPES, sniff_media_type
from evidence.reader import TrustSettings
from evidence.sighting import LabelSighting
from evidence.structure import check_structure
from infra.errors import ConflictError, OrderSealError
from infra.ledger.models import CaptureSession, Evidence, FlaggedUpload
from infra.ledger.repository import Ledger
from infra.ledger.webhooks import OutboxEvent
from infra.media import PayloadTooLargeError, ReceivedFile, sha256_file
from infra.names import clean_name
from infra.storage.base import EvidenceStore
from infra.webhooks.events import evidence_sealed_event
from keys.attestation import CaptureStatement, verify_signature
from keys.errors import CertificateError
from keys.trust import TrustList, certificates_to_pem

__all__ = ["SealedEvidence", "UploadService"]

_log = logging.getLogger(__name__)
_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$")
_MAX_SERIALS = 1000
#: Buyer captures meant to be live: their own metadata is screened before sealing.
_SCREENED_STAGES = frozenset({Stage.RECEIPT.value, Stage.REVIEW.value})
#: A review photo this close (bits of pHash) to another order's sealed picture is a copy of it:
#: a JPEG re-encode down to q30 or a resize to 25 % stays within 2 bits, and the gate calls a
#: match this close to another order's original ``evidence_reused`` (``REUSE_DISTANCE``,
#: docs/benchmarks.md, "Recovered copies").
REVIEW_COPY_DISTANCE = 2


@dataclass(frozen=True)
class SealedEvidence:
    """The result of one sealed upload."""

    evidence_id: str
    order_id: str
    stage: str
    manifest_id: str
    sealed_sha256: str
    original_sha256: str
    media_type: str
    sealed_at: datetime
    replayed: bool = False


@dataclass(frozen=True)
class _Attested:
    """The device's verified capture statement and the signature it came with."""

    statement: CaptureStatement
    signature: str


@dataclass(frozen=True)
class _SealedFile:
    """A sealed file in the store, not yet recorded."""

    manifest_id: str
    sealed_sha256: str
    sealed_size: int
    storage_key: str


class UploadService:
    """The upload pipeline (see the module docstring for its steps and rules)."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        store: EvidenceStore,
        sealer: Sealer,
        orders: OrderService,
        sessions: SessionService,
        devices: DeviceService,
        trust: TrustList,
        work_dir: Path,
        max_photo_bytes: int,
        max_upload_bytes: int = 2 * 1024**3,
        retired_service_certificates: tuple[x509.Certificate, ...] = (),
        max_image_pixels: int = 100_000_000,
        transcode_budget: TranscodeBudget | None = None,
        sighting_budget: SightingBudget | None = None,
        flagged_keep_bytes: int = 64 * 1024,
        flagged_retention: timedelta = timedelta(days=30),
        upload_quota_order_bytes: int = 0,
        upload_quota_buyer_bytes_per_day: int = 0,
        thumbnail_job_attempts: int = 0,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.sealer = sealer
        self.orders = orders
        self.sessions = sessions
        self.devices = devices
        self.trust = trust
        self.work_dir = work_dir
        self.max_photo_bytes = max_photo_bytes
        self.max_upload_bytes = max_upload_bytes
        # Screening recognises files we sealed before a key rotation too.
        self.retired_service_certificates = retired_service_certificates
        self.max_image_pixels = max_image_pixels
        self.transcode_budget = transcode_budget or TranscodeBudget()
        self.sighting_budget = sighting_budget or SightingBudget()
        self.flagged_keep_bytes = flagged_keep_bytes
        self.flagged_retention = flagged_retention
        self.upload_quota_order_bytes = upload_quota_order_bytes
        self.upload_quota_buyer_bytes_per_day = upload_quota_buyer_bytes_per_day
        #: 0: no thumbnail job (made on first view); else the job's attempts.
        self.thumbnail_job_attempts = thumbnail_job_attempts

    # Entry points ------------------------------------------------------------
    def buyer_app(self, device_id: str, *, buyer_id: str, now: datetime) -> DeviceIdentity:
        """Step 2's caller check for a buyer: the buyer's own enrolled app, valid now.

        Raises:
            OrderSealError: ``wrong_device`` (403), or an unknown, revoked or expired device.
        """
        return self.devices.buyer_app(device_id, buyer_id=buyer_id, now=now)

    def seal_upload(
        self,
        *,
        session_id: str,
        device: DeviceIdentity,
        buyer_id: str | None,
        received: ReceivedFile,
        statement_json: str,
        statement_signature: str,
        title: str,
        idempotency_key: str | None,
        now: datetime,
        serials: tuple[str, ...] = (),
        stage: Stage | None = None,
    ) -> SealedEvidence:
        """Run the pipeline on one received file: check, seal, store and record it.

        The received temp file is consumed. A retry with the same idempotency key, session and
        content SHA-256 returns the first result and stores nothing twice. ``serials`` are the
        unit serials scanned for this capture (step 5). ``stage``: the route's stage; a
        session of another stage is answered like an absent one.

        Raises:
            IdempotencyKeyReusedError: the key already sealed a capture of another session or
                other bytes; the new capture is refused, not answered as "replayed".
            NotFoundError: ``session_not_found``.
            SessionClosedError: ``session_closed``.
            UploadQuotaExceededError: ``upload_quota_exceeded``.
            CaptureError: ``attestation_malformed``, ``attestation_mismatch``,
                ``invalid_serial``, ``unsupported_media``, ``chain_missing``.
            OrderSealError: ``attestation_invalid``.
            SerialMismatchError: a station scanned a serial the order does not list.
            PayloadTooLargeError: a photo above ``max_photo_bytes``.
            CaptureSealedElsewhereError: a station's bytes already evidence another order.
            IntakeFlaggedError: a receipt upload failed intake screening (kept, not sealed).

        Returns:
            The sealed evidence, ``replayed`` for a true retry.
        """
        try:
            earlier = self._replay(device, idempotency_key, session_id, received)
            if earlier is not None:
                return earlier
            session = self._own_open_session(session_id, device, buyer_id, now=now, stage=stage)
            self._check_quota(session, received.size, now=now)
            attested = self._check_statement(
                statement_json, statement_signature, device, session, received
            )
            self._check_serials(session, serials)
            received, sniffed = self._as_sealable(received)
            self._check_not_sealed_elsewhere(session, received)
            media_type = self._check_media(received, sniffed)
            self._check_review(session, media_type)
            if session.stage in _SCREENED_STAGES:
                self._screen(session, device, received, media_type, now)
            return self._seal_and_record(
                session,
                device,
                received,
                attested,
                media_type=media_type,
                title=title,
                idempotency_key=idempotency_key,
                now=now,
                serials=serials,
            )
        finally:
            received.path.unlink(missing_ok=True)

    def transcode_upload(
        self,
        *,
        session_id: str,
        device: DeviceIdentity,
        buyer_id: str | None,
        received: ReceivedFile,
        statement_json: str,
        statement_signature: str,
        idempotency_key: str | None,
        now: datetime,
        stage: Stage | None = None,
    ) -> ReceivedFile:
        """Step 6's conversion of a WebM upload to MP4 under the budget, after steps 1-4.

        The API runs this apart from :meth:`seal_upload` (its own thread limit, see
        ``infra/offload.py``) and passes the MP4 on; the SHA-256 stays the one the device
        signed. The session and the device's statement are checked first, so only a live
        session of this caller pays for a conversion. Anything but WebM, and a true retry of
        a sealed capture, come back unchanged.

        Raises:
            VideoTooLargeError: ``video_too_large`` from the headers or while decoding.
            TranscodeBudgetError: ``transcode_budget_exceeded`` (time or memory).
            TranscodeError: ``transcode_failed``.
        """
        try:
            if idempotency_key and self.ledger.find_by_idempotency(
                device.device_id, idempotency_key
            ):
                return received
            if sniff_media_type(received.path) not in TRANSCODED_MEDIA_TYPES:
                return received
            session = self._own_open_session(session_id, device, buyer_id, now=now, stage=stage)
            self._check_quota(session, received.size, now=now)
            self._check_statement(statement_json, statement_signature, device, session, received)
            return webm_to_mp4(received, budget=self.transcode_budget)
        except BaseException:
            received.path.unlink(missing_ok=True)
            raise

    def prune_flagged_uploads(self, *, now: datetime) -> int:
        """Delete refused uploads older than the retention period; returns how many went."""
        total = 0
        while True:
            pruned = self.ledger.prune_flagged_uploads(before=now - self.flagged_retention)
            total += pruned
            if pruned == 0:
                return total

    # Step 1: replay ----------------------------------------------------------
    def _replay(
        self,
        device: DeviceIdentity,
        idempotency_key: str | None,
        session_id: str,
        received: ReceivedFile,
    ) -> SealedEvidence | None:
        if not idempotency_key:
            return None
        earlier = self.ledger.find_by_idempotency(device.device_id, idempotency_key)
        if earlier is None:
            return None
        return _replayed(earlier, session_id=session_id, content_sha256=received.sha256)

    # Step 2: own, open session -----------------------------------------------
    def _own_open_session(
        self,
        session_id: str,
        device: DeviceIdentity,
        buyer_id: str | None,
        *,
        now: datetime,
        stage: Stage | None = None,
    ) -> CaptureSession:
        station_id = device.device_id if device.kind == "station" else None
        return self.sessions.open_session(
            session_id, station_id=station_id, buyer_id=buyer_id, now=now, stage=stage
        )

    # Step 3: quota -----------------------------------------------------------
    def _check_quota(self, session: CaptureSession, incoming: int, *, now: datetime) -> None:
        """Refuse an upload that would pass the order's or the buyer's daily byte quota.

        Raises:
            UploadQuotaExceededError: 413 ``upload_quota_exceeded`` (``scope`` order or buyer).
        """
        order_quota = self.upload_quota_order_bytes
        if order_quota > 0:
            used = self.ledger.upload_bytes_for_order(session.order_id)
            if used + incoming > order_quota:
                raise UploadQuotaExceededError(
                    f"expected at most {order_quota} capture bytes for this order, found "
                    f"{used} stored and {incoming} more",
                    scope="order",
                    quota_bytes=order_quota,
                )
        buyer_quota = self.upload_quota_buyer_bytes_per_day
        if buyer_quota > 0 and session.buyer_id is not None:
            used = self.ledger.upload_bytes_for_buyer(
                session.buyer_id, since=now - timedelta(days=1)
            )
            if used + incoming > buyer_quota:
                raise UploadQuotaExceededError(
                    f"expected at most {buyer_quota} capture bytes per buyer in 24 h, found "
                    f"{used} and {incoming} more",
                    scope="buyer",
                    quota_bytes=buyer_quota,
                )

    # Step 4: statement -------------------------------------------------------
    def _check_statement(
        self,
        statement_json: str,
        signature: str,
        device: DeviceIdentity,
        session: CaptureSession,
        received: ReceivedFile,
    ) -> _Attested:
        try:
            statement = CaptureStatement.from_json(statement_json)
        except ValueError as exc:
            raise CaptureError(str(exc), code="attestation_malformed") from exc
        try:
            verify_signature(device.certificate, statement.canonical(), signature)
        except CertificateError as exc:
            raise OrderSealError(
                "the capture statement is not signed by this device",
                code="attestation_invalid",
                http_status=403,
            ) from exc
        expected = {
            "device_id": device.device_id,
            "order_id": session.order_id,
            "session_id": session.session_id,
            "stage": session.stage,
            "content_sha256": received.sha256,
        }
        wrong = [k for k, v in expected.items() if getattr(statement, k) != v]
        if wrong:
            raise CaptureError(
                f"the capture statement does not match the upload: {', '.join(sorted(wrong))}",
                code="attestation_mismatch",
            )
        return _Attested(statement, signature)

    # Step 5: serials ---------------------------------------------------------
    def _check_serials(self, session: CaptureSession, serials: tuple[str, ...]) -> None:
        if len(serials) > _MAX_SERIALS or not all(_SERIAL.match(s) for s in serials):
            raise CaptureError(
                "expected at most 1000 serials of letters, digits and ._/:-",
                code="invalid_serial",
            )
        if session.stage != Stage.SHIPMENT.value or not serials:
            return
        order = self.orders.order(session.order_id)
        listed = {str(s) for item in order.items for s in item.get("serials", ())}
        unknown = sorted(set(serials) - listed)
        if unknown:
            raise SerialMismatchError(
                f"scanned serial(s) {', '.join(unknown)} are not on order {order.order_id}: "
                "wrong item, do not ship it"
            )

    # Step 6: media -----------------------------------------------------------
    def _check_not_sealed_elsewhere(self, session: CaptureSession, received: ReceivedFile) -> None:
        """At shipment: the bytes are not packing evidence of another order of the merchant.

        Raises:
            CaptureSealedElsewhereError: 409 ``capture_sealed_elsewhere``.
        """
        if session.stage != Stage.SHIPMENT.value:
            return
        order = self.orders.order(session.order_id)
        earlier = self.ledger.shipment_evidence_elsewhere(
            received.sha256, merchant_id=order.merchant_id, order_id=session.order_id
        )
        if earlier is not None:
            raise CaptureSealedElsewhereError(
                f"these bytes are already sealed for order {earlier.order_id} "
                f"({earlier.evidence_id}): one photo evidences one parcel, take a new one"
            )

    def _as_sealable(self, received: ReceivedFile) -> tuple[ReceivedFile, str | None]:
        """The file and its sniffed type, a WebM converted (consumed) to MP4 first."""
        media_type = sniff_media_type(received.path)
        if media_type in TRANSCODED_MEDIA_TYPES:  # WebM-only browsers; hash stays the sent one
            return webm_to_mp4(received, budget=self.transcode_budget), "video/mp4"
        return received, media_type

    def _check_media(self, received: ReceivedFile, media_type: str | None) -> str:
        """The sealable media type, once the file's type, size and structure passed."""
        if media_type is None or media_type not in SEALABLE_MEDIA_TYPES:
            raise CaptureError(
                f"expected a JPEG, PNG, MP4 or MOV capture, found {media_type or 'unknown'}",
                code="unsupported_media",
            )
        if media_type in IMAGE_TYPES and received.size > self.max_photo_bytes:
            raise PayloadTooLargeError(
                f"expected a photo of at most {self.max_photo_bytes} bytes, found {received.size}"
            )
        check_structure(received.path, media_type, max_pixels=self.max_image_pixels)
        return media_type

    def _check_review(self, session: CaptureSession, media_type: str) -> None:
        """A review capture is a photo, within the order's review bound."""
        if session.stage != Stage.REVIEW.value:
            return
        if media_type not in IMAGE_TYPES:
            raise CaptureError(
                f"expected a review photo (JPEG or PNG), found {media_type}",
                code="unsupported_media",
            )
        self.sessions.check_review_room(session.order_id)

    # Step 7: screening -------------------------------------------------------
    def _screen(
        self,
        session: CaptureSession,
        device: DeviceIdentity,
        received: ReceivedFile,
        media_type: str,
        now: datetime,
    ) -> None:
        """Intake screening of a receipt upload; a flagged file is recorded and refused."""
        findings = screen_upload(
            received.path,
            media_type=media_type,
            session_opened_at=session.opened_at,
            now=now,
            trust=TrustSettings(anchors_pem=self.trust.pem),
            sealing_fingerprints=self._sealing_fingerprints(),
        )
        if not findings:
            return
        reasons = [finding.to_json() for finding in findings]
        flagged_id = self._record_flagged(session, device, received, media_type, reasons, now)
        _log.info("flagged receipt upload %s: %s", flagged_id, [r["code"] for r in reasons])
        raise IntakeFlaggedError(
            "the upload's own metadata contradicts a live capture: "
            + ", ".join(sorted({r["code"] for r in reasons})),
            flagged_id=flagged_id,
            reasons=reasons,
        )

    def _record_flagged(
        self,
        session: CaptureSession,
        device: DeviceIdentity,
        received: ReceivedFile,
        media_type: str,
        reasons: list[dict[str, str]],
        now: datetime,
    ) -> str:
        """Record a refusal; the same file refused again in the session keeps its first id."""
        flagged_id = f"fl_{uuid.uuid4().hex[:20]}"
        # Only the hash, the size and the first bytes are kept (issue 14.4): a refused file is
        # not evidence, and the store is write-once. Expired refusals go on each new one.
        with received.path.open("rb") as handle:
            head = handle.read(max(0, self.flagged_keep_bytes))
        self.ledger.prune_flagged_uploads(before=now - self.flagged_retention, limit=100)
        stored = self.ledger.add_flagged_upload(
            FlaggedUpload(
                flagged_id=flagged_id,
                order_id=session.order_id,
                session_id=session.session_id,
                device_id=device.device_id,
                buyer_id=session.buyer_id,
                media_type=media_type,
                content_sha256=received.sha256,
                size=received.size,
                storage_key=None,
                reasons=reasons,
                received_at=now,
                head=head,
            )
        )
        if stored:
            return flagged_id
        earlier = [
            row
            for row in self.ledger.flagged_uploads(session.order_id)
            if row.session_id == session.session_id and row.content_sha256 == received.sha256
        ]
        return earlier[0].flagged_id if earlier else flagged_id

    def _sealing_fingerprints(self) -> frozenset[str]:
        """SHA-256 of the DER of our current and retired sealing certificates."""
        certificates = (
            *self.sealer.signer.certificate_chain[:1],
            *self.retired_service_certificates,
        )
        return frozenset(
            hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
            for cert in certificates
        )

    # Steps 8 and 9: seal, store, record --------------------------------------
    def _seal_and_record(
        self,
        session: CaptureSession,
        device: DeviceIdentity,
        received: ReceivedFile,
        attested: _Attested,
        *,
        media_type: str,
        title: str,
        idempotency_key: str | None,
        now: datetime,
        serials: tuple[str, ...],
    ) -> SealedEvidence:
        title = _safe_title(title, media_type)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as scratch:
            scratch_dir = Path(scratch)
            chain, archives = self._chain(session, scratch_dir)
            assertion = _assertion(
                session, device, received, attested, media_type, serials, chain, now=now
            ).model_copy(update=self._offline_fields(session))
            sighting = self._sight_label(session, received, media_type, now=now)
            if sighting is not None:
                assertion = assertion.model_copy(update={"label_sighting": sighting})
            # Of the camera's bytes: sealing does not change what a perceptual hash sees.
            hashes = fingerprint(received.path, media_type)
            self._check_review_not_a_copy(session, hashes)
            sealed = self._seal_and_store(
                received, scratch_dir / "sealed", assertion, media_type, title, archives, hashes
            )
        row = Evidence(
            evidence_id=f"ev_{uuid.uuid4().hex[:20]}",
            order_id=session.order_id,
            session_id=session.session_id,
            stage=session.stage,
            device_id=device.device_id,
            media_type=media_type,
            title=title,
            original_sha256=received.sha256,
            sealed_sha256=sealed.sealed_sha256,
            sealed_size=sealed.sealed_size,
            storage_key=sealed.storage_key,
            manifest_id=sealed.manifest_id,
            captured_at=attested.statement.captured_time,
            received_at=now,
            sealed_at=now,
            idempotency_key=idempotency_key,
        )
        return self._record(row, device, idempotency_key, received, [to_int(h) for h in hashes])

    def _check_review_not_a_copy(self, session: CaptureSession, hashes: list[str]) -> None:
        """A review photo is not another order's sealed picture, re-saved.

        Adversary: a buyer re-saving someone else's sealed review or unboxing photo (a JPEG
        re-encode changes every byte, not the picture) and sealing it as their own review. Only
        near-identical pictures (:data:`REVIEW_COPY_DISTANCE` bits) are refused: a new photo of
        the same product model is farther apart than that.

        Raises:
            CaptureSealedElsewhereError: 409 ``capture_sealed_elsewhere``.
        """
        if session.stage != Stage.REVIEW.value or not hashes:
            return
        found = self.ledger.fingerprints.lookup(
            [to_int(h) for h in hashes], radius=REVIEW_COPY_DISTANCE
        )
        elsewhere = sorted({m.order_id for m in found.matches if m.order_id != session.order_id})
        if elsewhere:
            raise CaptureSealedElsewhereError(
                "this picture is already sealed evidence of another order: a review photo "
                "shows what you received, take your own"
            )

    def _offline_fields(self, session: CaptureSession) -> dict[str, object]:
        """Offline packing marks (issue 18 §1): a shipment session that replaced a station's
        provisional one carries both clocks; a receipt opened from a provisional label says so."""
        if session.stage == Stage.SHIPMENT.value:
            row = self.ledger.provisional.for_session(session.session_id)
            if row is None:
                return {}
            return {
                "offline": OfflinePacking(
                    local_session_id=row.local_session_id,
                    station_closed_at=row.station_closed_at.isoformat(),
                    station_clock=row.station_clock.isoformat(),
                    service_clock=row.service_clock.isoformat(),
                    clock_gap_seconds=row.clock_gap_seconds,
                )
            }
        if session.stage == Stage.RECEIPT.value and self.ledger.provisional.receipt(
            session.session_id
        ):
            return {"label_provisional": True}
        return {}

    def _sight_label(
        self, session: CaptureSession, received: ReceivedFile, media_type: str, *, now: datetime
    ) -> LabelSighting | None:
        """Step 8's look for the parcel's own label in a receipt video (else None)."""
        if session.stage != Stage.RECEIPT.value or media_type not in VIDEO_TYPES:
            return None

        def is_own_label(text: str) -> bool:
            return self.sessions.is_own_label(text, order_id=session.order_id, now=now)

        return sight_label(received.path, is_own_label=is_own_label, budget=self.sighting_budget)

    def _chain(
        self, session: CaptureSession, scratch_dir: Path
    ) -> tuple[tuple[ChainLink, ...], list[Path]]:
        """A link and an ingredient archive per earlier evidence: for a receipt, the order's
        shipment evidence; for a review, the buyer's own receipt evidence of the order.

        Raises:
            CaptureError: ``chain_missing``, nothing to chain to.
        """
        if session.stage == Stage.RECEIPT.value:
            shipment = self.ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value)
        elif session.stage == Stage.REVIEW.value and session.buyer_id is not None:
            shipment = self.sessions.review_chain(
                session.order_id, buyer_id=session.buyer_id, now=session.opened_at
            )
        else:
            return (), []
        if not shipment:
            raise CaptureError(
                f"the order has no earlier evidence for a {session.stage} seal to chain to",
                code="chain_missing",
            )
        links = tuple(
            ChainLink(
                evidence_id=row.evidence_id,
                manifest_id=row.manifest_id,
                content_sha256=row.original_sha256,
            )
            for row in shipment
        )
        archives = [
            self._ingredient_archive(row, scratch_dir / f"ingredient-{index}.c2pa")
            for index, row in enumerate(shipment)
        ]
        return links, archives

    def _ingredient_archive(self, shipment: Evidence, dest: Path) -> Path:
        """Earlier evidence (shipment, or a receipt for a review) packed as an ingredient,
        built on first use.

        Building reads (and for video, hashes) the whole sealed file, so it is not done on the
        shipment upload path: most orders never get a receipt capture. Once built, the archive
        is stored and recorded, and later receipts read kilobytes.
        """
        if shipment.archive_key:
            with self.store.open_local(shipment.archive_key) as stored:
                dest.write_bytes(stored.read_bytes())
            return dest
        with self.store.open_local(shipment.storage_key) as sealed:
            self.sealer.write_ingredient_archive(
                sealed,
                dest,
                media_type=shipment.media_type,
                title=shipment.title,
                label=shipment.evidence_id,
            )
        kept = dest.with_name(f"{dest.name}.store")
        shutil.copyfile(dest, kept)  # the store consumes its input; ``dest`` is sealed from
        archive_sha = sha256_file(kept)
        archive_key = self.store.put_file(kept, archive_sha)
        self.ledger.set_ingredient_archive(shipment.evidence_id, archive_key, archive_sha)
        return dest

    def _seal_and_store(
        self,
        received: ReceivedFile,
        sealed_path: Path,
        assertion: CaptureAssertion,
        media_type: str,
        title: str,
        archives: list[Path],
        fingerprints: list[str],
    ) -> _SealedFile:
        manifest_id = self.sealer.seal(
            received.path,
            sealed_path,
            media_type=media_type,
            assertion=assertion,
            title=title,
            ingredient_archives=archives,
            fingerprints=fingerprints,
        )
        sealed_sha = sha256_file(sealed_path)
        sealed_size = sealed_path.stat().st_size
        storage_key = self.store.put_file(sealed_path, sealed_sha)
        return _SealedFile(manifest_id, sealed_sha, sealed_size, storage_key)

    def _record(
        self,
        row: Evidence,
        device: DeviceIdentity,
        idempotency_key: str | None,
        received: ReceivedFile,
        fingerprints: list[int],
    ) -> SealedEvidence:
        try:
            self.ledger.add_evidence(
                row,
                fingerprints=fingerprints,
                events=[_sealed_event(row)],
                jobs=[thumbnail_job(row, max_attempts=self.thumbnail_job_attempts)]
                if self.thumbnail_job_attempts
                else [],
                # Step 6 checked the review bound early; this is the check that holds.
                max_in_stage=self.sessions.max_review_photos
                if row.stage == Stage.REVIEW.value
                else None,
            )
        except ConflictError:
            # A concurrent request with the same idempotency key won the insert: answer with its
            # result if it was this same capture, refuse otherwise. Either way our sealed copy
            # stays unreferenced, so it is never served.
            earlier = (
                self.ledger.find_by_idempotency(device.device_id, idempotency_key)
                if idempotency_key
                else None
            )
            if earlier is None:
                raise
            return _replayed(earlier, session_id=row.session_id, content_sha256=received.sha256)
        _log.info("sealed %s for order %s (%s)", row.evidence_id, row.order_id, row.stage)
        return _sealed(row)


def _sealed_event(row: Evidence) -> OutboxEvent:
    """The ``evidence.sealed`` webhook, written in the evidence row's transaction."""
    return evidence_sealed_event(
        evidence_id=row.evidence_id,
        order_id=row.order_id,
        stage=row.stage,
        media_type=row.media_type,
        sealed_sha256=row.sealed_sha256,
        manifest_id=row.manifest_id,
        at=row.sealed_at,
    )


def _assertion(
    session: CaptureSession,
    device: DeviceIdentity,
    received: ReceivedFile,
    attested: _Attested,
    media_type: str,
    serials: tuple[str, ...],
    chain: tuple[ChainLink, ...],
    *,
    now: datetime,
) -> CaptureAssertion:
    """The ``org.orderseal.capture`` assertion for one capture (docs/assertion.md)."""
    return CaptureAssertion(
        order_id=session.order_id,
        stage=Stage(session.stage),
        device_id=device.device_id,
        session_id=session.session_id,
        captured_at=attested.statement.captured_at,
        received_at=now.isoformat(),
        content_sha256=received.sha256,
        media_type=media_type,
        serials=serials,
        attestation=DeviceAttestation(
            statement=attested.statement.canonical().decode(),
            signature=attested.signature,
            certificate_pem=certificates_to_pem((device.certificate,)),
        ),
        chain=chain,
        # Receipts only: how the page got the label token, as its session records it.
        label_entry=recorded_entry(session.label_entry)
        if session.stage == Stage.RECEIPT.value
        else None,
    )


def _safe_title(title: str, media_type: str) -> str:
    extension = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4"}.get(media_type, "mov")
    return clean_name(title, keep=_title_char, max_chars=120, fallback=f"capture.{extension}")


def _title_char(c: str) -> bool:
    return c.isalnum() or c in "-_. "


def _replayed(earlier: Evidence, *, session_id: str, content_sha256: str) -> SealedEvidence:
    """The earlier result for a true retry; the key reused for another capture is refused.

    The key is scoped to the device (the ledger lookup), so a retry must also repeat the
    session and the original bytes. Without this a station could send a different capture
    under a used key and be told "replayed" while the new bytes were silently dropped.
    """
    wrong = [
        what
        for what, same in (
            ("session", earlier.session_id == session_id),
            ("content SHA-256", earlier.original_sha256 == content_sha256),
        )
        if not same
    ]
    if wrong:
        raise IdempotencyKeyReusedError(
            "expected a retry of the capture this Idempotency-Key sealed, found another "
            + " and ".join(wrong)
            + ": use a new key for a new capture"
        )
    return _sealed(earlier, replayed=True)


def _sealed(row: Evidence, *, replayed: bool = False) -> SealedEvidence:
    return SealedEvidence(
        evidence_id=row.evidence_id,
        order_id=row.order_id,
        stage=row.stage,
        manifest_id=row.manifest_id,
        sealed_sha256=row.sealed_sha256,
        original_sha256=row.original_sha256,
        media_type=row.media_type,
        sealed_at=row.sealed_at,
        replayed=replayed,
    )
