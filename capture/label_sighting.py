"""Was the labelled parcel in the shot? Sample a receipt video's frames for its own label's QR.

A receipt video is sealed as "live", yet a pre-recorded or generated video fed through a virtual
camera would pass on its metadata alone (issue 19 §2). At sealing, this module

- reads every video packet's timestamps (demux only, no decoding) for the **continuity**
  result: decode timestamps strictly increase, no step between presentation times exceeds the
  gap bound (``ORDERSEAL_SIGHTING_GAP_BOUND_MS``), and the average frame rate is within
  ``RATE_FACTOR`` of the rate the median step implies (a splice of another recording, or
  frames dropped to stitch two takes, breaks one of these);
- decodes frames in order, and every ``interval`` (the video's length over at most
  ``max_frames`` samples, never under ``MIN_INTERVAL_MS``) scales one to at most
  ``max_width_px``, greyscale, and reads its QR codes with zxing-cpp;
- asks ``is_own_label`` of each decoded text: the caller verifies it as our signed label
  token naming this session's order.

CPU is bounded: at most ``max_frames`` frames are searched, at reduced size, and decoding
stops after ``budget_seconds`` of this thread's CPU time (then ``complete`` is false and an
unseen label stays unseen). CPU time, not wall clock: on a busy host the wall clock ran out
before the label's frames were reached, so the same honest video was sealed "not seen" or
"seen" depending on the server's load.
Frame sizes beyond ``max_frame_pixels`` are not decoded at all.

Adversary: a buyer who films a different parcel's label (another order of theirs, or a photo
of someone's label) so the video looks genuine: that label verifies but names another order,
so it counts in ``other_labels``, never as seen. A buyer who splices a take of the real label
onto a pre-recorded video: the continuity result records the jump.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import zxingcpp

from evidence.sighting import Continuity, LabelSighting

__all__ = ["MIN_INTERVAL_MS", "RATE_FACTOR", "SightingBudget", "sight_label"]

#: Never sample more often than this: a label in view for less than it is not "in the shot".
MIN_INTERVAL_MS = 200
#: The average frame rate may differ from the median step's rate by this factor at most.
RATE_FACTOR = 1.5
_MS = 1000


@dataclass(frozen=True)
class SightingBudget:
    """How much work one receipt video may cost (settings ``ORDERSEAL_SIGHTING_*``)."""

    max_frames: int = 40
    max_width_px: int = 640
    budget_seconds: float = 8.0
    gap_bound_ms: int = 1000
    max_frame_pixels: int = 3840 * 2160


def sight_label(
    path: Path, *, is_own_label: Callable[[str], bool], budget: SightingBudget
) -> LabelSighting:
    """Sample the video at ``path`` for the session's own label and check its continuity.

    Args:
        path: a sealable video (MP4 or QuickTime).
        is_own_label: whether a decoded QR text is this session's own label.
        budget: the sampling bounds.

    Returns:
        The sighting, to seal into the assertion. A video FFmpeg cannot read (c2pa still seals
        it) is sealed as nothing sampled, incomplete and discontinuous: the verifier sends it
        to review rather than the upload being refused.
    """
    try:
        continuity = _continuity(path, gap_bound_ms=budget.gap_bound_ms)
        return _sample(path, continuity, is_own_label=is_own_label, budget=budget)
    except (av.error.FFmpegError, ValueError, IndexError):
        return _unreadable(budget)


def _unreadable(budget: SightingBudget) -> LabelSighting:
    continuity = Continuity(
        frames=0,
        duration_ms=0,
        monotonic=False,
        max_gap_ms=0,
        gap_bound_ms=budget.gap_bound_ms,
        median_interval_ms=0.0,
        rate_consistent=False,
        ok=False,
    )
    return LabelSighting(
        frames_sampled=0,
        interval_ms=0,
        seen=False,
        seen_ms=0,
        other_labels=0,
        complete=False,
        continuity=continuity,
    )


def _video(container: Any) -> Any:
    streams = container.streams.video
    if not streams:
        raise ValueError("no video stream")
    return streams[0]


def _continuity(path: Path, *, gap_bound_ms: int) -> Continuity:
    """The timeline from packet timestamps alone (demuxing is cheap; nothing is decoded)."""
    with av.open(str(path)) as container:
        stream = _video(container)
        base: Fraction = stream.time_base
        pts: list[float] = []
        dts: list[int] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet at the end
            if packet.pts is not None:
                pts.append(float(packet.pts * base) * _MS)
            if packet.dts is not None:
                dts.append(packet.dts)
    pts.sort()
    steps = [b - a for a, b in itertools.pairwise(pts)]
    monotonic = all(b > a for a, b in itertools.pairwise(dts))
    if not steps:
        return Continuity(
            frames=len(pts),
            duration_ms=0,
            monotonic=monotonic,
            max_gap_ms=0,
            gap_bound_ms=gap_bound_ms,
            median_interval_ms=0.0,
            rate_consistent=False,
            ok=False,
        )
    duration = pts[-1] - pts[0]
    median = statistics.median(steps)
    average = duration / len(steps)
    consistent = median > 0 and 1 / RATE_FACTOR <= average / median <= RATE_FACTOR
    max_gap = max(steps)
    return Continuity(
        frames=len(pts),
        duration_ms=round(duration),
        monotonic=monotonic,
        max_gap_ms=round(max_gap),
        gap_bound_ms=gap_bound_ms,
        median_interval_ms=round(median, 3),
        rate_consistent=consistent,
        ok=monotonic and consistent and max_gap <= gap_bound_ms and all(s > 0 for s in steps),
    )


def _sample(
    path: Path,
    continuity: Continuity,
    *,
    is_own_label: Callable[[str], bool],
    budget: SightingBudget,
) -> LabelSighting:
    interval_ms = max(MIN_INTERVAL_MS, continuity.duration_ms // max(1, budget.max_frames))
    deadline = time.thread_time() + budget.budget_seconds
    sampled = seen = others = 0
    first_seen: int | None = None
    complete = True
    with av.open(str(path)) as container:
        stream = _video(container)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > budget.max_frame_pixels:
            complete = False
        else:
            stream.thread_type = "AUTO"
            start: float | None = None
            next_at = 0.0
            for frame in container.decode(stream):
                if time.thread_time() > deadline:
                    complete = False
                    break
                if sampled >= budget.max_frames:
                    break  # the interval spreads them over the whole video
                if frame.time is None:
                    continue
                start = frame.time if start is None else start
                at_ms = (frame.time - start) * _MS
                if at_ms < next_at:
                    continue
                next_at = at_ms + interval_ms
                sampled += 1
                own, other = _labels_in(frame, budget.max_width_px, is_own_label)
                if own:
                    seen += 1
                    first_seen = round(at_ms) if first_seen is None else first_seen
                elif other:
                    others += 1
    return LabelSighting(
        frames_sampled=sampled,
        interval_ms=interval_ms,
        seen=seen > 0,
        first_seen_ms=first_seen,
        seen_ms=seen * interval_ms,
        other_labels=others,
        complete=complete,
        continuity=continuity,
    )


def _labels_in(
    frame: Any, max_width_px: int, is_own_label: Callable[[str], bool]
) -> tuple[bool, bool]:
    """(this session's label is in the frame, some other QR is)."""
    width = min(max_width_px, frame.width)
    height = max(2, round(frame.height * width / frame.width))
    grey = frame.reformat(width=width, height=height, format="gray").to_ndarray()
    texts = [
        result.text
        for result in zxingcpp.read_barcodes(
            grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
        if result.valid
    ]
    own = any(is_own_label(text) for text in texts)
    return own, bool(texts) and not own
