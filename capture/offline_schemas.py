"""Request and answer models of the offline packing routes (issue 18 §1)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["AssignmentOut", "ProvisionalCloseOut", "ProvisionalSessionIn", "ProvisionalSessionOut"]


class AssignmentOut(BaseModel):
    """The signed list of orders a station may pack offline."""

    #: ``OSA1.<payload>.<signature>``, signed with the label key; presented again at sync.
    token: str
    station_id: str
    merchant_id: str
    order_ids: list[str]
    issued_at: datetime
    expires_at: datetime
    #: The label key's certificate chain, leaf first (PEM): the station checks the list.
    certificate_chain_pem: str
    #: The provisional label's QR is ``<label_base_url>/capture#t=<token>``.
    label_base_url: str


class ProvisionalSessionIn(BaseModel):
    """A station's packing session made offline, presented at sync."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The provisional label (``OSP1.…``) the station printed, signed by its device key.
    provisional_token: str = Field(min_length=1, max_length=2048)
    #: The assignment list (``OSA1.…``) the station packed from.
    assignment_token: str = Field(min_length=1, max_length=262_144)
    #: The station clock when it sent this request (the gap to ours is recorded).
    station_clock: AwareDatetime


class ProvisionalSessionOut(BaseModel):
    """The official shipment session that replaces the station's local one."""

    local_session_id: str
    session_id: str
    order_id: str
    expires_at: datetime
    clock_gap_seconds: float
    #: True when this answers an earlier sync of the same provisional session.
    replayed: bool


class ProvisionalCloseOut(BaseModel):
    """The official label token that replaced the provisional one (reprint it if asked)."""

    local_session_id: str
    session_id: str
    order_id: str
    token: str
    label_png_url: str
    replayed: bool
