"""The error-code registry: every ``error.code`` the service can answer, with its HTTP status.

Error codes are a public contract like reason codes (docs/reason-codes.md): clients branch on
them, so they are never renamed or reused. This module is data only (infra imports nothing of
ours); ``docs/error-codes.md`` lists the same rows, and ``tests/unit/infra/test_error_codes.py``
pins the two together and checks that every code the source raises is registered here, with the
status its raise site gives it.

One code, one status: a code that meant two things under two statuses is split, so a client can
branch on the code alone. The only exception is ``http_error``, the pass-through for refusals
of the HTTP framework that have no code of their own, answered with the status it raised.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ERROR_CODES", "FRAMEWORK_STATUS", "ErrorCode", "error_code"]

#: The ``http_status`` of ``http_error``: the status the HTTP framework raised.
FRAMEWORK_STATUS = None


@dataclass(frozen=True)
class ErrorCode:
    """One stable error code: the HTTP status it is answered with and what it means."""

    code: str
    #: The one status of the code; ``FRAMEWORK_STATUS`` (None) only for ``http_error``.
    http_status: int | None
    meaning: str


def _e(code: str, http_status: int | None, meaning: str) -> ErrorCode:
    return ErrorCode(code, http_status, meaning)


#: Every error code, in alphabetical order (the docs table follows the same order).
ERROR_CODES: tuple[ErrorCode, ...] = (
    _e(
        "admin_key_file_unsafe",
        400,
        "station tool: the admin key file is readable or writable by other users",
    ),
    _e(
        "admin_key_missing",
        400,
        "station tool: no admin key in ORDERSEAL_ADMIN_KEY or --admin-key-file",
    ),
    _e("agent_unknown", 422, "no usable agent API key has the subject a dispute is assigned to"),
    _e("api_key_inactive", 409, "the API key is revoked, expired or already rotated"),
    _e("api_key_not_found", 404, "no API key has this id (kid_...)"),
    _e(
        "assignment_expired",
        409,
        "the provisional label was closed outside its assignment list's validity",
    ),
    _e(
        "assignment_invalid",
        403,
        "the assignment list is not one this service signed for this station",
    ),
    _e(
        "assignment_missing",
        400,
        "station tool: no assignment list kept for packing offline (`sync` online)",
    ),
    _e(
        "assignment_untrusted",
        400,
        "station tool: the kept assignment list is not signed by the service",
    ),
    _e("attachment_not_found", 404, "no file with this SHA-256 is attached to the dispute"),
    _e("attestation_invalid", 403, "the capture statement is not signed by the uploading device"),
    _e("attestation_malformed", 422, "the capture statement is not well-formed base64url JSON"),
    _e("attestation_mismatch", 422, "the capture statement names other bytes, order or session"),
    _e("audit_contention", 409, "the audit chain is too busy to append to; retry"),
    _e(
        "authorization_table_mismatch",
        500,
        "the routes and the authorization table disagree; the app refuses to start",
    ),
    _e(
        "bad_request",
        400,
        "the HTTP framework refused a malformed request (a form it cannot parse)",
    ),
    _e("body_too_slow", 408, "the request body paused too long or arrived below the minimum rate"),
    _e(
        "buyer_file_withheld",
        403,
        "the buyer's file holds Content Credentials that cannot be removed for a merchant",
    ),
    _e("buyer_not_on_order", 403, "a buyer token was asked for a buyer the order does not name"),
    _e("ca_unknown", 500, "a CA name other than service-ca or device-ca was asked for"),
    _e(
        "capture_already_taken",
        400,
        "station tool: this station already took the same bytes for another order",
    ),
    _e(
        "capture_older_than_session",
        400,
        "station tool: the file was written before the session opened (--force)",
    ),
    _e("capture_refused", 422, "an upload or session request cannot be accepted as it is"),
    _e(
        "capture_sealed_elsewhere",
        409,
        "the same bytes are already sealed as packing evidence of another order",
    ),
    _e("certificate_expired", 422, "a certificate is not valid at the time it is checked"),
    _e("certificate_invalid", 422, "a certificate or CSR does not meet the required profile"),
    _e("certificate_unknown", 500, "the serial names none of our sealing certificates"),
    _e("chain_missing", 422, "a receipt was sent for an order with no shipment evidence"),
    _e("checksum_mismatch", 500, "the evidence store recorded another SHA-256 than was given"),
    _e("claim_type_invalid", 422, "the dispute's claim type is not one we know"),
    _e("client_disconnected", 499, "the client went away mid-body; nobody receives the answer"),
    _e("conflict", 409, "the request contradicts the stored state"),
    _e("corrupt_media", 422, "the container or manifest is malformed, padded or truncated"),
    _e("credentials_expired", 401, "the station request signature or buyer token has expired"),
    _e(
        "credentials_forged", 401, "the request signature, body hash or buyer token does not verify"
    ),
    _e(
        "credentials_invalid", 401, "the API key is not valid (or the role has no credential check)"
    ),
    _e("credentials_malformed", 401, "the credential is not well-formed (timestamp, token)"),
    _e("credentials_missing", 401, "the request carries no credential"),
    _e("credentials_replayed", 401, "this signed station request was already received"),
    _e("cursor_invalid", 422, "the listing cursor is malformed, altered or for other filters"),
    _e("device_certificate_expired", 403, "the device certificate expired; the device must enrol"),
    _e("device_certificate_invalid", 403, "the device certificate is expired or invalid"),
    _e("device_challenge_invalid", 422, "the buyer device nonce is unknown, expired or not yours"),
    _e("device_challenge_used", 409, "the buyer device nonce was already used"),
    _e("device_key_invalid", 422, "the buyer device key is not a P-256 SubjectPublicKeyInfo"),
    _e("device_limit_reached", 409, "the buyer already has the most active devices allowed"),
    _e("device_not_found", 404, "no such device is enrolled (to the caller, for a buyer device)"),
    _e(
        "device_proof_invalid", 422, "the buyer device proof is not signed by the key for the buyer"
    ),
    _e("device_revoked", 403, "the device has been revoked"),
    _e("device_unknown", 401, "the device that signs or captures the request is not enrolled"),
    _e("dispute_decided", 409, "the dispute is decided: its files are kept and cannot be detached"),
    _e("dispute_invalid", 422, "a dispute request cannot be accepted as it is"),
    _e("dispute_not_found", 404, "no such dispute"),
    _e("dispute_not_in_review", 409, "agents decide only a dispute whose decision is review"),
    _e("empty_file", 422, "the body or file is empty"),
    _e(
        "evidence_already_requested",
        409,
        "an agent already asked for more evidence on the dispute and none has come yet",
    ),
    _e("evidence_corrupt", 500, "the stored evidence bytes no longer hash to their key"),
    _e("evidence_missing", 503, "the evidence store holds no object for a recorded key"),
    _e("evidence_not_found", 404, "no such evidence (for this caller, session or dispute)"),
    _e("file_not_found", 500, "the CLI was given a path with no readable file"),
    _e("headers_too_large", 431, "too many request headers or too many header bytes"),
    _e("home_not_initialized", 500, "serve found no CA or operator credentials (orderseal init)"),
    _e(
        "http_error",
        FRAMEWORK_STATUS,
        "any other refusal by the HTTP framework, with the status it raised",
    ),
    _e(
        "idempotency_key_in_progress",
        409,
        "the first request with this Idempotency-Key is still running",
    ),
    _e("idempotency_key_reused", 409, "an Idempotency-Key already used for other content"),
    _e("image_too_large", 422, "the image declares more pixels than the service decodes"),
    _e("insufficient_storage", 507, "receiving the body would eat into the work folder's reserve"),
    _e(
        "intake_flagged", 422, "a receipt's own metadata contradicts a live capture; kept, unsealed"
    ),
    _e("internal_error", 500, "an unexpected error; it has been logged"),
    _e("invalid_arguments", 400, "station tool: the command's arguments do not fit together"),
    _e("invalid_filename", 422, "the client file name is not plain UTF-8 text"),
    _e("invalid_input", 422, "the request or file is malformed"),
    _e("invalid_key", 503, "a storage key that the evidence store did not make"),
    _e("invalid_path", 400, "the request path carries control characters"),
    _e("invalid_request", 422, "invalid or missing fields, parameters, headers or CLI text"),
    _e("invalid_serial", 422, "more than 1000 serials, or serials with other characters"),
    _e("invalid_setting", 422, "CLI: an ORDERSEAL_* setting holds a value of the wrong shape"),
    _e("key_permissions_too_open", 500, "a private key file is readable by group or others"),
    _e("keys_error", 500, "a key folder operation failed"),
    _e(
        "label_not_assigned",
        403,
        "a station's provisional label for an order that is not its merchant's",
    ),
    _e(
        "label_not_yet_synced",
        409,
        "a provisional label printed offline, not replaced by the service yet",
    ),
    _e(
        "label_order_mismatch",
        403,
        "a provisional label naming another order than the session it synced",
    ),
    _e(
        "label_provisional_refused",
        403,
        "policy does not accept provisional labels: ask for the official one",
    ),
    _e(
        "label_renderer_missing",
        400,
        "station tool: drawing an offline label needs qrcode and Pillow",
    ),
    _e("ledger_unavailable", 503, "the ledger database is unavailable; retry"),
    _e("merchant_exists", 409, "a merchant with this id is already registered"),
    _e("merchant_not_found", 422, "the request names a merchant that is not registered"),
    _e("method_not_allowed", 405, "the path does not answer this HTTP method"),
    _e("multipart_unsupported", 415, "a file upload must be the raw body, not multipart/form-data"),
    _e("no_label", 404, "the order has no closed shipment session, so no label"),
    _e("no_manifest", 422, "the file carries no embedded C2PA manifest"),
    _e("no_open_session", 400, "station tool: no packing session is open"),
    _e("not_found", 404, "no such record, page or route"),
    _e("not_your_order", 403, "the parcel is not one of the buyer's orders"),
    _e("order_already_packed", 409, "the order was packed; only the platform can reopen it"),
    _e("order_cancelled", 409, "the order is cancelled: no new capture session, update or token"),
    _e("order_exists", 409, "an order with this id is registered with other content"),
    _e("order_not_assigned", 403, "the order is not on this station's assignment list"),
    _e("order_not_packed", 409, "a reopen for an order with no closed shipment session"),
    _e(
        "order_shipped_before",
        400,
        "station tool: this station already closed the order (--force after a reopen)",
    ),
    _e("order_unknown", 404, "the order is not registered"),
    _e("payload_too_large", 413, "the body is larger than the limit for its kind"),
    _e("policy_invalid", 422, "the policy file is missing, not TOML, or breaks a rule"),
    _e(
        "provisional_conflict",
        409,
        "another provisional label was synced under this local session id",
    ),
    _e(
        "provisional_wrong_station",
        403,
        "the provisional label names another station than the caller",
    ),
    _e("queue_not_empty", 400, "station tool: captures of the session are still queued"),
    _e("rate_limited", 429, "too many calls of one kind by one caller; see Retry-After"),
    _e("rate_limiter_unavailable", 503, "the rate limiter's store is unavailable; retry"),
    _e(
        "receipt_not_closed",
        409,
        "a review session needs the buyer's own sealed, closed receipt of the order first",
    ),
    _e("rejected_unknown", 400, "station tool: no refused capture has this id"),
    _e("renewal_expired", 422, "the device renewal request is not signed within 5 minutes"),
    _e("renewal_key_mismatch", 422, "the renewal CSR is for another key than the enrolled one"),
    _e("renewal_proof_invalid", 422, "the renewal request is not signed by the enrolled key"),
    _e("report_link_invalid", 404, "the report link is unknown, altered, expired or revoked"),
    _e(
        "report_link_limit_reached",
        409,
        "this platform subject already holds the most live links to the dispute (20)",
    ),
    _e("report_link_not_found", 404, "no report link has this id (for this platform subject)"),
    _e(
        "response_evidence_invalid",
        422,
        "a merchant response names evidence not sealed for the dispute's order",
    ),
    _e("response_limit_reached", 409, "a dispute already holds the most merchant responses (50)"),
    _e("review_limit_reached", 409, "the order already holds the most review photos allowed"),
    _e("revocation_reason_invalid", 422, "the revocation reason is not one we know"),
    _e("revocations_corrupt", 500, "the revocation file is unreadable or malformed"),
    _e(
        "root_invalid",
        500,
        "the root folder's certificate and key do not match or are not our anchor",
    ),
    _e("root_offline", 500, "the root key is needed but kept offline"),
    _e("seal_failed", 422, "c2pa refused to seal the media"),
    _e("serial_mismatch", 409, "the station scanned a unit serial the order does not list"),
    _e("service_certificate_mismatch", 500, "the sealing certificate does not certify the key"),
    _e("service_unavailable", 503, "a dependency (database, storage, signer) is down; retry"),
    _e("service_unreachable", 400, "station tool: the capture service cannot be reached"),
    _e("session_closed", 409, "the capture session is closed or expired"),
    _e("session_empty", 422, "a label was asked for before a sealed capture of the session"),
    _e(
        "session_no_new_captures",
        400,
        "station tool: this station sealed nothing in the session (--force)",
    ),
    _e("session_not_found", 404, "no such session for this caller"),
    _e("session_open", 400, "station tool: another packing session is open (--abandon)"),
    _e("signature_invalid", 422, "a device signature is malformed or does not verify"),
    _e("signer_misconfigured", 500, "the chosen signer backend lacks its settings"),
    _e("signer_unavailable", 503, "a signer backend failed to produce a signature"),
    _e("source_unreadable", 500, "the file to store cannot be read"),
    _e(
        "station_clock_skewed",
        409,
        "the station clock is too far from the service clock: set it and sync again",
    ),
    _e("station_enrolled", 400, "station tool: this station is already enrolled"),
    _e("station_key_invalid", 400, "station tool: the device key is not EC P-256"),
    _e("station_not_ready", 400, "station tool: the station is not enrolled"),
    _e("storage_access_denied", 500, "the evidence store refused our credentials"),
    _e("storage_misconfigured", 500, "the evidence store client is misconfigured"),
    _e("storage_rejected", 500, "the evidence store refused the request"),
    _e("storage_unavailable", 503, "the evidence store could not complete an operation; retry"),
    _e(
        "stored_secret_unreadable",
        500,
        "a sealed secret in the ledger does not open under this service's key",
    ),
    _e(
        "thumbnail_busy",
        503,
        "every inline thumbnail render of this worker is busy (its job has not run); retry",
    ),
    _e("thumbnail_unavailable", 404, "the evidence has no thumbnail"),
    _e("token_expired", 401, "the label token has expired"),
    _e("token_forged", 401, "the token is not an official OrderSeal label or buyer token"),
    _e("token_invalid", 401, "a label or buyer token is malformed, forged or expired"),
    _e("token_malformed", 401, "the token is not well-formed"),
    _e("token_revoked", 401, "the label was signed with a revoked OrderSeal key"),
    _e("too_many_uploads", 429, "this address already has its share of public uploads in flight"),
    _e("trailing_data", 422, "the file carries more bytes after the image"),
    _e("transcode_budget_exceeded", 422, "the video conversion ran out of time or memory"),
    _e("transcode_failed", 422, "the upload claims to be WebM video but cannot be converted"),
    _e("trust_settings_invalid", 500, "the trust settings are unusable"),
    _e("unauthenticated", 401, "missing, malformed, forged, expired or replayed credentials"),
    _e("unknown_setting", 500, "an ORDERSEAL_* environment variable names no setting"),
    _e("unsupported_media", 422, "the file type cannot carry C2PA evidence here"),
    _e("upload_quota_exceeded", 413, "the order's or buyer's daily capture bytes pass their quota"),
    _e("uploads_busy", 503, "all public upload slots of this worker are taken; retry"),
    _e(
        "verdict_stale",
        409,
        "the dispute kept changing while it was evaluated (files, verdicts); decide again",
    ),
    _e(
        "verification_pending",
        409,
        "a file of the dispute is still being verified by a job; decide after Retry-After",
    ),
    _e(
        "verification_queue_full",
        429,
        "the dispute or API key has its share of files waiting for verification",
    ),
    _e("video_too_large", 422, "the video's frames, duration or pixel rate exceed the limits"),
    _e("webhook_delivery_not_found", 404, "no webhook delivery has this id"),
    _e(
        "webhook_endpoint_limit_reached",
        409,
        "this platform subject already has the most live webhook endpoints (20)",
    ),
    _e("webhook_endpoint_not_found", 404, "no live webhook endpoint of this caller has this id"),
    _e(
        "webhook_invalid",
        400,
        "SDK: a received webhook has no valid signature or misses its headers",
    ),
    _e(
        "webhook_key_invalid",
        400,
        "SDK: the webhook public key given to verify with is not a whpk_ ed25519 key",
    ),
    _e(
        "webhook_secret_invalid",
        400,
        "SDK: the webhook secret given to verify with is not whsec_ base64",
    ),
    _e(
        "webhook_timestamp_stale",
        400,
        "SDK: a received webhook's timestamp is outside the tolerance (a replay)",
    ),
    _e(
        "webhook_url_invalid",
        422,
        "the webhook URL is not https or points at a private, loopback or link-local host",
    ),
    _e("wrong_device", 403, "the buyer device is not enrolled to the caller"),
    _e("wrong_role", 403, "the credential belongs to another role than the route needs"),
)

_BY_CODE = {entry.code: entry for entry in ERROR_CODES}


def error_code(code: str) -> ErrorCode:
    """The registry entry of ``code``.

    Raises:
        KeyError: the code is not registered.
    """
    return _BY_CODE[code]
