"""The error-code registry is a public contract pinned against docs/error-codes.md and the source.

Every code an ``OrderSealError`` subclass declares (``code = "..."``) or is raised with
(``code="..."``), and every literal error body (``{"error": {"code": "..."}}``, the app's
``_error(status, "code", ...)`` handlers), must be registered in ``infra/error_codes.py`` with the
HTTP status its raise site gives it, and each code has one status. The source is parsed
(``ast``), not imported, so a code in a module no test imports is still found.

``PENDING`` lists the raise sites that still answer a code with a second status, each with the
change that gives it its own code; their tests are strict xfails, so applying a change fails the
run until its line here is removed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.error_codes import ERROR_CODES, error_code
from tests.support.paths import repo_root

#: Top-level folders that are not the service's source.
NOT_SOURCE = {"tests", "bench", "scripts", "docs"}

#: Raise sites whose code is computed, with every code they can produce. A new computed code
#: fails the test until it is listed here (and its codes registered).
COMPUTED = {
    # A station request's buyer token refusal: ``credentials_`` + the token code without
    # ``token_`` (verify_buyer_token raises token_forged, token_malformed, token_expired).
    "credentials_{exc.code.removeprefix('token_')}": {
        "credentials_expired",
        "credentials_forged",
        "credentials_malformed",
    },
}
#: A code passed through from an error already raised (and so already registered).
PASSED_THROUGH = {"exc.code"}

#: (code, status) still raised although the code's one status is another: the change that ends
#: it, to be made in files owned elsewhere. Remove a line once its change is in.
PENDING: dict[tuple[str, int], str] = {}
#: Registered codes whose raise sites arrive with the changes in ``PENDING``.
PENDING_CODES: set[str] = set()


@dataclass(frozen=True)
class Site:
    """One place in the source that answers an error code with an HTTP status."""

    where: str
    code: str
    http_status: int | None


def _source_files() -> list[Path]:
    root = repo_root()
    packages = [
        path.parent
        for path in root.glob("*/__init__.py")
        if path.parent.name not in NOT_SOURCE and not path.parent.name.startswith(".")
    ]
    assert {"orderseal", "capture", "verifier", "evidence", "keys", "infra"} <= {
        p.name for p in packages
    }
    return sorted(file for package in packages for file in package.rglob("*.py"))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _constant(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


class _Errors:
    """The ``OrderSealError`` class tree of the source: each class's bases, code and status."""

    def __init__(self, trees: dict[str, ast.Module]) -> None:
        self.classes: dict[str, tuple[list[str], dict[str, object], str]] = {}
        for where, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    attrs: dict[str, object] = {}
                    for statement in node.body:
                        value: ast.expr | None
                        if isinstance(statement, ast.Assign):
                            target, value = statement.targets[0], statement.value
                        elif isinstance(statement, ast.AnnAssign):
                            target, value = statement.target, statement.value
                        else:
                            continue
                        if isinstance(target, ast.Name) and target.id in ("code", "http_status"):
                            attrs[target.id] = _constant(value)
                    bases = [b for b in (_name(base) for base in node.bases) if b]
                    self.classes.setdefault(node.name, (bases, attrs, f"{where}:{node.lineno}"))

    def is_error(self, name: str) -> bool:
        if name == "OrderSealError":
            return True
        entry = self.classes.get(name)
        return entry is not None and any(self.is_error(base) for base in entry[0])

    def attribute(self, name: str, attribute: str) -> object:
        bases, attrs, _ = self.classes[name]
        if attrs.get(attribute) is not None:
            return attrs[attribute]
        for base in bases:
            if base in self.classes and self.is_error(base):
                found = self.attribute(base, attribute)
                if found is not None:
                    return found
        return None


def _sites() -> Iterator[Site]:
    root = repo_root()
    trees = {
        str(path.relative_to(root)): ast.parse(path.read_text(), filename=str(path))
        for path in _source_files()
    }
    errors = _Errors(trees)
    for name, (_, attrs, where) in errors.classes.items():
        if errors.is_error(name) and isinstance(attrs.get("code"), str):
            status = errors.attribute(name, "http_status")
            yield Site(where, str(attrs["code"]), status if isinstance(status, int) else None)
    for where, tree in trees.items():
        answered: set[int] = set()
        for node in ast.walk(tree):
            yield from _call_sites(errors, where, node)
            yield from _response_sites(where, node, answered)
            if id(node) not in answered:
                yield from _body_sites(where, node)


def _call_sites(errors: _Errors, where: str, node: ast.AST) -> Iterator[Site]:
    """``SomeError(..., code="x", http_status=N)`` and the app's ``_error(N, "x", ...)``."""
    if not isinstance(node, ast.Call):
        return
    here = f"{where}:{node.lineno}"
    name = _name(node.func)
    if where == "orderseal/app.py" and name == "_error" and len(node.args) >= 2:
        status, code = _constant(node.args[0]), node.args[1]
        if isinstance(_constant(code), str):
            yield Site(here, str(_constant(code)), status if isinstance(status, int) else None)
        return
    if name is None or name not in errors.classes or not errors.is_error(name):
        return
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    if "code" not in keywords:
        return
    given = _constant(keywords.get("http_status"))
    status = given if isinstance(given, int) else errors.attribute(name, "http_status")
    status = status if isinstance(status, int) else None
    code = keywords["code"]
    if isinstance(_constant(code), str):
        yield Site(here, str(_constant(code)), status)
    elif ast.unparse(code) in PASSED_THROUGH:
        return
    else:
        text = ast.unparse(code)
        expression = text[2:-1] if text.startswith(("f'", 'f"')) else text
        assert expression in COMPUTED, f"{here}: computed error code {text}: list it in COMPUTED"
        for derived in COMPUTED[expression]:
            yield Site(here, derived, status)


