"""evidence.recapture: generated screen photographs score above the threshold, plain captures
below it.

The corpus generators are the benchmark's (``bench/recapture.py``), which also measures the
rates; these pin single pictures either side. The adversary is a photo of a screen (moire and
a pixel grid); the honest side is a direct capture and a fake-camera frame, neither of which
may be called a recapture. Blurry screen photographs whose grid the lens smoothed away score
low too: the benchmark counts them, and they are why the score is advice only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bench.recapture import fake_camera_frame, plain_capture, screen_photograph
from evidence.recapture import RECAPTURE_THRESHOLD, load_recapture_score, recapture_score


@pytest.mark.parametrize("seed", [7_000, 7_003, 7_004, 7_005, 7_006, 7_007], ids=str)
def test_a_screen_photograph_scores_above_the_threshold(seed: int) -> None:
    assert recapture_score(screen_photograph(seed)) >= RECAPTURE_THRESHOLD


@pytest.mark.parametrize("seed", [8_000, 8_001, 8_002, 8_003], ids=str)
def test_a_plain_capture_scores_below_the_threshold(seed: int) -> None:
    assert recapture_score(plain_capture(seed)) < RECAPTURE_THRESHOLD


@pytest.mark.parametrize("seed", [9_000, 9_001, 9_002], ids=str)
def test_a_fake_camera_frame_scores_below_the_threshold(seed: int) -> None:
    assert recapture_score(fake_camera_frame(seed)) < RECAPTURE_THRESHOLD


def test_the_file_is_scored_as_decoded_and_large_photos_are_reduced_first(tmp_path: Path) -> None:
    screen = screen_photograph(7_000)
    path = tmp_path / "screen.jpg"
    screen.save(path, format="JPEG", quality=92)
    score = load_recapture_score(path, "image/jpeg")
    assert score is not None
    assert score >= RECAPTURE_THRESHOLD
    big = tmp_path / "big.png"
    plain_capture(8_000).resize((3000, 2250)).save(big)
    big_score = load_recapture_score(big, "image/png")
    assert big_score is not None
    assert big_score < RECAPTURE_THRESHOLD


def test_what_cannot_be_scored(tmp_path: Path) -> None:
    assert recapture_score(Image.new("RGB", (40, 30), (90, 90, 90))) == 0.0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    assert load_recapture_score(broken, "image/jpeg") is None
    assert load_recapture_score(broken, "video/mp4") is None
