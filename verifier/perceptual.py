"""Perceptual fingerprints for near-duplicate reuse: re-encoded, resized or slightly cropped
copies of a photo, and videos re-encoded from the same footage.

Photos get one 64-bit pHash; videos get the pHash of frames sampled evenly across the clip.
"""

from __future__ import annotations

import imagehash

from evidence.fingerprints import fingerprint

__all__ = ["IMAGE_DISTANCE", "RECOVERY_DISTANCE", "REUSE_DISTANCE", "fingerprint", "near_duplicate"]

#: Hamming distance (of 64 bits) under which two pHashes show the same picture. Measured on
#: 300 generated scenes: a 2% crop per side measures 0-12, a 4% crop 2-18 (so it is not
#: reliably caught), unrelated scenes 16+.
IMAGE_DISTANCE = 12

#: Hamming distance within which a file without a manifest is traced to a sealed original
#: (``manifest_recovered``; the fingerprint index answers it). Chosen from `python -m bench`
#: (docs/benchmarks.md, "Stripped copies"), 200 sealed generated photos x 14 transformations
#: against 10,000 unrelated generated pictures: at 7 bits every JPEG q30-95, resize 25-100 %
#: and brightness +-15 % copy is recovered (their distances stay 0-6), and a 2 % crop nearly
#: always; a 5 % crop about three in four, 10 % rarely; screenshots with app bars are found
#: through the trimmed query hash (evidence.fingerprints). No unrelated picture came within 7
#: (the nearest was 10 or more). 7 is also what the index serves cheaply: 4 bands of 16 bits,
#: one-bit neighbourhoods (infra.ledger.fingerprint_index). Recovery never allows on its own:
#: the original must be this order's and this buyer's (verifier.checks.recovered).
RECOVERY_DISTANCE = 7

#: The tighter distance within which a copy is traced to ANOTHER order's original (and so
#: called ``evidence_reused``, which blocks). See RECOVERY_DISTANCE for the figures.
REUSE_DISTANCE = 3


def _distance(a: str, b: str) -> int:
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))


def near_duplicate(ours: list[str], theirs: list[str]) -> bool:
    """Same picture, or most sampled frames of the same footage."""
    if not ours or not theirs:
        return False
    if len(ours) == 1 and len(theirs) == 1:
        return _distance(ours[0], theirs[0]) <= IMAGE_DISTANCE
    matched = sum(1 for a in ours if any(_distance(a, b) <= IMAGE_DISTANCE for b in theirs))
    return matched * 2 > len(ours)
