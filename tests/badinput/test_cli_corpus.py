"""``orderseal verify`` on the bad-input corpus.

Input errors (no file, empty file, a file above the limit, a folder) exit 3 with one line naming
a stable code. A file that is merely bad (truncated, corrupt, polyglot, bomb, foreign manifest)
is evidence like any other: it gets a verdict, never ``allow`` (exit 1 block or 2 review).
Never a traceback.

The cases run ``orderseal.cli.main`` in this process (tests/support/cli.py); the non-UTF-8 order
id runs the installed binary, since decoding argv bytes happens at the process boundary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.settings import Settings
from orderseal.samples import make_jpeg
from tests.badinput.conftest import MAX_UPLOAD_BYTES
from tests.badinput.corpus import build_corpus, foreign_sealed, oversized_assertion
from tests.support.cli import CLIRun, run_main, run_process

#: Merely bad files: a verdict (exit 1 or 2) with these reason codes among the failed checks.
VERDICT_CASES = {
    "sealed-cut-in-manifest": "corrupt_media",
    "jpeg-cut-half": "no_manifest",
    "mp4-cut-half": "no_manifest",
    "decompression-bomb": "no_manifest",
    "absurd-dimensions-jpeg": "no_manifest",
    "polyglot-jpeg-zip": "no_manifest",
    "text-as-jpeg": "unsupported_media",
    # c2pa does not recognise a JUMBF box it cannot parse: no manifest at all.
    "corrupt-jumbf": "no_manifest",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("cli-corpus")
    sealed = foreign_sealed(make_jpeg(work / "src.jpg", seed=7, size=(160, 120)), work / "s.jpg")
    files = {}
    for case in build_corpus(work / "corpus", sealed_jpeg=sealed):
        files[case.name] = work / "corpus" / f"{case.name}.bin"
    files["oversized-assertion"] = work / "oversized.jpg"
    files["oversized-assertion"].write_bytes(oversized_assertion(work, assertion_bytes=700_000))
    return files


def _verify(settings: Settings, *args: str) -> CLIRun:
    return run_main(settings, "verify", *args)


@pytest.mark.parametrize(("name", "reason"), sorted(VERDICT_CASES.items()))
def test_merely_bad_files_get_a_verdict_not_an_error(
    settings: Settings, corpus: dict[str, Path], name: str, reason: str
) -> None:
    result = _verify(settings, str(corpus[name]), "--order", "ORD-CLI", "--json")
    assert result.returncode in (1, 2), result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] in ("block", "review")
    failed = {c["code"] for item in body["evidence"] for c in item["checks"] if not c["passed"]}
    assert reason in failed
    assert "Traceback" not in result.stdout + result.stderr


def test_oversized_assertion_is_judged_untrusted(
    settings: Settings, corpus: dict[str, Path]
) -> None:
    result = _verify(settings, str(corpus["oversized-assertion"]), "--order", "ORD-CLI", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "untrusted_signer" in {r["code"] for r in json.loads(result.stdout)["reasons"]}


@pytest.mark.parametrize(
    ("case", "code"),
    [("zero-byte", "empty_file"), ("folder", "file_not_found"), ("too-big", "payload_too_large")],
)
def test_input_errors_exit_3_with_a_code(
    settings: Settings, corpus: dict[str, Path], tmp_path: Path, case: str, code: str
) -> None:
    if case == "folder":
        target = tmp_path
    elif case == "too-big":
        target = tmp_path / "big.jpg"
        with target.open("wb") as handle:
            handle.truncate(MAX_UPLOAD_BYTES + 1)
    else:
        target = corpus[case]
    result = _verify(settings, str(target), "--order", "ORD-CLI")
    assert result.returncode == 3, result.stdout + result.stderr
    assert code in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_non_utf8_order_id_is_an_input_error(settings: Settings, corpus: dict[str, Path]) -> None:
    order = os.fsdecode(b"ORD-\xff")
    result = run_process(settings, "verify", str(corpus["png-named-jpg"]), "--order", order)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "invalid_request" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
