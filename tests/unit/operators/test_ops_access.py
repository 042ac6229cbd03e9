"""Every /ops route says which permission it needs; a route nobody listed is closed."""

from __future__ import annotations

from core.operators.model import Permission
from gateway.http.ops_access import OPS_ROUTE_PERMISSIONS, permission_for
from gateway.http.routes import ROUTES


def test_every_ops_route_has_an_explicit_entry() -> None:
    ops_routes = {(r.method, r.path) for r in ROUTES if r.path.startswith("/ops/")}
    missing = sorted(ops_routes - set(OPS_ROUTE_PERMISSIONS))
    assert missing == [], f"add these routes to gateway/http/ops_access.py: {missing}"


def test_the_table_names_no_route_that_does_not_exist() -> None:
    ops_routes = {(r.method, r.path) for r in ROUTES if r.path.startswith("/ops/")}
    assert sorted(set(OPS_ROUTE_PERMISSIONS) - ops_routes) == []


def test_every_ops_route_is_an_operator_route() -> None:
    assert {r.auth for r in ROUTES if r.path.startswith("/ops/")} == {"ops"}


def test_an_unlisted_action_is_for_admins_only_and_an_unlisted_read_for_viewers() -> None:
    assert permission_for("POST", "/ops/new/{id}/thing") is Permission.MANAGE_OPERATORS
    assert permission_for("DELETE", "/ops/ledger/check") is Permission.MANAGE_OPERATORS
    assert permission_for("GET", "/ops/new/list") is Permission.VIEW


def test_reads_need_viewing_only() -> None:
    reads = [p for (method, _), p in OPS_ROUTE_PERMISSIONS.items() if method == "GET"]
    assert set(reads) == {Permission.VIEW}
