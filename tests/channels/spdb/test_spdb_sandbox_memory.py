"""The SPDB simulator keeps its memory in a file: a simulator started again on the same file
answers 8804 for a payment the previous one accepted, and goes on from where it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from plugins.sandbox_store.store import SandboxStore
from plugins.spdb.messages import AnswerStatus, PaymentQuery, SinglePayment
from plugins.spdb.sandbox_scenarios import SandboxConfig

LiveBankFactory = Callable[..., Awaitable[Any]]  # the `live_bank` fixture (see conftest)

PROCESSING_TWICE = "6225160100121001"


async def test_a_restarted_bank_still_knows_an_accepted_payment(
    live_bank: LiveBankFactory, tmp_path: Path
) -> None:
    path = tmp_path / "spdb_sandbox.db"
    config = SandboxConfig(processing_polls=2)
    first = await live_bank(config, SandboxStore(path))
    paid = SinglePayment(
        elec_cheque_no="MEM1", payee_acct_no=PROCESSING_TWICE, payee_name="李四", amount=Decimal("9.00")
    )
    assert (await first.client.pay_8801(paid)).status is AnswerStatus.ACCEPTED
    polled = (await first.client.query_8804(PaymentQuery(elec_cheque_no="MEM1"))).for_cheque("MEM1")
    first.sandbox.records.store.close()

    second = await live_bank(config, SandboxStore(path))
    assert list(second.sandbox.payments) == ["MEM1"]
    statuses = [
        (await second.client.query_8804(PaymentQuery(elec_cheque_no="MEM1"))).for_cheque("MEM1").trans_status
        for _ in range(2)
    ]
    assert polled is not None and polled.trans_status in ("0", "2", "3", "1")
    assert statuses[-1] == "4", "the third poll overall: succeeded, counting the polls before the restart"
    again = await second.client.pay_8801(paid)
    assert again.status is AnswerStatus.ACCEPTED and list(second.sandbox.payments) == ["MEM1"]
