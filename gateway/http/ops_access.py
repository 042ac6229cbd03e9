"""Which permission each /ops route needs: one table, keyed by (method, path template).

A route missing from the table is closed: a GET needs `Permission.VIEW`, any other method
`Permission.MANAGE_OPERATORS` (admin only), so a new action route stays closed until someone
grants it here. tests/unit/operators/test_ops_access.py checks every /ops route has an entry.
The role each permission needs is in `core/operators/model.py` (`ROLE_NEEDED`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.operators.model import Permission

P = Permission

OPS_ROUTE_PERMISSIONS: Mapping[tuple[str, str], Permission] = MappingProxyType(
    {
        ("GET", "/ops/me"): P.VIEW,
        ("POST", "/ops/accounts/{id}/fund"): P.FUND_ACCOUNTS,
        ("GET", "/ops/ledger/check"): P.VIEW,
        ("GET", "/ops/notifications"): P.VIEW,
        ("POST", "/ops/notifications/{id}/replay"): P.REPLAY_WEBHOOKS,
        ("GET", "/ops/payments/stuck"): P.VIEW,
        ("GET", "/ops/payouts"): P.VIEW,
        ("GET", "/ops/payouts/{id}"): P.VIEW,
        ("POST", "/ops/payouts/{id}/approve"): P.REVIEW_PAYOUTS,
        ("POST", "/ops/payouts/{id}/reject"): P.REVIEW_PAYOUTS,
        ("GET", "/ops/reports/payouts"): P.VIEW,
        ("GET", "/ops/bills/{id}"): P.VIEW,
        ("GET", "/ops/bills/{id}/flow"): P.VIEW,
        ("GET", "/ops/bills/{id}/exchanges"): P.VIEW,
        ("POST", "/ops/bills/{id}/actions/{action}"): P.HANDLE_BILL_ERRORS,
        ("GET", "/ops/payments"): P.VIEW,
        ("GET", "/ops/bills"): P.VIEW,
        ("GET", "/ops/lease/orders"): P.VIEW,
        ("POST", "/ops/payments/{id}/resolve"): P.RESOLVE_PAYMENTS,
        ("GET", "/ops/approvals"): P.VIEW,
        ("GET", "/ops/approvals/{id}"): P.VIEW,
        # the approval's own action's permission is checked by the use case (core/usecases/ops)
        ("POST", "/ops/approvals/{id}/confirm"): P.VIEW,
        ("POST", "/ops/approvals/{id}/reject"): P.VIEW,
        ("GET", "/ops/audit"): P.VIEW,
    }
)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def permission_for(method: str, path_template: str) -> Permission:
    """The permission a request to this route needs (the closed default when not listed)."""
    found = OPS_ROUTE_PERMISSIONS.get((method.upper(), path_template))
    if found is not None:
        return found
    return P.VIEW if method.upper() in READ_METHODS else P.MANAGE_OPERATORS
