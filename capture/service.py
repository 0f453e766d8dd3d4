"""Capture use cases: orders, sessions, intake checks, sealing, storing and recording."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from capture.errors import (
    CaptureError,
    IdempotencyKeyReusedError,
    IntakeFlaggedError,
    OrderAlreadyPackedError,
    OrderNotPackedError,
    SerialMismatchError,
    SessionClosedError,
    UploadQuotaExceededError,
)
from capture.intake import screen_upload
from capture.sealing.seal import SEALABLE_MEDIA_TYPES, Sealer
from capture.tokens import LabelToken, issue_label_token, verify_label_token
from capture.transcode import TRANSCODED_MEDIA_TYPES, TranscodeBudget, webm_to_mp4
from evidence.manifest import CaptureAssertion, ChainLink, DeviceAttestation, Stage
from evidence.media import IMAGE_TYPES, sniff_media_type
from evidence.reader import TrustSettings
from evidence.structure import check_structure
from infra.errors import ConflictError, NotFoundError, OrderSealError
from infra.ledger.models import CaptureSession, Device, Evidence, FlaggedUpload, Order
from infra.ledger.repository import Ledger
from infra.media import PayloadTooLargeError, ReceivedFile, sha256_file
from infra.names import clean_name
from infra.storage.base import EvidenceStore
from keys.attestation import CaptureStatement, verify_signature
from keys.errors import CertificateError
from keys.trust import TrustList, certificates_to_pem, check_validity, verify_chain

__all__ = ["CaptureService", "DeviceIdentity", "OrderItem", "ReopenedOrder", "SealedEvidence"]

_log = logging.getLogger(__name__)
_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$")
_MAX_SERIALS = 1000
_ISSUED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class OrderItem:
    """One order line."""

    sku: str
    quantity: int
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceIdentity:
    """An enrolled, currently valid device with its certificate."""

    device_id: str
    kind: str
    owner_id: str | None
    certificate: x509.Certificate


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
class ReopenedOrder:
    """The platform released an order's closed shipment sessions so it can be packed again."""

    order_id: str
    reopened_by: str
    reopened_at: datetime
    released_session_ids: tuple[str, ...]


