"""Capture hardening, second round (issue 14): each attack next to the honest path it shadows.

Adversaries:
- a buyer (valid token, enrolled app) uploading WebM bombs: tiny files that decode to huge
  frames, many frames or frames squeezed into a fraction of a second (item 1);
- a buyer token holder enrolling device after device, or replaying one captured enrolment
  proof (item 5);
- a buyer (or a station) filling the write-once store: refused uploads kept whole and forever,
  and no byte quota per order or per buyer (item 4).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from capture.devices import enrolment_message, issue_enrolment_nonce, verify_enrolment_nonce
from capture.errors import CaptureError
from capture.transcode import TranscodeBudget, TranscodeBudgetError, webm_to_mp4
from clients.client import APIError, BuyerClient, PlatformClient
from infra.media import ReceivedFile, sha256_file
from infra.settings import Settings
from keys.attestation import sign_bytes
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows

#: The module's server converts small videos only, so "above the budget" is cheap to make.
PIXELS_PER_SECOND = 160 * 120 * 30 * 2
MAX_FRAMES = 120
MAX_SECONDS = 20.0
TRANSCODES_PER_MINUTE = 3
FLAGGED_KEEP_BYTES = 1024
QUOTA_ORDER_BYTES = 1_000_000
QUOTA_BUYER_BYTES = 700_000
MAX_BUYER_DEVICES = 2
ENROLMENTS_PER_MINUTE = 3


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    return make_settings(
        module_home,
        database_url=database_url,
        transcode_max_pixels_per_second=PIXELS_PER_SECOND,
        transcode_max_frames=MAX_FRAMES,
        transcode_max_duration_seconds=MAX_SECONDS,
        rate_limit_transcodes_per_minute=TRANSCODES_PER_MINUTE,
        rate_limit_transcodes_burst=TRANSCODES_PER_MINUTE,
        max_buyer_devices=MAX_BUYER_DEVICES,
        flagged_keep_bytes=FLAGGED_KEEP_BYTES,
        upload_quota_order_bytes=QUOTA_ORDER_BYTES,
        upload_quota_buyer_bytes_per_day=QUOTA_BUYER_BYTES,
        rate_limit_enrolments_per_minute=ENROLMENTS_PER_MINUTE,
        rate_limit_enrolments_burst=ENROLMENTS_PER_MINUTE,
        **storage_overrides,
    )


def _webm(
    path: Path,
    *,
    size: tuple[int, int] = (160, 120),
    frames: int = 15,
    step_ms: int = 66,
) -> Path:
    """A VP8 WebM of ``frames`` flat frames, ``step_ms`` apart (fast realtime encoding)."""
    width, height = size
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=15)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
        for index in range(frames):
            pixels = np.full((height, width, 3), (index * 15) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index * step_ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-capture")


def _receiving(live_api: str, credentials: dict[str, str], work: Path) -> tuple[Any, Any]:
    """A fresh buyer with a shipped order: (buyer client, open receipt session)."""
    cast = flows.actors(live_api, credentials)
    shipped = flows.ship(cast, flows.register_order(cast), work)
    buyer: BuyerClient = cast.buyer()
    return buyer, buyer.open_receipt(shipped.label_token)


def _refused(buyer: BuyerClient, session: dict[str, Any], path: Path) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        buyer.upload(session, path, title=path.name)
    return caught.value.status, caught.value.code


# Item 1: WebM transcode bombs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bomb", "shape"),
    [
        ("4k-frames", {"size": (3840, 2160), "frames": 2, "step_ms": 1000}),
        ("too-many-frames", {"frames": MAX_FRAMES + 10, "step_ms": 66}),
        ("squeezed-timestamps", {"frames": 100, "step_ms": 1}),
        ("too-long", {"frames": 2, "step_ms": int(MAX_SECONDS * 1000) + 5000}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_webm_bombs_are_refused_before_decoding_them_whole(
    live_api: str, credentials: dict[str, str], work: Path, bomb: str, shape: dict[str, Any]
) -> None:
    buyer, session = _receiving(live_api, credentials, work)
    honest = buyer.upload(session, _webm(work / f"honest-{bomb}.webm"), title="unbox.webm")
    assert honest["media_type"] == "video/mp4"
    assert _refused(buyer, session, _webm(work / f"{bomb}.webm", **shape)) == (
        422,
        "video_too_large",
    )


def test_transcodes_have_their_own_per_buyer_rate_limit(
    live_api: str, credentials: dict[str, str], work: Path
) -> None:
    buyer, session = _receiving(live_api, credentials, work)
    for index in range(TRANSCODES_PER_MINUTE):
        clip = _webm(work / f"rate-{index}.webm", frames=3 + index)
        assert buyer.upload(session, clip, title="unbox.webm")["media_type"] == "video/mp4"
    assert _refused(buyer, session, _webm(work / "rate-over.webm", frames=9)) == (
        429,
        "rate_limited",
    )
    # Photos are not transcodes: the same buyer still seals them.
    photo = make_jpeg(work / "rate-photo.jpg", seed=91, size=(160, 120))
    assert buyer.upload(session, photo, title="unbox.jpg")["stage"] == "receipt"
    # Another buyer's budget is untouched.
    other, other_session = _receiving(live_api, credentials, work)
    clip = _webm(work / "rate-other.webm")
    assert other.upload(other_session, clip, title="unbox.webm")["media_type"] == "video/mp4"


@pytest.mark.parametrize(
    "budget",
    [TranscodeBudget(memory_bytes=48 * 1024 * 1024), TranscodeBudget(timeout_seconds=0.0)],
    ids=["memory", "wall-clock"],
)
def test_transcode_runs_in_a_child_under_a_memory_and_time_budget(
    tmp_path: Path, budget: TranscodeBudget
) -> None:
    """The conversion's address space and time are the child's RLIMIT_AS and timeout."""
    source = _webm(tmp_path / "clip.webm")
    received = ReceivedFile(source, source.stat().st_size, sha256_file(source))
    with pytest.raises(TranscodeBudgetError) as caught:
        webm_to_mp4(received, budget=budget)
    assert caught.value.code == "transcode_budget_exceeded"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.webm"]  # no half-written MP4
    converted = webm_to_mp4(received)
    assert converted.sha256 == received.sha256
    with av.open(str(converted.path)) as mp4:
        assert mp4.streams.video[0].codec_context.name == "h264"


# Item 5: buyer-device self-enrolment -----------------------------------------------------


class _Enroller:
    """One buyer's app installs enrolling themselves over HTTP, as the capture page does."""

    def __init__(self, live_api: str, credentials: dict[str, str], buyer_id: str) -> None:
        platform = PlatformClient(live_api, credentials["platform"])
        token = flows.buyer_token_response(platform, buyer_id)["token"]
        self.buyer_id = buyer_id
        self.http = httpx.Client(
            base_url=live_api, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def nonce(self) -> str:
        response = self.http.post("/v1/buyer-devices/challenge")
        assert response.status_code == 201, response.text
        nonce: str = response.json()["nonce"]
        return nonce

    def body(self, nonce: str, *, buyer_id: str | None = None) -> dict[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        spki = base64.b64encode(der).decode()
        message = enrolment_message(buyer_id or self.buyer_id, spki, nonce)
        return {"public_key_spki": spki, "proof": sign_bytes(key, message), "nonce": nonce}

    def enrol(self, body: dict[str, str]) -> tuple[int, str | None]:
        response = self.http.post("/v1/buyer-devices", json=body)
        code = None if response.status_code == 201 else response.json()["error"]["code"]
        return response.status_code, code


def test_enrolment_proof_is_bound_to_a_single_use_server_nonce(
    live_api: str, credentials: dict[str, str]
) -> None:
    enroller = _Enroller(live_api, credentials, "buyer-hardening-replay")
    captured = enroller.body(enroller.nonce())
    assert enroller.enrol(captured) == (201, None)
    assert enroller.enrol(captured) == (409, "device_challenge_used")
    # A nonce made up by the client, or issued to another buyer, proves nothing.
    invented = enroller.body("bdc1.1700000000.made-up.00000000000000000000000000000000")
    assert enroller.enrol(invented) == (422, "device_challenge_invalid")
    theirs = _Enroller(live_api, credentials, "buyer-hardening-replay-2")
    assert theirs.enrol(theirs.body(enroller.nonce())) == (422, "device_challenge_invalid")
    assert enroller.enrol({k: v for k, v in captured.items() if k != "nonce"})[0] == 422


def test_active_devices_per_buyer_are_capped_and_enrolments_rate_limited(
    live_api: str, credentials: dict[str, str]
) -> None:
    enroller = _Enroller(live_api, credentials, "buyer-hardening-cap")
    for _ in range(MAX_BUYER_DEVICES):
        assert enroller.enrol(enroller.body(enroller.nonce())) == (201, None)
    assert enroller.enrol(enroller.body(enroller.nonce())) == (409, "device_limit_reached")
    assert enroller.enrol(enroller.body(enroller.nonce())) == (429, "rate_limited")
    other = _Enroller(live_api, credentials, "buyer-hardening-cap-2")
    assert other.enrol(other.body(other.nonce())) == (201, None)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(timedelta(seconds=299), True), (timedelta(seconds=301), False)],
    ids=["one-second-before-expiry", "one-second-after-expiry"],
)
def test_enrolment_nonce_expires(age: timedelta, accepted: bool) -> None:
    issued = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    nonce = issue_enrolment_nonce(b"k" * 32, buyer_id="b-1", now=issued)
    ttl = timedelta(seconds=300)
    if accepted:
        assert verify_enrolment_nonce(b"k" * 32, nonce, buyer_id="b-1", now=issued + age, ttl=ttl)
        return
    with pytest.raises(CaptureError) as caught:
        verify_enrolment_nonce(b"k" * 32, nonce, buyer_id="b-1", now=issued + age, ttl=ttl)
    assert caught.value.code == "device_challenge_invalid"


