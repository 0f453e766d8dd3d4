"""HTTP clients as the real callers use the API: packing station, buyer app, platform.

The station and buyer app hold their own device key; it never leaves this process.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlencode

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clients.schemas import (
    AttachFileResponse,
    AttachPendingResponse,
    AttachSealedResponse,
    BuyerTokenResponse,
    DetachResponse,
    DeviceEnrolResponse,
    DisputeResponse,
    EvidenceResponse,
    LabelResponse,
    OrderEvidenceListResponse,
    OrderResponse,
    PlatformDisputeListResponse,
    QRCheckResponse,
    ReviewImageResponse,
    SessionResponse,
    WebhookDeliveryListResponse,
    WebhookDeliveryResponse,
    WebhookEndpointListResponse,
    WebhookEndpointSecretResponse,
)
from wire.attestation import (
    CaptureStatement,
    b64url_encode,
    request_signing_payload,
    sign_bytes,
)

__all__ = ["APIError", "BuyerClient", "DeviceKey", "PlatformClient", "StationClient"]

_CHUNK = 1024 * 1024


class APIError(Exception):
    """The service answered with an error object."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def _new_idempotency_key() -> str:
    return f"sdk-{secrets.token_urlsafe(18)}"


def _check(response: httpx.Response) -> Any:
    """The decoded body of a success (JSON, raw bytes or ``None``), or the error raised.

    Raises:
        APIError: the service answered 4xx/5xx.
    """
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            extra = {k: v for k, v in error.items() if k not in ("code", "message")}
            raise APIError(response.status_code, error["code"], error["message"], extra)
        except (ValueError, KeyError, TypeError):
            raise APIError(response.status_code, "http_error", response.text[:200]) from None
    if response.status_code == 204 or not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.content


