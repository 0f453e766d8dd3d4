"""`make bench-quick` works end to end and its JSON has every section (never a timed test)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.report import write_markdown

ROOT = Path(__file__).resolve().parent.parent
CASES = {"sha256", "plain_sign", "seal", "plain_read", "verify"}


@pytest.mark.skipif(
    os.environ.get("ORDERSEAL_TEST_DATABASE") == "postgres",
    reason="the benchmark does not depend on the test backend; it runs in the first pass",
)
def test_bench_quick_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    subprocess.run(
        ["make", "--no-print-directory", "bench-quick", f"BENCH_QUICK_JSON={out}"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    document = json.loads(out.read_text())
    assert document["quick"] is True
    assert {"cpu", "cores", "c2pa_python"} <= document["machine"].keys()
    assert document["floor"]["ecdsa_sign"]["median_s"] > 0
    names = {item["name"] for item in document["inputs"]}
    assert {"photo-1mp.jpg", "photo-12mp.jpg", "photo-3mp.png", "video-10mb.mp4"} <= names
    for item in document["inputs"]:
        assert set(item["cases"]) == CASES
        for case in item["cases"].values():
            assert case["median_s"] > 0
            assert case["peak_rss_mb"] > 0
        assert item["cases"]["seal"]["ratio_to_floor"] is not None
        assert item["cases"]["verify"]["ratio_to_plain"] is not None
    http = document["http"]
    assert http["workers"] in (1, 2)
    for key in (
        "seal_single_client",
        "seal_load_4",
        "seal_load",
        "verify_single_client",
        "verify_load_4",
        "verify_load",
    ):
        assert http[key]["errors"] == 0
        assert http[key]["per_second"] > 0
    assert http["seal_server_p50_ms"] > 0
    assert http["http_to_function_ratio"] > 0

    phases = {row["phase"]: row["ms"] for row in document["upload_phases"]["phases"]}
    assert phases["sealing function"] > 0
    assert phases["service work (all below)"] >= phases["sealing function"]

    (webhooks,) = document["webhooks"]
    assert webhooks["deliveries"] == 30
    assert 0 < webhooks["p50_ms"] <= webhooks["p99_ms"]

    calibration = document["recovery_calibration"]
    assert calibration["originals"] > 0
    assert calibration["unrelated"] > 0
    assert set(calibration["recall"]) >= {"jpeg q30", "screenshot", "crop 10%"}
    assert calibration["recall"]["jpeg q95"]["7"] == 1.0
    (index,) = document["fingerprint_index"]
    assert index["backend"] == "SQLite"
    assert index["planted_found"] == 1.0
    assert 0 < index["p50_ms"] <= index["p99_ms"]

    page = tmp_path / "benchmarks.md"
    write_markdown(document, page)
    text = page.read_text()
    assert "## Targets" in text
    assert "| 12 MP photo seal vs SHA-256 + one ECDSA | ≤ 3x |" in text
    assert "## HTTP service (" in text
    assert "| &nbsp;&nbsp;sealing function |" in text
    assert "## Webhook delivery latency" in text
    assert "## Stripped copies: recovery and the fingerprint index" in text
    assert "| false match, query |" in text


def test_every_profiled_phase_names_a_real_function() -> None:
    """The phase profiler patches by name: a moved or renamed function must fail here, not at
    benchmark time."""
    from bench.phases import PHASES

    for _label, module, attribute in PHASES:
        owner: object = __import__(module, fromlist=["_"])
        for part in attribute.split("."):
            owner = getattr(owner, part)
        assert callable(owner), (module, attribute)
