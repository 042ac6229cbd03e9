"""The console's parts without HTTP: the login limiter, session expiry, durations on the
timeline, and a translation for every status and action the pages show."""

from __future__ import annotations

from datetime import timedelta

from core.bills.actions import ErrorAction
from core.bills.model import BillStatus
from core.lease.status import OrderStatus, PeriodStatus
from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus
from gateway.console.i18n import MESSAGES, translator
from gateway.console.ratelimit import LoginLimiter
from gateway.console.session import SessionStore
from gateway.console.timeline import timeline, took
from gateway.settings import ConsoleSettings
from gateway.storage.queries.notification_list import NOTIFICATION_STATUSES


def test_the_limiter_blocks_a_login_and_an_address_after_the_failures() -> None:
    limiter = LoginLimiter(failures=3, window_seconds=900)
    for _ in range(3):
        assert not limiter.blocked("login:a", "addr:1")
        limiter.failed("login:a", "addr:1")
    assert limiter.blocked("login:a", "addr:2") and limiter.blocked("login:b", "addr:1")
    assert not limiter.blocked("login:b", "addr:2")
    limiter.succeeded("login:a")
    assert not limiter.blocked("login:a", "addr:2") and limiter.blocked("login:a", "addr:1")


def test_the_window_forgets_old_failures() -> None:
    limiter = LoginLimiter(failures=1, window_seconds=900)
    limiter.failed("login:a")
    limiter._failed["login:a"][0] -= 901
    assert not limiter.blocked("login:a")


def test_sessions_expire_when_idle_and_at_the_absolute_limit() -> None:
    store = SessionStore(ConsoleSettings(idle_minutes=30, absolute_hours=8))
    session_id, session = store.start("demo-viewer")
    assert store.find(session_id) is session and store.find("other") is None
    session.seen -= timedelta(minutes=31)
    assert store.find(session_id) is None
    session_id, session = store.start("demo-viewer")
    session.started -= timedelta(hours=8, seconds=1)
    assert store.find(session_id) is None
    a, _ = store.start("x")
    b, _ = store.start("x")
    assert a != b and len(a) >= 40  # random, never reused


def test_the_timeline_orders_nodes_and_says_how_long_each_took() -> None:
    records = [
        {"node": "b", "outcome": "failed", "at": "2026-12-01T00:00:02.500000+00:00"},
        {"node": "a", "outcome": "ok", "at": "2026-12-01T00:00:00+00:00"},
    ]
    drawn = timeline(records)
    assert [(r["node"], r["since"], r["css"]) for r in drawn] == [("a", None, "ok"), ("b", "2.5 s", "bad")]
    assert [took(0.012), took(75), took(7322)] == ["12 ms", "1 min 15 s", "2 h 2 min"]


def test_every_status_and_action_has_both_languages() -> None:
    values = {
        s.value for e in (PaymentStatus, BillStatus, PayoutStatus, OrderStatus, PeriodStatus) for s in e
    }
    values |= set(NOTIFICATION_STATUSES)
    assert not [v for v in values if f"status.{v}" not in MESSAGES]
    assert not [a for a in ErrorAction if f"action.{a.value}" not in MESSAGES]
    assert all(zh and en for zh, en in MESSAGES.values())
    assert translator("zh")("status.bank_failed") == "银行支付失败"
    assert translator("en")("status.bank_failed") == "bank failed"
