"""One benchmark case in a fresh process, so its peak RSS is its own.

``python -m bench.child CASE INPUT MEDIA_TYPE REPS KEYS_DIR`` prints one JSON object:
``times`` (seconds per run, after one untimed warm-up run unless REPS is 1),
``rss_before_mb`` (after imports and setup) and ``peak_rss_mb`` (whole process).

Cases:
    sha256       hashlib.file_digest of the input (the hashing floor)
    ecdsa        one ES256 signature of a 2 KB to-be-signed structure (the signing floor)
    plain_sign   c2pa-python used plainly: default settings, PEM signer, file streams
    plain_read   c2pa-python Reader with default settings on the sealed copy
    seal         OrderSeal's sealing function (capture.sealing.seal.Sealer.seal)
    verify       OrderSeal's verification function (evidence.reader.read_evidence)

``seal`` and ``plain_sign`` leave their output next to the input (``.sealed`` and
``.plain`` before the suffix) for the read cases.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["main", "sealed_path"]

_DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def sealed_path(source: Path, kind: str = "sealed") -> Path:
    """Where a case writes (and the read cases find) the signed copy of ``source``."""
    return source.with_name(f"{source.stem}.{kind}{source.suffix}")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's own high-water mark (``ru_maxrss`` would carry the parent's across
    fork and exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sha256(source: Path) -> Callable[[], object]:
    def run() -> object:
        with source.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()

    return run


def _ecdsa() -> Callable[[], object]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    payload = os.urandom(2048)
    return lambda: key.sign(payload, ec.ECDSA(hashes.SHA256()))


def _plain_sign(source: Path, media_type: str, keys_dir: Path) -> Callable[[], object]:
    import c2pa

    key = (keys_dir / "service.key").read_bytes()
    chain = (keys_dir / "service-chain.pem").read_bytes()
    dest = sealed_path(source, "plain")
    manifest = {
        "claim_generator_info": [{"name": "plain-c2pa-python", "version": "1"}],
        "title": source.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": _DIGITAL_CAPTURE}]
                },
            }
        ],
    }

    def run() -> object:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, key, None))
        with c2pa.Builder(manifest) as builder, source.open("rb") as src:
            with dest.open("w+b") as dst:
                return builder.sign(signer, media_type, src, dst)

    return run


def _plain_read(source: Path, media_type: str) -> Callable[[], object]:
    import c2pa

    target = sealed_path(source, "plain")

    def run() -> object:
        with target.open("rb") as stream, c2pa.Reader(media_type, stream) as reader:
            return reader.json()

    return run


def _memory_as_configured() -> None:
    """Apply ``ORDERSEAL_REUSE_LARGE_BUFFERS`` as each ``orderseal serve`` worker does."""
    from infra.memory import reuse_large_buffers
    from infra.settings import Settings

    if Settings().reuse_large_buffers:
        reuse_large_buffers()


def _seal(source: Path, media_type: str, keys_dir: Path) -> Callable[[], object]:
    from capture.sealing.seal import Sealer
    from evidence.manifest import CaptureAssertion, Stage
    from keys.store import KeyStore

    _memory_as_configured()
    store = KeyStore(keys_dir)
    sealer = Sealer(signer=store.service_signer(), trust_pem=store.trust_list().pem)
    assertion = CaptureAssertion(
        order_id="ORD-BENCH",
        stage=Stage.SHIPMENT,
        device_id="station-bench",
        session_id="ss_bench",
        captured_at="2025-01-01T00:00:00+00:00",
        received_at="2025-01-01T00:00:01+00:00",
        content_sha256="0" * 64,
        media_type=media_type,
    )
    dest = sealed_path(source)
    return lambda: sealer.seal(
        source, dest, media_type=media_type, assertion=assertion, title=source.name
    )


def _verify(source: Path, keys_dir: Path) -> Callable[[], object]:
    from evidence.reader import TrustSettings, read_evidence
    from keys.store import KeyStore

    _memory_as_configured()
    trust = TrustSettings(anchors_pem=KeyStore(keys_dir).trust_list().pem)
    target = sealed_path(source)

    def run() -> object:
        report = read_evidence(target, trust=trust)
        if report.state != "Trusted":
            raise SystemExit(f"expected a Trusted seal, found {report.state}")
        return report

    return run


def _case(name: str, source: Path, media_type: str, keys_dir: Path) -> Callable[[], object]:
    if name == "sha256":
        return _sha256(source)
    if name == "ecdsa":
        return _ecdsa()
    if name == "plain_sign":
        return _plain_sign(source, media_type, keys_dir)
    if name == "plain_read":
        return _plain_read(source, media_type)
    if name == "seal":
        return _seal(source, media_type, keys_dir)
    if name == "verify":
        return _verify(source, keys_dir)
    raise SystemExit(f"unknown case {name!r}")


def main(argv: list[str]) -> int:
    """Run one case and print its JSON result."""
    name, source, media_type, reps, keys_dir = argv
    run = _case(name, Path(source), media_type, Path(keys_dir))
    count = int(reps)
    rss_before = _rss_mb()
    if count > 1:
        run()  # warm-up: caches, lazily built contexts
    times = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {"times": times, "rss_before_mb": rss_before, "peak_rss_mb": _peak_rss_mb()},
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
