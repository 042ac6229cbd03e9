"""No caller waits on the bank, and the 8801 packet says what the real bank needs (seed 002),
through the HTTP API and the SPDB simulator: intake and resend_bank answer once the attempt is
saved (bank_submitted) while a slow bank has not answered, the send worker completes the bill;
the payer is the bank's own account; the payee bank's CNAPS number sets sysFlag, remitLocation
and payeeBankNo; failed bills end their flow log with a final-state node."""

# ruff: noqa: F811 - the fixtures gw, sandbox and start_gateway come from test_bills_api by import

from __future__ import annotations

import asyncio

from test_bills_api import (  # noqa: F401 - gw, sandbox and start_gateway are fixtures
    CARD_OK,
    CARD_REJECTED,
    Gateway,
    gw,
    sandbox,
    start_gateway,
)

from plugins.spdb import sandbox_scenarios as spdb_sandbox
from plugins.spdb.sandbox import SpdbSandbox

ICBC_SHANGHAI = "102290000019"  # another bank (102), the payer branch's city (2900)
CCB_BEIJING = "105100000017"  # another bank, another city (1000)
SPDB_HANGZHOU = "310331000017"  # the bank itself, another city


async def _until(predicate: object) -> None:
    """Let the event loop run until `predicate()` holds (the test's own tasks make it true)."""
    while not predicate():  # type: ignore[operator]
        await asyncio.sleep(0)


async def test_a_slow_bank_does_not_hold_the_caller_and_the_worker_completes_the_bill(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    sandbox.answer_gate = asyncio.Event()  # the bank takes payments in, and answers only later
    applicant = await gw.applicant()

    status, bill = await gw.loan(applicant, "30.00", send=False)

    assert status == 201, bill
    assert (bill["status"], bill["attempt"], bill["payment_id"]) == ("bank_submitted", 1, None)
    assert not sandbox.payments, "the request never reached the bank"
    sending = asyncio.create_task(gw.send())
    await _until(lambda: sandbox.answers_held == 1)  # the 8801 is at the bank, unanswered
    assert (await gw.bill(bill["id"]))["status"] == "bank_submitted", "callers poll meanwhile"
    status, other = await gw.loan(await gw.applicant(), "31.00", send=False)
    assert status == 201 and other["status"] == "bank_submitted", "intake is not held by the bank"

    sandbox.answer_gate.set()
    assert await sending == 1, "the other bill is queued for the next round"
    assert (await gw.bill(bill["id"]))["status"] == "bank_processing"
    await gw.settle()
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "30.00"
    assert len(sandbox.payments) == 2, "one 8801 per bill"


async def test_resend_bank_answers_once_the_new_attempt_is_saved(
    gw: Gateway, sandbox: SpdbSandbox, monkeypatch: object
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    _, bill = await gw.loan(applicant, "40.00")
    assert bill["status"] == "bank_failed"
    del spdb_sandbox.SCENARIOS_BY_SUFFIX["2002"]  # the bank fixed the authorisation
    try:
        sandbox.answer_gate = asyncio.Event()
        status, resent = await gw.act(bill["id"], "resend_bank", "fixed", send=False)
        assert status == 200, resent
        assert (resent["status"], resent["attempt"], resent["payment_id"]) == ("bank_submitted", 2, None)
        assert not sandbox.payments
        sandbox.answer_gate.set()
        assert await gw.send() == 1
    finally:
        spdb_sandbox.SCENARIOS_BY_SUFFIX["2002"] = spdb_sandbox.Scenario.REJECT
    await gw.settle()
    assert (await gw.bill(bill["id"]))["status"] == "completed"


async def test_a_payer_card_other_than_the_banks_account_is_refused_at_acceptance(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    applicant = await gw.applicant()
    status, body = await gw.loan(applicant, "10.00", payer_card_no="6222021111111111")
    assert status == 422, body
    assert (body["error"]["code"], body["error"]["field"]) == ("PAYER_CARD_NOT_BANK_ACCOUNT", "payer_card_no")
    assert (await gw.bill(body["error"]["bill_id"]))["status"] == "validation_failed"
    assert not sandbox.payments


async def test_the_8801_packet_carries_the_payee_banks_flags_and_cnaps_number(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    cases = {
        CARD_OK: (("浦发银行上海分行", None), ("0", "0", "")),
        "6222020000000101": (("浦发银行杭州分行", SPDB_HANGZHOU), ("0", "1", "")),
        "6222020000000102": (("工商银行上海分行", ICBC_SHANGHAI), ("1", "0", ICBC_SHANGHAI)),
        "6222020000000103": (("建设银行北京分行", CCB_BEIJING), ("1", "1", CCB_BEIJING)),
    }
    for card, (bank, _) in cases.items():
        applicant = await gw.applicant(card=card, bank=bank)
        status, bill = await gw.loan(applicant, "20.00")
        assert status == 201 and bill["status"] == "bank_processing", bill
        assert (bill["payee_bank_name"], bill["payee_bank_no"]) == bank
    sent = {p.fields["payeeAcctNo"]: p.fields for p in sandbox.payments.values()}
    for card, (_, flags) in cases.items():
        fields = sent[card]
        assert (fields["sysFlag"], fields["remitLocation"], fields["payeeBankNo"]) == flags, card


async def test_failed_bills_end_with_a_final_state_node(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    _, bill = await gw.loan(applicant, "50.00")
    assert bill["status"] == "bank_failed"
    records = [r for r in await gw.flow(bill["id"]) if r["subject"] == "bill"]
    assert [r["node"] for r in records][-2:] == ["channel_answer", "final_state"]
    assert (records[-1]["outcome"], records[-1]["detail"]["status"]) == ("failed", "bank_failed")
