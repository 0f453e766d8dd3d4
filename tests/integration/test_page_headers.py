"""Every HTML page carries a strict CSP, nosniff and frame-ancestors 'none' (issue 14.16).

Adversary: a page that framed ours (clickjacking an agent into a decision) or injected markup
in report fields (script from a buyer-chosen title). The pages keep no inline script or
style, so the policy needs no 'unsafe-inline'; tests/browser/ checks they still work.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import flows

pytestmark = pytest.mark.backend_independent

PAGES = ["/capture", "/agent", "/seller", "/verify", "report"]


@pytest.fixture(scope="module")
def report_path(live_api: str, credentials: dict[str, str]) -> str:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    created = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    return f"/v1/disputes/{created['dispute_id']}/report"


@pytest.mark.parametrize("page", PAGES, ids=[p.strip("/") for p in PAGES])
def test_html_page_has_a_strict_policy_and_no_inline_code(
    live_api: str, credentials: dict[str, str], report_path: str, page: str
) -> None:
    path = report_path if page == "report" else page
    answer = httpx.get(live_api + path, headers={"Authorization": f"Bearer {credentials['agent']}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"]
    assert directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("object-src") == ["'none'"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert answer.headers.get("x-content-type-options") == "nosniff"
    # What the policy would block must not be there: inline scripts, styles, handlers.
    html = answer.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert " style=" not in html
