"""How payouts are shown to callers and operators: the one place that shapes payout answers
(a payout, the answer to a batch, the result event, the report as JSON and CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.payouts.model import Payout, PayoutStatus
from core.payouts.payees import mask_account
from core.payouts.report import PayoutReport

if TYPE_CHECKING:
    from core.usecases.payouts.intake import ItemOutcome


def payout_view(p: Payout) -> dict[str, Any]:
    """A payout as callers and operators see it (the payee account masked)."""
    a = p.application
    canonical = a.canonical()
    return {
        "id": p.id,
        "serial_no": a.serial_no,
        "order_serial_no": a.order_serial_no,
        "app_id": p.app_id,
        "source_platform": p.source_platform,
        "trace_id": p.trace_id,
        "status": p.status.value,
        "amount": str(a.amount),
        "currency": a.amount.currency,
        "payee_account": mask_account(a.payee_account),
        "payee_name": a.payee_name,
        "type": int(a.type),
        "type_name": a.type.label,
        "pay_method": a.pay_method.value,
        "pay_back_type": int(a.pay_back_type),
        "reason": a.reason,
        "insurance_merchant": a.insurance_merchant,
        "business_type": a.business_type.value,
        "send_sms": a.send_sms,
        "sms_phone": None if a.sms_phone is None else mask_account(a.sms_phone),
        "pay_type": a.pay_type,
        "creator": a.creator,
        "bank": canonical["bank"],
        "voucher": canonical["voucher"],
        "review": None if p.review is None else p.review.to_json(),
        "payment_id": p.payment_id,
        "channel": p.channel,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "finished_at": p.finished_at.isoformat() if p.finished_at else None,
    }


def result_event(p: Payout) -> dict[str, Any]:
    """The payload of the `payout.<status>` event that tells the caller a payout's result."""
    return {
        "serial_no": p.serial_no,
        "status": p.status.value,
        "succeeded": p.status is PayoutStatus.SUCCEEDED,
        "message": p.failure_message,
        "payout": payout_view(p),
    }


def item_outcome_view(outcome: ItemOutcome) -> dict[str, Any]:
    """One item of a batch: accepted (with its payout, new or repeated) or rejected (why, where)."""
    head = {"index": outcome.index, "serial_no": outcome.serial_no}
    if outcome.problem is not None:
        problem = outcome.problem
        field = f"items[{outcome.index}]" + (f".{problem.field}" if problem.field else "")
        return {
            **head,
            "status": "rejected",
            "code": problem.code,
            "message": problem.message,
            "field": field,
        }
    assert outcome.payout is not None
    return {**head, "status": "accepted", "created": outcome.created, "payout": payout_view(outcome.payout)}


def batch_view(trace_id: str | None, outcomes: Sequence[ItemOutcome]) -> dict[str, Any]:
    """The answer to a batch application: how many items were accepted and each item's answer."""
    accepted = sum(1 for o in outcomes if o.problem is None)
    return {
        "trace_id": trace_id,
        "accepted": accepted,
        "rejected": len(outcomes) - accepted,
        "items": [item_outcome_view(o) for o in outcomes],
    }


def report_view(report: PayoutReport) -> dict[str, Any]:
    """The report as JSON: the query, every group's count and amount, the totals per currency."""
    q = report.query
    return {
        "from": q.start.isoformat() if q.start else None,
        "to": q.end.isoformat() if q.end else None,
        "group_by": [k.value for k in q.group_by],
        "groups": [{**g.keys, "count": g.count, "amount": str(g.amount)} for g in report.groups],
        "totals": report.totals(),
    }


# What a spreadsheet reads as a formula when a cell starts with it. Finance opens these exports,
# and a payee's name or a platform is the caller's text (and often its users'): such a cell is
# written with a leading apostrophe, which shows it as the text it is (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """A value as a CSV cell that no spreadsheet runs: None is empty, a formula's start quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(report: PayoutReport) -> str:
    """The report as CSV: one row per group, its key columns, count and amount."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = report.query.columns
    writer.writerow([*columns, "count", "amount"])
    for g in report.groups:
        writer.writerow([*(spreadsheet_cell(g.keys.get(c)) for c in columns), g.count, str(g.amount)])
    return out.getvalue()
