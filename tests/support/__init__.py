"""Shared test helpers (paths to the repository and the third-party fixtures)."""
