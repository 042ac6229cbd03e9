"""The lease simulator's records kept in a `SandboxStore`, so a restarted simulator still knows
its orders, contracts, agreements, trades and undelivered notifications.

The handlers change records in place; the sandbox saves the whole state after every answer it
serves and every delivery round (`save`), and a new simulator on the same file starts from it
(`restore`). The state of a demo is small, so writing all of it each time is cheap.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Protocol

from plugins.ant_lease.client import AgreementState, TradeStatus
from plugins.ant_lease.simulator.records import Notice, SimAgreement, SimContract, SimOrder, SimTrade
from plugins.sandbox_store.store import SandboxStore

ORDER, AGREEMENT, TRADE, STATE = "order", "agreement", "trade", "state"
STATE_ID = "simulator"


class LeaseState(Protocol):
    """The attributes of the simulator (SimulatorBase) that make up its memory."""

    _sequence: int
    orders: dict[str, SimOrder]
    agreements: dict[str, SimAgreement]
    trades: dict[str, SimTrade]
    failed_once: set[tuple[str, str]]
    cancelled_unknown: set[str]
    pending: list[Notice]


def save(store: SandboxStore, state: LeaseState) -> None:
    """Write the simulator's whole memory into `store`."""
    with store.transaction():
        for key, order in state.orders.items():
            store.put(ORDER, key, dataclasses.asdict(order))
        for key, agreement in state.agreements.items():
            store.put(AGREEMENT, key, dataclasses.asdict(agreement))
        for key, trade in state.trades.items():
            record = {f.name: getattr(trade, f.name) for f in dataclasses.fields(trade)}
            record["agreement"] = trade.agreement.external_agreement_no
            record["amount"] = str(trade.amount)
            store.put(TRADE, key, record)
        store.put(
            STATE,
            STATE_ID,
            {
                "sequence": state._sequence,
                "failed_once": sorted(list(pair) for pair in state.failed_once),
                "cancelled_unknown": sorted(state.cancelled_unknown),
                "pending": [dataclasses.asdict(notice) for notice in state.pending],
            },
        )


def restore(store: SandboxStore, state: LeaseState) -> None:
    """Load what `save` wrote into a new simulator (nothing when the store is new)."""
    state.orders = {key: _order(record) for key, record in store.all(ORDER)}
    state.agreements = {key: _agreement(record) for key, record in store.all(AGREEMENT)}
    state.trades = {key: _trade(record, state.agreements) for key, record in store.all(TRADE)}
    saved = store.get(STATE, STATE_ID)
    if saved is not None:
        state._sequence = int(saved["sequence"])
        state.failed_once = {(str(a), str(b)) for a, b in saved["failed_once"]}
        state.cancelled_unknown = {str(no) for no in saved.get("cancelled_unknown", ())}
        state.pending = [Notice(**notice) for notice in saved["pending"]]


def _order(record: dict[str, Any]) -> SimOrder:
    contract = record.pop("contract")
    if contract is not None:
        contract = SimContract(**{**contract, "parties": tuple(contract["parties"])})
    return SimOrder(**record, contract=contract)


def _agreement(record: dict[str, Any]) -> SimAgreement:
    return SimAgreement(**{**record, "status": AgreementState(record["status"])})


def _trade(record: dict[str, Any], agreements: dict[str, SimAgreement]) -> SimTrade:
    return SimTrade(
        **{
            **record,
            "agreement": agreements[record["agreement"]],
            "amount": Decimal(record["amount"]),
            "status": TradeStatus(record["status"]),
        }
    )
