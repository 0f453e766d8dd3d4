"""WebM to MP4 conversion (PyAV) for browsers whose MediaRecorder records only WebM.

c2pa cannot seal WebM, so the service re-encodes such uploads to H.264/AAC in MP4 before
sealing. The SHA-256 recorded for the capture stays the hash of the bytes the device sent
(and signed): the conversion is the service's own step, done under its seal.

A WebM is an amplifier: a few hundred kilobytes of static 4K frames decode to gigabytes of
pixels and seconds of CPU (issue 14). So the conversion runs under a :class:`TranscodeBudget`:

- the container and stream headers are checked before any frame is decoded (frame size,
  declared frame count, duration and frame rate times pixels);
- while decoding, frames, decoded pixels per second of video and elapsed time are counted
  and the conversion stops past the budget (headers can lie or be absent);
- it runs in a child process (``python -m capture.transcode``) with ``RLIMIT_AS`` set to
  the memory budget, a lower CPU priority and a wall-clock timeout, so a bomb can neither
  raise the server's own memory nor hold its CPU.

Frames are decoded and encoded one at a time, so memory does not grow with the video length.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from capture.errors import CaptureError
from infra.media import ReceivedFile

__all__ = [
    "TRANSCODED_MEDIA_TYPES",
    "TranscodeBudget",
    "TranscodeBudgetError",
    "TranscodeError",
    "VideoTooLargeError",
    "webm_to_mp4",
]

#: Sniffed media types converted to MP4 before sealing.
TRANSCODED_MEDIA_TYPES = frozenset({"video/webm"})
_MIB = 1024 * 1024
_AUDIO_RATE = 48_000
_SLACK_BYTES = 16 * _MIB
_MAX_SIDE = 8192  # H.264 level limits; anything wider is not a camera
# The child's own start (interpreter, PyAV import) is not part of the video's budget.
_START_SLACK_SECONDS = 10.0


class TranscodeError(CaptureError):
    """The upload claims to be WebM video but cannot be converted."""

    code = "transcode_failed"


class VideoTooLargeError(TranscodeError):
    """The video's frames, duration or pixel rate exceed what the service converts."""

    code = "video_too_large"


class TranscodeBudgetError(TranscodeError):
    """The conversion ran out of its wall-clock time or memory and was stopped."""

    code = "transcode_budget_exceeded"


@dataclass(frozen=True)
class TranscodeBudget:
    """Limits of one WebM conversion (settings ``transcode_*``, docs/settings.md)."""

    max_frame_pixels: int = 1920 * 1080
    max_frames: int = 18_000
    max_duration_seconds: float = 300.0
    max_pixels_per_second: int = 1920 * 1080 * 60
    timeout_seconds: float = 120.0
    memory_bytes: int = 1024 * _MIB

    @property
    def max_total_pixels(self) -> int:
        """Decoded pixels over the whole video."""
        return int(self.max_pixels_per_second * self.max_duration_seconds)


def _even(value: int) -> int:
    # H.264 in 4:2:0 needs even dimensions.
    return max(2, value - value % 2)


def webm_to_mp4(
    received: ReceivedFile,
    *,
    budget: TranscodeBudget | None = None,
    max_bytes: int | None = None,
) -> ReceivedFile:
    """Convert a received WebM into an MP4 next to it, then delete the WebM.

    Args:
        received: the WebM upload as streamed to disk (consumed on success).
        budget: frame, duration, pixel-rate, time and memory limits; the defaults when None.
        max_bytes: the largest MP4 we accept to seal; by default eight times the WebM
            plus 16 MiB (H.264 at our settings stays well under that for camera footage).

    Returns:
        The MP4 file; its ``sha256`` stays the hash of what the device sent.

    Raises:
        VideoTooLargeError: frames too large or too many, too long, or too many pixels per
            second, from the headers or counted while decoding (``video_too_large``).
        TranscodeBudgetError: the child ran past its time or memory (``transcode_budget_exceeded``).
        TranscodeError: no video stream, undecodable input or a result above ``max_bytes``.
    """
    budget = budget or TranscodeBudget()
    limit = max_bytes if max_bytes is not None else received.size * 8 + _SLACK_BYTES
    fd, name = tempfile.mkstemp(dir=received.path.parent, prefix="transcode-", suffix=".mp4")
    os.close(fd)
    target = Path(name)
    try:
        _run_child(received.path, target, budget)
        size = target.stat().st_size
        if size > limit:
            raise TranscodeError("the converted video exceeds the size limit")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    received.path.unlink(missing_ok=True)
    return ReceivedFile(path=target, size=size, sha256=received.sha256)


