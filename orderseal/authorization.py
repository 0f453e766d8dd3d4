"""The authorization table: every route's role and ownership rule, checked when the app is built.

One row per route (HTTP method + path template) says which role may call it and whose resource
it reaches. ``create_app`` calls :func:`verify_authorization`, which refuses to build an app with
a route the table does not list, a row for a route that does not exist, or a route whose
``Annotated`` role dependency (``infra.auth``: ``PlatformPrincipal``, ``StationPrincipal``, ...,
``PublicCaller``) is not the role its row names. ``tests/badinput/test_authz_matrix.py`` reads
the same rows to call every route with every wrong role and, where a row names an ownership
rule, with another owner's credential. docs/security.md explains the table.

The table says what the service does; it does not grant anything. A route is refused or served
by its own dependency and its service's ownership check, and the table is pinned against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Protocol, get_args, get_origin

from infra import auth
from infra.auth import Role
from infra.error_codes import error_code
from infra.errors import OrderSealError

__all__ = [
    "BUYER_APP",
    "BUYER_DEVICE",
    "BUYER_ORDER",
    "BUYER_ORDER_QR",
    "BUYER_REVIEW_ORDER",
    "BUYER_SESSION",
    "MERCHANT_DISPUTE",
    "MERCHANT_EVIDENCE",
    "MERCHANT_ORDER",
    "PLATFORM_ENDPOINT",
    "PLATFORM_REPORT_LINK",
    "ROUTES",
    "STATION_ASSIGNMENT",
    "STATION_LABEL",
    "STATION_LOCAL_SESSION",
    "STATION_ORDER",
    "STATION_PROVISIONAL",
    "STATION_SESSION",
    "TABLE",
    "AuthorizationTableError",
    "Ownership",
    "RouteRule",
    "ServedRoute",
    "build_table",
    "demanded_roles",
    "verify_authorization",
]


class AuthorizationTableError(OrderSealError):
    """The app's routes and the authorization table disagree; the app refuses to start."""

    code = "authorization_table_mismatch"
    http_status = 500


@dataclass(frozen=True)
class Ownership:
    """An ownership rule: the caller of ``owner``'s role must own ``resource``.

    Another caller of the same role is answered ``refusal`` (a registered error code), so a
    resource of someone else looks like one that does not exist. ``refusal`` is None where the
    route answers normally and says nothing about the other owner's resource.
    """

    owner: Role
    resource: str
    refusal: str | None

    def __str__(self) -> str:
        return f"{self.owner} owns the {self.resource}"


#: The session was opened by this station (``session_not_found`` for any other).
STATION_SESSION = Ownership(Role.STATION, "shipment session", "session_not_found")
#: This station packed the order's latest closed shipment session, an order of its merchant
#: (``no_label`` for any other).
STATION_LABEL = Ownership(Role.STATION, "packed order", "no_label")
#: The order named in the body is the station's merchant's (``order_unknown`` for another
#: merchant's, as for one that does not exist).
STATION_ORDER = Ownership(Role.STATION, "merchant's order", "order_unknown")
#: The station's own signed assignment list: its merchant's orders only (issue 18 §1).
STATION_ASSIGNMENT = Ownership(Role.STATION, "assignment list", None)
#: A provisional session syncs only for an order of the station's own assignment list, signed
#: by its own key (``order_not_assigned`` for any other order).
STATION_PROVISIONAL = Ownership(Role.STATION, "assigned order", "order_not_assigned")
#: The provisional session was synced by this station (``session_not_found`` for any other).
STATION_LOCAL_SESSION = Ownership(Role.STATION, "provisional session", "session_not_found")
#: The order is the merchant key's merchant's (``order_unknown`` otherwise, as for none).
MERCHANT_ORDER = Ownership(Role.MERCHANT, "order", "order_unknown")
#: The dispute is on one of the merchant's orders (``dispute_not_found`` otherwise).
MERCHANT_DISPUTE = Ownership(Role.MERCHANT, "dispute", "dispute_not_found")
#: The sealed evidence is of one of the merchant's orders (``evidence_not_found`` otherwise).
MERCHANT_EVIDENCE = Ownership(Role.MERCHANT, "sealed evidence", "evidence_not_found")
#: The receipt session was opened by this buyer (``session_not_found`` for any other).
BUYER_SESSION = Ownership(Role.BUYER, "receipt session", "session_not_found")
#: The order named by the label token in the body is this buyer's.
BUYER_ORDER = Ownership(Role.BUYER, "order", "not_your_order")
#: The same for a QR check: another buyer's label answers "not official", never an error.
BUYER_ORDER_QR = Ownership(Role.BUYER, "order", None)
#: The order named in a review session's body is this buyer's (``order_unknown`` otherwise, as
#: for one that does not exist: no label proves the order there).
BUYER_REVIEW_ORDER = Ownership(Role.BUYER, "reviewed order", "order_unknown")
#: The buyer device named in the path is enrolled to this buyer.
BUYER_DEVICE = Ownership(Role.BUYER, "device", "device_not_found")
#: The capturing app (``X-OrderSeal-Device``) is enrolled to this buyer.
BUYER_APP = Ownership(Role.BUYER, "capturing app", "wrong_device")
#: The webhook endpoint was registered by this platform key's subject (another subject's is
#: ``webhook_endpoint_not_found``, as one that does not exist).
PLATFORM_ENDPOINT = Ownership(Role.PLATFORM, "webhook endpoint", "webhook_endpoint_not_found")
#: The report link was created by this platform key's subject (another subject's is
#: ``report_link_not_found``, as one that does not exist).
PLATFORM_REPORT_LINK = Ownership(Role.PLATFORM, "report link", "report_link_not_found")


