"""Read and validate the C2PA manifest store of one evidence file: the only c2pa ``Reader`` caller.

This adapter turns a photo or video on disk into a frozen :class:`ReaderReport` of plain
facts (validation state, failure codes, signer, actions, assertions, ingredients) that the
checks in ``verifier/checks/`` judge. It makes no decision itself.

How it reads
    * **Offline, always.** The c2pa context sets ``verify.remote_manifest_fetch=false`` and
      ``verify.ocsp_fetch=false``: verifying evidence must never reach out to a URL the
      evidence names. A file that only *references* a cloud manifest raises
      :class:`NoManifestError` (with ``remote_url``) instead of a network attempt.
    * **Our trust, not the world's.** ``verify.verify_trust=true`` and
      ``verify.verify_timestamp_trust=true``; anchors come from :class:`TrustSettings`
      (c2pa ``trust.trust_anchors``) and extra EKUs go to ``trust.trust_config``, which
      c2pa adds to its built-in EKU list. Without our anchors an untrusted signer still reads
      ``Valid`` with ``signingCredential.untrusted``: callers must require ``Trusted``.
      Contexts are cached per :class:`TrustSettings` (``lru_cache``).
    * **Streaming.** The file is opened and handed to c2pa as a stream; c2pa reads it in
      pieces. Only the first bytes are read here, to detect the container.
    * **Format from content.** Without ``media_type`` the container is detected from magic
      bytes by the one sniffer, :mod:`evidence.media` (JPEG, PNG, GIF, WebP, TIFF/DNG,
      JPEG XL, AVI and ISO BMFF by ``ftyp`` brand: MP4, MOV, HEIC/HEIF, AVIF). Anything
      else (empty files, text, WebM, PDF, audio) raises :class:`UnsupportedMediaError`
      before c2pa sees it: evidence is photos and video.
      A zero-byte file is *unsupported*, not *corrupt*: there is no container to be broken.

Ingredient failures
    A manifest can read ``Trusted`` while one of its ingredients was tampered with or signed
    by an untrusted key: c2pa keeps those outcomes out of the top-level state. They are
    collected from ``validation_results.ingredientDeltas`` *and* from every ingredient's
    recorded ``validation_status`` / ``validation_results`` (C2PA 2.1 §15.11, ingredient
    validation), per ingredient (:attr:`IngredientFacts.validation_failures`) and as one
    union (:attr:`ReaderReport.ingredient_failure_codes`). Recorded codes count as failures
    unless they are known success or informational codes (fail closed on unknown codes).

Errors
    Every c2pa exception is re-raised as a :class:`ReaderError` subclass with ``from exc``:
    no manifest (or only a remote one) -> :class:`NoManifestError`; ``NotSupported`` ->
    :class:`UnsupportedMediaError`; everything else (unparsable JPEG, bad BMFF boxes, parser
    bombs, pre-1.0 manifests, unknown hash algorithms, JUMBF/CBOR decode errors) ->
    :class:`CorruptMediaError`. Unusable trust settings raise :class:`TrustSettingsError`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Final, Literal, cast

import c2pa
from cryptography import x509

from evidence.jumbf import signer_chains
from evidence.media import SNIFF_BYTES, SUPPORTED_MEDIA_TYPES, media_type_from_head
from infra.errors import OrderSealError

__all__ = [
    "SUPPORTED_MEDIA_TYPES",
    "CorruptMediaError",
    "IngredientFacts",
    "ManifestFacts",
    "NoManifestError",
    "ReaderError",
    "ReaderReport",
    "TrustSettings",
    "TrustSettingsError",
    "UnsupportedMediaError",
    "build_reader_context",
    "detect_media_type",
    "read_evidence",
]

ValidationState = Literal["Trusted", "Valid", "Invalid"]
_STATES: Final[frozenset[str]] = frozenset({"Trusted", "Valid", "Invalid"})

_OID_RE: Final = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_ACTIONS_LABEL_RE: Final = re.compile(r"^c2pa\.actions(\.v2)?(__\d+)?$")
_REMOTE_URL_RE: Final = re.compile(r"\burl\s+(\S+)")

# Status codes that are not failures (C2PA 2.1 §15.2.1 success, §15.2.2 informational, plus
# c2pa-rs informational codes). A recorded ingredient code outside these sets is a failure.
_NON_FAILURE_CODES: Final[frozenset[str]] = frozenset(
    {
        "claimSignature.validated",
        "claimSignature.insideValidity",
        "signingCredential.trusted",
        "signingCredential.ocsp.notRevoked",
        "signingCredential.ocsp.skipped",
        "signingCredential.ocsp.inaccessible",
        "timeStamp.trusted",
        "timeStamp.validated",
        "assertion.hashedURI.match",
        "assertion.dataHash.match",
        "assertion.bmffHash.match",
        "assertion.boxesHash.match",
        "assertion.collectionHash.match",
        "assertion.accessible",
        "assertion.bmffHash.additionalExclusionsPresent",
        "ingredient.manifest.validated",
        "ingredient.claimSignature.validated",
        "ingredient.unknownProvenance",
        "algorithm.deprecated",
    }
)

# c2pa error text -> meaning. c2pa reports most parse failures as "Other: ..." strings, so
# the mapping is on text; anything unlisted is still corrupt_media (fail closed).
_REMOTE_ONLY_MARKERS: Final = ("must fetch remote manifests", "Remote:", "RemoteManifest")


class ReaderError(OrderSealError):
    """The evidence file could not be read as C2PA evidence; ``code`` is a reason code."""

    code = "corrupt_media"
    http_status = 422


class NoManifestError(ReaderError):
    """The file carries no embedded manifest (stripped, re-encoded, or remote-only).

    ``remote_url`` is set when the file only references a cloud manifest, which is never
    fetched: evidence must be self-contained.
    """

    code = "no_manifest"

    def __init__(self, message: str, *, remote_url: str | None = None) -> None:
        super().__init__(message)
        self.remote_url = remote_url


class UnsupportedMediaError(ReaderError):
    """The file is not a container c2pa (or OrderSeal) reads: empty, text, WebM, audio..."""

    code = "unsupported_media"


class CorruptMediaError(ReaderError):
    """The container or the manifest store is malformed, truncated or hostile."""

    code = "corrupt_media"


class TrustSettingsError(OrderSealError):
    """The trust settings are unusable (not PEM certificates, bad EKU OID).

    A server misconfiguration, not a property of the evidence, hence HTTP 500.
    """

    code = "trust_settings_invalid"
    http_status = 500


@dataclass(frozen=True)
class TrustSettings:
    """What the reader trusts. Validated on construction.

    Attributes:
        anchors_pem: PEM bundle of trust anchors (our root CA(s) and TSA root); may be "".
        allowed_ekus: Extra EKU OIDs (dotted) accepted on signing certificates, on top of
            c2pa's built-in list (c2pa ``trust.trust_config``).
    """

    anchors_pem: str
    allowed_ekus: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.anchors_pem.strip():
            # c2pa silently skips certificates it cannot parse, which would quietly drop an
            # anchor; parse them here so a broken bundle is refused at construction.
            try:
                x509.load_pem_x509_certificates(self.anchors_pem.encode("ascii"))
            except ValueError as exc:
                raise TrustSettingsError(
                    "expected anchors_pem to be empty or hold PEM X.509 certificates, "
                    "found something else"
                ) from exc
        bad = [oid for oid in self.allowed_ekus if not _OID_RE.match(oid)]
        if bad:
            raise TrustSettingsError(f"expected dotted EKU OIDs, found {bad!r}")


@dataclass(frozen=True)
class IngredientFacts:
    """One ingredient of one manifest, with every failure recorded or computed for it."""

    title: str | None
    relationship: str | None
    active_manifest: str | None
    validation_failures: tuple[str, ...]


@dataclass(frozen=True)
class ManifestFacts:
    """Facts from one manifest of the store. ``assertions`` maps label to decoded data.

    Repeated assertion labels (e.g. several ``stds.exif``) get ``__1``, ``__2``... suffixes,
    as C2PA does for multiple instances (C2PA 2.1 §6.2).
    """

    label: str
    claim_generator: str | None
    signer_issuer: str | None
    signer_common_name: str | None
    signed_at: datetime | None
    cert_serial_number: str | None
    digital_source_types: tuple[str, ...]
    action_names: tuple[str, ...]
    assertions: Mapping[str, Any]
    ingredients: tuple[IngredientFacts, ...]
    #: The claim signer's certificate chain as DER, leaf first (from the COSE ``x5chain``).
    signer_chain: tuple[bytes, ...] = ()

    @property
    def signer_fingerprint(self) -> str | None:
        """SHA-256 (hex) of the signing certificate's DER, or None when it is unknown."""
        return hashlib.sha256(self.signer_chain[0]).hexdigest() if self.signer_chain else None


