"""WebM to MP4 conversion (PyAV) for browsers whose MediaRecorder records only WebM.

c2pa cannot seal WebM, so the service re-encodes such uploads to H.264/AAC in MP4 before
sealing. The SHA-256 recorded for the capture stays the hash of the bytes the device sent
(and signed): the conversion is the service's own step, done under its seal.

Frames are decoded and encoded one at a time, so memory does not grow with the video length.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import av

from capture.errors import CaptureError
from infra.media import ReceivedFile

__all__ = ["TRANSCODED_MEDIA_TYPES", "TranscodeError", "webm_to_mp4"]

#: Sniffed media types converted to MP4 before sealing.
TRANSCODED_MEDIA_TYPES = frozenset({"video/webm"})
_MAX_PIXELS = 3840 * 2160  # refuse absurd frame sizes before allocating them
_AUDIO_RATE = 48_000
_SLACK_BYTES = 16 * 1024 * 1024


class TranscodeError(CaptureError):
    """The upload claims to be WebM video but cannot be converted."""

    code = "transcode_failed"


def _even(value: int) -> int:
    # H.264 in 4:2:0 needs even dimensions.
    return max(2, value - value % 2)


def webm_to_mp4(received: ReceivedFile, *, max_bytes: int | None = None) -> ReceivedFile:
    """Convert a received WebM into an MP4 next to it, then delete the WebM.

    Args:
        received: the WebM upload as streamed to disk (consumed on success).
        max_bytes: the largest MP4 we accept to seal; by default eight times the WebM
            plus 16 MiB (H.264 at our settings stays well under that for camera footage).

    Returns:
        The MP4 file; its ``sha256`` stays the hash of what the device sent.

    Raises:
        TranscodeError: no video stream, oversized frames, undecodable input or a result
            above ``max_bytes``.
    """
    limit = max_bytes if max_bytes is not None else received.size * 8 + _SLACK_BYTES
    fd, name = tempfile.mkstemp(dir=received.path.parent, prefix="transcode-", suffix=".mp4")
    os.close(fd)
    target = Path(name)
    try:
        _convert(received.path, target)
        size = target.stat().st_size
        if size > limit:
            raise TranscodeError("the converted video exceeds the size limit")
    except TranscodeError:
        target.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        target.unlink(missing_ok=True)
        raise TranscodeError("expected a decodable WebM video") from exc
    received.path.unlink(missing_ok=True)
    return ReceivedFile(path=target, size=size, sha256=received.sha256)


def _convert(source: Path, target: Path) -> None:
    with av.open(str(source), mode="r") as inp, av.open(str(target), mode="w", format="mp4") as out:
        if not inp.streams.video:
            raise TranscodeError("expected a video stream in the WebM upload")
        video_in = inp.streams.video[0]
        width, height = video_in.codec_context.width, video_in.codec_context.height
        if width <= 0 or height <= 0 or width * height > _MAX_PIXELS:
            raise TranscodeError(f"expected frames up to 3840x2160, found {width}x{height}")
        video_out = out.add_stream("libx264", rate=30)
        video_out.width, video_out.height = _even(width), _even(height)
        video_out.pix_fmt = "yuv420p"
        video_out.time_base = video_in.time_base
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        audio_out = out.add_stream("aac", rate=_AUDIO_RATE) if audio_in is not None else None
        streams = [s for s in (video_in, audio_in) if s is not None]
        last_pts = -1
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    if frame.width * frame.height > _MAX_PIXELS:
                        raise TranscodeError("expected frames up to 3840x2160")
                    image = frame.reformat(
                        width=video_out.width, height=video_out.height, format="yuv420p"
                    )
                    # MediaRecorder timestamps can repeat; MP4 needs them strictly increasing.
                    pts = (
                        frame.pts
                        if frame.pts is not None and frame.pts > last_pts
                        else last_pts + 1
                    )
                    image.pts, image.time_base, last_pts = pts, video_in.time_base, pts
                    out.mux(video_out.encode(image))
                elif isinstance(frame, av.AudioFrame) and audio_out is not None:
                    frame.pts = None
                    out.mux(audio_out.encode(frame))
        out.mux(video_out.encode(None))
        if audio_out is not None:
            out.mux(audio_out.encode(None))