@dataclass(frozen=True)
class RouteRule:
    """One route: who may call it and whose resource it reaches.

    ``ownership`` is empty for routes with no owner below the role: the platform, agent and
    admin keys are the marketplace's own (they see every merchant), and public routes serve
    what anyone may see. Merchant keys and stations are scoped to their merchant.
    """

    method: str
    path: str
    role: Role
    ownership: tuple[Ownership, ...] = ()
    #: Served only under some settings (``/metrics`` with ``ORDERSEAL_METRICS=admin``).
    optional: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """(method, path template): how the table is looked up."""
        return (self.method, self.path)


def _r(
    method: str, path: str, role: Role, *ownership: Ownership, optional: bool = False
) -> RouteRule:
    return RouteRule(method, path, role, ownership, optional=optional)


_PUBLIC, _STATION, _BUYER = Role.PUBLIC, Role.STATION, Role.BUYER
_PLATFORM, _AGENT, _ADMIN = Role.PLATFORM, Role.AGENT, Role.ADMIN
_MERCHANT = Role.MERCHANT

#: Every route of the app, grouped by who calls it. HEAD is not listed: it mirrors GET.
ROUTES: tuple[RouteRule, ...] = (
    # FastAPI's own pages and the service's health, pages and trust material: anyone.
    _r("GET", "/openapi.json", _PUBLIC),
    _r("GET", "/docs", _PUBLIC),
    _r("GET", "/docs/oauth2-redirect", _PUBLIC),
    _r("GET", "/redoc", _PUBLIC),
    _r("GET", "/healthz", _PUBLIC),
    _r("GET", "/readyz", _PUBLIC),
    _r("GET", "/capture", _PUBLIC),
    _r("GET", "/capture/static/{name}", _PUBLIC),
    _r("GET", "/agent", _PUBLIC),
    _r("GET", "/agent/static/{name}", _PUBLIC),
    _r("GET", "/seller", _PUBLIC),
    _r("GET", "/seller/static/{name}", _PUBLIC),
    _r("GET", "/verify", _PUBLIC),
    _r("POST", "/verify", _PUBLIC),
    _r("GET", "/v1/trust/anchors", _PUBLIC),
    _r("GET", "/v1/trust/label-certificates", _PUBLIC),
    _r("GET", "/v1/trust/crl", _PUBLIC),
    _r("GET", "/v1/trust/c2pa-anchors", _PUBLIC),
    _r("GET", "/v1/trust/c2pa-settings", _PUBLIC),
    _r("GET", "/v1/trust/webhook-keys", _PUBLIC),
    # Anonymous at the HTTP layer: the body carries a proof signed by the device's current key.
    _r("POST", "/v1/devices/{device_id}/renewal", _PUBLIC),
    # Business volumes (issue 14.15): admin by default; ORDERSEAL_METRICS=off|bind:HOST:PORT.
    _r("GET", "/metrics", _ADMIN, optional=True),
    _r("POST", "/v1/devices", _ADMIN),
    # The platform (the merchant's back office).
    _r("POST", "/v1/orders", _PLATFORM),
    _r("GET", "/v1/orders/{order_id}", _PLATFORM),
    _r("PATCH", "/v1/orders/{order_id}", _PLATFORM),
    _r("POST", "/v1/orders/{order_id}/cancel", _PLATFORM),
    _r("GET", "/v1/orders/{order_id}/evidence", _PLATFORM),
    _r("POST", "/v1/orders/{order_id}/reopen", _PLATFORM),
    _r("GET", "/v1/orders/{order_id}/reopens", _PLATFORM),
    _r("POST", "/v1/buyer-tokens", _PLATFORM),
    _r("POST", "/v1/disputes", _PLATFORM),
    _r("PUT", "/v1/disputes/{dispute_id}/files", _PLATFORM),
    _r("DELETE", "/v1/disputes/{dispute_id}/files/{content_sha256}", _PLATFORM),
    # The platform's own listing; agents keep GET /v1/disputes (one role per route).
    _r("GET", "/v1/platform/disputes", _PLATFORM),
    # Any image a product review shows: sealed review evidence of the order and buyer?
    _r("PUT", "/v1/platform/review-images", _PLATFORM),
    _r("POST", "/v1/disputes/{dispute_id}/sealed", _PLATFORM),
    _r("POST", "/v1/disputes/{dispute_id}/decide", _PLATFORM),
    _r("GET", "/v1/disputes/{dispute_id}", _PLATFORM),
    # Webhook endpoints: each belongs to the platform key subject that registered it.
    _r("POST", "/v1/webhook-endpoints", _PLATFORM),
    _r("GET", "/v1/webhook-endpoints", _PLATFORM),
    _r("DELETE", "/v1/webhook-endpoints/{endpoint_id}", _PLATFORM, PLATFORM_ENDPOINT),
    _r("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", _PLATFORM, PLATFORM_ENDPOINT),
    _r("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries", _PLATFORM, PLATFORM_ENDPOINT),
    _r("POST", "/v1/webhook-deliveries/{delivery_id}/redeliver", _ADMIN),
    # Read-only report links: each belongs to the platform key subject that created it; the
    # link's token is its own credential on the public page.
    _r("POST", "/v1/disputes/{dispute_id}/report-links", _PLATFORM),
    _r("DELETE", "/v1/report-links/{link_id}", _PLATFORM, PLATFORM_REPORT_LINK),
    _r("GET", "/r/{token}", _PUBLIC),
    # Refund agents.
    _r("GET", "/v1/disputes", _AGENT),
    _r("GET", "/v1/disputes/{dispute_id}/report", _AGENT),
    _r("GET", "/v1/disputes/{dispute_id}/report.json", _AGENT),
    _r("GET", "/v1/evidence/{evidence_id}/file", _AGENT),
    _r("GET", "/v1/evidence/{evidence_id}/thumbnail.jpg", _AGENT),
    _r("GET", "/v1/disputes/{dispute_id}/workspace", _AGENT),
    _r("GET", "/v1/disputes/{dispute_id}/submitted/{content_sha256}", _AGENT),
    _r("POST", "/v1/disputes/{dispute_id}/agent-decision", _AGENT),
    _r("POST", "/v1/disputes/{dispute_id}/assignment", _AGENT),
    # A merchant's admin (issue 17): only its own orders, disputes and evidence.
    _r("GET", "/v1/merchant/disputes", _MERCHANT),
    _r("GET", "/v1/merchant/disputes/{dispute_id}", _MERCHANT, MERCHANT_DISPUTE),
    _r(
        "GET",
        "/v1/merchant/disputes/{dispute_id}/files/{content_sha256}",
        _MERCHANT,
        MERCHANT_DISPUTE,
    ),
    _r("POST", "/v1/merchant/disputes/{dispute_id}/responses", _MERCHANT, MERCHANT_DISPUTE),
    _r("GET", "/v1/merchant/evidence/{evidence_id}/file", _MERCHANT, MERCHANT_EVIDENCE),
    _r("GET", "/v1/merchant/evidence/{evidence_id}/thumbnail.jpg", _MERCHANT, MERCHANT_EVIDENCE),
    _r("POST", "/v1/merchant/orders/{order_id}/reopen", _MERCHANT, MERCHANT_ORDER),
    _r("GET", "/v1/merchant/orders/{order_id}/reopens", _MERCHANT, MERCHANT_ORDER),
    _r("PUT", "/v1/merchant/orders/{order_id}/counter-images", _MERCHANT, MERCHANT_ORDER),
    # Packing stations: any enrolled station of the order's merchant may pack it.
    _r("POST", "/v1/shipment-sessions", _STATION, STATION_ORDER),
    _r("PUT", "/v1/shipment-sessions/{session_id}/evidence", _STATION, STATION_SESSION),
    _r("POST", "/v1/shipment-sessions/{session_id}/close", _STATION, STATION_SESSION),
    _r("GET", "/v1/orders/{order_id}/label.png", _STATION, STATION_LABEL),
    _r("GET", "/v1/orders/{order_id}/label.pdf", _STATION, STATION_LABEL),
    # Offline packing (issue 18 §1).
    _r("GET", "/v1/stations/me/assignments", _STATION, STATION_ASSIGNMENT),
    _r("POST", "/v1/provisional-sessions", _STATION, STATION_PROVISIONAL),
    _r(
        "POST",
        "/v1/provisional-sessions/{local_session_id}/close",
        _STATION,
        STATION_LOCAL_SESSION,
    ),
    # Buyers.
    _r("POST", "/v1/receipt-sessions", _BUYER, BUYER_ORDER),
    _r("PUT", "/v1/receipt-sessions/{session_id}/evidence", _BUYER, BUYER_APP, BUYER_SESSION),
    _r(
        "GET",
        "/v1/receipt-sessions/{session_id}/evidence/{evidence_id}/file",
        _BUYER,
        BUYER_SESSION,
    ),
    _r("POST", "/v1/receipt-sessions/{session_id}/finish", _BUYER, BUYER_SESSION),
    _r("GET", "/v1/receipt-sessions/{session_id}/receipt", _BUYER, BUYER_SESSION),
    _r("POST", "/v1/qr/check", _BUYER, BUYER_ORDER_QR),
    _r("POST", "/v1/review-sessions", _BUYER, BUYER_REVIEW_ORDER),
    _r("PUT", "/v1/review-sessions/{session_id}/evidence", _BUYER, BUYER_APP, BUYER_SESSION),
    _r("POST", "/v1/review-sessions/{session_id}/finish", _BUYER, BUYER_SESSION),
    _r("POST", "/v1/buyer-devices", _BUYER),
    _r("POST", "/v1/buyer-devices/challenge", _BUYER),
    _r("GET", "/v1/buyer-devices/{device_id}", _BUYER, BUYER_DEVICE),
)