_ERRORS: dict[str, type[TranscodeError]] = {
    TranscodeError.code: TranscodeError,
    VideoTooLargeError.code: VideoTooLargeError,
    TranscodeBudgetError.code: TranscodeBudgetError,
}


def _run_child(source: Path, target: Path, budget: TranscodeBudget) -> None:
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        # Each glibc malloc arena reserves 64 MiB of address space; RLIMIT_AS counts it.
        "MALLOC_ARENA_MAX": "2",
    }
    command = [
        sys.executable,
        "-m",
        "capture.transcode",
        str(source),
        str(target),
        json.dumps(asdict(budget)),
    ]
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter and module, paths we made
            command,
            capture_output=True,
            timeout=budget.timeout_seconds + _START_SLACK_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TranscodeBudgetError(
            f"expected the conversion to finish within {budget.timeout_seconds:g} s"
        ) from exc
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError, UnicodeDecodeError):
        result = {}
    if done.returncode == 0 and result.get("ok") is True:
        return
    code = result.get("code")
    if done.returncode == 0 and isinstance(code, str) and code in _ERRORS:
        raise _ERRORS[code](str(result.get("message", "the video cannot be converted")))
    # Killed by a signal or out of memory: the budget stopped it (a crash is treated alike).
    raise TranscodeBudgetError(
        f"expected the conversion to fit in {budget.memory_bytes // _MIB} MiB and "
        f"{budget.timeout_seconds:g} s"
    )


# Child side ---------------------------------------------------------------------------


