"""The client's response types stay in step with the server's response models.

The client package may not import the server (a station installs it alone), so its TypedDicts
copy the models field by field; each names its model in its docstring. This test compares them,
so a field added or renamed on the server fails here instead of in a packing station.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, is_typeddict

import pytest
from pydantic import BaseModel

from clients import schemas

_MODEL_REFERENCE = re.compile(r"``((?:capture|verifier|infra)\.[\w.]+)``")


def _mirrors() -> list[tuple[str, Any, type[BaseModel]]]:
    pairs = []
    for name in dir(schemas):
        candidate = getattr(schemas, name)
        if not is_typeddict(candidate):
            continue
        reference = _MODEL_REFERENCE.search(candidate.__doc__ or "")
        if reference is None:
            continue
        module, _, model = reference.group(1).rpartition(".")
        pairs.append((name, candidate, getattr(importlib.import_module(module), model)))
    return pairs


MIRRORS = _mirrors()


def test_every_response_type_names_its_model() -> None:
    named = {name for name, _, _ in MIRRORS}
    typed = {name for name in dir(schemas) if is_typeddict(getattr(schemas, name))}
    assert typed == named
    assert len(named) >= 10


@pytest.mark.parametrize(("name", "typed", "model"), MIRRORS, ids=[m[0] for m in MIRRORS])
def test_response_type_has_the_models_fields(name: str, typed: Any, model: type[BaseModel]) -> None:
    server = {field.alias or key for key, field in model.model_fields.items()}
    client = set(typed.__required_keys__) | set(typed.__optional_keys__)
    assert client == server, name
