"""Request model of the review-stage routes (issue 19 §3); answers reuse ``SessionOut`` and
``EvidenceOut`` of ``capture.schemas``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReviewSessionIn"]


class ReviewSessionIn(BaseModel):
    """The buyer's own order they want to add review photos to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
