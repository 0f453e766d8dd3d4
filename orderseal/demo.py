"""The demo scenario, walked through the HTTP API as the real clients would.

Shipment (station) → label QR → receipt (buyer app) → an honest dispute (allow) and four
forged ones (an unsigned image, a tampered receipt photo, a staged photo the buyer signed with
their own app key wearing the honest receipt's seal, a photo reused on another order); then
the honest receipt is verified again on its own order, as ``orderseal verify`` does (allow:
someone else's misuse does not taint it).

The parcels are a seller's (the ``demo-seller`` merchant, with its own packing station): at the
end the seller's admin lists the disputes on its order, each with whose side the verdict points
to, and answers one with a statement pointing to its sealed packing video.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from clients.client import (
    BuyerClient,
    DeviceKey,
    PlatformClient,
    StationClient,
)
from infra.errors import OrderSealError
from keys.backends.pem import save_private_key
from keys.profile import CertificateRole
from keys.store import KeyStore
from orderseal.forgery import (
    CopiedSeal,
    ForgeryRefusedError,
    legacy_device_certificate,
    sign_with_device_key,
)
from orderseal.samples import label_in_view, make_jpeg, make_mp4

if TYPE_CHECKING:
    from verifier.disputes import DisputeService

__all__ = [
    "AgentStep",
    "DisputeOutcome",
    "ScenarioResult",
    "SellerStep",
    "decode_label",
    "forge_with_app_key",
    "run_scenario",
    "tamper_jpeg",
]

STATION_ID = "station-demo-01"
#: The demo's seller (a merchant tenant) and its packing station.
SELLER_ID = "demo-seller"
SELLER_STATION_ID = "station-seller-01"


@dataclass(frozen=True)
class DisputeOutcome:
    """One dispute of the scenario with what it should and did get.

    A re-verification without a dispute (``orderseal verify``) has no dispute id or report:
    both are empty strings.
    """

    name: str
    dispute_id: str
    expected: set[str]
    decision: str
    reasons: tuple[str, ...]
    report_url: str

    @property
    def as_expected(self) -> bool:
        """Whether the decision is one of the expected ones."""
        return self.decision in self.expected


@dataclass(frozen=True)
class AgentStep:
    """The agent's decision on the scenario's ``review`` dispute, and a report link to it."""

    dispute_id: str
    action: str
    decision: str
    note: str
    agent: str
    #: A signed read-only link to the dispute's report (relative to the API's base URL).
    report_link: str
    report_link_expires_at: str


@dataclass(frozen=True)
class SellerStep:
    """The seller's view of its disputed order, and its answer to one dispute."""

    merchant_id: str
    #: (dispute id, decision, attribution or "-", reason codes) of each dispute on the order.
    disputes: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    answered_dispute_id: str
    response_id: str
    statement: str
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScenarioResult:
    """Everything the demo printed, for the CLI and the end-to-end test."""

    order_id: str
    label_png: Path
    shipment_evidence: tuple[str, ...]
    receipt_evidence: tuple[str, ...]
    disputes: tuple[DisputeOutcome, ...]
    #: None only if no dispute of the scenario came out ``review``.
    agent_step: AgentStep | None = None
    seller_step: SellerStep | None = None
    #: The honest receipt photo re-sent through a chat app (recompressed, its Content
    #: Credentials stripped), filed last: traced to its sealed original (manifest_recovered).
    recovered: DisputeOutcome | None = None
    #: A receipt video recorded without the parcel's label in view (sealed all the same),
    #: filed on its own: nothing shows the parcel was in the shot (label_not_in_capture).
    unlabelled: DisputeOutcome | None = None

    @property
    def extra_disputes(self) -> tuple[DisputeOutcome, ...]:
        """The disputes filed after the agent's and the seller's steps."""
        return tuple(d for d in (self.recovered, self.unlabelled) if d is not None)

    @property
    def ok(self) -> bool:
        """Every verdict matched its expectation."""
        return all(d.as_expected for d in (*self.disputes, *self.extra_disputes))