def build_table(rules: Iterable[RouteRule]) -> Mapping[tuple[str, str], RouteRule]:
    """Index ``rules`` by (method, path template).

    Raises:
        AuthorizationTableError: two rules for one route.
    """
    table: dict[tuple[str, str], RouteRule] = {}
    for rule in rules:
        if rule.key in table:
            raise AuthorizationTableError(
                f"expected one authorization entry for {rule.method} {rule.path}, found two"
            )
        table[rule.key] = rule
    return MappingProxyType(table)


#: (method, path template) -> its rule.
TABLE: Mapping[tuple[str, str], RouteRule] = build_table(ROUTES)


def _role_dependencies() -> dict[object, Role]:
    """The dependency callable behind each ``Annotated`` role alias of ``infra.auth``."""
    found: dict[object, Role] = {}
    for alias in (
        auth.StationPrincipal,
        auth.BuyerPrincipal,
        auth.PlatformPrincipal,
        auth.AgentPrincipal,
        auth.AdminPrincipal,
        auth.MerchantPrincipal,
        auth.PublicCaller,
    ):
        # ``Depends(...)`` is the one metadata item with a ``dependency`` (read by duck typing:
        # this module stays out of the FastAPI fence; the app hands it its routes).
        calls = [m.dependency for m in get_args(alias)[1:] if hasattr(m, "dependency")]
        if get_origin(alias) is not Annotated or len(calls) != 1:
            raise AuthorizationTableError(f"expected Annotated[Principal, Depends(...)]: {alias}")
        call = calls[0]
        role = Role.PUBLIC if alias is auth.PublicCaller else None
        for cell in getattr(call, "__closure__", None) or ():
            if isinstance(cell.cell_contents, Role):
                role = cell.cell_contents
        if role is None:
            raise AuthorizationTableError(f"expected a role in the dependency of {alias}")
        found[call] = role
    return found


