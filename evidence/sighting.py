"""What the sealer saw in a receipt video: the parcel's own label, and the timeline's continuity.

Pure data, sealed inside the ``org.orderseal.capture`` assertion as ``label_sighting`` and read
back by the verifier (docs/assertion.md). Times are milliseconds from the video's first frame.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Continuity", "LabelSighting"]


class Continuity(BaseModel):
    """The video's frame timestamps: monotonic, without gaps past the bound, steady rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int = Field(ge=0, description="video frames (packets) in the stream")
    duration_ms: int = Field(ge=0, description="last minus first presentation time")
    monotonic: bool = Field(description="decode timestamps strictly increase")
    max_gap_ms: int = Field(ge=0, description="largest step between presentation times")
    gap_bound_ms: int = Field(ge=0, description="the bound a step may not exceed")
    median_interval_ms: float = Field(ge=0, description="median step between frames")
    rate_consistent: bool = Field(
        description="the average frame rate is within the documented factor of the median's"
    )
    ok: bool = Field(description="monotonic, no gap past the bound, consistent rate")


class LabelSighting(BaseModel):
    """Whether sampled frames showed the session's own parcel label, when and for how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames_sampled: int = Field(ge=0, description="frames decoded and searched for QR codes")
    interval_ms: int = Field(ge=0, description="time between sampled frames")
    seen: bool = Field(description="a sampled frame showed this order's own signed label")
    first_seen_ms: int | None = Field(default=None, ge=0, description="first such frame")
    seen_ms: int = Field(ge=0, description="frames that showed it times the interval")
    other_labels: int = Field(
        ge=0, description="sampled frames showing a QR that is not this order's label"
    )
    complete: bool = Field(description="the whole video was sampled within the budget")
    continuity: Continuity
