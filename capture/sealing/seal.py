"""Sealing: the only caller of c2pa's ``Builder``. File to file, so memory stays bounded.

Seals are made with our trust anchors loaded (otherwise c2pa records the shipment
ingredient of a receipt as ``signingCredential.untrusted``), without the claim thumbnail
(90% of photo sealing time; agents get thumbnails outside the manifest) and without
verify-after-sign (the ledger records the result and the verifier checks it on use).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa

from capture.errors import SealError
from capture.sealing import embed, native_io
from evidence.fingerprints import SOFT_BINDING_ALG, SOFT_BINDING_LABEL
from evidence.manifest import DIGITAL_CAPTURE, CaptureAssertion
from keys.signer import Signer
from keys.trust import certificates_to_pem

__all__ = ["SEALABLE_MEDIA_TYPES", "Sealer"]

_log = logging.getLogger(__name__)

SEALABLE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "video/quicktime"})
_GENERATOR = {"name": "OrderSeal", "version": "0.1.0"}
_MEMORY_BACKING_MB = 128


def _settings(trust_pem: str) -> dict[str, Any]:
    return {
        "trust": {"trust_anchors": trust_pem},
        "verify": {
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
            "verify_after_sign": False,
        },
        "builder": {"thumbnail": {"enabled": False}},
        # c2pa copies the asset into an intermediate store before hashing it. Up to
        # 128 MB it stays in memory (a third faster for short clips); above, it is an
        # unlinked temp file, so peak memory stops growing with video size (see
        # docs/benchmarks.md).
        "core": {"backing_store_memory_threshold_in_mb": _MEMORY_BACKING_MB},
    }


@functools.lru_cache(maxsize=8)
def _context(trust_pem: str) -> c2pa.Context:
    return c2pa.Context.from_dict(_settings(trust_pem))


def _sign_file(
    builder: c2pa.Builder, signer: c2pa.Signer, media_type: str, source: Path, dest: Path
) -> None:
    """Sign file to file; over native file descriptors when the binding allows it.

    The native path keeps Python (and the GIL) out of c2pa's 8 KB read/write loop; see
    :mod:`capture.sealing.native_io`. Both paths write the same sealed file.
    """
    if native_io.available():
        native_io.sign_files(builder, signer, media_type, source, dest)
        return
    with source.open("rb") as src, dest.open("w+b") as dst:
        builder.sign(signer, media_type, src, dst)


def _soft_binding(fingerprints: Sequence[str]) -> list[dict[str, Any]]:
    """The ``c2pa.soft-binding`` assertion (C2PA 2.2, "Soft binding"): ``alg`` names the
    algorithm, one block per hash; the scope is the whole asset for a photo and, for a video,
    a sampled frame (``alg_params`` says which: frames sampled evenly, in order)."""
    if not fingerprints:
        return []
    return [
        {
            "label": SOFT_BINDING_LABEL,
            "data": {
                "alg": SOFT_BINDING_ALG,
                "alg_params": "phash 8x8 of a 32x32 DCT; video: frames sampled evenly, in order",
                "blocks": [{"scope": {}, "value": value} for value in fingerprints],
                "pad": [],
            },
        }
    ]


@dataclass(frozen=True)
class Sealer:
    """Seals media with the capture service's signer."""

    signer: Signer
    trust_pem: str
    tsa_url: str | None = None

    @functools.cached_property
    def _signing_context(self) -> c2pa.Context:
        """Our settings plus our signer: the embeddable workflow takes its signer from here."""
        return c2pa.Context(
            settings=c2pa.Settings.from_dict(_settings(self.trust_pem)),
            signer=self._c2pa_signer(),
        )

    def _c2pa_signer(self) -> c2pa.Signer:
        signer = self.signer

        def sign(data: bytes) -> bytes:
            # c2pa swallows callback exceptions into "COSE signature invalid": log here.
            try:
                return signer.sign(data)
            except Exception:
                _log.exception("service signer failed")
                raise

        return c2pa.Signer.from_callback(
            sign,
            c2pa.C2paSigningAlg.ES256,
            certificates_to_pem(self.signer.certificate_chain),
            self.tsa_url,
        )

    def seal(
        self,
        source: Path,
        dest: Path,
        *,
        media_type: str,
        assertion: CaptureAssertion,
        title: str,
        ingredient_archives: Sequence[Path] = (),
        fingerprints: Sequence[str] = (),
    ) -> str:
        """Write a sealed copy of ``source`` to ``dest`` and return its manifest id.

        ``fingerprints`` (perceptual hashes, :mod:`evidence.fingerprints`) go into a
        ``c2pa.soft-binding`` assertion, so a stripped copy can be traced to this manifest.

        Raises:
            SealError: the media type is not sealable or c2pa rejects the file.
        """
        if media_type not in SEALABLE_MEDIA_TYPES:
            raise SealError(
                f"expected one of {sorted(SEALABLE_MEDIA_TYPES)}, found {media_type}",
                code="unsupported_media",
            )
        manifest_id = f"urn:c2pa:{uuid.uuid4()}"
        definition: dict[str, Any] = {
            "label": manifest_id,
            "title": title,
            "claim_generator_info": [_GENERATOR],
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {"action": "c2pa.created", "digitalSourceType": DIGITAL_CAPTURE}
                        ]
                    },
                },
                assertion.to_assertion(),
                *_soft_binding(fingerprints),
            ],
        }
        try:
            one_pass = media_type in embed.ONE_PASS_MEDIA_TYPES and embed.available()
            if one_pass and self._seal_embedded(
                definition, ingredient_archives, media_type, source, dest
            ):
                return manifest_id
            with c2pa.Builder(definition, context=_context(self.trust_pem)) as builder:
                self._add_ingredients(builder, ingredient_archives)
                _sign_file(builder, self._c2pa_signer(), media_type, source, dest)
        except c2pa.C2paError as exc:
            dest.unlink(missing_ok=True)
            raise SealError(
                f"expected a well-formed {media_type} file, c2pa could not seal it",
                code="corrupt_media",
            ) from exc
        return manifest_id

    @staticmethod
    def _add_ingredients(builder: c2pa.Builder, archives: Sequence[Path]) -> None:
        for archive in archives:
            with archive.open("rb") as stream:
                builder.add_ingredient_from_archive(stream)

    def _seal_embedded(
        self,
        definition: dict[str, Any],
        archives: Sequence[Path],
        media_type: str,
        source: Path,
        dest: Path,
    ) -> bool:
        """Seal in one copy and one hash pass (:mod:`capture.sealing.embed`); False to fall back.

        Any refusal (a layout the module does not rewrite, or c2pa rejecting the file on this
        path) falls back to ``Builder.sign``, which either seals the file or reports it.
        """
        try:
            with c2pa.Builder(definition, context=self._signing_context) as builder:
                self._add_ingredients(builder, archives)
                embed.seal_embedded(builder, media_type, source, dest)
        except embed.EmbedUnsupportedError as exc:
            _log.debug("sealing %s with Builder.sign: %s", media_type, exc)
            return False
        except (c2pa.C2paError, OSError) as exc:
            _log.info("embedded sealing refused a %s file (%s); retrying", media_type, exc)
            dest.unlink(missing_ok=True)
            return False
        return True

    def write_ingredient_archive(
        self, sealed: Path, dest: Path, *, media_type: str, title: str, label: str
    ) -> None:
        """Pack sealed shipment evidence as a reusable ingredient for receipt seals.

        Reading the archive at receipt costs kilobytes instead of re-hashing a video.

        Raises:
            SealError: c2pa could not read the sealed file.
        """
        try:
            with c2pa.Builder(
                {"claim_generator_info": [_GENERATOR]}, context=_context(self.trust_pem)
            ) as builder:
                with sealed.open("rb") as stream:
                    builder.add_ingredient(
                        {"title": title, "relationship": "componentOf", "label": label},
                        media_type,
                        stream,
                    )
                with dest.open("w+b") as out:
                    builder.write_ingredient_archive(label, out)
        except c2pa.C2paError as exc:
            dest.unlink(missing_ok=True)
            raise SealError("could not build the shipment ingredient archive") from exc
