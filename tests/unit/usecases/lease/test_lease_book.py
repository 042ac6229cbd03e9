"""LeaseBook: a change is applied to the locked order under a version check, its event leaves
from the same commit, and a concurrent save makes it try again on the new version."""

from __future__ import annotations

import pytest
from fakes.workflows import lease_world
from lease_builders import ORDER_ID, T0, new_order

from core.errors import Conflict, NotFound
from core.events import EventType
from core.lease.order import LeaseOrder
from core.lease.status import OrderStatus
from core.usecases.lease.book import on_move


def synced(order: LeaseOrder, at: object) -> LeaseOrder:
    return order if order.status is OrderStatus.SYNCED else order.synced("CH-1", T0)


# any status move publishes an event here; which one does not matter to the book
SYNC_EVENT = on_move(EventType.LEASE_ORDER_CLOSED, lambda o: o.status)


async def test_a_change_is_saved_with_the_next_version_and_its_event_leaves_in_the_same_commit() -> None:
    w = lease_world(new_order())
    saved = await w.book.change(ORDER_ID, synced, SYNC_EVENT)
    assert saved.status is OrderStatus.SYNCED and saved.version == 1
    assert w.orders[ORDER_ID] == saved and w.storage.commits == 1
    [event] = w.storage.state.outbox
    assert (event["event_type"], event["payload"]["order"]["status"]) == ("lease.order_closed", "synced")


async def test_a_concurrent_save_makes_the_change_try_again_and_publish_once() -> None:
    w = lease_world(new_order())
    w.storage.state.races.lose("lease_orders")
    saved = await w.book.change(ORDER_ID, synced, SYNC_EVENT)
    assert saved.version == 1 and w.storage.commits == 1
    assert w.events() == ["lease.order_closed"]


async def test_three_concurrent_saves_in_a_row_give_up() -> None:

    w = lease_world(new_order())
    w.storage.state.races.lose("lease_orders", 3)
    with pytest.raises(Conflict):
        await w.book.change(ORDER_ID, synced, SYNC_EVENT)
    assert w.events() == [] and w.orders[ORDER_ID].version == 0


async def test_a_change_that_changes_nothing_saves_and_publishes_nothing() -> None:
    order = new_order().synced("CH-1", T0)
    w = lease_world(order)
    assert await w.book.change(ORDER_ID, synced, SYNC_EVENT) == order
    assert w.storage.commits == 0 and w.events() == []


async def test_another_apps_order_is_not_found() -> None:
    book = lease_world(new_order()).book
    assert (await book.get(ORDER_ID, "shop")).app_id == "shop"
    with pytest.raises(NotFound):
        await book.get(ORDER_ID, "someone-else")


def test_on_move_names_the_event_only_for_a_move_to_its_target() -> None:
    created = new_order()
    synced_order = created.synced("CH-1", T0)
    to_closed = on_move(EventType.LEASE_ORDER_CLOSED, lambda o: o.status, OrderStatus.CLOSED)
    assert SYNC_EVENT(created, synced_order) is EventType.LEASE_ORDER_CLOSED
    assert SYNC_EVENT(synced_order, synced_order) is None
    assert to_closed(created, synced_order) is None