# Item 4: refused uploads and byte quotas --------------------------------------------------


def _noise_png(path: Path, *, seed: int, text: dict[str, str] | None = None) -> Path:
    """An incompressible PNG (about 360 kB), optionally with generator text chunks."""
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    Image.fromarray(pixels).save(path, format="PNG", pnginfo=info)
    return path


def test_refused_upload_keeps_only_its_hash_and_first_bytes_and_expires(
    live_api: str, credentials: dict[str, str], work: Path, services: Services
) -> None:
    buyer, session = _receiving(live_api, credentials, work)
    generated = _noise_png(
        work / "generated.png", seed=7, text={"parameters": "Steps: 30, Sampler: Euler a"}
    )
    status, code = _refused(buyer, session, generated)
    assert (status, code) == (422, "intake_flagged")
    [row] = services.ledger.flagged_uploads(session["order_id"])
    data = generated.read_bytes()
    assert (row.size, row.content_sha256) == (len(data), sha256_file(generated))
    assert row.head == data[:FLAGGED_KEEP_BYTES]
    assert row.storage_key is None  # nothing in the write-once store
    honest = make_jpeg(work / "honest-unbox.jpg", seed=8, size=(160, 120))
    assert buyer.upload(session, honest, title="unbox.jpg")["stage"] == "receipt"

    retention = services.capture.uploads.flagged_retention
    before = services.capture.uploads.prune_flagged_uploads(
        now=row.received_at + retention - timedelta(seconds=1)
    )
    assert before == 0
    assert len(services.ledger.flagged_uploads(session["order_id"])) == 1
    services.capture.uploads.prune_flagged_uploads(
        now=row.received_at + retention + timedelta(seconds=1)
    )
    assert services.ledger.flagged_uploads(session["order_id"]) == []


