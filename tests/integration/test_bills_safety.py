"""Bills never pay twice and never break their limits under concurrency, through the HTTP API and
the SPDB simulator: only a verified refusal is a bank failure (resend and switch need one),
write-offs are reserved at acceptance, and the open-loan limit holds for concurrent loans."""

# ruff: noqa: F811 - the fixtures gw, sandbox and start_gateway come from test_bills_api by import

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from test_bills_api import (  # noqa: F401 - gw, sandbox and start_gateway are fixtures
    CARD_OK,
    CARD_REFUSED,
    CARD_REJECTED,
    CARD_UNSIGNED,
    Gateway,
    gw,
    sandbox,
    start_gateway,
)

from gateway.storage.bill_tables import bills
from plugins.spdb import sandbox_scenarios as spdb_sandbox
from plugins.spdb.sandbox import SpdbSandbox

CARD_UNLISTED_CODE = "6222020000008008"  # 8801 answers SBX0004 (on no list), payment taken in


async def _forget_evidence(gw: Gateway, bill_id: str) -> None:
    """A bank failure recorded before its evidence was (the column is NULL): not verified."""
    async with gw.container.engine().begin() as conn:
        await conn.execute(bills.update().where(bills.c.id == bill_id).values(bank_failure_evidence=None))


# -- A. only a definite, verified refusal is a failure -----------------------------------------


@pytest.mark.parametrize("card", [CARD_UNLISTED_CODE, CARD_UNSIGNED], ids=["unlisted code", "unsigned"])
async def test_an_untrusted_8801_answer_is_unknown_until_8804_decides(
    gw: Gateway,
    sandbox: SpdbSandbox,
    card: str,
) -> None:
    applicant = await gw.applicant(card=card)
    status, bill = await gw.loan(applicant, "70.00")
    assert status == 201, bill
    assert (bill["status"], bill["failure"], bill["bank_failure_evidence"]) == ("bank_unknown", None, None)
    status, refused = await gw.act(bill["id"], "resend_bank")
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED"
    assert len(sandbox.payments) == 1, "the bank took the payment in"
    await gw.settle()
    done = await gw.bill(bill["id"])
    assert done["status"] == "completed", "8804 said paid: the bill is booked, never re-sent"
    assert await gw.api.balance(applicant) == "70.00"
    assert len(sandbox.payments) == 1


