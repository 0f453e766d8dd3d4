"""Reuse detection: exact copies, re-encoded and slightly cropped copies, not look-alikes.

A copy without a manifest of another order's sealed evidence is found even when no dispute
holds it yet: the fingerprint index of sealed evidence (issue 19 §1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from infra.settings import Settings
from tests.conftest import make_settings
from tests.support import flows


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """One buyer files many claims here: claimant limits are not under test."""
    policy = tmp_path_factory.mktemp("policy") / "no-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 100\nmax_disputes_per_buyer = 1000\n")
    return make_settings(
        module_home, database_url=database_url, policy_file=policy, **storage_overrides
    )


@pytest.fixture(scope="module")
def first(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[flows.Actors, dict[str, Any], list[Path], Path]:
    """A decided honest dispute whose sealed receipt photo and video the tests copy."""
    work = tmp_path_factory.mktemp("reuse")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    files = flows.receive(cast, flows.ship(cast, order_id, work), work, video=True)
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "allow"
    return cast, decided, files, work


def _claim_with(cast: flows.Actors, path: Path) -> dict[str, Any]:
    return flows.dispute(cast, flows.register_order(cast), [path])


def _product_photo(path: Path, *, background: tuple[int, int, int], offset: int) -> Path:
    image = Image.new("RGB", (800, 600), background)
    draw = ImageDraw.Draw(image)
    for stripe in range(0, 800, 40):
        draw.line((stripe, 0, stripe + offset, 600), fill=(background[0] // 2, 90, 140), width=6)
    draw.rectangle((250 + offset, 150, 550 + offset, 450), fill=(200, 40, 40))  # the same box
    draw.text((300 + offset, 280), "CRAB 2KG", fill=(255, 255, 255))
    image.save(path, format="JPEG", quality=90)
    return path


def test_reencoded_copy_on_another_order_is_reused(
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path],
) -> None:
    cast, _, files, work = first
    copy = work / "reencoded.jpg"
    with Image.open(files[0]) as image:
        image.save(copy, format="JPEG", quality=55)
    decided = _claim_with(cast, copy)
    assert decided["verdict"]["decision"] == "block"
    # Traced by the fingerprint index to the first order's sealed photo, the copy is judged on
    # that original: another order's evidence (tests/integration/test_recovered_copies.py).
    assert flows.codes(decided) == {"order_mismatch", "evidence_reused"}
    (item,) = decided["verdict"]["evidence"]
    assert item["recovered_evidence_id"] is not None


def test_slightly_cropped_copy_is_reused(
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path],
) -> None:
    cast, _, files, work = first
    cropped = work / "cropped.jpg"
    with Image.open(files[0]) as image:
        width, height = image.size
        image.crop((width // 50, height // 50, width - width // 50, height - height // 50)).save(
            cropped
        )
    decided = _claim_with(cast, cropped)
    assert "evidence_reused" in flows.codes(decided)


def test_reencoded_video_is_reused(
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path],
) -> None:
    cast, _, files, work = first
    import av

    copy = work / "video-copy.mp4"
    with av.open(str(files[1])) as source, av.open(str(copy), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=15)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuv420p"
        for frame in source.decode(video=0):
            for packet in stream.encode(frame.reformat(width=160, height=120, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    decided = _claim_with(cast, copy)
    assert "evidence_reused" in flows.codes(decided)


def test_different_photos_of_the_same_product_are_not_reused(
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path],
) -> None:
    cast, _, _, work = first
    one = _product_photo(work / "product-a.jpg", background=(30, 120, 60), offset=0)
    two = _product_photo(work / "product-b.jpg", background=(200, 180, 90), offset=-120)
    assert flows.codes(_claim_with(cast, one)) == {"no_manifest"}
    assert flows.codes(_claim_with(cast, two)) == {"no_manifest"}


def test_only_agents_see_which_dispute_was_reused(
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path], credentials: dict[str, str]
) -> None:
    cast, original, files, _ = first
    decided = _claim_with(cast, files[0])
    original_id = str(original["dispute_id"])
    assert original_id not in str(decided)  # the platform's answer names no other dispute
    agent = httpx.get(
        f"{cast.base_url}/v1/disputes/{decided['dispute_id']}/report.json",
        headers={"Authorization": f"Bearer {credentials['agent']}"},
    )
    assert original_id in agent.text


def test_a_stripped_copy_of_someone_elses_sealed_photo_is_reused_before_any_dispute(
    live_api: str,
    credentials: dict[str, str],
    first: tuple[flows.Actors, dict[str, Any], list[Path], Path],
) -> None:
    """The adversary found a sealed unboxing photo of another buyer's parcel (never disputed)
    and strips it; the fingerprint index of sealed evidence finds its original all the same."""
    _, _, _, work = first
    owner = flows.actors(live_api, credentials)
    order_id = flows.register_order(owner)
    photo = flows.receive(owner, flows.ship(owner, order_id, work), work)[0]
    stripped = work / "found.jpg"
    with Image.open(photo) as image:
        image.save(stripped, format="JPEG", quality=70)
    thief = flows.actors(live_api, credentials)
    decided = _claim_with(thief, stripped)
    assert decided["verdict"]["decision"] == "block"
    assert {"evidence_reused", "order_mismatch"} <= flows.codes(decided)
    assert "manifest_recovered" not in flows.codes(decided)