def _role_of(call: object, known: Mapping[object, Role]) -> Role | None:
    if call in known:
        return known[call]
    # ``Depends(require_role(Role.X))`` written out builds its own closure: still that role.
    if getattr(call, "__module__", None) == auth.__name__:
        for cell in getattr(call, "__closure__", None) or ():
            if isinstance(cell.cell_contents, Role):
                role: Role = cell.cell_contents
                return role
    return None


def demanded_roles(dependant: Any) -> frozenset[Role]:
    """Every role a route's dependency tree demands (sub-dependencies included).

    Args:
        dependant: the route's FastAPI ``Dependant``.

    Returns:
        The roles found; a well-formed route demands exactly one.
    """
    known = _role_dependencies()
    roles: set[Role] = set()
    pending = list(dependant.dependencies)
    while pending:
        sub = pending.pop()
        role = _role_of(sub.call, known)
        if role is not None:
            roles.add(role)
        pending.extend(sub.dependencies)
    return frozenset(roles)


class ServedRoute(Protocol):
    """What the check reads of a route: FastAPI's ``RouteContext`` (``iter_route_contexts``)."""

    @property
    def path(self) -> str | None: ...

    @property
    def path_format(self) -> str | None: ...

    @property
    def methods(self) -> set[str] | None: ...


