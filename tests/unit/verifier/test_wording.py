"""verifier.wording: every check, reason code and rule has plain words; no c2pa code leaks.

The adversary here is our own internals: a check detail quoting c2pa
(``assertion.dataHash.mismatch``) must never become the sentence an agent or a merchant reads.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from verifier import checks, rules
from verifier.reasons import ReasonCode
from verifier.schemas import CheckOut, RuleTraceOut
from verifier.status_codes import STATUS_REASONS
from verifier.wording import (
    CHECK_LABELS,
    REASON_SENTENCES,
    RULE_LABELS,
    plain_check,
    plain_rule,
    reason_sentence,
    utc_text,
)


def _emitted_check_names() -> set[str]:
    """Every check name a check module passes to ``CheckResult`` (literal or module constant)."""
    names: set[str] = set()
    for path in Path(checks.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "CheckResult"):
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                names.add(constants[first.id])
    # ``_found(check, ...)`` in integrity passes the name through a parameter.
    integrity = ast.parse((Path(checks.__file__).parent / "integrity.py").read_text())
    for node in ast.walk(integrity):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_found":
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def test_the_scan_finds_the_checks() -> None:
    found = _emitted_check_names()
    assert {"capture_buyer", "binding", "signature", "reuse", "revocation"} <= found


def test_every_emitted_check_has_a_label() -> None:
    assert sorted(_emitted_check_names() - set(CHECK_LABELS)) == []


def test_every_crashed_check_has_a_label() -> None:
    # A crashed check is reported under its function's name.
    assert sorted(c.__name__ for c in checks.ALL_CHECKS if c.__name__ not in CHECK_LABELS) == []


def test_every_reason_code_has_a_sentence() -> None:
    assert set(REASON_SENTENCES) == set(ReasonCode)
    assert all(sentence.endswith(".") for sentence in REASON_SENTENCES.values())


def test_every_rule_has_a_label() -> None:
    source = ast.parse(Path(rules.__file__).read_text())
    emitted = {
        str(node.args[0].value)
        for node in ast.walk(source)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "_rule"
        and isinstance(node.args[0], ast.Constant)
    }
    assert emitted
    assert sorted(emitted - set(RULE_LABELS)) == []


def test_a_c2pa_status_never_reaches_the_sentence() -> None:
    check = CheckOut(
        check="binding",
        code=ReasonCode.CONTENT_TAMPERED,
        passed=False,
        detail="c2pa reports assertion.dataHash.mismatch",
    )
    plain = plain_check(check)
    assert plain.code == ReasonCode.CONTENT_TAMPERED
    assert plain.passed is False
    assert "dataHash" not in plain.explanation
    assert "c2pa" not in plain.label.lower() + plain.explanation.lower()


@pytest.mark.parametrize("status", sorted(STATUS_REASONS), ids=str)
def test_no_wording_quotes_a_c2pa_status(status: str) -> None:
    texts = [*CHECK_LABELS.values(), *REASON_SENTENCES.values(), *RULE_LABELS.values()]
    assert all(status not in text for text in texts)


def test_a_passed_check_has_no_code() -> None:
    plain = plain_check(CheckOut(check="capture_buyer", passed=True, detail="ok"))
    assert plain.code is None
    assert "code" not in plain.model_dump()
    assert plain.explanation == "Unboxing video was recorded with the buyer's enrolled app."


def test_an_unknown_check_or_code_is_generic() -> None:
    plain = plain_check(
        CheckOut(check="future_check", code=ReasonCode.NO_MANIFEST, passed=False, detail="x")
    )
    assert "future_check" not in plain.label
    assert reason_sentence("not_a_code").endswith("must look.")


def test_rules_keep_their_figures() -> None:
    plain = plain_rule(RuleTraceOut(rule="value_threshold", fired=True, detail="claim 900 EUR"))
    assert plain.label == RULE_LABELS["value_threshold"]
    assert plain.detail == "claim 900 EUR"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "2026-01-02T03:04:06Z"),
        (
            datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))),
            "2026-01-02T03:04:05Z",
        ),
        ("2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05Z"),
        ("2026-01-02T03:04:05", "2026-01-02T03:04:05Z"),
    ],
    ids=["microseconds-dropped", "one-second-later", "other-zone", "ledger-text", "naive-text"],
)
def test_utc_text(value: datetime | str, expected: str) -> None:
    assert utc_text(value) == expected
