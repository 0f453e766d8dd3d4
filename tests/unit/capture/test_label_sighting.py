"""Label sighting in receipt videos: the session's own label seen, when, how long; continuity.

Adversary: a buyer who films another parcel's label (not seen, counted as another label), or
splices a take with the label onto a pre-recorded video (continuity records the jump).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.label_sighting import SightingBudget, sight_label
from capture.label_url import label_token_from_payload
from capture.qr import render_label_png
from keys.attestation import b64url_encode
from tests.support.label_video import label_top, write_receipt_video

BASE = "https://orderseal.example"
BUDGET = SightingBudget(max_frames=40, max_width_px=640, budget_seconds=20.0, gap_bound_ms=1000)


def _token(order_id: str) -> str:
    body = b64url_encode(f'{{"o":"{order_id}","s":"ss_x","exp":1924992000}}'.encode())
    return f"OS1.{body}.{b64url_encode(bytes(64))}"


OWN, OTHER = _token("ORD-OWN"), _token("ORD-OTHER")


def _label(token: str) -> bytes:
    return render_label_png(token, order_id="ORD", dpi=203, base_url=BASE)


def _is_own(text: str) -> bool:
    return label_token_from_payload(text, base_url=BASE) == OWN


def test_the_own_label_in_view_is_seen_with_when_and_how_long(tmp_path: Path) -> None:
    video = write_receipt_video(
        tmp_path / "r.mp4", label=label_top(_label(OWN)), seconds=4.0, label_from_s=1.0
    )
    sighting = sight_label(video, is_own_label=_is_own, budget=BUDGET)
    assert sighting.seen
    assert sighting.complete
    assert sighting.first_seen_ms is not None
    assert 1000 <= sighting.first_seen_ms <= 1000 + sighting.interval_ms
    # In view for 3 of 4 seconds: about 3 s counted, within one sampling interval.
    assert abs(sighting.seen_ms - 3000) <= sighting.interval_ms
    assert sighting.other_labels == 0
    assert sighting.continuity.ok
    assert sighting.continuity.frames == 60


def test_a_video_without_the_label_is_not_seen(tmp_path: Path) -> None:
    video = write_receipt_video(tmp_path / "r.mp4", label=None)
    sighting = sight_label(video, is_own_label=_is_own, budget=BUDGET)
    assert (sighting.seen, sighting.first_seen_ms, sighting.seen_ms) == (False, None, 0)
    assert sighting.frames_sampled > 0
    assert sighting.continuity.ok


def test_another_orders_label_is_not_seen_but_counted(tmp_path: Path) -> None:
    video = write_receipt_video(tmp_path / "r.mp4", label=label_top(_label(OTHER)))
    sighting = sight_label(video, is_own_label=_is_own, budget=BUDGET)
    assert not sighting.seen
    assert sighting.other_labels == sighting.frames_sampled > 0


@pytest.mark.parametrize(
    ("jump_s", "ok"),
    [(0.9, True), (1.0, False), (5.0, False)],
    ids=["gap-at-the-bound", "one-frame-past-the-bound", "long-splice"],
)
def test_a_timestamp_jump_past_the_bound_breaks_continuity(
    tmp_path: Path, jump_s: float, ok: bool
) -> None:
    video = write_receipt_video(
        tmp_path / "r.mp4", label=label_top(_label(OWN)), seconds=4.0, jump_at_s=2.0, jump_s=jump_s
    )
    continuity = sight_label(video, is_own_label=_is_own, budget=BUDGET).continuity
    assert continuity.monotonic
    assert continuity.ok is ok
    # The jump in whole frames plus the frame's own step: 1000 ms, 1067 ms, 5067 ms.
    assert continuity.max_gap_ms == round((round(jump_s * 15) + 1) * 1000 / 15)


def test_sampling_is_bounded_by_frames_and_time(tmp_path: Path) -> None:
    video = write_receipt_video(tmp_path / "r.mp4", label=label_top(_label(OWN)), seconds=6.0)
    few = sight_label(video, is_own_label=_is_own, budget=SightingBudget(max_frames=3))
    assert few.frames_sampled == 3
    assert few.interval_ms == few.continuity.duration_ms // 3
    broke = sight_label(video, is_own_label=_is_own, budget=SightingBudget(budget_seconds=0.0))
    assert (broke.complete, broke.frames_sampled, broke.seen) == (False, 0, False)


def test_frames_above_the_pixel_bound_are_not_decoded(tmp_path: Path) -> None:
    video = write_receipt_video(tmp_path / "r.mp4", label=label_top(_label(OWN)), seconds=1.0)
    sighting = sight_label(
        video, is_own_label=_is_own, budget=SightingBudget(max_frame_pixels=640 * 480 - 1)
    )
    assert (sighting.complete, sighting.frames_sampled, sighting.seen) == (False, 0, False)


def test_a_video_ffmpeg_cannot_read_is_sealed_as_unseen_and_discontinuous(
    tmp_path: Path,
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    sighting = sight_label(junk, is_own_label=_is_own, budget=BUDGET)
    assert (sighting.seen, sighting.complete, sighting.continuity.ok) == (False, False, False)