def _served(routes: Iterable[ServedRoute]) -> Iterator[tuple[str, str, frozenset[Role]]]:
    """(method, path, roles demanded) for every route, HEAD left out.

    A route without a FastAPI dependant (FastAPI's own docs pages) runs no dependency, so it is
    public by construction; a route that answers no HTTP method (a mount, a websocket) cannot be
    declared and is reported with method "".
    """
    for context in routes:
        path = str(context.path_format or context.path)
        dependant = getattr(context, "dependant", None)
        roles = frozenset({Role.PUBLIC}) if dependant is None else demanded_roles(dependant)
        methods = sorted(set(context.methods or ()) - {"HEAD"})
        if not context.methods:
            yield "", path, roles
        for method in methods:
            yield method, path, roles


def verify_authorization(
    routes: Iterable[ServedRoute], table: Mapping[tuple[str, str], RouteRule] = TABLE
) -> None:
    """Check that every route has one table entry naming the role it demands.

    Args:
        routes: every route of the assembled app, as ``iter_route_contexts(app.routes)``
            gives them (included routers flattened, their dependencies with them).
        table: the rules to hold it to (the service's own table unless a test passes another).

    Raises:
        AuthorizationTableError: ``authorization_table_mismatch``, naming every route that has no
            entry or an unregistered refusal, demands no role, several roles or another role than
            its entry, and every entry whose route is missing (unless it is optional).
    """
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for method, path, roles in _served(routes):
        if not method:
            problems.append(f"{path}: a route without HTTP methods cannot be declared")
            continue
        where = f"{method} {path}"
        if (method, path) in seen:
            problems.append(f"{where}: served by two routes")
        seen.add((method, path))
        rule = table.get((method, path))
        if rule is None:
            problems.append(f"{where}: no authorization entry (orderseal/authorization.py)")
            continue
        names = ", ".join(sorted(roles)) or "none"
        if len(roles) != 1:
            problems.append(f"{where}: expected one role dependency, found {names}")
        elif rule.role not in roles:
            problems.append(f"{where}: the table says {rule.role}, the route demands {names}")
        for ownership in rule.ownership:
            if ownership.owner != rule.role:
                problems.append(f"{where}: ownership {ownership} on a {rule.role} route")
            if ownership.refusal is not None:
                try:
                    error_code(ownership.refusal)
                except KeyError:
                    problems.append(f"{where}: refusal {ownership.refusal!r} is not registered")
    for key, rule in table.items():
        if key not in seen and not rule.optional:
            problems.append(f"{rule.method} {rule.path}: an entry without a route")
    if problems:
        raise AuthorizationTableError(
            "the routes and the authorization table disagree:\n  " + "\n  ".join(problems)
        )