@dataclass(frozen=True)
class ReaderReport:
    """What c2pa found in one evidence file.

    Attributes:
        state: c2pa validation state of the active manifest.
        failure_codes: Active manifest failure codes.
        ingredient_failure_codes: Union of every ingredient failure (deltas and recorded).
        active_manifest: Facts of the active manifest.
        manifests: Every manifest in the store by label, ingredients' manifests included.
        informational_codes: Active manifest informational codes (e.g.
            ``signingCredential.ocsp.skipped``, ``timeStamp.untrusted``).
    """

    state: ValidationState
    failure_codes: tuple[str, ...]
    ingredient_failure_codes: tuple[str, ...]
    active_manifest: ManifestFacts
    manifests: Mapping[str, ManifestFacts]
    informational_codes: tuple[str, ...] = field(default=())

    def ingredient_chain(self) -> tuple[ManifestFacts, ...]:
        """Return every manifest reachable from the active one, depth first, active first.

        Each manifest appears once even if several ingredients point to it; ingredients whose
        manifest is missing from the store are skipped (their failures say why).

        Returns:
            The active manifest followed by its ingredients' manifests, recursively.
        """
        seen: set[str] = set()
        chain: list[ManifestFacts] = []

        def visit(facts: ManifestFacts) -> None:
            if facts.label in seen:
                return
            seen.add(facts.label)
            chain.append(facts)
            for ingredient in facts.ingredients:
                child = self.manifests.get(ingredient.active_manifest or "")
                if child is not None:
                    visit(child)

        visit(self.active_manifest)
        return tuple(chain)