@dataclass(frozen=True)
class DeviceKey:
    """A device's own key and the certificate the CA issued for it."""

    device_id: str
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate | None = None

    @classmethod
    def generate(cls, device_id: str) -> DeviceKey:
        """Make a fresh P-256 device key."""
        return cls(device_id, ec.generate_private_key(ec.SECP256R1()))

    def csr_pem(self) -> str:
        """A CSR proving possession of the key (the CA names the device, not the CSR)."""
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, self.device_id)]))
            .sign(self.private_key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def attest(
        self,
        *,
        order_id: str,
        session_id: str,
        stage: str,
        path: Path,
        captured_at: datetime | None = None,
    ) -> tuple[str, str, str]:
        """Sign a capture statement for a file: returns (statement b64, signature, sha256)."""
        digest = _sha256(path)
        statement = CaptureStatement(
            device_id=self.device_id,
            order_id=order_id,
            session_id=session_id,
            stage=stage,
            captured_at=(captured_at or datetime.now(UTC)).isoformat(),
            content_sha256=digest,
        )
        canonical = statement.canonical()
        return b64url_encode(canonical), sign_bytes(self.private_key, canonical), digest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_chunks(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


def _with_serials(url: str, serials: tuple[str, ...], forced: tuple[str, ...] = ()) -> str:
    """Serials (and overridden station warnings) travel in the query string, which the
    station's request signature covers."""
    query = [("serial", s) for s in serials] + [("forced", f) for f in forced]
    return f"{url}?{urlencode(query)}" if query else url


class StationClient:
    """A packing station: every request is signed with the station's device key."""

    def __init__(self, base_url: str, device: DeviceKey, *, timeout: float = 300.0) -> None:
        self.device = device
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def signed_headers(self, method: str, path: str, body_sha256: str) -> dict[str, str]:
        """Authentication headers for one request (for callers streaming their own body)."""
        return self._headers(method, path, body_sha256)

    def _headers(self, method: str, path: str, body_sha256: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        payload = request_signing_payload(method, path, timestamp, nonce, body_sha256)
        return {
            "X-OrderSeal-Device": self.device.device_id,
            "X-OrderSeal-Timestamp": timestamp,
            "X-OrderSeal-Nonce": nonce,
            "X-OrderSeal-Signature": sign_bytes(self.device.private_key, payload),
        }

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        content = httpx.Request(method, "http://x", json=body).content if body is not None else b""
        headers = self._headers(method, path, hashlib.sha256(content).hexdigest())
        headers["Content-Type"] = "application/json"
        return _check(self.http.request(method, path, content=content, headers=headers))

    def open_session(self, order_id: str) -> SessionResponse:
        """Open a packing session for a scanned order."""
        return cast(
            SessionResponse, self._json("POST", "/v1/shipment-sessions", {"order_id": order_id})
        )

    def upload(
        self,
        session: Mapping[str, Any],
        path: Path,
        *,
        title: str,
        idempotency_key: str | None = None,
        serials: tuple[str, ...] = (),
    ) -> EvidenceResponse:
        """Attest and stream one capture into the session."""
        statement, signature, digest = self.device.attest(
            order_id=session["order_id"],
            session_id=session["session_id"],
            stage="shipment",
            path=path,
        )
        return self.upload_attested(
            session["session_id"],
            path,
            statement=statement,
            signature=signature,
            digest=digest,
            title=title,
            idempotency_key=idempotency_key,
            serials=serials,
        )

    def upload_attested(
        self,
        session_id: str,
        path: Path,
        *,
        statement: str,
        signature: str,
        digest: str,
        title: str,
        idempotency_key: str | None = None,
        serials: tuple[str, ...] = (),
        progress: Callable[[int], None] | None = None,
        forced: tuple[str, ...] = (),
    ) -> EvidenceResponse:
        """Stream a capture attested earlier (e.g. while offline) into the session.

        ``forced`` names station warnings the operator overrode (the service logs them).

        Raises:
            APIError: the service refused it.
            httpx.TransportError: the service is unreachable (the capture stays queued).
        """
        url = _with_serials(f"/v1/shipment-sessions/{session_id}/evidence", serials, forced)
        headers = self._headers("PUT", url, digest)
        headers.update(
            {
                "X-OrderSeal-Content-SHA256": digest,
                "X-OrderSeal-Statement": statement,
                "X-OrderSeal-Statement-Signature": signature,
                "X-OrderSeal-Title": title,
                "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size),
            }
        )
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return cast(
            EvidenceResponse,
            _check(self.http.put(url, content=_file_chunks(path, progress), headers=headers)),
        )

    def close(self, session: Mapping[str, Any]) -> LabelResponse:
        """Close the session; returns the label token."""
        return cast(
            LabelResponse,
            self._json("POST", f"/v1/shipment-sessions/{session['session_id']}/close", {}),
        )

    def assignments(self) -> dict[str, Any]:
        """The signed list of orders this station may pack offline (issue 18 §1)."""
        result: dict[str, Any] = self._json("GET", "/v1/stations/me/assignments")
        return result

    def sync_provisional(
        self, *, provisional_token: str, assignment_token: str, station_clock: str
    ) -> dict[str, Any]:
        """Sync a packing session made offline: its official session (once)."""
        body = {
            "provisional_token": provisional_token,
            "assignment_token": assignment_token,
            "station_clock": station_clock,
        }
        result: dict[str, Any] = self._json("POST", "/v1/provisional-sessions", body)
        return result

    def close_provisional(self, local_session_id: str) -> dict[str, Any]:
        """Close a synced session: the official label token that replaces the provisional one."""
        path = f"/v1/provisional-sessions/{local_session_id}/close"
        result: dict[str, Any] = self._json("POST", path, {})
        return result

    def label_png(self, order_id: str, *, dpi: int = 203) -> bytes:
        """Download the parcel label."""
        path = f"/v1/orders/{order_id}/label.png?dpi={dpi}"
        headers = self._headers("GET", path, hashlib.sha256(b"").hexdigest())
        data: bytes = _check(self.http.get(path, headers=headers))
        return data

    def label_pdf(self, order_id: str, *, dpi: int = 203) -> bytes:
        """Download the parcel label as a 4x6 inch PDF."""
        path = f"/v1/orders/{order_id}/label.pdf?dpi={dpi}"
        headers = self._headers("GET", path, hashlib.sha256(b"").hexdigest())
        data: bytes = _check(self.http.get(path, headers=headers))
        return data

    def renew(self) -> DeviceEnrolResponse:
        """A fresh certificate for the same key, before the current one expires.

        The request proves possession twice: the CSR's self-signature, and an
        ``ORDERSEAL-RENEW-V1`` statement (device id, unix time, CSR SHA-256) signed by the key
        (``capture.devices.renewal_payload``; the integration test pins the two together).
        """
        csr_pem = self.device.csr_pem()
        timestamp = str(int(time.time()))
        digest = hashlib.sha256(csr_pem.strip().encode()).hexdigest()
        payload = "\n".join(["ORDERSEAL-RENEW-V1", self.device.device_id, timestamp, digest])
        body = {
            "csr_pem": csr_pem,
            "timestamp": timestamp,
            "signature": sign_bytes(self.device.private_key, payload.encode()),
        }
        answer = self.http.post(f"/v1/devices/{self.device.device_id}/renewal", json=body)
        return cast(DeviceEnrolResponse, _check(answer))

    def healthy(self, *, timeout: float = 2.0) -> bool:
        """Whether the service answers ``/healthz`` within ``timeout`` seconds."""
        try:
            return self.http.get("/healthz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False


class BuyerClient:
    """The buyer's app: a platform-issued token plus its enrolled device key."""

    def __init__(self, base_url: str, token: str, device: DeviceKey, *, timeout: float = 300.0):
        self.device = device
        self.http = httpx.Client(
            base_url=base_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    def open_receipt(
        self, label_token: str, *, entry: Literal["scanned", "link", "typed"] = "scanned"
    ) -> SessionResponse:
        """Open a receipt session with the token read from the parcel's QR.

        ``entry`` says how the app got it: its camera ``scanned`` the QR, the phone opened the
        label ``link``, or the buyer ``typed`` the code (the claim then goes to review).
        """
        return cast(
            SessionResponse,
            _check(
                self.http.post("/v1/receipt-sessions", json={"token": label_token, "entry": entry})
            ),
        )

    def upload(
        self,
        session: Mapping[str, Any],
        path: Path,
        *,
        title: str,
        idempotency_key: str | None = None,
        serials: tuple[str, ...] = (),
    ) -> EvidenceResponse:
        """Attest and stream one unboxing capture (``serials``: what the buyer read)."""
        url = _with_serials(f"/v1/receipt-sessions/{session['session_id']}/evidence", serials)
        return self._put_capture(url, session, path, "receipt", title, idempotency_key)

    def open_review(self, order_id: str) -> SessionResponse:
        """Open a review session on one of my received orders (after its receipt closed)."""
        return cast(
            SessionResponse,
            _check(self.http.post("/v1/review-sessions", json={"order_id": order_id})),
        )

    def upload_review(
        self,
        session: Mapping[str, Any],
        path: Path,
        *,
        title: str,
        idempotency_key: str | None = None,
    ) -> EvidenceResponse:
        """Attest and stream one review photo, sealed at stage ``review``."""
        url = f"/v1/review-sessions/{session['session_id']}/evidence"
        return self._put_capture(url, session, path, "review", title, idempotency_key)

    def finish_review(self, session: Mapping[str, Any]) -> None:
        """Close the review session."""
        _check(self.http.post(f"/v1/review-sessions/{session['session_id']}/finish"))

    def _put_capture(
        self,
        url: str,
        session: Mapping[str, Any],
        path: Path,
        stage: str,
        title: str,
        idempotency_key: str | None,
    ) -> EvidenceResponse:
        statement, signature, digest = self.device.attest(
            order_id=session["order_id"],
            session_id=session["session_id"],
            stage=stage,
            path=path,
        )
        headers = {
            "X-OrderSeal-Device": self.device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
            "X-OrderSeal-Title": title,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(path.stat().st_size),
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return cast(
            EvidenceResponse,
            _check(self.http.put(url, content=_file_chunks(path), headers=headers)),
        )

    def download(self, session: Mapping[str, Any], evidence_id: str) -> bytes:
        """Fetch my sealed copy of a capture (what I attach to a dispute)."""
        url = f"/v1/receipt-sessions/{session['session_id']}/evidence/{evidence_id}/file"
        data: bytes = _check(self.http.get(url))
        return data

    def finish(self, session: Mapping[str, Any]) -> None:
        """Close the receipt session."""
        _check(self.http.post(f"/v1/receipt-sessions/{session['session_id']}/finish"))

    def check_qr(self, payload: str) -> QRCheckResponse:
        """Ask whether a scanned QR is an official label for one of my orders."""
        return cast(
            QRCheckResponse, _check(self.http.post("/v1/qr/check", json={"payload": payload}))
        )


#: Answers worth a retry: the service is busy or briefly unavailable (never a 4xx verdict).
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class PlatformClient:
    """The platform (or an agent / admin) calling with an API key.

    Calls are retried (``retries`` times, exponential backoff, ``Retry-After`` honoured) after
    a network failure or a 429/502/503/504, but only when a retry cannot do the work twice:
    reads, deletes, and creations that carry an ``Idempotency-Key`` (order registration and
    dispute filing always do: one key per call, reused by its retries).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 300.0,
        retries: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )
        self.retries = retries
        self.backoff_seconds = backoff_seconds

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any JSON call, untyped: the escape hatch for routes without a method here."""
        headers = kwargs.get("headers") or {}
        retryable = method.upper() in _SAFE_METHODS or "Idempotency-Key" in headers
        for attempt in range(self.retries + 1):
            last = attempt == self.retries or not retryable
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError:
                if last:
                    raise
                self._pause(attempt, None)
                continue
            if response.status_code in _RETRY_STATUSES and not last:
                self._pause(attempt, response.headers.get("retry-after"))
                continue
            return _check(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_seconds * 2**attempt
        if retry_after is not None and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 60.0))
        time.sleep(delay)

    def register_order(
        self,
        *,
        order_id: str,
        buyer_id: str,
        items: list[Mapping[str, Any]],
        declared_value: str,
        currency: str,
        expected_delivery: str | None = None,
        carrier: str | None = None,
        tracking_number: str | None = None,
        idempotency_key: str | None = None,
        merchant_id: str | None = None,
    ) -> OrderResponse:
        """Register an order the stations will pack (``items``: ``sku``, ``quantity``,
        optional ``serials``), for ``merchant_id``'s stations (None: the ``default``
        merchant). Retries are safe: the call carries an idempotency key."""
        body: dict[str, Any] = {
            "order_id": order_id,
            "buyer_id": buyer_id,
            "items": [dict(item) for item in items],
            "declared_value": declared_value,
            "currency": currency,
        }
        optional = {
            "expected_delivery": expected_delivery,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "merchant_id": merchant_id,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        headers = {"Idempotency-Key": idempotency_key or _new_idempotency_key()}
        return cast(OrderResponse, self.call("POST", "/v1/orders", json=body, headers=headers))

    def buyer_token(self, buyer_id: str, *, order_id: str) -> BuyerTokenResponse:
        """Issue a bearer token for a buyer's app; ``order_id`` must be an order of the buyer."""
        body = {"buyer_id": buyer_id, "order_id": order_id}
        return cast(BuyerTokenResponse, self.call("POST", "/v1/buyer-tokens", json=body))

    def enrol_device(
        self,
        device: DeviceKey,
        *,
        kind: str,
        owner_id: str | None = None,
        merchant_id: str | None = None,
    ) -> DeviceEnrolResponse:
        """Enrol a station (``kind="station"``, packing for ``merchant_id``; None: ``default``)
        or a buyer app (``"buyer"``, with its owner)."""
        body: dict[str, str] = {
            "device_id": device.device_id,
            "kind": kind,
            "csr_pem": device.csr_pem(),
        }
        if owner_id is not None:
            body["owner_id"] = owner_id
        if merchant_id is not None:
            body["merchant_id"] = merchant_id
        return cast(DeviceEnrolResponse, self.call("POST", "/v1/devices", json=body))

    def file_dispute(
        self,
        *,
        order_id: str,
        buyer_id: str,
        claim_type: str,
        amount: str,
        currency: str,
        idempotency_key: str | None = None,
    ) -> DisputeResponse:
        """Open a refund dispute; attach evidence next, then ask for a decision.

        Every call carries an idempotency key (``idempotency_key``, or a fresh one): its
        retries, and a caller's own retry with the same key and fields, answer the same dispute.
        """
        body = {
            "order_id": order_id,
            "buyer_id": buyer_id,
            "claim_type": claim_type,
            "amount": amount,
            "currency": currency,
        }
        headers = {"Idempotency-Key": idempotency_key or _new_idempotency_key()}
        return cast(DisputeResponse, self.call("POST", "/v1/disputes", json=body, headers=headers))

    def attach_sealed(self, dispute_id: str, evidence_ids: list[str]) -> AttachSealedResponse:
        """Attach sealed evidence by id; every id gets its own result."""
        return cast(
            AttachSealedResponse,
            self.call(
                "POST", f"/v1/disputes/{dispute_id}/sealed", json={"evidence_ids": evidence_ids}
            ),
        )

    def decide(self, dispute_id: str) -> DisputeResponse:
        """Evaluate every attached file; the dispute comes back with its verdict."""
        return cast(DisputeResponse, self.call("POST", f"/v1/disputes/{dispute_id}/decide"))

    def dispute(self, dispute_id: str) -> DisputeResponse:
        """The dispute with its current verdict and history."""
        return cast(DisputeResponse, self.call("GET", f"/v1/disputes/{dispute_id}"))

    def order(self, order_id: str) -> OrderResponse:
        """A registered order with its status (``open`` or ``cancelled``)."""
        return cast(OrderResponse, self.call("GET", f"/v1/orders/{order_id}"))

    def update_order(self, order_id: str, **changes: str | None) -> OrderResponse:
        """Change ``expected_delivery``, ``carrier`` or ``tracking_number`` of an open order."""
        return cast(OrderResponse, self.call("PATCH", f"/v1/orders/{order_id}", json=changes))

    def cancel_order(self, order_id: str) -> OrderResponse:
        """Cancel an order: new capture sessions and buyer tokens for it are refused."""
        return cast(OrderResponse, self.call("POST", f"/v1/orders/{order_id}/cancel"))

    def order_evidence(self, order_id: str) -> OrderEvidenceListResponse:
        """The order's sealed evidence (ids to attach with :meth:`attach_sealed`)."""
        return cast(OrderEvidenceListResponse, self.call("GET", f"/v1/orders/{order_id}/evidence"))

    def detach_file(self, dispute_id: str, content_sha256: str) -> DetachResponse:
        """Detach a file from an undecided dispute (409 ``dispute_decided`` after a decision)."""
        path = f"/v1/disputes/{dispute_id}/files/{content_sha256}"
        return cast(DetachResponse, self.call("DELETE", path))

    def platform_disputes(
        self, *, cursor: str | None = None, **filters: str | int | None
    ) -> PlatformDisputeListResponse:
        """One page of the platform's disputes; pass ``next_cursor`` back with the same filters.

        Filters: ``status``, ``decision``, ``reason``, ``order_id``, ``buyer_id``,
        ``updated_since`` (ISO 8601) and ``limit``.
        """
        params = {k: v for k, v in {**filters, "cursor": cursor}.items() if v is not None}
        return cast(
            PlatformDisputeListResponse, self.call("GET", "/v1/platform/disputes", params=params)
        )

    def create_webhook_endpoint(
        self, url: str, *, events: list[str] | None = None
    ) -> WebhookEndpointSecretResponse:
        """Register a webhook receiver; keep the answer's ``secret``: it is shown only here."""
        body: dict[str, Any] = {"url": url} if events is None else {"url": url, "events": events}
        return cast(
            WebhookEndpointSecretResponse, self.call("POST", "/v1/webhook-endpoints", json=body)
        )

    def webhook_endpoints(self) -> WebhookEndpointListResponse:
        """This key's webhook endpoints (no secrets)."""
        return cast(WebhookEndpointListResponse, self.call("GET", "/v1/webhook-endpoints"))

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Stop an endpoint (its pending deliveries are cancelled)."""
        self.call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")

    def rotate_webhook_secret(self, endpoint_id: str) -> WebhookEndpointSecretResponse:
        """A new secret; the old one keeps signing until ``previous_secret_expires_at``."""
        path = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
        return cast(WebhookEndpointSecretResponse, self.call("POST", path))

    def webhook_deliveries(
        self, endpoint_id: str, *, limit: int = 50
    ) -> WebhookDeliveryListResponse:
        """An endpoint's delivery log, newest first."""
        path = f"/v1/webhook-endpoints/{endpoint_id}/deliveries"
        return cast(WebhookDeliveryListResponse, self.call("GET", path, params={"limit": limit}))

    def redeliver_webhook(self, delivery_id: str) -> WebhookDeliveryResponse:
        """Admin key: send a delivery again now, with the same ``webhook-id``."""
        path = f"/v1/webhook-deliveries/{delivery_id}/redeliver"
        return cast(WebhookDeliveryResponse, self.call("POST", path))

    def review_image(self, path: Path, *, order_id: str, buyer_id: str) -> ReviewImageResponse:
        """Is an image a review of ``order_id`` by ``buyer_id`` shows sealed review evidence?"""
        result: ReviewImageResponse = _check(
            self.http.put(
                "/v1/platform/review-images",
                params={"order_id": order_id, "buyer_id": buyer_id},
                content=_file_chunks(path),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                },
            )
        )
        return result

    def attach_file(
        self, dispute_id: str, path: Path, *, filename: str
    ) -> AttachFileResponse | AttachPendingResponse:
        """Stream a buyer's file into a dispute.

        A large file is answered 202 with ``verification: "pending"``: a job verifies it,
        and deciding the dispute answers ``verification_pending`` until it has.
        """
        result: AttachFileResponse | AttachPendingResponse = _check(
            self.http.put(
                f"/v1/disputes/{dispute_id}/files",
                content=_file_chunks(path),
                headers={
                    "X-OrderSeal-Filename": filename,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                },
            )
        )
        return result
