"""Unit tests for the verifier package."""
