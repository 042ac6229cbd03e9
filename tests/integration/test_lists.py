"""The lists (operators' /ops and callers' /v1): newest first by (created_at, id), Stripe's
cursor paging (limit, starting_after, ending_before, has_more), every filter, a caller seeing
its own app's rows only, and a bad parameter refused with a 400 that names it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from list_rows import BASE, SEEDS, at, bill, lease_order, notification, payment, payout
from paygate_testkit import APP_ID, OTHER_APP, SignedClient
from sqlalchemy.ext.asyncio import AsyncConnection

OPS_LISTS = ["payments", "bills", "payouts", "lease/orders", "notifications"]
CALLER_LISTS = ["payments", "bills", "payouts", "lease/orders"]


@pytest.fixture
async def conn(container: Any, api: SignedClient) -> AsyncIterator[AsyncConnection]:
    """A connection to the gateway's database whose writes are committed when the test's
    seeding is done (`await conn.commit()`)."""
    async with container.engine().connect() as connection:
        yield connection


async def seed_many(
    conn: AsyncConnection, kind: str, n: int, app_id: str = APP_ID, prefix: str = "r"
) -> None:
    for i in range(n):
        await SEEDS[kind](conn, f"{prefix}{i:03d}", app_id, at(i))
    await conn.commit()


async def walk(api: SignedClient, path: str, limit: int = 20) -> list[dict[str, Any]]:
    """Every page of a list, following starting_after until has_more is false."""
    pages: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": limit}
    while True:
        status, page = await api.get(f"{path}?{urlencode(query)}")
        assert status == 200, page
        assert page["object"] == "list"
        pages.append(page)
        if not page["has_more"]:
            return pages
        query["starting_after"] = page["data"][-1]["id"]


def newest_first(ids: list[str]) -> list[str]:
    """The seeded ids in list order: created_at descending, then id descending."""
    return sorted(ids, key=lambda i: (at(int(i[1:])), i), reverse=True)


# -- paging ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [f"/ops/{k}" for k in OPS_LISTS] + [f"/v1/{k}" for k in CALLER_LISTS])
async def test_45_rows_page_as_20_20_5_newest_first_without_duplicates_or_gaps(
    api: SignedClient, conn: AsyncConnection, path: str
) -> None:
    await seed_many(conn, path.split("/", 2)[2], 45)
    pages = await walk(api, path)
    assert [len(p["data"]) for p in pages] == [20, 20, 5]
    assert [p["has_more"] for p in pages] == [True, True, False]
    ids = [item["id"] for p in pages for item in p["data"]]
    assert ids == newest_first([f"r{i:03d}" for i in range(45)])  # every row once, ties by id


async def test_ending_before_pages_back_towards_the_newest(api: SignedClient, conn: AsyncConnection) -> None:
    await seed_many(conn, "payments", 45)
    first, second, last = await walk(api, "/ops/payments")
    status, back = await api.get(f"/ops/payments?limit=20&ending_before={last['data'][0]['id']}")
    assert status == 200 and back["data"] == second["data"] and back["has_more"] is True
    status, top = await api.get(f"/ops/payments?limit=20&ending_before={second['data'][0]['id']}")
    assert top["data"] == first["data"] and top["has_more"] is False


async def test_the_default_page_is_20(api: SignedClient, conn: AsyncConnection) -> None:
    await seed_many(conn, "bills", 21)
    status, page = await api.get("/ops/bills")
    assert status == 200 and len(page["data"]) == 20 and page["has_more"] is True


async def test_a_row_that_left_the_filter_still_marks_the_place(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await seed_many(conn, "payouts", 5)
    status, page = await api.get("/ops/payouts?status=pending_review&limit=2")
    assert [p["id"] for p in page["data"]] == ["r004", "r003"]
    await conn.exec_driver_sql("UPDATE payouts SET status = 'approved' WHERE id = 'r003'")
    await conn.commit()
    status, rest = await api.get("/ops/payouts?status=pending_review&limit=2&starting_after=r003")
    assert status == 200 and [p["id"] for p in rest["data"]] == ["r002", "r001"]


# -- isolation -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CALLER_LISTS)
async def test_a_caller_lists_its_own_rows_only(api: SignedClient, conn: AsyncConnection, kind: str) -> None:
    await seed_many(conn, kind, 3, APP_ID, "m")
    await seed_many(conn, kind, 3, OTHER_APP, "o")
    status, mine = await api.get(f"/v1/{kind}")
    assert status == 200 and sorted(i["id"] for i in mine["data"]) == ["m000", "m001", "m002"]
    status, refused = await api.get(f"/v1/{kind}?starting_after=o001")
    assert (status, refused["error"]["field"]) == (400, "starting_after"), "another app's id is no cursor"
    _, everyone = await api.get(f"/ops/{kind}")
    assert len(everyone["data"]) == 6


# -- filters ---------------------------------------------------------------------------------
async def ids_of(api: SignedClient, path: str, **query: Any) -> list[str]:
    status, page = await api.get(f"{path}?{urlencode(query)}")
    assert status == 200, page
    return [item["id"] for item in page["data"]]


async def test_payments_filter_by_status_channel_app_time_and_escalation(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await payment(conn, "p1", APP_ID, BASE, status="unknown", escalated=True)
    await payment(conn, "p2", APP_ID, BASE + timedelta(hours=1), status="unknown", channel="spdb")
    await payment(conn, "p3", OTHER_APP, BASE + timedelta(hours=2))
    await conn.commit()
    ops = "/ops/payments"
    assert await ids_of(api, ops, status="unknown") == ["p2", "p1"]
    assert await ids_of(api, ops, channel="spdb") == ["p2"]
    assert await ids_of(api, ops, app_id=OTHER_APP) == ["p3"]
    assert await ids_of(api, ops, escalated="true") == ["p1"]
    assert await ids_of(api, ops, escalated="false") == ["p3", "p2"]
    window = {"created_from": (BASE + timedelta(hours=1)).isoformat(), "created_to": "2026-12-01T11:00:00Z"}
    assert await ids_of(api, ops, **window) == ["p2"]  # from included, to excluded
    assert await ids_of(api, "/v1/payments", status="unknown", channel="internal") == ["p1"]
    status, page = await api.get(f"{ops}?status=unknown")
    assert page["data"][1]["app_id"] == APP_ID and page["data"][1]["escalated"] is True
    assert page["data"][1]["payer_account"].endswith("*0202"), "cards stay masked as the view masks them"
    assert "6222020202020202" not in str(page)


async def test_bills_filter_by_status_pay_mode_app_and_needing_action(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await bill(conn, "b1", APP_ID, at(1), status="bank_failed", pay_mode="bank")
    await bill(conn, "b2", APP_ID, at(2), status="completed", pay_mode="bank")
    await bill(conn, "b3", OTHER_APP, at(3), status="bank_unknown", pay_mode="bank")
    await bill(conn, "b4", APP_ID, at(4), status="accepted", pay_mode="transfer")
    await bill(conn, "b5", APP_ID, at(5), status="transfer_pending", pay_mode="transfer")
    await conn.commit()
    ops = "/ops/bills"
    assert await ids_of(api, ops, status="completed") == ["b2"]
    assert await ids_of(api, ops, pay_mode="transfer") == ["b5", "b4"]
    assert await ids_of(api, ops, app_id=OTHER_APP) == ["b3"]
    # failed or unknown, or an action allowed (rerun_business on a transfer still pending)
    assert await ids_of(api, ops, needs_action="true") == ["b5", "b3", "b1"]
    assert await ids_of(api, ops, needs_action="false") == ["b4", "b2"]
    _, page = await api.get(f"{ops}?status=bank_failed")
    [failed] = page["data"]
    assert failed["allowed_actions"] == ["resend_bank", "switch_to_transfer"]
    assert failed["payee_card_no"].endswith("0202") and "6222020202020202" not in str(page)
    assert await ids_of(api, "/v1/bills", pay_mode="bank") == ["b2", "b1"]


async def test_payouts_filter_by_status_app_serial_no_and_time(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await payout(conn, "y1", APP_ID, at(1), serial_no="SER-1")
    await payout(conn, "y2", APP_ID, at(4), status="rejected", serial_no="SER-2")
    await payout(conn, "y3", OTHER_APP, at(7), serial_no="SER-1")
    await conn.commit()
    ops = "/ops/payouts"
    assert await ids_of(api, ops, status="pending_review") == ["y3", "y1"]
    assert await ids_of(api, ops, app_id=APP_ID) == ["y2", "y1"]
    assert await ids_of(api, ops, serial_no="SER-1") == ["y3", "y1"]
    assert await ids_of(api, ops, created_from=at(3).isoformat(), created_to=at(6).isoformat()) == ["y2"]
    assert await ids_of(api, "/v1/payouts", status="rejected") == ["y2"]
    status, one = await api.get("/v1/payouts?serial_no=SER-1")
    assert status == 200 and one["id"] == "y1", "a serial number still finds that one payout"


async def test_lease_orders_filter_by_status_app_and_a_period_status(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await lease_order(conn, "l1", APP_ID, at(1), period_status="failed")
    await lease_order(conn, "l2", APP_ID, at(2), status="closed")
    await lease_order(conn, "l3", OTHER_APP, at(3), period_status="collecting")
    await conn.commit()
    ops = "/ops/lease/orders"
    assert await ids_of(api, ops, status="closed") == ["l2"]
    assert await ids_of(api, ops, app_id=OTHER_APP) == ["l3"]
    assert await ids_of(api, ops, period_status="failed") == ["l1"]
    assert await ids_of(api, ops, period_status="collecting") == ["l3"]
    assert await ids_of(api, "/v1/lease/orders", period_status="failed") == ["l1"]
    _, page = await api.get(f"{ops}?period_status=failed")
    [order] = page["data"]
    assert order["app_id"] == APP_ID and [p["status"] for p in order["periods"]] == ["failed", "pending"]


async def test_notifications_filter_by_every_status_and_show_their_payload(
    api: SignedClient, conn: AsyncConnection
) -> None:
    await notification(conn, "n1", APP_ID, at(1), status="pending")
    await notification(conn, "n2", APP_ID, at(2), status="pending", attempts=2)
    await notification(conn, "n3", OTHER_APP, at(3), status="dead", attempts=5, event_type="payout.failed")
    await notification(conn, "n4", APP_ID, at(4))
    await conn.commit()
    ops = "/ops/notifications"
    assert await ids_of(api, ops) == ["n4", "n3", "n2", "n1"]
    assert await ids_of(api, ops, status="pending") == ["n2", "n1"]
    assert await ids_of(api, ops, status="failing") == ["n2"]
    assert await ids_of(api, ops, status="dead") == ["n3"]
    assert await ids_of(api, ops, status="delivered") == ["n4"]
    assert await ids_of(api, ops, app_id=OTHER_APP) == await ids_of(api, ops, event_type="payout.failed")
    _, page = await api.get(f"{ops}?status=dead")
    assert page["data"][0]["payload"] == {
        "event_id": "n3",
        "event_type": "payout.failed",
        "payment": {"id": "n3"},
    }


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("starting_after=pay_nowhere", "starting_after"),
        ("ending_before=pay_nowhere", "ending_before"),
        ("starting_after=r000&ending_before=r001", "ending_before"),
        ("status=lost", "status"),
        ("escalated=yes", "escalated"),
        ("created_from=2026-12-01", "created_from"),
        ("created_from=2026-12-01T09:00:00", "created_from"),
        ("created_from=2026-12-02T00:00:00Z&created_to=2026-12-01T00:00:00Z", "created_to"),
        # valid times whose UTC is outside years 1-9999 (a 500 once)
        ("created_from=0001-01-01T00:00:00%2B14:00", "created_from"),
        ("created_to=9999-12-31T23:59:59-14:00", "created_to"),
        ("channel=", "channel"),
        ("stauts=unknown", "stauts"),  # misspelt: refused, not an unfiltered list
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(
    api: SignedClient, conn: AsyncConnection, query: str, field: str
) -> None:
    await seed_many(conn, "payments", 2)
    status, body = await api.get(f"/ops/payments?{query}")
    assert status == 400, body
    code = "UNKNOWN_PARAMETER" if field == "stauts" else "INVALID_ARGUMENT"
    assert (body["error"]["code"], body["error"]["field"]) == (code, field)
    assert field in body["error"]["message"]


def _paged_routes() -> list[str]:
    from gateway.http.routes import ROUTES

    return [r.path for r in ROUTES if r.method == "GET" and any(q.name == "limit" for q in r.query)]


@pytest.mark.parametrize("path", _paged_routes())
@pytest.mark.parametrize(
    "limit", ["1" * 5000, "%EF%BC%95", "0005"], ids=["5000-digits", "fullwidth-5", "0005"]
)
async def test_a_limit_that_is_no_plain_number_is_a_400_on_every_list(
    api: SignedClient, path: str, limit: str
) -> None:
    """A limit of thousands of digits was a 500 on every list (more than Python converts); a
    full-width digit was taken as a number."""
    status, body = await api.get(f"{path.replace('{id}', 'acc_none')}?limit={limit}")
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "INVALID_ARGUMENT", "limit"), body


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/ops/bills", "needs_action=1", "needs_action"),
        ("/ops/bills", "pay_mode=cash", "pay_mode"),
        ("/ops/lease/orders", "period_status=late", "period_status"),
        ("/ops/notifications", "status=lost", "status"),
        ("/v1/payouts", "status=paid", "status"),
    ],
)
async def test_a_bad_filter_of_each_list_is_a_400(
    api: SignedClient, path: str, query: str, field: str
) -> None:
    status, body = await api.get(f"{path}?{query}")
    assert (status, body["error"]["field"]) == (400, field), body


@pytest.mark.parametrize(
    "query",
    ["/v1/bills?bill_code=JK-1&pay_mode=bogus", "/v1/payments?out_request_no=o-1&limit=5"],
)
async def test_a_look_up_by_the_callers_number_takes_no_filter_beside_it(
    api: SignedClient, query: str
) -> None:
    """A filter beside the caller's own number would be ignored by the look-up: refused, named."""
    status, body = await api.get(query)
    assert status == 400, body
    assert body["error"]["code"] == "INVALID_ARGUMENT" and body["error"]["field"] in {"pay_mode", "limit"}