def _device(
    home: Path,
    device_id: str,
    admin: PlatformClient,
    kind: str,
    owner: str | None,
    merchant_id: str | None = None,
) -> DeviceKey:
    """Load the device's own key from its folder, enrolling it (CSR → admin) the first time."""
    folder = home / "devices" / device_id
    key_path, cert_path = folder / "device.key", folder / "device.crt"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 - we wrote it
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1):
            return DeviceKey(device_id, key, cert)
    device = DeviceKey.generate(
        f"{device_id}-{secrets.token_hex(3)}" if key_path.exists() else device_id
    )
    folder.mkdir(parents=True, exist_ok=True)
    key_path.unlink(missing_ok=True)
    save_private_key(device.private_key, key_path)
    body = {
        "device_id": device.device_id,
        "kind": kind,
        "owner_id": owner,
        "csr_pem": device.csr_pem(),
    }
    if merchant_id is not None:
        body["merchant_id"] = merchant_id
    enrolled = admin.call("POST", "/v1/devices", json=body)
    cert_path.write_text(enrolled["certificate_pem"])
    return DeviceKey(
        device.device_id, device.private_key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    )


def decode_label(png: Path) -> str:
    """Read the QR on a label PNG with a real decoder (what the buyer's camera does)."""
    with Image.open(png) as image:
        results = zxingcpp.read_barcodes(image)
    texts = [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]
    if not texts:
        raise ValueError("no QR code found on the label")
    return str(texts[0])


def recompress_jpeg(source: Path, dest: Path, *, quality: int = 50) -> Path:
    """What a chat app does to a photo: decoded and saved again, the manifest gone."""
    with Image.open(source) as image:
        image.convert("RGB").save(dest, format="JPEG", quality=quality)
    return dest


def tamper_jpeg(source: Path, dest: Path) -> Path:
    """Copy a JPEG and change bytes inside its image data (the forger's edit)."""
    data = bytearray(source.read_bytes())
    for offset in range(len(data) - 4000, len(data) - 3000, 97):
        data[offset] ^= 0x55
    dest.write_bytes(bytes(data))
    return dest


def forge_with_app_key(
    home: Path, buyer_key: DeviceKey, honest: Path, staged: Path, dest: Path
) -> Path:
    """The buyer's attack: sign a staged photo with their own app key, wearing an honest seal.

    The forged claim copies the honest receipt's manifest id, its ``org.orderseal.capture``
    assertion and its shipment ingredients. c2pa refuses today's device certificates as claim
    signers, so when it does the buyer uses the certificate an install enrolled before the
    device EKU change still holds for the same key (old leaf profile, same device CA).
    """
    keys = KeyStore(home / "keys")
    authorities = tuple(c for c in keys.device_ca_chain() if c.subject != c.issuer)
    copied = CopiedSeal.from_sealed(honest, "image/jpeg")
    trust_pem = keys.trust_list().pem
    if buyer_key.certificate is None:
        raise ValueError("expected an enrolled buyer app key with its certificate")
    try:
        return sign_with_device_key(
            staged,
            dest,
            media_type="image/jpeg",
            private_key=buyer_key.private_key,
            chain=(buyer_key.certificate, *authorities),
            trust_pem=trust_pem,
            copied=copied,
        )
    except ForgeryRefusedError:
        current = buyer_key.certificate
        legacy = legacy_device_certificate(
            keys.load_ca("device-ca"),
            buyer_key.private_key.public_key(),
            current.subject,
            role=CertificateRole.BUYER,
            now=datetime.now(UTC),
            validity=current.not_valid_after_utc - datetime.now(UTC),
        )
        return sign_with_device_key(
            staged,
            dest,
            media_type="image/jpeg",
            private_key=buyer_key.private_key,
            chain=(legacy, *authorities),
            trust_pem=trust_pem,
            copied=copied,
        )


