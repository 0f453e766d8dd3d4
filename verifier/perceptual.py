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

#: Hamming distance within which a file without a manifest is traced to a sealed original of
#: the CLAIMED order (``manifest_recovered``; the fingerprint index answers it). Measured by
#: ``python -m bench.fingerprints`` (docs/benchmarks.md, "Stripped copies"): 200 sealed
#: generated photos x 14 transformations against 10,000 unrelated generated pictures. At 7 bits
#: every JPEG q30-95, resize 25-100 % and brightness -15 % copy is recovered (they measure 0-2),
#: brightness +15 % and a 2 % crop 99 %, a 5 % crop 81 %, a 10 % crop 19 %, screenshots with
#: app bars 67 % (through the trimmed query hashes, evidence.fingerprints). Unrelated pictures
#: DO fall within 7: 3e-5 of (picture, original) pairs, 0.56 % of pictures within 7 of some one
#: of the 200 originals (the nearest was 2 bits away). Among N originals that is about
#: N x 3e-5 false matches per lookup: 3e-4 among one order's ten files, 30 among 10^6. So this
#: radius is used only where few originals can match, the claimed order's own (facts prefer
#: them), and there a false match can lead at most to judging the claim on the claimant's own
#: sealed capture (verifier.checks.recovered: own order AND own buyer, else no allow). 7 is
#: also what the index serves cheaply: 4 bands of 16 bits, one-bit band neighbourhoods.
RECOVERY_DISTANCE = 7

#: The distance within which a copy is traced to ANOTHER order's original and called
#: ``evidence_reused`` (which blocks). Exact re-encodings (JPEG, resize, brightness -15 %)
#: measured 0-2 bits, so they are all still caught; at 3 bits the pair rate was already 2.5e-6
#: (2.5 expected false matches per lookup among 10^6 generated originals), so a farther
#: foreign match accuses no one: the file stays ``no_manifest`` (review).
REUSE_DISTANCE = 2


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
