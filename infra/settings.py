"""Runtime settings, read from ``ORDERSEAL_*`` environment variables (see docs/settings.md)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.errors import OrderSealError

__all__ = ["ENV_PREFIX", "NOT_SETTINGS", "TEST_ENV_PREFIX", "Settings", "UnknownSettingError"]

ENV_PREFIX = "ORDERSEAL_"
#: Variables of the test suite and CI (tests/support/databases.py), never settings.
TEST_ENV_PREFIX = "ORDERSEAL_TEST_"
#: ``ORDERSEAL_*`` variables that other commands read (the station tool), not settings.
NOT_SETTINGS = frozenset({"ORDERSEAL_STATION_HOME", "ORDERSEAL_ADMIN_KEY"})
#: Query parameters of key URIs and URLs whose value is a secret.
_SECRET_PARAMETERS = frozenset({"pin-value", "pin", "password", "secret"})


class UnknownSettingError(OrderSealError):
    """An ``ORDERSEAL_*`` environment variable that names no setting (a misspelling)."""

    code = "unknown_setting"
    http_status = 500


def _redact_url(value: str) -> str:
    """``value`` with any password in its authority and secret query parameters replaced."""
    parts = urlsplit(value)
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else netloc
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() in _SECRET_PARAMETERS for k, _ in pairs):
        query = urlencode(
            [(k, "***" if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs],
            safe="*/:;",
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return value  # nothing secret: unchanged (urlunsplit would drop sqlite's third /)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_MIB = 1024 * 1024


class Settings(BaseSettings):
    """Everything configurable. Defaults are the embedded ones: SQLite, local folder, PEM keys."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    home: Path = Field(default=Path(".orderseal"), description="State folder: keys, ledger, store")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in home")
    storage: Literal["local", "s3"] = Field(default="local", description="Evidence store")
    s3_endpoint_url: str = Field(default="", description="S3 endpoint; empty = AWS")
    s3_bucket: str = "orderseal-evidence"
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_object_lock_mode: Literal["", "GOVERNANCE", "COMPLIANCE"] = ""
    s3_retention_days: int = 0
    s3_multipart_threshold_bytes: int = 64 * _MIB
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str = Field(default="", description="Base URL printed in links; empty = host:port")
    service_key_uri: str = Field(default="", description="Signer key URI; empty = home PEM key")
    signer: Literal["file", "pkcs11", "kms"] = Field(
        default="file", description="Sealing key backend (service_key_uri wins when set)"
    )
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token: str = ""
    pkcs11_key_label: str = "orderseal-service"
    pkcs11_pin: SecretStr = SecretStr("")
    kms_key_id: str = ""
    kms_region: str = "us-east-1"
    kms_endpoint_url: str = ""
    kms_message_type: Literal["RAW", "DIGEST"] = "DIGEST"
    tsa_url: str = Field(default="", description="RFC 3161 timestamp authority; empty = none")
    service_cert_days: int = 365
    max_photo_bytes: int = 40 * _MIB
    max_review_photos: int = Field(
        default=10, ge=0, le=100, description="review photos a buyer may seal per order"
    )
    max_video_bytes: int = 8 * 1024 * _MIB
    max_evidence_bytes: int = 8 * 1024 * _MIB
    max_image_pixels: int = 100_000_000
    public_verify_max_bytes: int = 200 * _MIB
    max_header_bytes: int = Field(
        default=16384, description="request line + headers per request; 431 above it"
    )
    max_headers: int = Field(default=100, description="header lines per request; 431 above it")
    body_idle_timeout_seconds: float = Field(
        default=15.0, description="longest pause inside a streamed body; 408; 0 disables"
    )
    body_min_bytes_per_second: int = Field(
        default=16384, description="average body rate after the grace period; 408; 0 disables"
    )
    body_rate_grace_seconds: float = Field(default=10.0, description="before the rate applies")
    public_uploads_max_concurrent: int = Field(
        default=16, description="public /verify bodies in flight per worker; 503; 0 disables"
    )
    public_uploads_max_per_client: int = Field(
        default=2, description="public /verify bodies in flight per address; 429; 0 disables"
    )
    work_dir_reserve_bytes: int = Field(
        default=512 * _MIB, description="free space an upload must leave in the work folder; 507"
    )
    receipt_session_minutes: int = 30
    # The buyer capture page (issue 18): its scam warning's help link and its video limit.
    buyer_help_url: str = Field(
        default="",
        pattern=r"^(https://[^\s<>\"']{1,2000})?$",
        description="the platform's after-sales help page the scam warning links to (https)",
    )
    buyer_video_seconds: int = Field(
        default=180, ge=10, le=3600, description="longest video the capture page records"
    )
    shipment_session_hours: int = 12
    label_token_days: int = 60
    # Offline packing (issue 18 §1, docs/capture.md "Offline packing").
    offline_assignment_hours: int = Field(
        default=24, ge=1, le=168, description="validity of a station's signed assignment list"
    )
    offline_max_assigned_orders: int = Field(
        default=200, ge=1, le=2000, description="most orders one assignment list names"
    )
    offline_max_clock_gap_seconds: int = Field(
        default=300, ge=0, le=86400, description="largest station clock gap a sync accepts"
    )
    offline_provisional_labels: Literal["accept", "refuse"] = Field(
        default="accept",
        description="whether a buyer's scan of a synced provisional label opens a receipt",
    )
    buyer_token_minutes: int = 60
    policy_file: Path | None = Field(default=None, description="refund policy TOML")
    merchant_buyer_identity: Literal["hidden", "pseudonymous", "full"] = Field(
        default="pseudonymous",
        description="what merchants see of the buyer: nothing, a per-merchant pseudonym, the id",
    )
    device_cert_days: int = 30
    rate_limit_sessions_per_minute: int = Field(default=600, description="0 disables")
    rate_limit_uploads_per_minute: int = Field(default=1200, description="0 disables")
    rate_limit_disputes_per_minute: int = Field(default=600, description="0 disables")
    rate_limit_burst: int = 200
    rate_limit_redis_url: str = Field(default="", description="shared limiter; empty = in-process")
    reuse_large_buffers: bool = Field(
        default=False, description="keep c2pa's hash buffers in the heap (infra/memory.py)"
    )
    # WebM conversion budget (capture/transcode.py, docs/security.md "Hardening, second round").
    transcode_max_frame_pixels: int = Field(default=1920 * 1080, description="per frame")
    transcode_max_frames: int = Field(default=18_000, description="frames per video")
    transcode_max_duration_seconds: float = Field(default=300.0, description="video time")
    transcode_max_pixels_per_second: int = Field(
        default=1920 * 1080 * 60, description="decoded pixels per second of video"
    )
    transcode_timeout_seconds: float = Field(default=120.0, description="wall clock per video")
    transcode_memory_bytes: int = Field(default=1024 * _MIB, description="child RLIMIT_AS")
    # Receipt-video label sighting (capture/label_sighting.py, docs/capture.md).
    sighting_max_frames: int = Field(default=40, ge=1, description="frames searched per video")
    sighting_max_width_px: int = Field(default=640, ge=64, description="search frame width")
    sighting_budget_seconds: float = Field(default=8.0, ge=0, description="CPU seconds per video")
    sighting_gap_bound_ms: int = Field(default=1000, ge=1, description="largest timestamp step")
    sighting_max_frame_pixels: int = Field(
        default=3840 * 2160, description="larger frames are not decoded"
    )
    transcode_concurrency: int = Field(
        default=1, description="transcodes at once per worker, apart from the sealing slots"
    )
    rate_limit_transcodes_per_minute: int = Field(default=6, description="0 disables")
    rate_limit_transcodes_burst: int = 3
    # Uploads refused by intake screening, and byte quotas for every capture upload.
    flagged_keep_bytes: int = Field(
        default=64 * 1024, description="first bytes kept of a refused upload (plus its hash)"
    )
    flagged_retention_days: int = Field(default=30, description="refused uploads expire")
    upload_quota_order_bytes: int = Field(
        default=20 * 1024 * _MIB, description="capture bytes per order; 0 disables"
    )
    upload_quota_buyer_bytes_per_day: int = Field(
        default=20 * 1024 * _MIB, description="receipt bytes per buyer per 24 h; 0 disables"
    )
    # Buyer-device self-enrolment.
    max_buyer_devices: int = Field(default=5, description="active devices per buyer")
    buyer_device_challenge_seconds: int = Field(default=300, description="enrolment nonce TTL")
    rate_limit_enrolments_per_minute: int = Field(default=5, description="0 disables")
    rate_limit_enrolments_burst: int = 5

    metrics: str = Field(
        default="admin",
        pattern=r"^(admin|off|bind:\S+:[0-9]{1,5})$",
        description="/metrics: admin (admin API key), off, or bind:HOST:PORT (own listener)",
    )
    dev: bool = Field(
        default=False, description="let serve create a development CA on an empty home"
    )
    webhook_delivery: Literal["embedded", "worker"] = Field(
        default="embedded",
        description="embedded: each server drains the webhook queue; worker: orderseal worker only",
    )
    webhook_allow_private_targets: bool = Field(
        default=False, description="accept http and loopback/private webhook URLs (tests, demo)"
    )
    webhook_retry_base_seconds: float = Field(default=5.0, description="first retry delay")
    webhook_retry_max_seconds: float = Field(default=6 * 3600.0, description="longest delay")
    webhook_retry_window_seconds: float = Field(
        default=3 * 86400.0, description="retries stop (dead letter) after this"
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="per delivery attempt")
    webhook_poll_seconds: float = Field(default=1.0, description="idle worker polling interval")
    webhook_secret_overlap_seconds: float = Field(
        default=86400.0, description="old secret keeps signing after a rotation"
    )
    # Background jobs (infra/jobs.py, docs/scaling.md): large-file verification, thumbnails.
    inline_verify_max_bytes: int = Field(
        default=4 * _MIB,
        description="dispute files above this are verified by a job (202 pending); 0: always",
    )
    jobs_mode: Literal["embedded", "worker"] = Field(
        default="embedded",
        description="embedded: each server runs background jobs; worker: orderseal worker only",
    )
    jobs_max_attempts: int = Field(default=3, ge=1, le=20, description="claims before dead")
    jobs_lease_seconds: float = Field(
        default=300.0, gt=0, description="a claimed job is run again after this (killed worker)"
    )
    jobs_max_run_seconds: float = Field(
        default=1800.0, gt=0, description="a running job's lease is kept this long at most"
    )
    jobs_retry_base_seconds: float = Field(default=5.0, description="first retry delay")
    jobs_retry_max_seconds: float = Field(default=300.0, description="longest retry delay")
    jobs_poll_seconds: float = Field(default=1.0, description="idle job worker polling interval")
    jobs_max_pending_per_dispute: int = Field(
        default=4, ge=0, description="files waiting for verification per dispute; 429; 0: off"
    )
    jobs_max_pending_per_key: int = Field(
        default=50, ge=0, description="files waiting for verification per API key; 429; 0: off"
    )
    thumbnail_jobs: bool = Field(
        default=True, description="sealing queues the agent thumbnail (else made on first view)"
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_variables(cls, data: Any) -> Any:
        # pydantic-settings reads only the variables it knows: a misspelled one would be
        # dropped silently and its setting would keep the embedded default (issue 14.20).
        known = {f"{ENV_PREFIX}{name.upper()}" for name in cls.model_fields}
        for variable in sorted(os.environ):
            name = variable.upper()
            if (
                not name.startswith(ENV_PREFIX)
                or name.startswith(TEST_ENV_PREFIX)
                or name in known
                or name in NOT_SETTINGS
            ):
                continue
            closest = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {closest[0]}?" if closest else ""
            raise UnknownSettingError(
                f"expected only known settings (docs/settings.md), found {variable}{hint}"
            )
        return data

    def redacted(self) -> dict[str, object]:
        """Every setting, as logged at start: secrets and URL passwords replaced by ``***``."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                shown[name] = "***" if value.get_secret_value() else ""
            elif isinstance(value, str) and ("://" in value or value.startswith("pkcs11:")):
                shown[name] = _redact_url(value)
            elif isinstance(value, Path):
                shown[name] = str(value)
            else:
                shown[name] = value
        shown["database"] = _redact_url(self.resolved_database_url)
        return shown

    @property
    def resolved_home(self) -> Path:
        """Absolute home folder."""
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite ledger in the home folder."""
        return self.database_url or f"sqlite:///{self.resolved_home / 'ledger.sqlite3'}"

    @property
    def metrics_bind(self) -> tuple[str, int] | None:
        """(host, port) of the separate metrics listener, or None (``admin`` or ``off``)."""
        if not self.metrics.startswith("bind:"):
            return None
        host, _, port = self.metrics.removeprefix("bind:").rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def base_url(self) -> str:
        """Where clients reach the API."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