def _reverify(
    verifier: DisputeService, name: str, order_id: str, buyer_id: str, files: list[Path]
) -> DisputeOutcome:
    """What ``orderseal verify`` answers for the files on their own order (no dispute)."""
    from verifier.facts import AttachedFile

    attached = [
        AttachedFile(path, path.name, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in files
    ]
    verdict = verifier.verify_files(
        attached, order_id=order_id, buyer_id=buyer_id, now=datetime.now(UTC)
    )
    return DisputeOutcome(
        name=name,
        dispute_id="",
        expected={"allow"},
        decision=verdict.decision.value,
        reasons=tuple(r.code.value for r in verdict.reasons),
        report_url="",
    )


def _seed(order_id: str, salt: int) -> int:
    """Every run photographs a different parcel: reuse detection must not see the demo itself."""
    return int.from_bytes(hashlib.sha256(f"{order_id}:{salt}".encode()).digest()[:4], "big")


def _order(platform: PlatformClient, order_id: str, buyer_id: str) -> None:
    """Register one of the demo seller's orders."""
    delivery = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "items": [{"sku": "CRAB-LIVE-2KG", "quantity": 1}],
            "declared_value": "89.90",
            "currency": "USD",
            "carrier": "DemoPost",
            "tracking_number": f"DP{secrets.randbelow(10**9):09d}",
            "expected_delivery": delivery,
            "merchant_id": SELLER_ID,
        },
    )


def _ship(station: StationClient, order_id: str, work: Path, home: Path) -> tuple[list[str], Path]:
    session = station.open_session(order_id)
    sealed = []
    for index in (1, 2):
        photo = make_jpeg(
            work / f"pack-{index}.jpg",
            seed=_seed(order_id, index),
            caption=f"{order_id} packing {index}",
        )
        sealed.append(station.upload(session, photo, title=photo.name)["evidence_id"])
    video = make_mp4(
        work / "packing.mp4", seed=_seed(order_id, 7), seconds=2, caption=f"{order_id} packing"
    )
    sealed.append(station.upload(session, video, title=video.name)["evidence_id"])
    station.close(session)
    label = home / "labels" / f"{order_id}.png"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_bytes(station.label_png(order_id))
    return sealed, label


def _dispute(
    platform: PlatformClient,
    buyer_id: str,
    name: str,
    order_id: str,
    files: list[tuple[Path, str]],
    expected: set[str],
) -> DisputeOutcome:
    dispute = platform.file_dispute(
        order_id=order_id, buyer_id=buyer_id, claim_type="damaged", amount="89.90", currency="USD"
    )
    for path, filename in files:
        platform.attach_file(dispute["dispute_id"], path, filename=filename)
    decided = platform.decide(dispute["dispute_id"])
    verdict = decided["verdict"]
    if verdict is None:  # a decided dispute always carries one: a service bug, not a demo case
        raise OrderSealError("expected a verdict on the decided dispute, found none")
    return DisputeOutcome(
        name=name,
        dispute_id=decided["dispute_id"],
        expected=expected,
        decision=verdict["decision"],
        reasons=tuple(r["code"] for r in verdict["reasons"]),
        report_url=decided["report_url"],
    )


def _agent_decides(
    agent: PlatformClient, platform: PlatformClient, review: DisputeOutcome
) -> AgentStep:
    """An agent denies the review (a photo with no provenance); the platform links the report."""
    note = "The damage photo carries no seal and the sealed packing photo shows the crab intact."
    decided = agent.call(
        "POST",
        f"/v1/disputes/{review.dispute_id}/agent-decision",
        json={"action": "deny", "note": note},
    )
    link = platform.call(
        "POST", f"/v1/disputes/{review.dispute_id}/report-links", json={"ttl_seconds": 3600}
    )
    return AgentStep(
        dispute_id=review.dispute_id,
        action=decided["action"],
        decision=decided["decision"],
        note=decided["note"],
        agent=decided["agent"],
        report_link=link["url"],
        report_link_expires_at=link["expires_at"],
    )


