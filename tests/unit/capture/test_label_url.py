"""The label QR's URL form: our own origin's capture URL, or a bare token; nothing else.

Adversary: a scam card beside the parcel whose QR is a look-alike URL (another host,
userinfo, punycode, our host as their subdomain) carrying a genuine token copied off a real
label. None of them is read as a label.
"""

from __future__ import annotations

import pytest

from capture.label_url import label_token_from_payload, label_url

BASE = "https://orderseal.example"
TOKEN = "OS1.eyJvIjoiT1JELTEifQ.c2lnbmF0dXJl"


def test_the_label_url_carries_the_token_in_the_fragment() -> None:
    url = label_url(BASE, TOKEN)
    assert url == f"{BASE}/capture#t={TOKEN}"
    assert label_token_from_payload(url, base_url=BASE) == TOKEN


def test_a_trailing_slash_in_the_setting_does_not_change_the_url() -> None:
    assert label_url(BASE + "/", TOKEN) == label_url(BASE, TOKEN)
    assert label_token_from_payload(label_url(BASE, TOKEN), base_url=BASE + "/") == TOKEN


def test_a_bare_token_from_an_older_label_is_still_read() -> None:
    assert label_token_from_payload(f"  {TOKEN}\n", base_url=BASE) == TOKEN


@pytest.mark.parametrize(
    "payload",
    [
        f"https://evil.example/capture#t={TOKEN}",
        f"https://orderseal.example@evil.example/capture#t={TOKEN}",
        f"https://orderseal.example.evil.example/capture#t={TOKEN}",
        f"https://evil.example/orderseal.example/capture#t={TOKEN}",
        f"https://xn--rderseal-9za.example/capture#t={TOKEN}",
        f"https://orderseal.example:8443/capture#t={TOKEN}",
        f"http://orderseal.example/capture#t={TOKEN}",
        f"https://orderseal.example./capture#t={TOKEN}",
        f"https://orderseal.example/capture?t={TOKEN}",
        f"https://orderseal.example/capture/../evil#t={TOKEN}",
        f"https://orderseal.example/%63apture#t={TOKEN}",
        f"https://orderseal.example/capture#t={TOKEN}&next=https://evil.example",
        f"https://orderseal.example/capture#t={TOKEN}.extra",
        "https://orderseal.example/capture#t=",
        "https://orderseal.example/capture",
        "OS1.only-two-parts",
        "ORD-1",
        "",
        f"{BASE}/capture#t=" + "A" * 5000,
    ],
    ids=[
        "other-host",
        "userinfo",
        "our-host-as-their-subdomain",
        "our-host-in-their-path",
        "punycode-twin",
        "other-port",
        "plain-http",
        "trailing-dot",
        "query-not-fragment",
        "dot-segments",
        "percent-escaped-path",
        "extra-fragment-field",
        "token-with-suffix",
        "empty-token",
        "no-fragment",
        "malformed-token",
        "order-number",
        "empty",
        "oversized",
    ],
)
def test_look_alike_urls_are_not_labels(payload: str) -> None:
    assert label_token_from_payload(payload, base_url=BASE) is None
