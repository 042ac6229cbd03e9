"""The shapes of lease answers and event payloads: the order as its caller sees it, its periods,
the signing answers, the channel's view and the withholding query.

The lessee's Alipay user id is an account number: every answer, event payload and console page
shows it masked (`2088********5135`), as payments show their accounts, the channel's own answers
included (`buyer_id`, `principal_id` wherever they hold one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.lease.order import LeaseOrder
from core.lease.parts import RentPeriod
from core.usecases.payments.views import shown_account
from ports.channels import SigningResult
from ports.lease import ORDER_FULL_INFO

# the keys of a channel's answer that hold an Alipay user id
USER_ID_KEYS = frozenset({"buyer_id", "principal_id", "alipay_user_id", "user_id"})


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def masked_user_ids(value: Any) -> Any:
    """A channel's answer with every Alipay user id in it masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            k: shown_account(v) if k in USER_ID_KEYS and isinstance(v, str) else masked_user_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [masked_user_ids(v) for v in value]
    return value


def period_view(p: RentPeriod) -> dict[str, Any]:
    return {
        "no": p.no,
        "due_date": p.due_date.isoformat(),
        "amount": str(p.amount),
        "status": p.status.value,
        "attempts": p.attempts,
        "last_failure_code": p.last_failure_code,
        "last_failure_message": p.last_failure_message,
        "next_attempt_at": _iso(p.next_attempt_at),
        "payment_id": p.payment_id,
        "trade_no": p.trade_no,
        "paid_at": _iso(p.paid_at),
    }


def lease_view(o: LeaseOrder) -> dict[str, Any]:
    """A lease order as its caller sees it: the order, contract, agreement, plan, rent plan."""
    c, a, plan = o.contract, o.agreement, o.plan
    return {
        "id": o.id,
        "out_order_no": o.out_order_no,
        "status": o.status.value,
        "channel": o.channel,
        "channel_order_id": o.channel_order_id,
        "buyer_id": shown_account(o.buyer_id),
        "title": o.title,
        "total_amount": str(o.total),
        "currency": o.total.currency,
        "period_count": len(o.periods),
        "paid_amount": str(o.paid),
        "outstanding_amount": str(o.outstanding),
        "contract": {
            "status": c.status.value,
            "template_id": c.template_id,
            "contract_no": c.contract_no,
            "sign_url": c.sign_url,
            "signers": [
                {"party": party, "sign_url": c.party_urls.get(party), "signed": party in c.signed_parties}
                for party in c.required_parties
            ],
            "signed_at": _iso(c.signed_at),
            "finalised_at": _iso(c.finalised_at),
            "failure_code": c.failure_code,
        },
        "agreement": {
            "status": a.status.value,
            "external_agreement_no": a.external_agreement_no,
            "agreement_no": a.agreement_no,
            "sign_url": a.sign_url,
            "signed_at": _iso(a.signed_at),
            "unsigned_at": _iso(a.unsigned_at),
            "unsign_reason": a.unsign_reason,
            "unsign_refusals": [r.to_json() for r in a.unsign_refusals],
        },
        "plan": {
            "status": plan.status.value,
            "cancel_reason": plan.cancel_reason.value if plan.cancel_reason else None,
            "cancel_note": plan.cancel_note,
            "cancelled_at": _iso(plan.cancelled_at),
        },
        "periods": [period_view(p) for p in o.periods],
        "closure": None
        if o.closure is None
        else {"reason": o.closure.reason, "basis": o.closure.basis, "at": o.closure.at.isoformat()},
        "failure": None if o.failure_code is None else {"code": o.failure_code, "message": o.failure_message},
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
    }


def ops_lease_view(o: LeaseOrder) -> dict[str, Any]:
    """A lease order as an operator's list shows it: the caller's view and its app."""
    return {**lease_view(o), "app_id": o.app_id}


def event_payload(order: LeaseOrder, **extra: Any) -> dict[str, Any]:
    """The payload of a `lease.<event>`: the order, and what the event adds (e.g. its period)."""
    return {"order": lease_view(order), **extra}


def contract_signing_view(order: LeaseOrder) -> dict[str, Any]:
    """The answer to a contract signing: the lessee's URL, every party's, and the order."""
    view = lease_view(order)
    return {"sign_url": order.contract.sign_url, "signers": view["contract"]["signers"], "order": view}


def withholding_signing_view(order: LeaseOrder) -> dict[str, Any]:
    """The answer to a withholding signing: the URL the user confirms, and the order."""
    return {"sign_url": order.agreement.sign_url, "order": lease_view(order)}


def withholding_answer_view(result: SigningResult) -> dict[str, Any]:
    """What the channel said of the withholding signing (查询代扣签约)."""
    return {
        "status": result.status.value,
        "code": result.code,
        "agreement_no": result.agreement_ref,
        "detail": masked_user_ids({k: v for k, v in result.raw.items() if v is not None}),
    }


def withholding_query_view(order: LeaseOrder, answer: Mapping[str, Any]) -> dict[str, Any]:
    return {"channel": masked_user_ids(answer), "order": lease_view(order)}


def channel_info_view(order: LeaseOrder, info: Mapping[str, Any]) -> dict[str, Any]:
    """查询订单信息: the channel's view of the order (query type orderFullInfo)."""
    return {
        "order_id": order.id,
        "query_type": ORDER_FULL_INFO,
        "channel": order.channel,
        "info": masked_user_ids(info),
    }