def _seller_answers(
    base_url: str, merchant_key: str, order_id: str, dispute_id: str, evidence_ids: list[str]
) -> SellerStep:
    """The seller lists the disputes on its order and answers one with its packing video."""
    seller = PlatformClient(base_url, merchant_key)
    listed = seller.call("GET", "/v1/merchant/disputes", params={"order_id": order_id})
    statement = "Packed on camera at our station: the sealed video shows the crab alive and intact."
    response = seller.call(
        "POST",
        f"/v1/merchant/disputes/{dispute_id}/responses",
        json={"statement": statement, "evidence_ids": evidence_ids},
    )
    return SellerStep(
        merchant_id=SELLER_ID,
        disputes=tuple(
            (
                d["dispute_id"],
                d["decision"] or "-",
                d["attribution"] or "-",
                tuple(d["reason_codes"]),
            )
            for d in listed["disputes"]
        ),
        answered_dispute_id=dispute_id,
        response_id=response["response_id"],
        statement=response["statement"],
        evidence_ids=tuple(response["evidence_ids"]),
    )


def _seller_key(verifier: DisputeService) -> str:
    """The demo seller exists (as ``orderseal merchants add`` makes it) and gets an admin key."""
    merchants = verifier.ledger.merchants
    now = datetime.now(UTC)
    if merchants.get(SELLER_ID) is None:
        merchants.add(SELLER_ID, name="Demo Seafood Co.", now=now)
    issued = verifier.ledger.api_keys.issue(
        role="merchant", subject="demo-seller-admin", label="demo", merchant_id=SELLER_ID, now=now
    )
    return issued.secret


