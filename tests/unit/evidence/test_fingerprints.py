"""evidence.fingerprints: the lookup hashes of a screenshot see the photo, not the app's bars.

The bar detector reads edge lines in growing chunks (a picture without bars costs one chunk);
a bar of any height, across chunk boundaries, is still trimmed to the line. The adversary is
the plain picture: a photo whose own edge is not flat must not get trimmed variants (each one
is one more query hash, more chances of a false match).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.fingerprints import scene, screenshot
from evidence.fingerprints import hamming, image_query_hashes, to_int, trimmed_variants


def _with_bars(picture: Image.Image, top: int, bottom: int) -> Image.Image:
    canvas = Image.new("RGB", (picture.width, picture.height + top + bottom), (30, 30, 32))
    canvas.paste(picture, (0, top))
    return canvas


@pytest.mark.parametrize("top", [2, 7, 8, 9, 23, 141], ids=lambda t: f"bar-{t}")
def test_a_flat_bar_of_any_height_is_trimmed_to_the_line(top: int) -> None:
    picture = scene(5)
    variants = trimmed_variants(_with_bars(picture, top, 0))
    assert (picture.width, picture.height) in {v.size for v in variants}


def test_a_plain_photo_gets_no_trimmed_variant() -> None:
    assert trimmed_variants(scene(6)) == []
    assert len(image_query_hashes(scene(6))) == 1


def test_a_screenshot_copy_is_within_the_recovery_radius() -> None:
    picture = scene(7)
    own = to_int(image_query_hashes(picture)[0])
    copy = [to_int(h) for h in image_query_hashes(screenshot(picture))]
    assert min(hamming(own, h) for h in copy) <= 7


def test_a_picture_flat_to_its_last_line_is_not_trimmed_away() -> None:
    flat = Image.fromarray(np.full((120, 160, 3), 90, dtype=np.uint8))
    assert trimmed_variants(flat) == []
