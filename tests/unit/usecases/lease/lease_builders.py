"""Lease orders as the lease tests start from them."""

from __future__ import annotations

from fakes.workflows import LEASE_TIME

from core.lease.order import LeaseOrder
from core.lease.request import check_order
from gateway.http.schemas.lease import LeaseOrderBody

T0 = LEASE_TIME
ORDER_ID = "lse_0195f2a3b4c5d6e7f8091a2b3c4"
BUYER = "2088102146225135"


def new_order(order_id: str = ORDER_ID) -> LeaseOrder:
    body = LeaseOrderBody.model_validate(
        {
            "out_order_no": "RENT-1",
            "buyer_id": BUYER,
            "title": "iPhone 16 租赁",
            "total_amount": "200.00",
            "period_count": 2,
            "periods": [
                {"due_date": "2026-03-01", "amount": "100.00"},
                {"due_date": "2026-04-01", "amount": "100.00"},
            ],
        }
    )
    return LeaseOrder.new(order_id, "shop", check_order(body), "hash", "ant_lease", T0)


def contract_signed(order: LeaseOrder) -> LeaseOrder:
    """Synced, and its contract signed by its one party."""
    order = order.synced("CH-1", T0)
    order = order.contract_signing("TPL", "C1", "https://sign/lessee", {"lessee": "u"}, ["lessee"], T0)
    return order.contract_party_signed("C1", "lessee", T0)


def both_signed(order: LeaseOrder) -> LeaseOrder:
    """Contract and withholding agreement signed: 落签 is due, rent may not start yet."""
    order = contract_signed(order)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0)
    return order.agreement_signed(external, "20265401", BUYER, T0)


def collecting(order: LeaseOrder) -> LeaseOrder:
    """Contract and withholding agreement signed, then the contract 落签: rent may be collected."""
    return both_signed(order).contract_finalised(T0)
