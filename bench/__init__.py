"""Benchmarks: OrderSeal's sealing and verification against the SHA-256 floor and plain c2pa.

Run ``make bench`` (full, updates ``docs/benchmarks.md``) or ``make bench-quick`` (under a
minute, JSON only). See ``python -m bench --help``.
"""