class CaptureService:
    """Everything the capture API does, independent of HTTP."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        store: EvidenceStore,
        sealer: Sealer,
        trust: TrustList,
        device_ca_chain: tuple[x509.Certificate, ...],
        work_dir: Path,
        receipt_session: timedelta,
        shipment_session: timedelta,
        label_ttl: timedelta,
        max_photo_bytes: int,
        retired_service_certificates: tuple[x509.Certificate, ...] = (),
        max_image_pixels: int = 100_000_000,
        revoked_service_serials: Callable[[], Mapping[str, datetime]] = dict,
        transcode_budget: TranscodeBudget | None = None,
        flagged_keep_bytes: int = 64 * 1024,
        flagged_retention: timedelta = timedelta(days=30),
        upload_quota_order_bytes: int = 0,
        upload_quota_buyer_bytes_per_day: int = 0,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.sealer = sealer
        self.trust = trust
        self.device_ca_chain = device_ca_chain
        self.work_dir = work_dir
        self.receipt_session = receipt_session
        self.shipment_session = shipment_session
        self.label_ttl = label_ttl
        self.max_photo_bytes = max_photo_bytes
        self.max_image_pixels = max_image_pixels
        self.transcode_budget = transcode_budget or TranscodeBudget()
        self.flagged_keep_bytes = flagged_keep_bytes
        self.flagged_retention = flagged_retention
        self.upload_quota_order_bytes = upload_quota_order_bytes
        self.upload_quota_buyer_bytes_per_day = upload_quota_buyer_bytes_per_day
        # Label tokens printed before a key rotation must keep opening receipt sessions.
        self.retired_service_certificates = retired_service_certificates
        # Read on every label scan, so a revocation takes effect without a restart.
        self.revoked_service_serials = revoked_service_serials
        # Device certificates whose CA signatures already verified, by PEM. Every signed
        # station request needs its device's certificate; parsing and verifying the chain
        # again each time was a tenth of a small upload. Validity dates and revocation are
        # still checked on every request.
        self._issued_certificates: dict[str, x509.Certificate] = {}

    # Orders ------------------------------------------------------------------
    def register_order(
        self,
        *,
        order_id: str,
        buyer_id: str,
        items: list[OrderItem],
        declared_value: Decimal,
        currency: str,
        carrier: str | None,
        tracking_number: str | None,
        expected_delivery: date | None,
        now: datetime,
    ) -> Order:
        """Register an order for capture; the id must be new."""
        order = Order(
            order_id=order_id,
            buyer_id=buyer_id,
            items=[
                {"sku": i.sku, "quantity": i.quantity, "serials": list(i.serials)} for i in items
            ],
            declared_value=str(declared_value),
            currency=currency,
            carrier=carrier,
            tracking_number=tracking_number,
            expected_delivery=expected_delivery,
            created_at=now,
        )
        self.ledger.add_order(order)
        return order

    def _order(self, order_id: str) -> Order:
        order = self.ledger.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return order

    # Devices -----------------------------------------------------------------
    def device_identity(self, device_id: str, *, now: datetime) -> DeviceIdentity:
        """Load an enrolled device and check it may act now.

        Raises:
            OrderSealError: unknown (``device_unknown``), revoked or expired device.
        """
        device: Device | None = self.ledger.get_device(device_id)
        if device is None:
            raise OrderSealError(
                "expected an enrolled device", code="device_unknown", http_status=401
            )
        if device.revoked_at is not None:
            raise OrderSealError(
                "this device has been revoked", code="device_revoked", http_status=403
            )
        try:
            certificate = self._issued_certificate(device.certificate_pem, now=now)
        except CertificateError as exc:
            raise OrderSealError(
                "the device certificate is expired or invalid",
                code="device_certificate_invalid",
                http_status=403,
            ) from exc
        return DeviceIdentity(device.device_id, device.kind, device.owner_id, certificate)

    def _issued_certificate(self, certificate_pem: str, *, now: datetime) -> x509.Certificate:
        known = self._issued_certificates.get(certificate_pem)
        if known is not None:
            check_validity((known, *self.device_ca_chain[:-1]), now=now)
            return known
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        verify_chain(certificate, self.device_ca_chain[:-1], self.trust, now=now)
        if len(self._issued_certificates) >= _ISSUED_CACHE_SIZE:
            self._issued_certificates.clear()  # renewals only ever add; start over
        self._issued_certificates[certificate_pem] = certificate
        return certificate

    # Sessions ----------------------------------------------------------------
    def open_shipment_session(
        self, station: DeviceIdentity, order_id: str, *, now: datetime
    ) -> CaptureSession:
        """A station opens a packing session after scanning the order.

        Raises:
            NotFoundError: ``order_unknown``.
            OrderAlreadyPackedError: a shipment session of the order closed (its label is out)
                and the platform has not reopened it; any station, the packer included.
        """
        self._order(order_id)
        self._refuse_if_packed(order_id, own_session_id=None)
        row = CaptureSession(
            session_id=f"ss_{secrets.token_urlsafe(12)}",
            order_id=order_id,
            stage=Stage.SHIPMENT.value,
            device_id=station.device_id,
            buyer_id=None,
            opened_at=now,
            expires_at=now + self.shipment_session,
            closed_at=None,
        )
        self.ledger.add_session(row)
        return row

    def close_shipment_session(
        self, station: DeviceIdentity, session_id: str, *, now: datetime
    ) -> str:
        """Close a packing session and return the label token for the parcel.

        Raises:
            CaptureError: the session holds no evidence yet.
            SessionClosedError: the platform reopened the order after this session closed.
            OrderAlreadyPackedError: another session of the order closed first (two stations
                opened sessions before either closed); the first label stands.
        """
        session = self._own_session(session_id, station_id=station.device_id, buyer_id=None)
        if session.released_at is not None:
            raise SessionClosedError(
                "expected an unreleased packing session, found one the platform reopened"
            )
        self._refuse_if_packed(session.order_id, own_session_id=session_id)
        if not self.ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value):
            raise CaptureError(
                "expected at least one sealed capture before the label", code="session_empty"
            )
        self.ledger.close_session(session_id, now)
        return issue_label_token(
            self.sealer.signer,
            order_id=session.order_id,
            session_id=session_id,
            now=now,
            ttl=self.label_ttl,
        )

    def _refuse_if_packed(self, order_id: str, *, own_session_id: str | None) -> None:
        packed = self.ledger.packed_shipment_session(order_id)
        if packed is not None and packed.session_id != own_session_id:
            raise OrderAlreadyPackedError(
                f"expected order {order_id} not yet packed, found a closed shipment session: "
                "the platform must reopen the order before it is packed again"
            )

    def reopen_order(self, order_id: str, *, by: str, now: datetime) -> ReopenedOrder:
        """Release the order's closed shipment sessions so a station can pack it again.

        The released sessions keep their evidence and the labels already printed; they are
        marked with who reopened the order and when.

        Args:
            order_id: the packed order.
            by: the platform caller (API key subject), recorded on each released session.
            now: the reopening time.

        Raises:
            NotFoundError: ``order_unknown``.
            OrderNotPackedError: no closed shipment session is left to release.

        Returns:
            The released session ids with who and when.
        """
        self._order(order_id)
        released = self.ledger.release_shipment_sessions(order_id, by=by, at=now)
        if not released:
            raise OrderNotPackedError(
                f"expected order {order_id} packed (a closed shipment session), found none"
            )
        _log.info("order %s reopened for packing by %s (released %s)", order_id, by, released)
        return ReopenedOrder(order_id, by, now, tuple(released))

    def label_token_for(
        self, order_id: str, *, now: datetime, station_id: str | None = None
    ) -> str:
        """A fresh label token for the order's latest closed shipment session.

        With ``station_id`` only the station that packed the parcel may (re)print its label;
        any other caller gets the same ``no_label`` as for an order never shipped.
        """
        session = self.ledger.latest_shipment_session(order_id, closed=True)
        if session is None or (station_id is not None and session.device_id != station_id):
            raise NotFoundError("no closed shipment session for this order", code="no_label")
        return issue_label_token(
            self.sealer.signer,
            order_id=order_id,
            session_id=session.session_id,
            now=now,
            ttl=self.label_ttl,
        )

    def read_label(self, token: str, *, now: datetime) -> LabelToken:
        """Verify a parcel label against our sealing certificates that are not revoked.

        Labels printed before a key rotation still verify; labels signed by a revoked key do
        not (a compromised key could print labels for any order), whenever they were printed:
        the token carries no trusted time.

        Raises:
            TokenError: malformed, forged, expired, or ``token_revoked``.
        """
        return verify_label_token(
            token,
            (*self.sealer.signer.certificate_chain[:1], *self.retired_service_certificates),
            now=now,
            revoked_serials=self.revoked_service_serials(),
        )

    def open_receipt_session(self, buyer_id: str, token: str, *, now: datetime) -> CaptureSession:
        """The buyer scanned the parcel label: open a short session for that order only.

        Raises:
            TokenError: the label is forged or expired.
            OrderSealError: ``not_your_order`` when the order belongs to someone else.
        """
        label = self.read_label(token, now=now)
        order = self._order(label.order_id)
        if order.buyer_id != buyer_id:
            raise OrderSealError(
                "this parcel is not one of your orders", code="not_your_order", http_status=403
            )
        # Scanning again starts afresh: one open receipt session per buyer and order.
        self.ledger.close_open_receipt_sessions(order.order_id, buyer_id, now)
        row = CaptureSession(
            session_id=f"rs_{secrets.token_urlsafe(12)}",
            order_id=order.order_id,
            stage=Stage.RECEIPT.value,
            device_id=None,
            buyer_id=buyer_id,
            opened_at=now,
            expires_at=now + self.receipt_session,
            closed_at=None,
        )
        self.ledger.add_session(row)
        return row

    def finish_session(
        self, session_id: str, *, station_id: str | None, buyer_id: str | None, now: datetime
    ) -> None:
        """Close a receipt session when the buyer is done."""
        self._own_session(session_id, station_id=station_id, buyer_id=buyer_id)
        self.ledger.close_session(session_id, now)

    def buyer_evidence(self, session_id: str, evidence_id: str, *, buyer_id: str) -> Evidence:
        """A buyer's own sealed capture from one of their receipt sessions."""
        self._own_session(session_id, station_id=None, buyer_id=buyer_id)
        row = self.ledger.get_evidence(evidence_id)
        if row is None or row.session_id != session_id:
            raise NotFoundError("no such evidence in this session", code="evidence_not_found")
        return row

    def _own_session(
        self, session_id: str, *, station_id: str | None, buyer_id: str | None
    ) -> CaptureSession:
        session = self.ledger.get_session(session_id)
        owned = session is not None and (
            (station_id is not None and session.device_id == station_id)
            or (buyer_id is not None and session.buyer_id == buyer_id)
        )
        if session is None or not owned:
            # Same answer for "absent" and "someone else's": no probing of session ids.
            raise NotFoundError("no such session for this caller", code="session_not_found")
        return session

    def _open_session(
        self, session_id: str, *, station_id: str | None, buyer_id: str | None, now: datetime
    ) -> CaptureSession:
        session = self._own_session(session_id, station_id=station_id, buyer_id=buyer_id)
        if session.closed_at is not None or now >= session.expires_at:
            raise SessionClosedError("the capture session is closed or expired")
        return session

    # Sealing -----------------------------------------------------------------
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
    ) -> SealedEvidence:
        """Check the device's statement, seal the bytes, store them and record the evidence.

        The received temp file is consumed. A retry with the same idempotency key, session and
        content SHA-256 returns the first result and stores nothing twice. ``serials`` are the
        unit serials scanned for this capture: at shipment each must be one the order lists
        (``serial_mismatch``); at receipt they are what the buyer read off the unit, recorded
        for the verifier.

        Raises:
            SerialMismatchError: a station scanned a serial the order does not list.
            IntakeFlaggedError: a receipt upload failed intake screening (kept, not sealed).
            IdempotencyKeyReusedError: the key already sealed a capture of another session or
                other bytes; the new capture is refused, not answered as "replayed".
        """
        try:
            if idempotency_key:
                earlier = self.ledger.find_by_idempotency(device.device_id, idempotency_key)
                if earlier is not None:
                    return _replayed(earlier, session_id=session_id, content_sha256=received.sha256)
            station_id = device.device_id if device.kind == "station" else None
            session = self._open_session(
                session_id, station_id=station_id, buyer_id=buyer_id, now=now
            )
            self._check_quota(session, received.size, now=now)
            statement = self._check_statement(
                statement_json, statement_signature, device, session, received
            )
            self._check_serials(session, serials)
            media_type = sniff_media_type(received.path)
            if media_type in TRANSCODED_MEDIA_TYPES:  # WebM-only browsers; hash stays the sent one
                received = webm_to_mp4(received, budget=self.transcode_budget)
                media_type = "video/mp4"
            if media_type not in SEALABLE_MEDIA_TYPES:
                raise CaptureError(
                    f"expected a JPEG, PNG, MP4 or MOV capture, found {media_type or 'unknown'}",
                    code="unsupported_media",
                )
            if media_type in IMAGE_TYPES and received.size > self.max_photo_bytes:
                raise PayloadTooLargeError(
                    f"expected a photo of at most {self.max_photo_bytes} bytes, found "
                    f"{received.size}"
                )
            check_structure(received.path, media_type, max_pixels=self.max_image_pixels)
            if session.stage == Stage.RECEIPT.value:
                self._screen(session, device, received, media_type, now)
            return self._seal_and_record(
                session,
                device,
                received,
                (statement, statement_signature),
                media_type,
                title,
                idempotency_key,
                now,
                serials,
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
    ) -> ReceivedFile:
        """Convert a WebM upload to MP4 under the budget, after the cheap checks.

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
            station_id = device.device_id if device.kind == "station" else None
            session = self._open_session(
                session_id, station_id=station_id, buyer_id=buyer_id, now=now
            )
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

    def _check_quota(self, session: CaptureSession, incoming: int, *, now: datetime) -> None:
        """Refuse an upload that would pass the order's or the buyer's daily byte quota.

        Concurrent uploads are counted when recorded, so a burst may pass a quota by the
        uploads in flight; the per-credential upload rate limit bounds those.

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

    def _check_serials(self, session: CaptureSession, serials: tuple[str, ...]) -> None:
        if len(serials) > _MAX_SERIALS or not all(_SERIAL.match(s) for s in serials):
            raise CaptureError(
                "expected at most 1000 serials of letters, digits and ._/:-",
                code="invalid_serial",
            )
        if session.stage != Stage.SHIPMENT.value or not serials:
            return
        order = self._order(session.order_id)
        listed = {str(s) for item in order.items for s in item.get("serials", ())}
        unknown = sorted(set(serials) - listed)
        if unknown:
            raise SerialMismatchError(
                f"scanned serial(s) {', '.join(unknown)} are not on order {order.order_id}: "
                "wrong item, do not ship it"
            )

    def _screen(
        self,
        session: CaptureSession,
        device: DeviceIdentity,
        received: ReceivedFile,
        media_type: str,
        now: datetime,
    ) -> None:
        """Intake screening of a receipt upload; a flagged file is stored and refused."""
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
        if not stored:
            earlier = [
                row
                for row in self.ledger.flagged_uploads(session.order_id)
                if row.session_id == session.session_id and row.content_sha256 == received.sha256
            ]
            flagged_id = earlier[0].flagged_id if earlier else flagged_id
        _log.info("flagged receipt upload %s: %s", flagged_id, [r["code"] for r in reasons])
        raise IntakeFlaggedError(
            "the upload's own metadata contradicts a live capture: "
            + ", ".join(sorted({r["code"] for r in reasons})),
            flagged_id=flagged_id,
            reasons=reasons,
        )

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

    def _check_statement(
        self,
        statement_json: str,
        signature: str,
        device: DeviceIdentity,
        session: CaptureSession,
        received: ReceivedFile,
    ) -> CaptureStatement:
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
        return statement

    def _ingredient_archive(self, shipment: Evidence, dest: Path) -> Path:
        """The shipment evidence packed as a receipt ingredient, built on first use.

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

    def _seal_and_record(
        self,
        session: CaptureSession,
        device: DeviceIdentity,
        received: ReceivedFile,
        attested: tuple[CaptureStatement, str],
        media_type: str,
        title: str,
        idempotency_key: str | None,
        now: datetime,
        serials: tuple[str, ...] = (),
    ) -> SealedEvidence:
        statement, signature = attested
        stage = Stage(session.stage)
        chain: list[ChainLink] = []
        archives: list[Path] = []
        with tempfile.TemporaryDirectory(dir=self.work_dir) as scratch:
            scratch_dir = Path(scratch)
            if stage == Stage.RECEIPT:
                shipment = self.ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value)
                if not shipment:
                    raise CaptureError(
                        "the order has no shipment evidence to chain to", code="chain_missing"
                    )
                for index, row in enumerate(shipment):
                    chain.append(
                        ChainLink(
                            evidence_id=row.evidence_id,
                            manifest_id=row.manifest_id,
                            content_sha256=row.original_sha256,
                        )
                    )
                    archives.append(
                        self._ingredient_archive(row, scratch_dir / f"ingredient-{index}.c2pa")
                    )
            assertion = CaptureAssertion(
                order_id=session.order_id,
                stage=stage,
                device_id=device.device_id,
                session_id=session.session_id,
                captured_at=statement.captured_at,
                received_at=now.isoformat(),
                content_sha256=received.sha256,
                media_type=media_type,
                serials=serials,
                attestation=DeviceAttestation(
                    statement=statement.canonical().decode(),
                    signature=signature,
                    certificate_pem=certificates_to_pem((device.certificate,)),
                ),
                chain=tuple(chain),
            )
            sealed_path = scratch_dir / "sealed"
            manifest_id = self.sealer.seal(
                received.path,
                sealed_path,
                media_type=media_type,
                assertion=assertion,
                title=_safe_title(title, media_type),
                ingredient_archives=archives,
            )
            evidence_id = f"ev_{uuid.uuid4().hex[:20]}"
            sealed_sha = sha256_file(sealed_path)
            sealed_size = sealed_path.stat().st_size
            storage_key = self.store.put_file(sealed_path, sealed_sha)
        row = Evidence(
            evidence_id=evidence_id,
            order_id=session.order_id,
            session_id=session.session_id,
            stage=stage.value,
            device_id=device.device_id,
            media_type=media_type,
            title=_safe_title(title, media_type),
            original_sha256=received.sha256,
            sealed_sha256=sealed_sha,
            sealed_size=sealed_size,
            storage_key=storage_key,
            manifest_id=manifest_id,
            captured_at=statement.captured_time,
            received_at=now,
            sealed_at=now,
            idempotency_key=idempotency_key,
        )
        try:
            self.ledger.add_evidence(row)
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
            return _replayed(earlier, session_id=session.session_id, content_sha256=received.sha256)
        _log.info("sealed %s for order %s (%s)", evidence_id, session.order_id, stage.value)
        return _sealed(row)


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