def test_uploads_have_a_per_buyer_byte_quota(
    live_api: str, credentials: dict[str, str], work: Path
) -> None:
    buyer, session = _receiving(live_api, credentials, work)
    first = _noise_png(work / "quota-buyer-1.png", seed=21)
    assert buyer.upload(session, first, title="unbox.png")["stage"] == "receipt"
    with pytest.raises(APIError) as caught:
        buyer.upload(session, _noise_png(work / "quota-buyer-2.png", seed=22), title="b.png")
    assert (caught.value.status, caught.value.code) == (413, "upload_quota_exceeded")
    assert caught.value.details["scope"] == "buyer"


def test_uploads_have_a_per_order_byte_quota(
    live_api: str, credentials: dict[str, str], work: Path
) -> None:
    cast = flows.actors(live_api, credentials)
    session = cast.station.open_session(flows.register_order(cast))
    for index in range(2):
        photo = _noise_png(work / f"quota-order-{index}.png", seed=30 + index)
        assert cast.station.upload(session, photo, title="pack.png")["stage"] == "shipment"
    with pytest.raises(APIError) as caught:
        cast.station.upload(session, _noise_png(work / "quota-order-x.png", seed=39), title="x")
    assert (caught.value.status, caught.value.code) == (413, "upload_quota_exceeded")
    assert caught.value.details["scope"] == "order"
