"""Conformance tests: one case per third-party fixture in ../shared/c2pa-fixtures."""
