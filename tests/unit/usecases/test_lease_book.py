"""LeaseBook: a change is applied to the locked order under a version check, its event leaves
from the same commit, and a concurrent save makes it try again on the new version."""

from __future__ import annotations

import pytest
from lease_fakes import ORDER_ID, T0, Store, book_over, new_order

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
    store = Store({ORDER_ID: new_order()})
    saved = await book_over(store).change(ORDER_ID, synced, SYNC_EVENT)
    assert saved.status is OrderStatus.SYNCED and saved.version == 1
    assert store.orders[ORDER_ID] == saved and store.commits == 1
    assert [(e[1], e[3]["order"]["status"]) for e in store.events] == [("lease.order_closed", "synced")]


async def test_a_concurrent_save_makes_the_change_try_again_and_publish_once() -> None:
    store = Store({ORDER_ID: new_order()}, conflicts=1)
    saved = await book_over(store).change(ORDER_ID, synced, SYNC_EVENT)
    assert saved.version == 1 and store.commits == 1
    assert [e[1] for e in store.events] == ["lease.order_closed"]


async def test_three_concurrent_saves_in_a_row_give_up() -> None:
    store = Store({ORDER_ID: new_order()}, conflicts=3)
    with pytest.raises(Conflict):
        await book_over(store).change(ORDER_ID, synced, SYNC_EVENT)
    assert store.events == [] and store.orders[ORDER_ID].version == 0


async def test_a_change_that_changes_nothing_saves_and_publishes_nothing() -> None:
    order = new_order().synced("CH-1", T0)
    store = Store({ORDER_ID: order})
    assert await book_over(store).change(ORDER_ID, synced, SYNC_EVENT) is order
    assert store.commits == 0 and store.events == []


async def test_another_apps_order_is_not_found() -> None:
    store = Store({ORDER_ID: new_order()})
    book = book_over(store)
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
