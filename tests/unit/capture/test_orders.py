"""capture.orders: register, look up and reopen orders over a real SQLite ledger."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from capture.orders import OrderChanges, OrderItem, OrderService
from infra.errors import OrderSealError
from orderseal.services import Services

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _register(orders: OrderService, *, buyer_id: str = "buyer-a") -> str:
    order_id = f"ord-{secrets.token_hex(4)}"
    orders.register_order(
        order_id=order_id,
        buyer_id=buyer_id,
        items=[OrderItem("sku-1", 1, ("SN-1",))],
        declared_value=Decimal("19.99"),
        currency="EUR",
        carrier=None,
        tracking_number=None,
        expected_delivery=None,
        now=NOW,
    )
    return order_id


@pytest.fixture(scope="module")
def orders(services: Services) -> OrderService:
    return services.capture.orders


def test_registered_order_is_found_with_its_lines(orders: OrderService) -> None:
    order_id = _register(orders)
    order = orders.order(order_id)
    assert order.buyer_id == "buyer-a"
    assert order.declared_value == "19.99"
    assert order.items == [{"sku": "sku-1", "quantity": 1, "serials": ["SN-1"]}]


def test_an_order_id_registers_once(orders: OrderService) -> None:
    order_id = _register(orders)
    with pytest.raises(OrderSealError) as caught:
        _register_again(orders, order_id)
    assert caught.value.code == "order_exists"


def test_the_same_order_registered_again_is_the_order_not_a_new_one(orders: OrderService) -> None:
    order_id = _register(orders)
    again = orders.register_order(
        order_id=order_id,
        buyer_id="buyer-a",
        items=[OrderItem("sku-1", 1, ("SN-1",))],
        declared_value=Decimal("19.99"),
        currency="EUR",
        carrier=None,
        tracking_number=None,
        expected_delivery=None,
        now=NOW + timedelta(seconds=5),
    )
    assert not again.created
    assert again.order.created_at == NOW


def test_update_changes_only_what_may_change(orders: OrderService) -> None:
    order_id = _register(orders)
    changed = orders.update_order(
        order_id, OrderChanges(carrier="UPS", expected_delivery=date(2030, 1, 9)), now=NOW
    )
    assert (changed.carrier, changed.expected_delivery) == ("UPS", date(2030, 1, 9))
    assert changed.tracking_number is None  # left out: kept
    assert changed.declared_value == "19.99"
    assert changed.updated_at == NOW


def test_a_cancelled_order_refuses_updates_and_buyer_tokens(orders: OrderService) -> None:
    order_id = _register(orders)
    first = orders.cancel_order(order_id, now=NOW)
    again = orders.cancel_order(order_id, now=NOW + timedelta(seconds=1))
    assert (first.status, again.cancelled_at) == ("cancelled", NOW)
    with pytest.raises(OrderSealError) as caught:
        orders.update_order(order_id, OrderChanges(carrier="UPS"), now=NOW)
    assert caught.value.code == "order_cancelled"
    with pytest.raises(OrderSealError) as caught:
        orders.order_for_buyer_token(order_id, buyer_id="buyer-a")
    assert caught.value.code == "order_cancelled"


@pytest.mark.parametrize(
    ("order_id", "buyer", "code"),
    [("known", "buyer-b", "buyer_not_on_order"), ("ord-never", "buyer-a", "order_unknown")],
    ids=["buyer-not-on-order", "unknown-order"],
)
def test_buyer_token_only_for_the_buyer_the_order_names(
    orders: OrderService, order_id: str, buyer: str, code: str
) -> None:
    known = _register(orders)
    assert orders.order_for_buyer_token(known, buyer_id="buyer-a").order_id == known
    with pytest.raises(OrderSealError) as caught:
        orders.order_for_buyer_token(known if order_id == "known" else order_id, buyer_id=buyer)
    assert caught.value.code == code


def _register_again(orders: OrderService, order_id: str) -> None:
    orders.register_order(
        order_id=order_id,
        buyer_id="buyer-b",
        items=[OrderItem("sku-2", 2)],
        declared_value=Decimal(1),
        currency="EUR",
        carrier=None,
        tracking_number=None,
        expected_delivery=None,
        now=NOW,
    )


def test_unknown_order_is_order_unknown(orders: OrderService) -> None:
    with pytest.raises(OrderSealError) as caught:
        orders.order("ord-never-registered")
    assert caught.value.code == "order_unknown"


@pytest.mark.parametrize(
    ("caller", "found"), [("buyer-a", True), ("buyer-b", False)], ids=["own", "other-buyer"]
)
def test_buyer_order_is_only_the_buyers_own(orders: OrderService, caller: str, found: bool) -> None:
    order_id = _register(orders, buyer_id="buyer-a")
    assert (orders.buyer_order(order_id, buyer_id=caller) is not None) is found


def test_reopen_of_unknown_order_is_order_unknown(orders: OrderService) -> None:
    with pytest.raises(OrderSealError) as caught:
        orders.reopen_order("ord-never-registered", by="platform", now=NOW)
    assert caught.value.code == "order_unknown"


def test_reopen_of_an_unpacked_order_is_order_not_packed(orders: OrderService) -> None:
    order_id = _register(orders)
    with pytest.raises(OrderSealError) as caught:
        orders.reopen_order(order_id, by="platform", now=NOW + timedelta(seconds=1))
    assert caught.value.code == "order_not_packed"
    assert caught.value.http_status == 409
