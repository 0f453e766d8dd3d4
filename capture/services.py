"""The capture domain's services, built from settings by the composition root.

One service per job (orders, devices, sessions, uploads, evidence files, trust publishing,
buyer tokens); each route module receives only the one it needs
(``capture.routes.deps``). This record only holds them: it has no behaviour of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from capture.devices import DeviceService
from capture.files import EvidenceFiles
from capture.label_check import BuyerPageLimits
from capture.label_sighting import SightingBudget
from capture.offline import OfflineService
from capture.orders import OrderService
from capture.provisional_labels import ProvisionalResolver
from capture.publishing import TrustPublisher
from capture.sealing.seal import Sealer
from capture.sessions import SessionService
from capture.thumbnail_jobs import ThumbnailJobs
from capture.tokens import BuyerTokenIssuer
from capture.transcode import TranscodeBudget
from capture.uploads import UploadService
from infra.ledger.repository import Ledger
from infra.settings import Settings
from infra.storage.base import EvidenceStore
from keys.store import KeyStore

__all__ = ["CaptureServices", "build_capture_services"]


@dataclass(frozen=True)
class CaptureServices:
    """The capture services of one application, sharing one ledger, store and sealer."""

    orders: OrderService
    devices: DeviceService
    sessions: SessionService
    uploads: UploadService
    files: EvidenceFiles
    trust: TrustPublisher
    buyer_tokens: BuyerTokenIssuer
    #: Offline packing: assignment lists and the sync of provisional sessions (issue 18 §1).
    offline: OfflineService
    ledger: Ledger
    sealer: Sealer
    work_dir: Path


def _buyer_page(settings: Settings) -> BuyerPageLimits:
    """The capture page's limits: a video the server will take (size, quota, WebM budget)."""
    sizes = [settings.max_video_bytes, settings.upload_quota_buyer_bytes_per_day]
    return BuyerPageLimits(
        help_url=settings.buyer_help_url,
        video_seconds=min(
            settings.buyer_video_seconds, int(settings.transcode_max_duration_seconds)
        ),
        video_bytes=min(size for size in sizes if size > 0),
    )


def build_capture_services(
    settings: Settings,
    *,
    ledger: Ledger,
    store: EvidenceStore,
    keys: KeyStore,
    sealer: Sealer,
    work_dir: Path,
    token_secret: bytes,
    revoked_service_serials: Callable[[], Mapping[str, datetime]] = dict,
    thumbnails: ThumbnailJobs | None = None,
) -> CaptureServices:
    """Build the capture services named by ``settings`` over shared ledger, store and keys.

    Raises:
        KeysError: the key folder is not initialised.
    """
    trust = keys.trust_list()
    retired = keys.service_certificates()[1:]
    orders = OrderService(ledger=ledger)
    devices = DeviceService(
        keys=keys,
        ledger=ledger,
        trust=trust,
        device_ca_chain=keys.device_ca_chain(),
        token_secret=token_secret,
        device_validity=timedelta(days=settings.device_cert_days),
        challenge_ttl=timedelta(seconds=settings.buyer_device_challenge_seconds),
        max_buyer_devices=settings.max_buyer_devices,
    )
    sessions = SessionService(
        ledger=ledger,
        orders=orders,
        label_signer=sealer.signer,
        receipt_session=timedelta(minutes=settings.receipt_session_minutes),
        shipment_session=timedelta(hours=settings.shipment_session_hours),
        label_ttl=timedelta(days=settings.label_token_days),
        base_url=settings.base_url,
        retired_service_certificates=retired,
        revoked_service_serials=revoked_service_serials,
        buyer_page=_buyer_page(settings),
        max_review_photos=settings.max_review_photos,
        provisional=ProvisionalResolver(
            ledger=ledger,
            policy=settings.offline_provisional_labels,
            label_ttl=timedelta(days=settings.label_token_days),
        ),
    )
    publisher = TrustPublisher(keys=keys, label_signer=sealer.signer)
    uploads = UploadService(
        ledger=ledger,
        store=store,
        sealer=sealer,
        orders=orders,
        sessions=sessions,
        devices=devices,
        trust=trust,
        work_dir=work_dir,
        max_photo_bytes=settings.max_photo_bytes,
        max_upload_bytes=settings.max_video_bytes,
        retired_service_certificates=retired,
        max_image_pixels=settings.max_image_pixels,
        transcode_budget=TranscodeBudget(
            max_frame_pixels=settings.transcode_max_frame_pixels,
            max_frames=settings.transcode_max_frames,
            max_duration_seconds=settings.transcode_max_duration_seconds,
            max_pixels_per_second=settings.transcode_max_pixels_per_second,
            timeout_seconds=settings.transcode_timeout_seconds,
            memory_bytes=settings.transcode_memory_bytes,
        ),
        sighting_budget=SightingBudget(
            max_frames=settings.sighting_max_frames,
            max_width_px=settings.sighting_max_width_px,
            budget_seconds=settings.sighting_budget_seconds,
            gap_bound_ms=settings.sighting_gap_bound_ms,
            max_frame_pixels=settings.sighting_max_frame_pixels,
        ),
        flagged_keep_bytes=settings.flagged_keep_bytes,
        flagged_retention=timedelta(days=settings.flagged_retention_days),
        upload_quota_order_bytes=settings.upload_quota_order_bytes,
        upload_quota_buyer_bytes_per_day=settings.upload_quota_buyer_bytes_per_day,
        thumbnail_job_attempts=settings.jobs_max_attempts if settings.thumbnail_jobs else 0,
    )
    return CaptureServices(
        orders=orders,
        devices=devices,
        sessions=sessions,
        uploads=uploads,
        files=EvidenceFiles(
            ledger=ledger,
            store=store,
            sessions=sessions,
            thumbnail_dir=settings.resolved_home / "thumbnails",
            thumbnails=thumbnails,
        ),
        trust=publisher,
        offline=OfflineService(
            ledger=ledger,
            sessions=sessions,
            signer=sealer.signer,
            retired_certificates=retired,
            certificate_chain_pem=publisher.label_certificates_pem(),
            base_url=settings.base_url,
            assignment_ttl=timedelta(hours=settings.offline_assignment_hours),
            max_orders=settings.offline_max_assigned_orders,
            max_clock_gap=timedelta(seconds=settings.offline_max_clock_gap_seconds),
        ),
        buyer_tokens=BuyerTokenIssuer(
            token_secret, timedelta(minutes=settings.buyer_token_minutes)
        ),
        ledger=ledger,
        sealer=sealer,
        work_dir=work_dir,
    )