def _response_sites(where: str, node: ast.AST, answered: set[int]) -> Iterator[Site]:
    """``JSONResponse(status_code=N, content={"error": {"code": "x"}})``: the body with its status.

    The body's dict is recorded in ``answered`` so the plain body scan does not count it again.
    """
    if not isinstance(node, ast.Call) or _name(node.func) != "JSONResponse":
        return
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    status = _constant(keywords.get("status_code"))
    content = keywords.get("content")
    if content is None or not isinstance(status, int):
        return
    answered.add(id(content))
    yield from _body_sites(where, content, status)


def _body_sites(where: str, node: ast.AST, status: int | None = None) -> Iterator[Site]:
    """Error bodies written out by hand: ``{"error": {"code": "x", ...}}``."""
    if not isinstance(node, ast.Dict):
        return
    for key, value in zip(node.keys, node.values, strict=True):
        if key is not None and _constant(key) == "error" and isinstance(value, ast.Dict):
            for inner_key, inner_value in zip(value.keys, value.values, strict=True):
                if inner_key is None or _constant(inner_key) != "code":
                    continue
                code = _constant(inner_value)
                if not isinstance(code, str):
                    assert ast.unparse(inner_value) in PASSED_THROUGH, f"{where}:{node.lineno}"
                    continue
                yield Site(f"{where}:{node.lineno}", code, status)


def _http_exception_codes() -> dict[str, int | None]:
    """The app's map of framework HTTP errors to codes (``{400: "bad_request", ...}``)."""
    source = (repo_root() / "orderseal" / "app.py").read_text()
    handler = source[source.index("async def _http_error") :]
    handler = handler[: handler.index("@app.")]
    mapped: dict[str, int | None] = {
        code: int(status) for status, code in re.findall(r'(\d{3}): "([a-z_]+)"', handler)
    }
    fallback = re.search(r'exc\.status_code, "([a-z_]+)"', handler)
    assert fallback is not None
    mapped[fallback.group(1)] = None  # whatever status the framework raised
    return mapped


def _documented() -> dict[str, tuple[int | None, str]]:
    doc = (repo_root() / "docs" / "error-codes.md").read_text()
    rows = re.findall(
        r"^\| `([a-z0-9_]+)` \| (\d{3}|framework) \| (.+) \|$", doc, flags=re.MULTILINE
    )
    documented: dict[str, tuple[int | None, str]] = {}
    for code, status, meaning in rows:
        assert code not in documented, f"{code} is documented twice"
        documented[code] = (None if status == "framework" else int(status), meaning)
    return documented


SITES = sorted(set(_sites()), key=lambda site: (site.code, site.where))
#: The app's framework-error map, as sites (its fallback answers with the framework's status).
FRAMEWORK_SITES = [
    Site("orderseal/app.py:_http_error", code, status)
    for code, status in sorted(_http_exception_codes().items())
]


def _param(site: Site) -> object:
    pending = PENDING.get((site.code, site.http_status)) if site.http_status else None
    marks = [pytest.mark.xfail(strict=True, reason=f"pending: {pending}")] if pending else []
    return pytest.param(site, id=f"{site.code}@{site.where}", marks=marks)


def test_registry_lists_each_code_once_in_order() -> None:
    codes = [entry.code for entry in ERROR_CODES]
    assert codes == sorted(set(codes))
    for entry in ERROR_CODES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.code), entry.code
        if entry.http_status is None:
            # Only the framework pass-through has no status of its own.
            assert entry.code == "http_error"
        else:
            assert 400 <= entry.http_status <= 599, entry.code


def test_docs_table_is_the_registry() -> None:
    documented = _documented()
    assert list(documented) == [entry.code for entry in ERROR_CODES]
    for entry in ERROR_CODES:
        assert documented[entry.code] == (entry.http_status, entry.meaning), entry.code


def test_source_finds_the_known_error_sites() -> None:
    # Guards the parser itself: if these go missing the scan is broken, not the source.
    codes = {site.code for site in SITES}
    assert {"invalid_input", "dispute_not_found", "headers_too_large", "internal_error"} <= codes
    assert len(SITES) > 150
    # A hand-written JSONResponse carries its status to the scan.
    assert any(site.where.startswith("infra/names.py") and site.http_status for site in SITES)


@pytest.mark.parametrize("site", [_param(site) for site in [*SITES, *FRAMEWORK_SITES]])
def test_every_raised_code_is_registered_with_its_one_status(site: Site) -> None:
    try:
        entry = error_code(site.code)
    except KeyError:
        pytest.fail(f"{site.where}: {site.code!r} is not in infra/error_codes.py")
    if site.http_status is not None and entry.http_status is not None:
        assert site.http_status == entry.http_status, (site.where, site.http_status)


def test_pending_changes_name_registered_codes() -> None:
    for code, status in PENDING:
        assert error_code(code).http_status != status, code
    assert PENDING_CODES <= {entry.code for entry in ERROR_CODES}


def test_every_registered_code_is_raised_somewhere() -> None:
    raised = {site.code for site in [*SITES, *FRAMEWORK_SITES]}
    assert {entry.code for entry in ERROR_CODES} - raised == PENDING_CODES - raised
    # A pending code that has arrived is no longer pending: remove it from PENDING_CODES.
    assert not PENDING_CODES & raised, PENDING_CODES & raised
