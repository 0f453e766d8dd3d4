"""The ``org.orderseal.capture`` assertion vocabulary (pure data; see docs/assertion.md).

Shared with the verifier, which parses what the sealer wrote.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from evidence.label_entry import LabelEntry
from evidence.sighting import LabelSighting
from keys.attestation import parse_aware_time

__all__ = [
    "AI_SOURCE_TYPES",
    "ASSERTION_LABEL",
    "ASSERTION_VERSION",
    "DIGITAL_CAPTURE",
    "CaptureAssertion",
    "ChainLink",
    "DeviceAttestation",
    "OfflinePacking",
    "Stage",
]

ASSERTION_LABEL = "org.orderseal.capture"
ASSERTION_VERSION = 1
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
#: IPTC digital source types that declare generative-AI content (C2PA 2.1 §18.13.2.1).
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})


def _aware(text: str) -> str:
    parse_aware_time(text)  # ValueError becomes a ValidationError
    return text


#: An RFC 3339 time with its UTC offset, kept as the exact text that was sealed. A naive time
#: (which manifests from outside may carry) fails validation, never a comparison later.
AwareTimeText = Annotated[str, AfterValidator(_aware)]


class Stage(StrEnum):
    """Where in the order's life the capture was made."""

    SHIPMENT = "shipment"
    RECEIPT = "receipt"
    #: The buyer's photos for a product review, after the receipt (issue 19 §3): they chain
    #: to the buyer's own receipt evidence of the order.
    REVIEW = "review"


class DeviceAttestation(BaseModel):
    """The device's own signed statement about the bytes it sent."""

    model_config = ConfigDict(frozen=True)

    statement: str = Field(description="canonical JSON the device signed")
    signature: str = Field(description="base64url DER ECDSA P-256 signature")
    certificate_pem: str


class ChainLink(BaseModel):
    """One piece of earlier evidence a seal chains back to: shipment evidence for a receipt,
    the buyer's receipt evidence for a review."""

    model_config = ConfigDict(frozen=True)

    evidence_id: str
    manifest_id: str
    content_sha256: str


class OfflinePacking(BaseModel):
    """A shipment capture packed while the service was unreachable, sealed at the station's
    sync (issue 18 §1): the station's local session and both clocks as the sync measured them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    local_session_id: str
    station_closed_at: AwareTimeText = Field(
        description="station clock when it printed the provisional label"
    )
    station_clock: AwareTimeText = Field(description="station clock sent with the sync")
    service_clock: AwareTimeText = Field(description="service clock that received the sync")
    clock_gap_seconds: float = Field(description="service_clock - station_clock")


class CaptureAssertion(BaseModel):
    """What OrderSeal binds into every sealed file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = ASSERTION_VERSION
    order_id: str
    stage: Stage
    device_id: str
    session_id: str
    captured_at: AwareTimeText = Field(description="device clock, RFC 3339 UTC")
    received_at: AwareTimeText = Field(description="service clock at intake, RFC 3339 UTC")
    content_sha256: str = Field(description="SHA-256 of the bytes as received from the device")
    media_type: str
    serials: tuple[str, ...] = ()
    attestation: DeviceAttestation | None = None
    chain: tuple[ChainLink, ...] = ()
    #: Receipt videos sealed since issue 19 §2; absent elsewhere and on older seals.
    label_sighting: LabelSighting | None = None
    #: Receipts sealed since issue 18 §4: how the buyer's page got the label token (declared
    #: by the page, so it only ever downgrades; ``evidence/label_entry.py``).
    label_entry: LabelEntry | None = None
    #: Shipment captures packed offline (issue 18 §1); absent on every other seal.
    offline: OfflinePacking | None = None
    #: Receipts opened by scanning a station's provisional label after its sync (issue 18 §1).
    label_provisional: bool | None = None

    def to_assertion(self) -> dict[str, Any]:
        """The ``assertions[]`` entry for a c2pa manifest definition."""
        data = self.model_dump(mode="json")
        if self.label_sighting is None:
            del data["label_sighting"]  # seals without one keep their earlier shape
        if self.label_entry is None:
            del data["label_entry"]
        for optional in ("offline", "label_provisional"):
            if data[optional] is None:
                del data[optional]
        return {"label": ASSERTION_LABEL, "data": data}
