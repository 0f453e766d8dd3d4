"""``orderseal verify``: verdicts as exit codes (0 allow, 1 block, 2 review, 3 input error).

Most cases run ``orderseal.cli.main`` in this process (tests/support/cli.py); the allowed receipt
and an unknown option run the installed binary, so its exit statuses are seen from outside too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.support import flows
from tests.support.cli import CLIRun, run_main, run_process


def _run(settings: Settings, *args: str) -> CLIRun:
    return run_main(settings, "verify", *args)


@pytest.fixture(scope="module")
def case(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str, Path]:
    work = tmp_path_factory.mktemp("cli")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    (photo,) = flows.receive(cast, shipped, work)
    return order_id, cast.buyer_id, photo


def test_sealed_receipt_exits_0_with_json(settings: Settings, case: tuple[str, str, Path]) -> None:
    order_id, buyer_id, photo = case
    args = (str(photo), "--order", order_id, "--buyer", buyer_id, "--json")
    result = run_process(settings, "verify", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] == "allow"
    assert body["reasons"] == []


def test_tampered_file_exits_1(
    settings: Settings, case: tuple[str, str, Path], tmp_path: Path
) -> None:
    order_id, _, photo = case
    data = bytearray(photo.read_bytes())
    data[-300] ^= 0x10
    tampered = tmp_path / "t.jpg"
    tampered.write_bytes(bytes(data))
    result = _run(settings, str(tampered), "--order", order_id, "--json")
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["decision"] == "block"
    codes = {r["code"] for r in body["reasons"]}
    assert "content_tampered" in codes
    assert all(set(r) == {"code", "message"} for r in body["reasons"])


def test_unsigned_file_exits_2(
    settings: Settings, case: tuple[str, str, Path], tmp_path: Path
) -> None:
    order_id, _, _ = case
    plain = tmp_path / "plain.png"
    from orderseal.samples import make_png

    make_png(plain, seed=3, size=(64, 64))
    result = _run(settings, str(plain), "--order", order_id)
    assert result.returncode == 2
    assert "no_manifest" in result.stdout


def test_unknown_order_is_examined_not_an_input_error(
    settings: Settings, case: tuple[str, str, Path]
) -> None:
    _, _, photo = case
    result = _run(settings, str(photo), "--order", "ORD-NEVER-SEEN", "--json")
    assert result.returncode in (1, 2)
    codes = {r["code"] for r in json.loads(result.stdout)["reasons"]}
    assert {"order_unknown", "order_mismatch"} <= codes


@pytest.mark.parametrize(
    "args",
    [
        ["/nonexistent/file.jpg", "--order", "ORD-1"],
        ["--order", "ORD-1"],
        ["x.jpg"],
        ["x.jpg", "--order", "A", "--bogus"],
    ],
    ids=["missing-file", "no-file-argument", "no-order", "unknown-option"],
)
def test_usage_and_input_errors_exit_3(settings: Settings, args: list[str]) -> None:
    result = _run(settings, *args)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_installed_binary_exits_3_on_an_unknown_option(settings: Settings) -> None:
    result = run_process(settings, "verify", "x.jpg", "--order", "A", "--bogus")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
