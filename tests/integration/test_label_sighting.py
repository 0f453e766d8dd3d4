"""The parcel in the shot (issue 19 §2), end to end: a receipt video is sampled at sealing for
its own label, the result is sealed into the assertion, and the verifier weighs it.

Adversaries: a buyer who records a video without the parcel's label (pre-recorded, generated,
through a virtual camera), one who films another parcel's label (their own other order), and
one who splices two takes (a timestamp jump). Each goes to review; the honest take allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from capture.qr import render_label_png
from evidence.manifest import ASSERTION_LABEL
from evidence.reader import TrustSettings, read_evidence
from orderseal.services import Services
from tests.support import flows
from tests.support.label_video import label_top, write_receipt_video


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sighting")


def _label(cast: flows.Actors, shipped: flows.Shipped) -> Image.Image:
    png = render_label_png(shipped.label_token, order_id=shipped.order_id, base_url=cast.base_url)
    return label_top(png)


def _receive(
    cast: flows.Actors, shipped: flows.Shipped, video: Path, services: Services
) -> tuple[Path, dict[str, Any]]:
    """Seal one receipt video; the sealed copy and its sealed label sighting."""
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    sealed = buyer.upload(session, video, title="unboxing.mp4")
    out = video.with_name(f"{video.stem}.sealed.mp4")
    out.write_bytes(buyer.download(session, sealed["evidence_id"]))
    buyer.finish(session)
    report = read_evidence(out, trust=TrustSettings(anchors_pem=services.keys.trust_list().pem))
    sighting: dict[str, Any] = report.active_manifest.assertions[ASSERTION_LABEL]["label_sighting"]
    return out, sighting


def _ship(cast: flows.Actors, work: Path) -> flows.Shipped:
    return flows.ship(cast, flows.register_order(cast), work)


def test_the_honest_take_shows_its_label_and_allows(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    shipped = _ship(cast, work)
    video = write_receipt_video(
        work / "honest.mp4", label=_label(cast, shipped), seconds=3.0, label_from_s=0.5
    )
    sealed, sighting = _receive(cast, shipped, video, services)
    assert sighting["seen"] is True
    assert 500 <= sighting["first_seen_ms"] <= 500 + sighting["interval_ms"]
    assert sighting["seen_ms"] >= 2000
    assert sighting["continuity"]["ok"] is True
    decided = flows.dispute(cast, shipped.order_id, [sealed])
    assert not {"label_not_in_capture", "capture_discontinuous"} & flows.codes(decided)
    assert decided["verdict"]["decision"] == "allow"


def test_a_video_without_the_label_is_sealed_but_reviewed(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    shipped = _ship(cast, work)
    video = write_receipt_video(work / "no-label.mp4", label=None)
    sealed, sighting = _receive(cast, shipped, video, services)
    assert (sighting["seen"], sighting["first_seen_ms"], sighting["seen_ms"]) == (False, None, 0)
    decided = flows.dispute(cast, shipped.order_id, [sealed])
    assert "label_not_in_capture" in flows.codes(decided)
    assert decided["verdict"]["decision"] == "review"


def test_another_parcels_label_in_frame_is_not_seen(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    """The buyer films the label of their other order: genuine, but not this parcel's."""
    shipped, other = _ship(cast, work), _ship(cast, work)
    video = write_receipt_video(work / "other-label.mp4", label=_label(cast, other))
    sealed, sighting = _receive(cast, shipped, video, services)
    assert sighting["seen"] is False
    assert sighting["other_labels"] == sighting["frames_sampled"] > 0
    decided = flows.dispute(cast, shipped.order_id, [sealed])
    assert "label_not_in_capture" in flows.codes(decided)
    assert decided["verdict"]["decision"] == "review"


def test_a_spliced_take_is_flagged_discontinuous(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    shipped = _ship(cast, work)
    video = write_receipt_video(
        work / "spliced.mp4", label=_label(cast, shipped), seconds=3.0, jump_at_s=1.5, jump_s=4.0
    )
    sealed, sighting = _receive(cast, shipped, video, services)
    assert sighting["seen"] is True
    assert sighting["continuity"]["ok"] is False
    assert sighting["continuity"]["max_gap_ms"] > sighting["continuity"]["gap_bound_ms"]
    decided = flows.dispute(cast, shipped.order_id, [sealed])
    assert "capture_discontinuous" in flows.codes(decided)
    assert decided["verdict"]["decision"] == "review"


def test_a_receipt_photo_carries_no_sighting(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    shipped = _ship(cast, work)
    (photo,) = flows.receive(cast, shipped, work)
    report = read_evidence(photo, trust=TrustSettings(anchors_pem=services.keys.trust_list().pem))
    assert "label_sighting" not in report.active_manifest.assertions[ASSERTION_LABEL]