async def test_a_listed_8801_refusal_is_a_verified_failure_that_may_be_resent(
    gw: Gateway,
    sandbox: SpdbSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    _, bill = await gw.loan(applicant, "40.00")
    assert (bill["status"], bill["bank_failure_evidence"]) == ("bank_failed", "definite_refusal")
    status, view = await gw.api.get(f"/ops/bills/{bill['id']}")
    assert status == 200 and view["allowed_actions"] == ["resend_bank", "switch_to_transfer"]
    monkeypatch.delitem(spdb_sandbox.SCENARIOS_BY_SUFFIX, "2002")
    status, resent = await gw.act(bill["id"], "resend_bank")
    assert status == 200 and resent["attempt"] == 2, resent
    assert resent["bank_failure_evidence"] is None


async def test_a_refusal_by_8804_is_verified_and_may_be_switched(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_REFUSED)
    _, bill = await gw.loan(applicant, "30.00")
    await gw.poll()
    failed = await gw.bill(bill["id"])
    assert (failed["status"], failed["bank_failure_evidence"]) == ("bank_failed", "final_8804")
    status, switched = await gw.act(bill["id"], "switch_to_transfer")
    assert status == 200 and switched["status"] == "completed", switched


@pytest.mark.parametrize("action", ["resend_bank", "switch_to_transfer"])
async def test_an_unverified_bank_failure_is_never_resent_or_switched(
    gw: Gateway,
    sandbox: SpdbSandbox,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    _, bill = await gw.loan(applicant, "20.00")
    await _forget_evidence(gw, bill["id"])
    monkeypatch.delitem(spdb_sandbox.SCENARIOS_BY_SUFFIX, "2002")
    status, view = await gw.api.get(f"/ops/bills/{bill['id']}")
    assert view["bank_failure_evidence"] is None and view["allowed_actions"] == []
    status, refused = await gw.act(bill["id"], action)
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED", refused
    assert "not verified" in refused["error"]["message"]
    after = await gw.bill(bill["id"])
    assert (after["status"], after["attempt"], after["pay_mode"]) == ("bank_failed", 1, "bank")
    assert sandbox.payments == {}, "nothing was sent again"
    assert await gw.api.balance(applicant) == "0.00"


# -- B. write-offs are reserved at acceptance ---------------------------------------------------


async def test_concurrent_reimbursements_on_one_loan_accept_exactly_one(
    gw: Gateway,
    sandbox: SpdbSandbox,
) -> None:
    applicant = await gw.applicant()
    loan = await gw.transfer_loan(applicant, "500.00")
    results = await asyncio.gather(*(gw.reimburse(applicant, "800.00", [(loan, "500.00")]) for _ in range(4)))
    accepted = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(accepted) == 1, results
    assert {(r["error"]["code"], r["error"]["field"]) for r in refused} == {
        ("WRITE_OFF_EXCEEDS_OPEN_AMOUNT", "write_offs[0].amount")
    }
    assert len(sandbox.payments) == 1, "the refused bills never reached the bank"
    await gw.settle()
    assert (await gw.bill(accepted[0]["id"]))["status"] == "completed"
    assert (await gw.bill(loan))["loan"] == {"open_amount": "0.00", "state": "written_off"}
    assert await gw.api.balance(applicant) == "300.00"  # 500 lent + R - W 300 - W 500
    assert (await gw.api.ledger_ok())["ok"] is True


async def test_a_check_sees_the_open_amount_less_what_is_reserved(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_OK)
    loan = await gw.transfer_loan(applicant, "500.00")
    status, first = await gw.reimburse(applicant, "400.00", [(loan, "300.00")])
    assert status == 201 and first["status"] == "bank_processing"
    status, over = await gw.reimburse(applicant, "400.00", [(loan, "300.00")])
    assert status == 422 and over["error"]["code"] == "WRITE_OFF_EXCEEDS_OPEN_AMOUNT", over
    assert "200.00 left" in over["error"]["message"]
    status, fits = await gw.reimburse(applicant, "400.00", [(loan, "200.00")])
    assert status == 201, fits
    await gw.settle()
    assert (await gw.bill(loan))["loan"] == {"open_amount": "0.00", "state": "written_off"}


async def test_a_refused_bill_holds_nothing_and_a_switched_one_keeps_its_write_off(
    gw: Gateway,
    sandbox: SpdbSandbox,
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    loan = await gw.transfer_loan(applicant, "500.00")
    status, over_limit = await gw.reimburse(applicant, "100000.01", [(loan, "500.00")])
    assert status == 422 and over_limit["error"]["code"] == "SINGLE_BILL_LIMIT_EXCEEDED"
    status, failed = await gw.reimburse(applicant, "600.00", [(loan, "500.00")])
    assert status == 201 and failed["status"] == "bank_failed", "the refused bill reserved nothing"
    status, other = await gw.reimburse(applicant, "600.00", [(loan, "500.00")], pay_mode="transfer")
    assert status == 422 and other["error"]["code"] == "WRITE_OFF_EXCEEDS_OPEN_AMOUNT"
    status, switched = await gw.act(failed["id"], "switch_to_transfer")
    assert status == 200 and switched["status"] == "completed", switched
    assert (await gw.bill(loan))["loan"] == {"open_amount": "0.00", "state": "written_off"}
    assert await gw.api.balance(applicant) == "100.00"
    assert (await gw.api.ledger_ok())["ok"] is True


# -- C. the open-loan limit holds under concurrency ---------------------------------------------


@pytest.mark.parametrize("pay_mode", ["transfer", "bank"])
async def test_concurrent_loans_never_pass_the_open_loan_limit(
    gw: Gateway,
    sandbox: SpdbSandbox,
    pay_mode: str,
) -> None:
    applicant = await gw.applicant()
    results = await asyncio.gather(*(gw.loan(applicant, "10.00", pay_mode=pay_mode) for _ in range(5)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 201, 422, 422, 422], results  # max_open_loans = 2
    refused = [body for status, body in results if status == 422]
    assert {r["error"]["code"] for r in refused} == {"TOO_MANY_OPEN_LOANS"}
    assert len(sandbox.payments) == (2 if pay_mode == "bank" else 0)
    stored = await _loan_statuses(gw, applicant)
    assert sorted(stored) == sorted(
        ["risk_rejected"] * 3 + ["bank_processing" if pay_mode == "bank" else "completed"] * 2
    )


async def _loan_statuses(gw: Gateway, applicant: str) -> list[Any]:
    async with gw.container.engine().connect() as conn:
        rows = await conn.execute(sa.select(bills.c.status).where(bills.c.applicant_account == applicant))
        return [row.status for row in rows]
