"""The console's parts without HTTP: the login limiter, session expiry and the seen step, durations on the
timeline, and a translation for every status and action the pages show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.bills.actions import ErrorAction
from core.bills.model import BillStatus
from core.lease.status import OrderStatus, PeriodStatus
from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus
from gateway.console.i18n import MESSAGES, translator
from gateway.console.ratelimit import LoginLimiter
from gateway.console.session import Expiry, Session, new_session_id
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
    now = [0.0]
    limiter = LoginLimiter(failures=1, window_seconds=900, clock=lambda: now[0])
    limiter.failed("login:a")
    assert limiter.blocked("login:a")
    now[0] = 901
    assert not limiter.blocked("login:a")


def test_the_limiter_keeps_only_keys_with_failures_in_the_window() -> None:
    """Every name tried from a blocked address was kept for ever (an empty count each): memory
    grew with every request. Checks now store nothing, and old failures are swept."""
    now = [0.0]
    limiter = LoginLimiter(failures=3, window_seconds=900, clock=lambda: now[0])
    for _ in range(3):
        limiter.failed("login:x", "addr:1")
    for n in range(10_000):  # the address is blocked: each new name is only checked
        assert limiter.blocked(f"login:n{n}", "addr:1")
    assert limiter.keys_held() == 2
    now[0] = 1000  # all of those failures left the window
    for n in range(5_000):  # 5,000 addresses fail once each: a sweep drops the old keys
        limiter.failed(f"login:m{n}", f"addr:m{n}")
    assert limiter.keys_held() <= 10_000 and "login:x" not in limiter._failed
    now[0] = 2000
    limiter.failed("login:last")
    for n in range(5_000):
        assert not limiter.blocked(f"login:m{n}", f"addr:m{n}")
    assert limiter.keys_held() == 1, "a key looked at is dropped once its failures left the window"


def test_sessions_expire_when_idle_and_at_the_absolute_limit() -> None:
    expiry = Expiry.from_settings(ConsoleSettings(idle_minutes=30, absolute_hours=8))
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    fresh = Session("demo-viewer", started=now, seen=now, csrf="c")
    assert not expiry.expired(fresh, now + timedelta(minutes=30))
    assert expiry.expired(fresh, now + timedelta(minutes=30, seconds=1))
    busy = replace(fresh, seen=now + timedelta(hours=8))
    assert not expiry.expired(busy, now + timedelta(hours=8))
    assert expiry.expired(busy, now + timedelta(hours=8, seconds=1))
    a, b = new_session_id(), new_session_id()
    assert a != b and len(a) >= 40  # random, never reused


def test_seen_is_due_once_a_minute_or_a_quarter_of_a_short_idle_time() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    session = Session("demo-viewer", started=now, seen=now, csrf="c")
    expiry = Expiry.from_settings(ConsoleSettings(idle_minutes=30))
    assert expiry.seen_step == timedelta(minutes=1)
    assert not expiry.seen_due(session, now + timedelta(seconds=59))
    assert expiry.seen_due(session, now + timedelta(seconds=60))
    assert Expiry.from_settings(ConsoleSettings(idle_minutes=1)).seen_step == timedelta(seconds=15)


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
