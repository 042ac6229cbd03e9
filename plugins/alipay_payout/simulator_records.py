"""The payout simulator's transfers and counters as JSON records of a `SandboxStore`."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plugins.alipay_payout.client import TransferStatus
from plugins.sandbox_store.store import SandboxStore

if TYPE_CHECKING:
    from plugins.alipay_payout.simulator import SimTransfer

TRANSFER = "transfer"
STATE = "state"
STATE_ID = "simulator"


def transfer_record(transfer: SimTransfer) -> dict[str, Any]:
    record = dataclasses.asdict(transfer)
    record["trans_amount"] = str(transfer.trans_amount)
    record["status"] = transfer.status.value
    record["created_at"] = transfer.created_at.isoformat()
    record["pay_date"] = None if transfer.pay_date is None else transfer.pay_date.isoformat()
    return record


def transfer_from_record(record: dict[str, Any]) -> SimTransfer:
    from plugins.alipay_payout.simulator import SimTransfer

    pay_date = record["pay_date"]
    return SimTransfer(
        **{
            **record,
            "trans_amount": Decimal(record["trans_amount"]),
            "status": TransferStatus(record["status"]),
            "created_at": datetime.fromisoformat(record["created_at"]),
            "pay_date": None if pay_date is None else datetime.fromisoformat(pay_date),
        }
    )


class TransferRecords:
    """What the simulator must still know after a restart: its transfers, balance and ids."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def save(self, transfer: SimTransfer) -> None:
        self.store.put(TRANSFER, transfer.out_biz_no, transfer_record(transfer))

    def transfers(self) -> dict[str, SimTransfer]:
        return {key: transfer_from_record(record) for key, record in self.store.all(TRANSFER)}

    def save_state(self, balance: Decimal, sequence: int) -> None:
        self.store.put(STATE, STATE_ID, {"balance": str(balance), "sequence": sequence})

    def state(self) -> tuple[Decimal, int] | None:
        record = self.store.get(STATE, STATE_ID)
        return None if record is None else (Decimal(record["balance"]), int(record["sequence"]))
