"""The upload gate's pure parts: body deadlines, slot accounting, disk admission."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.uploads import (
    InsufficientStorageError,
    TooManyUploadsError,
    UploadGate,
    UploadsBusyError,
)


def _gate(**overrides: object) -> UploadGate:
    values: dict[str, object] = {
        "idle_timeout_seconds": 10.0,
        "min_bytes_per_second": 1000,
        "rate_grace_seconds": 5.0,
        "max_public": 2,
        "max_public_per_client": 1,
        "reserve_bytes": 100,
    }
    values.update(overrides)
    return UploadGate(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("received", "now", "expected"),
    [
        (0, 0.0, 5.0),  # nothing yet: the grace period
        (4000, 3.0, 5.0),  # fast start still ends at the grace period
        (6000, 4.0, 6.0),  # 6000 bytes buy 6 s at 1000 B/s
        (50_000, 1.0, 11.0),  # far ahead of the rate: the idle timeout decides
    ],
    ids=["empty", "inside-grace", "rate-bound", "idle-bound"],
)
def test_deadline_is_the_earlier_of_idle_and_rate(
    received: int, now: float, expected: float
) -> None:
    assert _gate().deadline(started=0.0, received=received, now=now) == expected


def test_zero_disables_each_time_limit() -> None:
    assert (
        _gate(idle_timeout_seconds=0, min_bytes_per_second=0).deadline(
            started=0.0, received=0, now=100.0
        )
        is None
    )
    assert _gate(min_bytes_per_second=0).deadline(started=0.0, received=0, now=1.0) == 11.0


def test_public_slots_per_client_and_in_total_are_given_back() -> None:
    gate = _gate()
    with gate.public_slot("a"):
        with pytest.raises(TooManyUploadsError):
            gate.public_slot("a").__enter__()
        with gate.public_slot("b"), pytest.raises(UploadsBusyError):
            gate.public_slot("c").__enter__()
    with gate.public_slot("a"), gate.public_slot("c"):
        pass


def test_disk_admission_counts_promised_bytes(tmp_path: Path) -> None:
    gate = _gate(free_bytes=lambda _d: 1000)
    with gate.disk_admission(tmp_path, 899):
        with pytest.raises(InsufficientStorageError):
            gate.disk_admission(tmp_path, 2).__enter__()
    with gate.disk_admission(tmp_path, 900), pytest.raises(InsufficientStorageError):
        gate.verify_disk(tmp_path, pending_bytes=1)
