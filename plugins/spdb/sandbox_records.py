"""The SPDB simulator's payments and counter as JSON records of a `SandboxStore`."""

from __future__ import annotations

from typing import Any

from plugins.sandbox_store.store import SandboxStore
from plugins.spdb.sandbox_scenarios import SandboxPayment, Scenario

PAYMENT = "payment"
STATE = "state"
STATE_ID = "sandbox"


def payment_record(payment: SandboxPayment) -> dict[str, Any]:
    return {
        "fields": dict(payment.fields),
        "scenario": payment.scenario.value,
        "accept_no": payment.accept_no,
        "seq_no": payment.seq_no,
        "trans_date": payment.trans_date,
        "polls": payment.polls,
    }


def payment_from_record(record: dict[str, Any]) -> SandboxPayment:
    return SandboxPayment(
        fields={str(k): str(v) for k, v in record["fields"].items()},
        scenario=Scenario(record["scenario"]),
        accept_no=str(record["accept_no"]),
        seq_no=str(record["seq_no"]),
        trans_date=str(record["trans_date"]),
        polls=int(record["polls"]),
    )


class PaymentRecords:
    """What the bank must still know after its simulator restarts: payments and the counter."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def save(self, payment: SandboxPayment, counter: int) -> None:
        self.store.put(PAYMENT, payment.elec_cheque_no, payment_record(payment))
        self.store.put(STATE, STATE_ID, {"counter": counter})

    def payments(self) -> dict[str, SandboxPayment]:
        return {key: payment_from_record(record) for key, record in self.store.all(PAYMENT)}

    def counter(self) -> int:
        record = self.store.get(STATE, STATE_ID)
        return 0 if record is None else int(record["counter"])
