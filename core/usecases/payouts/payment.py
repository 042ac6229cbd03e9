"""Paying an approved payout: its one payment through the payment service, or its failure when
no payment could be made."""

from __future__ import annotations

from typing import Any

from core.errors import BusinessRuleViolation, DomainError, InvalidArgument
from core.flowlog import FlowNode, FlowOutcome
from core.payouts.model import Payout, PayoutStatus, payment_out_request_no
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payouts import reading
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.results import save_move

# The business type a payout's payment is routed with: rules may send payouts' bank transfers
# to another channel than other bank payments (`business_type = "payout"` in a rule).
PAYOUT_BUSINESS_TYPE = "payout"


def payment_command(p: Payout) -> PaymentCommand:
    """The payout's one payment. Its out_request_no (hence its id, Alipay's out_biz_no) is
    fixed by the payout, so however often it is submitted, it pays once."""
    a = p.application
    details: dict[str, Any] = {
        "payout_id": p.id,
        "serial_no": a.serial_no,
        "order_serial_no": a.order_serial_no,
        "payee_name": a.payee_name,
        "business_type": a.business_type.value,
        "payout_type": int(a.type),
        "remark": a.reason,
        "notify": False,  # the caller hears of the payout (payout.*), not of the payment
    }
    if a.bank is not None:
        details["bank"] = a.canonical()["bank"]
        details["account_type"] = "1" if a.business_type.value == "B" else "2"
        details["payee_bank_name"] = a.bank.branch
    return PaymentCommand(
        app_id=p.app_id,
        out_request_no=payment_out_request_no(p.id),
        request_hash=p.request_hash,
        pay_method=a.pay_method.value,
        amount=a.amount,
        payer_account=None,
        payee_account=a.payee_account,
        business_type=PAYOUT_BUSINESS_TYPE,
        memo=a.reason[:256],
        details={k: v for k, v in details.items() if v is not None},
        submitter="payouts",
    )


async def pay(ctx: PayoutContext, p: Payout) -> Payout:
    """Submit the approved payout's payment; the payment listener moves the payout with it."""
    try:
        await ctx.payments.submit(payment_command(p))
    except (BusinessRuleViolation, InvalidArgument) as exc:
        # refused before a payment existed (no route, over the limit): nothing was sent
        return await _fail_unpaid(ctx, p, exc)
    return await reading.get(ctx, p.id)


async def _fail_unpaid(ctx: PayoutContext, p: Payout, exc: DomainError) -> Payout:
    now = ctx.clock()
    async with ctx.uow() as uow:
        if await uow.payments.by_request_no(p.app_id, payment_out_request_no(p.id)) is not None:
            raise exc  # a payment exists: its outcome, not this error, decides
        repo = uow.payouts
        current = await repo.get_for_update(p.id)
        if current is None or current.status is not PayoutStatus.APPROVED:
            return current or p
        failed = current.moved(PayoutStatus.FAILED, now, failure_code=exc.code, failure_message=exc.message)
        await save_move(uow, repo, failed, expected_status=PayoutStatus.APPROVED)
        await uow.commit()
    ctx.record(p.id, FlowNode.FINAL_STATE, f"not paid: {exc.message}", FlowOutcome.FAILED, code=exc.code)
    return failed