def run_scenario(
    base_url: str,
    home: Path,
    credentials: dict[str, str],
    *,
    verifier: DisputeService | None = None,
) -> ScenarioResult:
    """Walk the whole scenario against a running API.

    Args:
        base_url: the API.
        home: the API's home folder (device keys, labels, the device CA for the forger).
        credentials: operator API keys by role.
        verifier: the API's verifier, for the re-verification ``orderseal verify`` does;
            by default one is built from the settings of ``home`` and the environment.

    Returns:
        Every dispute with its expected and actual decision.
    """
    if verifier is None:
        from infra.settings import Settings
        from orderseal.services import build_services

        verifier = build_services(Settings(home=home)).verifier
    admin = PlatformClient(base_url, credentials["admin"])
    platform = PlatformClient(base_url, credentials["platform"])
    merchant_key = _seller_key(verifier)
    station_key = _device(home, SELLER_STATION_ID, admin, "station", None, merchant_id=SELLER_ID)
    station = StationClient(base_url, station_key)
    run = secrets.token_hex(3).upper()
    # Each run is a new customer with a fresh app install, so repeated demos on one home
    # stay within the policy's per-buyer limits.
    buyer_id = f"buyer-{run.lower()}"
    buyer_key = _device(home, f"buyer-app-{run.lower()}", admin, "buyer", buyer_id)
    order_id, other_order = f"ORD-{run}-1", f"ORD-{run}-2"
    work = home / "demo" / run
    work.mkdir(parents=True, exist_ok=True)

    _order(platform, order_id, buyer_id)
    shipment, label = _ship(station, order_id, work, home)
    token = decode_label(label)

    buyer_token = platform.call(
        "POST", "/v1/buyer-tokens", json={"buyer_id": buyer_id, "order_id": order_id}
    )["token"]
    buyer = BuyerClient(base_url, buyer_token, buyer_key)
    session = buyer.open_receipt(token)
    photo = make_jpeg(
        work / "unboxing.jpg", seed=_seed(order_id, 21), caption=f"{order_id} unboxing: crushed lid"
    )
    # The buyer holds the parcel's label in view while recording (the seal's label sighting).
    video = make_mp4(
        work / "unboxing.mp4",
        seed=_seed(order_id, 22),
        seconds=2,
        size=(640, 480),
        caption=f"{order_id} unboxing",
        label=label_in_view(label.read_bytes()),
    )
    # A second clip of the same unboxing, filmed with the label out of view.
    unlabelled_video = make_mp4(
        work / "unboxing-nolabel.mp4",
        seed=_seed(order_id, 23),
        seconds=2,
        size=(640, 480),
        caption=f"{order_id} unboxing, label out of view",
    )
    receipt_photo = buyer.upload(session, photo, title="unboxing.jpg")
    receipt_video = buyer.upload(session, video, title="unboxing.mp4")
    unlabelled_receipt = buyer.upload(session, unlabelled_video, title="unboxing-nolabel.mp4")
    sealed_photo = work / "unboxing.sealed.jpg"
    sealed_video = work / "unboxing.sealed.mp4"
    sealed_unlabelled = work / "unboxing-nolabel.sealed.mp4"
    sealed_photo.write_bytes(buyer.download(session, receipt_photo["evidence_id"]))
    sealed_video.write_bytes(buyer.download(session, receipt_video["evidence_id"]))
    sealed_unlabelled.write_bytes(buyer.download(session, unlabelled_receipt["evidence_id"]))
    buyer.finish(session)

    # The second order: same buyer, shipped too, so reuse is the only thing wrong with it.
    _order(platform, other_order, buyer_id)
    (work / "second").mkdir()
    _ship(station, other_order, work / "second", home)

    unsigned = make_jpeg(
        work / "damage.jpg", seed=_seed(order_id, 99), caption="damaged crab (no provenance)"
    )
    tampered = tamper_jpeg(sealed_photo, work / "unboxing.tampered.jpg")
    staged = make_jpeg(
        work / "staged.jpg", seed=_seed(order_id, 98), caption=f"{order_id} staged: smashed crab"
    )
    forged = forge_with_app_key(home, buyer_key, sealed_photo, staged, work / "staged.signed.jpg")
    disputes = (
        _dispute(
            platform,
            buyer_id,
            "honest receipt photo + video",
            order_id,
            [(sealed_photo, "unboxing.jpg"), (sealed_video, "unboxing.mp4")],
            {"allow"},
        ),
        _dispute(
            platform,
            buyer_id,
            "unsigned damage image",
            order_id,
            [(unsigned, "damage.jpg")],
            {"review", "block"},
        ),
        _dispute(
            platform,
            buyer_id,
            "tampered receipt photo",
            order_id,
            [(tampered, "unboxing.jpg")],
            {"block"},
        ),
        _dispute(
            platform,
            buyer_id,
            "buyer signs a staged photo with their own app key",
            order_id,
            [(forged, "unboxing.jpg")],
            {"block"},
        ),
        _dispute(
            platform,
            buyer_id,
            "receipt photo reused on another order",
            other_order,
            [(sealed_photo, "unboxing.jpg")],
            {"block"},
        ),
        _reverify(
            verifier,
            "honest receipt re-verified after its reuse on another order",
            order_id,
            buyer_id,
            [sealed_photo, sealed_video],
        ),
    )
    review = next((d for d in disputes if d.decision == "review" and d.dispute_id), None)
    agent = PlatformClient(base_url, credentials["agent"])
    return ScenarioResult(
        order_id=order_id,
        label_png=label,
        shipment_evidence=tuple(shipment),
        receipt_evidence=(receipt_photo["evidence_id"], receipt_video["evidence_id"]),
        disputes=disputes,
        agent_step=_agent_decides(agent, platform, review) if review else None,
        # After the agent: the seller answers the dispute that went to a person.
        seller_step=_seller_answers(
            base_url,
            merchant_key,
            order_id,
            (review or disputes[0]).dispute_id,
            shipment[-1:],
        ),
        # Last, so the agent and the seller above act on the scenario's own review. A second
        # claim on the order: the refund limit reviews it too.
        recovered=_dispute(
            platform,
            buyer_id,
            "honest receipt photo re-sent through a chat app (stripped copy)",
            order_id,
            [(recompress_jpeg(sealed_photo, work / "unboxing.chat.jpg"), "unboxing-chat.jpg")],
            {"review"},
        ),
        unlabelled=_dispute(
            platform,
            buyer_id,
            "receipt video without the parcel's label in view",
            order_id,
            [(sealed_unlabelled, "unboxing-nolabel.mp4")],
            {"review"},
        ),
    )