def _answer(result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def _child_main(argv: list[str]) -> int:
    """Entry point of the child process: limits first, then the conversion; JSON on stdout."""
    import resource

    source, target, raw = argv
    budget = TranscodeBudget(**json.loads(raw))
    resource.setrlimit(resource.RLIMIT_AS, (budget.memory_bytes, budget.memory_bytes))
    cpu = int(budget.timeout_seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(OSError):
        os.nice(10)  # station seals on the same cores go first
    try:
        import av

        try:
            _convert(Path(source), Path(target), budget)
        except av.FFmpegError as exc:
            if isinstance(exc, av.MemoryError):
                raise MemoryError from exc
            raise TranscodeError("expected a decodable WebM video") from exc
        except (ValueError, OSError) as exc:
            raise TranscodeError("expected a decodable WebM video") from exc
    except TranscodeError as exc:
        _answer({"code": exc.code, "message": exc.message})
        return 0
    except MemoryError:
        _answer({"code": TranscodeBudgetError.code, "message": "out of memory"})
        return 0
    _answer({"ok": True})
    return 0


def _check_headers(inp: Any, video_in: Any, budget: TranscodeBudget) -> None:
    """Refuse from the container and stream headers, before any frame is decoded."""
    import av

    width, height = video_in.codec_context.width, video_in.codec_context.height
    if width <= 0 or height <= 0:
        raise TranscodeError(f"expected a video frame size, found {width}x{height}")
    pixels = width * height
    if pixels > budget.max_frame_pixels or max(width, height) > _MAX_SIDE:
        raise VideoTooLargeError(
            f"expected frames of at most {budget.max_frame_pixels} pixels, found {width}x{height}"
        )
    if video_in.frames and video_in.frames > budget.max_frames:
        raise VideoTooLargeError(
            f"expected at most {budget.max_frames} frames, found {video_in.frames}"
        )
    durations = [inp.duration / av.time_base if inp.duration else 0.0]
    if video_in.duration and video_in.time_base:
        durations.append(float(video_in.duration * video_in.time_base))
    if max(durations) > budget.max_duration_seconds:
        raise VideoTooLargeError(
            f"expected at most {budget.max_duration_seconds:g} s of video, "
            f"found {max(durations):.0f} s"
        )
    rate = video_in.average_rate or video_in.guessed_rate
    if rate and float(rate) * pixels > budget.max_pixels_per_second:
        raise VideoTooLargeError(
            f"expected at most {budget.max_pixels_per_second} pixels per second, "
            f"found {float(rate):g} frames/s of {width}x{height}"
        )


class _Meter:
    """Counts frames, pixels, video time and wall-clock time while decoding."""

    def __init__(self, budget: TranscodeBudget, time_base: Any) -> None:
        self.budget = budget
        self.time_base = time_base
        self.frames = 0
        self.pixels = 0
        self.first_pts: int | None = None
        self.started = time.monotonic()

    def count(self, width: int, height: int, pts: int | None) -> None:
        budget = self.budget
        self.frames += 1
        self.pixels += width * height
        if width * height > budget.max_frame_pixels:
            raise VideoTooLargeError(f"expected frames of at most {budget.max_frame_pixels} pixels")
        if self.frames > budget.max_frames:
            raise VideoTooLargeError(f"expected at most {budget.max_frames} frames")
        seconds = 0.0
        if pts is not None and self.time_base:
            self.first_pts = pts if self.first_pts is None else min(self.first_pts, pts)
            seconds = float((pts - self.first_pts) * self.time_base)
        if seconds > budget.max_duration_seconds:
            raise VideoTooLargeError(f"expected at most {budget.max_duration_seconds:g} s of video")
        # Per second of video time, counted from the first second on (a clip's opening frames
        # all sit near 0 s); timestamps squeezed together to pack frames are caught here.
        if self.pixels > budget.max_pixels_per_second * max(1.0, seconds):
            raise VideoTooLargeError(
                f"expected at most {budget.max_pixels_per_second} pixels per second of video"
            )
        if time.monotonic() - self.started > budget.timeout_seconds:
            raise TranscodeBudgetError(
                f"expected the conversion to finish within {budget.timeout_seconds:g} s"
            )


def _convert(source: Path, target: Path, budget: TranscodeBudget) -> None:
    import av

    with av.open(str(source), mode="r") as inp, av.open(str(target), mode="w", format="mp4") as out:
        if not inp.streams.video:
            raise TranscodeError("expected a video stream in the WebM upload")
        video_in = inp.streams.video[0]
        _check_headers(inp, video_in, budget)
        width, height = video_in.codec_context.width, video_in.codec_context.height
        video_out = out.add_stream("libx264", rate=30)
        video_out.width, video_out.height = _even(width), _even(height)
        video_out.pix_fmt = "yuv420p"
        # The encoder keeps the source's time base: at 1/30 s, frames closer than 33 ms (60 fps
        # recorders) collapsed onto one timestamp and the muxer refused the file.
        time_base = video_in.time_base or Fraction(1, 1000)
        video_out.time_base = video_out.codec_context.time_base = time_base
        # One encoder thread and a short lookahead: bounded memory, one core at most.
        video_out.codec_context.options = {"preset": "veryfast", "threads": "1"}
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        audio_out = out.add_stream("aac", rate=_AUDIO_RATE) if audio_in is not None else None
        streams = [s for s in (video_in, audio_in) if s is not None]
        meter = _Meter(budget, video_in.time_base)
        last_pts = -1
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    meter.count(frame.width, frame.height, frame.pts)
                    image = frame.reformat(
                        width=video_out.width, height=video_out.height, format="yuv420p"
                    )
                    # MediaRecorder timestamps can repeat; MP4 needs them strictly increasing.
                    pts = (
                        frame.pts
                        if frame.pts is not None and frame.pts > last_pts
                        else last_pts + 1
                    )
                    image.pts, image.time_base, last_pts = pts, time_base, pts
                    out.mux(video_out.encode(image))
                elif isinstance(frame, av.AudioFrame) and audio_out is not None:
                    frame.pts = None
                    out.mux(audio_out.encode(frame))
        out.mux(video_out.encode(None))
        if audio_out is not None:
            out.mux(audio_out.encode(None))


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