def detect_media_type(head: bytes) -> str | None:
    """Detect a container c2pa reads from the first bytes of a file.

    The one sniffer (:func:`evidence.media.media_type_from_head`), narrowed to what this
    adapter hands to c2pa: WebM and anything else outside :data:`SUPPORTED_MEDIA_TYPES` is
    None.

    Args:
        head: At least the first 32 bytes (fewer for a shorter file).

    Returns:
        A media type in :data:`SUPPORTED_MEDIA_TYPES`, or None when unsupported.
    """
    detected = media_type_from_head(head)
    return detected if detected in SUPPORTED_MEDIA_TYPES else None


def _settings_for(trust: TrustSettings) -> dict[str, Any]:
    trust_section: dict[str, str] = {}
    # c2pa refuses an empty anchor string ("COSE error parsing certificate"): omit it.
    if trust.anchors_pem.strip():
        trust_section["trust_anchors"] = trust.anchors_pem
    if trust.allowed_ekus:
        trust_section["trust_config"] = "\n".join(trust.allowed_ekus) + "\n"
    return {
        "verify": {
            "verify_trust": True,
            "verify_timestamp_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "trust": trust_section,
    }


@functools.lru_cache(maxsize=8)
def build_reader_context(trust: TrustSettings) -> c2pa.Context:
    """Build (or reuse) the offline c2pa context that verifies against ``trust``.

    Args:
        trust: Anchors and extra EKUs.

    Raises:
        TrustSettingsError: c2pa rejected the anchors or EKU configuration.

    Returns:
        A c2pa ``Context``; cached per ``TrustSettings`` and safe to share between reads.
    """
    try:
        return c2pa.Context.from_dict(_settings_for(trust))
    except c2pa.C2paError as exc:
        raise TrustSettingsError(
            "expected trust anchors c2pa can parse as X.509 certificates, found an error"
        ) from exc


def read_evidence(
    path: Path, *, trust: TrustSettings, media_type: str | None = None
) -> ReaderReport:
    """Read and validate the manifest store of the evidence file at ``path``.

    Args:
        path: The evidence file; streamed, never loaded whole.
        trust: Trust anchors and EKUs to verify against.
        media_type: The container type, if known; detected from magic bytes when None.

    Raises:
        NoManifestError: No embedded manifest, or only a remote manifest reference.
        UnsupportedMediaError: Empty file or a container OrderSeal/c2pa does not read.
        CorruptMediaError: Malformed container or manifest store.
        TrustSettingsError: ``trust`` is unusable.
        OSError: ``path`` cannot be opened.

    Returns:
        The report; ``state`` must be ``Trusted`` and every failure list empty for evidence
        to be acceptable, which is for the checks to decide.
    """
    context = build_reader_context(trust)
    with path.open("rb") as stream:
        fmt = _resolve_media_type(stream, media_type)
        store, chains = _read_store(stream, fmt, context)
    return _to_report(store, chains)


def _resolve_media_type(stream: BinaryIO, media_type: str | None) -> str:
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head:
        raise UnsupportedMediaError("expected a photo or video, found an empty file")
    if media_type is not None:
        normalized = media_type.split(";", 1)[0].strip().lower()
        if normalized not in SUPPORTED_MEDIA_TYPES:
            raise UnsupportedMediaError(
                f"expected one of {sorted(SUPPORTED_MEDIA_TYPES)}, found {normalized!r}"
            )
        return normalized
    detected = detect_media_type(head)
    if detected is None:
        raise UnsupportedMediaError(
            "expected a JPEG, PNG, GIF, WebP, TIFF, JPEG XL, HEIF/AVIF, MP4, MOV or AVI file, "
            "found an unrecognised container"
        )
    return detected


def _read_store(
    stream: BinaryIO, fmt: str, context: c2pa.Context
) -> tuple[dict[str, Any], dict[str, tuple[bytes, ...]]]:
    try:
        with c2pa.Reader(fmt, stream, None, context) as reader:
            text = reader.json()
            store = _parse_report(text)
            chains = _signer_chains(reader, store.get("active_manifest"))
    except c2pa.C2paError as exc:
        raise _map_c2pa_error(exc) from exc
    return store, chains


def _parse_report(text: str) -> dict[str, Any]:
    try:
        store = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CorruptMediaError("expected a JSON manifest report from c2pa, found none") from exc
    if not isinstance(store, dict):
        raise CorruptMediaError("expected a JSON object manifest report from c2pa")
    return cast(dict[str, Any], store)


def _signer_chains(reader: c2pa.Reader, active: Any) -> dict[str, tuple[bytes, ...]]:
    """Every manifest's signing chain, from the manifest store c2pa itself validated.

    c2pa hands back the whole JUMBF store for a ``self#jumbf`` URI inside it (pinned by
    ``tests/unit/verifier/test_reader.py``); a store it cannot hand back gives no chains,
    so no signer can be recognised as ours (fail closed).
    """
    if not isinstance(active, str) or not active:
        return {}
    buffer = io.BytesIO()
    try:
        reader.resource_to_stream(f"self#jumbf=/c2pa/{active}/c2pa.signature", buffer)
    except c2pa.C2paError:
        return {}
    return signer_chains(buffer.getvalue())


def _map_c2pa_error(exc: c2pa.C2paError) -> ReaderError:
    message = str(exc)
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return NoManifestError("expected an embedded C2PA manifest, found none")
    if any(marker in message for marker in _REMOTE_ONLY_MARKERS):
        match = _REMOTE_URL_RE.search(message)
        return NoManifestError(
            "expected an embedded C2PA manifest, found only a reference to a remote manifest "
            "(remote manifests are never fetched)",
            remote_url=match.group(1) if match else None,
        )
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return UnsupportedMediaError("expected a container c2pa reads, found an unsupported one")
    return CorruptMediaError(
        f"expected a well-formed container and manifest store, found a c2pa "
        f"{type(exc).__name__.lstrip('_')} error"
    )


def _to_report(
    store: Mapping[str, Any], chains: Mapping[str, tuple[bytes, ...]] | None = None
) -> ReaderReport:
    raw_manifests = store.get("manifests")
    active_label = store.get("active_manifest")
    if not isinstance(raw_manifests, dict) or not raw_manifests or not active_label:
        raise NoManifestError("expected an active C2PA manifest, found an empty manifest store")
    state = store.get("validation_state")
    if state not in _STATES:
        raise CorruptMediaError(f"expected a validation state in {sorted(_STATES)}, found none")

    results = _as_dict(store.get("validation_results"))
    active_results = _as_dict(results.get("activeManifest"))
    if active_results:
        failure_codes = _codes(active_results.get("failure"))
    else:
        # Older reports carry only the flat legacy list.
        failure_codes = _codes(store.get("validation_status"))
    deltas = _deltas_by_uri(results.get("ingredientDeltas"))

    manifests = {
        str(label): _manifest_facts(
            str(label), _as_dict(raw), deltas, (chains or {}).get(str(label), ())
        )
        for label, raw in raw_manifests.items()
    }
    active = manifests.get(str(active_label))
    if active is None:
        raise CorruptMediaError("expected the active manifest in the store, found it missing")

    ingredient_failures = [
        code
        for facts in manifests.values()
        for ing in facts.ingredients
        for code in ing.validation_failures
    ]
    # Deltas whose ingredient is not in the JSON still count (fail closed).
    ingredient_failures.extend(code for codes in deltas.values() for code in codes)
    return ReaderReport(
        state=cast(ValidationState, state),
        failure_codes=failure_codes,
        ingredient_failure_codes=_unique(ingredient_failures),
        active_manifest=active,
        manifests=MappingProxyType(manifests),
        informational_codes=_codes(active_results.get("informational")),
    )


def _manifest_facts(
    label: str,
    raw: Mapping[str, Any],
    deltas: Mapping[str, tuple[str, ...]],
    signer_chain: tuple[bytes, ...] = (),
) -> ManifestFacts:
    signature = _as_dict(raw.get("signature_info"))
    assertions = _assertions(raw.get("assertions"))
    actions = [
        action
        for name, data in assertions.items()
        if _ACTIONS_LABEL_RE.match(name)
        for action in _actions_and_templates(data)
    ]
    ingredients = tuple(
        _ingredient_facts(label, _as_dict(ing), deltas) for ing in _as_list(raw.get("ingredients"))
    )
    return ManifestFacts(
        label=label,
        claim_generator=_claim_generator(raw),
        signer_issuer=_opt_str(signature.get("issuer")),
        signer_common_name=_opt_str(signature.get("common_name")),
        signed_at=_parse_time(signature.get("time")),
        cert_serial_number=_opt_str(signature.get("cert_serial_number")),
        digital_source_types=_unique(
            dst for action in actions if isinstance(dst := action.get("digitalSourceType"), str)
        ),
        action_names=tuple(
            name
            for action in actions
            if not action.get("_extra") and isinstance(name := action.get("action"), str)
        ),
        assertions=MappingProxyType(assertions),
        ingredients=ingredients,
        signer_chain=signer_chain,
    )


def _actions_and_templates(data: Any) -> Iterator[dict[str, Any]]:
    """Yield every action, then every template marked ``_extra``.

    Templates are included so a digitalSourceType declared only there still counts
    (C2PA 2.1 §18.15.4.4, action templates); they are not actions for ``action_names``.
    """
    body = _as_dict(data)
    for action in _as_list(body.get("actions")):
        if isinstance(action, dict):
            yield action
            params = _as_dict(action.get("parameters"))
            # v1 actions sometimes carried the source type inside parameters.
            if isinstance(params.get("digitalSourceType"), str):
                yield {"_extra": True, "digitalSourceType": params["digitalSourceType"]}
    for template in _as_list(body.get("templates")):
        if isinstance(template, dict):
            yield {**template, "_extra": True}


def _ingredient_facts(
    manifest_label: str, raw: Mapping[str, Any], deltas: Mapping[str, tuple[str, ...]]
) -> IngredientFacts:
    failures = [
        code for code in _codes(raw.get("validation_status")) if code not in _NON_FAILURE_CODES
    ]
    recorded_results = _as_dict(raw.get("validation_results"))
    failures.extend(_codes(_as_dict(recorded_results.get("activeManifest")).get("failure")))
    failures.extend(
        code
        for delta in _as_list(recorded_results.get("ingredientDeltas"))
        for code in _codes(_as_dict(_as_dict(delta).get("validationDeltas")).get("failure"))
    )
    assertion_label = raw.get("label")
    if isinstance(assertion_label, str):
        uri = f"self#jumbf=/c2pa/{manifest_label}/c2pa.assertions/{assertion_label}"
        failures.extend(deltas.get(uri, ()))
    return IngredientFacts(
        title=_opt_str(raw.get("title")),
        relationship=_opt_str(raw.get("relationship")),
        active_manifest=_opt_str(raw.get("active_manifest")),
        validation_failures=_unique(failures),
    )


def _deltas_by_uri(raw: Any) -> dict[str, tuple[str, ...]]:
    deltas: dict[str, list[str]] = {}
    for entry in _as_list(raw):
        delta = _as_dict(entry)
        uri = str(delta.get("ingredientAssertionURI", ""))
        codes = _codes(_as_dict(delta.get("validationDeltas")).get("failure"))
        deltas.setdefault(uri, []).extend(codes)
    return {uri: _unique(codes) for uri, codes in deltas.items()}


def _assertions(raw: Any) -> dict[str, Any]:
    assertions: dict[str, Any] = {}
    for entry in _as_list(raw):
        item = _as_dict(entry)
        label = item.get("label")
        if not isinstance(label, str):
            continue
        key, instance = label, 0
        while key in assertions:
            instance += 1
            key = f"{label}__{instance}"
        assertions[key] = item.get("data")
    return assertions


def _claim_generator(raw: Mapping[str, Any]) -> str | None:
    generator = raw.get("claim_generator")
    if isinstance(generator, str) and generator:
        return generator
    # v2 claims carry only claim_generator_info (C2PA 2.1 §11.1).
    for info in _as_list(raw.get("claim_generator_info")):
        name = _as_dict(info).get("name")
        if isinstance(name, str) and name:
            version = _as_dict(info).get("version")
            if isinstance(version, str) and version and not name.endswith(f"/{version}"):
                return f"{name}/{version}"
            return name
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # c2pa writes RFC 3339 with an offset; a bare time is taken as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _codes(raw: Any) -> tuple[str, ...]:
    return tuple(
        code for entry in _as_list(raw) if isinstance(code := _as_dict(entry).get("code"), str)
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _as_dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
