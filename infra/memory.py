"""Process memory tuning for sealing and verifying workers (opt-in).

c2pa-rs hashes media through freshly allocated buffers of up to 256 MB per file. glibc serves
allocations that large with ``mmap`` and returns them with ``munmap``, so every seal and every
verification of a video faults in and zeroes its buffer pages again. Raising glibc's mmap and
trim thresholds keeps those buffers in the heap after the first file, so later files reuse
warm pages: measured ~10% faster on 1 GB videos. It is off by default
(``ORDERSEAL_REUSE_LARGE_BUFFERS``) because a worker then keeps its high-water mark, and heap
fragmentation between differently sized buffers raised a 1 GB seal's peak from ~580 MB to
~830 MB, past the 600 MB budget (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["reuse_large_buffers"]

_log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 1 << 30  # above c2pa's largest hash buffer
_TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # never give the heap top back


def reuse_large_buffers() -> bool:
    """Ask glibc to keep large freed buffers for reuse; returns whether it agreed.

    A no-op (False) off Linux or on a C library without ``mallopt`` (musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    agreed = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )
    if not agreed:
        _log.warning("glibc refused the large-buffer malloc settings; media I/O stays slower")
    return agreed
