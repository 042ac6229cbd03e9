"""Routing decides who may reach a channel (callers or a named workflow) and respects what the
channel supports; `routes check` finds rules an earlier one shadows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.errors import NoRoute
from core.money import Money
from core.payments.route_check import report
from core.payments.routing import (
    ChannelCapability,
    PayMethodNotAllowed,
    Router,
    RouteRequest,
    RoutingConfigError,
    RoutingRule,
)
from core.usecases.payments.policy import PaymentPolicy, QuerySchedule

PAYMENT = frozenset({"payment", "query"})
CAPS = {
    "ledger": ChannelCapability("ledger", PAYMENT, frozenset({"transfer"}), frozenset({"CNY", "USD"})),
    "payout": ChannelCapability(
        "payout", PAYMENT, frozenset({"alipay", "bank"}), frozenset({"CNY"}), workflows_only=True
    ),
    "bank": ChannelCapability("bank", PAYMENT, frozenset({"bank"}), frozenset({"CNY"}), workflows_only=True),
    "open_bank": ChannelCapability("open_bank", PAYMENT, frozenset({"bank"}), frozenset({"CNY", "USD"})),
}


def rule(**fields: object) -> RoutingRule:
    return RoutingRule.model_validate(fields)


def request(pay_method: str, submitter: str, currency: str = "CNY", **more: object) -> RouteRequest:
    return RouteRequest(pay_method, Decimal("10"), currency, submitter=submitter, **more)  # type: ignore[arg-type]


def test_a_workflows_only_channel_refuses_callers_and_pays_for_workflows() -> None:
    router = Router([rule(name="alipay payouts", pay_method="alipay", channel="payout")], CAPS)
    with pytest.raises(PayMethodNotAllowed) as refused:
        router.select(request("alipay", "callers"))
    assert refused.value.code == "PAY_METHOD_NOT_ALLOWED" and refused.value.http_status == 403
    assert "alipay payouts (for bills, lease, payouts only)" in refused.value.message
    for workflow in ("payouts", "bills", "lease"):
        assert router.select(request("alipay", workflow)).channel == "payout"


def test_a_rule_narrows_its_submitters() -> None:
    router = Router(
        [
            rule(name="payouts", pay_method="bank", channel="payout", submitters=["payouts"]),
            rule(name="bills", pay_method="bank", channel="bank", submitters=["bills"]),
        ],
        CAPS,
    )
    assert router.select(request("bank", "payouts")).rule.name == "payouts"
    # a rule refusing the submitter is passed over for a later one that admits it
    assert router.select(request("bank", "bills")).rule.name == "bills"
    refusal = r"payouts \(for payouts only\); bills \(for bills only\)"
    with pytest.raises(PayMethodNotAllowed, match=refusal):
        router.select(request("bank", "lease"))
    with pytest.raises(PayMethodNotAllowed):
        router.select(request("bank", "callers", business_type="payout"))


def test_callers_reach_an_open_channel_unless_the_rule_says_otherwise() -> None:
    router = Router(
        [
            rule(pay_method="transfer", channel="ledger"),
            rule(name="workflow bank", pay_method="bank", channel="open_bank", submitters=["bills"]),
        ],
        CAPS,
    )
    decision = router.select(request("transfer", "callers"))
    assert decision.explain()["rule"]["submitters"] == ["bills", "callers", "lease", "payouts"]  # type: ignore[index]
    with pytest.raises(PayMethodNotAllowed):
        router.select(request("bank", "callers"))


def test_no_matching_rule_at_all_stays_no_route() -> None:
    router = Router([rule(pay_method="alipay", channel="payout")], CAPS)
    with pytest.raises(NoRoute):
        router.select(request("bank", "callers"))


def test_opening_a_workflows_only_channel_to_callers_fails_at_start() -> None:
    with pytest.raises(RoutingConfigError, match="pays for workflows only"):
        Router([rule(pay_method="alipay", channel="payout", submitters=["callers", "payouts"])], CAPS)


def test_an_unknown_submitter_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="unknown submitter 'payout'"):
        rule(pay_method="alipay", channel="payout", submitters=["payout"])


def test_a_rule_matches_only_currencies_its_channel_supports() -> None:
    router = Router(
        [
            rule(name="spdb", pay_method="bank", channel="bank"),
            rule(name="usd bank", pay_method="bank", channel="open_bank", submitters=["bills"]),
        ],
        CAPS,
    )
    assert router.select(request("bank", "bills")).rule.name == "spdb"
    # SPDB pays CNY only: a USD bank payment goes to the next rule whose channel takes USD ...
    assert router.select(request("bank", "bills", currency="USD")).rule.name == "usd bank"
    # ... and with no such rule it is NO_ROUTE, never the CNY-only channel
    only_spdb = Router([rule(pay_method="bank", channel="bank")], CAPS)
    with pytest.raises(NoRoute):
        only_spdb.select(request("bank", "bills", currency="USD"))


def test_app_pay_methods_refuse_the_callers_others() -> None:
    policy = PaymentPolicy({}, {}, QuerySchedule((1,), 60), app_pay_methods={"shop": frozenset({"bank"})})
    with pytest.raises(PayMethodNotAllowed, match="app shop may not pay with 'transfer'"):
        policy.check_pay_method("shop", "transfer", "callers")
    policy.check_pay_method("shop", "bank", "callers")
    policy.check_pay_method("other", "transfer", "callers")  # no list: routing decides
    policy.check_pay_method("shop", "transfer", "bills")  # a workflow pays for its own records
    assert policy.check_limit(Money(100, "CNY")) is None


def test_routes_check_finds_a_shadowed_rule() -> None:
    router = Router(
        [
            rule(name="all transfers", pay_method="transfer", channel="ledger"),
            rule(name="big transfers", pay_method="transfer", channel="ledger", min_amount="1000"),
            rule(name="bank payouts", pay_method="bank", channel="payout", business_type="payout"),
            rule(name="bills", pay_method="bank", channel="bank", business_type="payout"),
            rule(name="any bank", pay_method="bank", channel="bank"),
            rule(name="usd bank", pay_method="bank", channel="open_bank", currency="USD"),
        ],
        CAPS,
    )
    entries = report(router)
    assert [e.shadowed_by for e in entries] == [None, "all transfers (#1)", None, None, None, None]
    # another channel's rule takes it first, but a request naming channel "bank" still reaches it
    assert entries[3].taken_first_by == "bank payouts (#3)"
    assert entries[4].taken_first_by is None and entries[5].taken_first_by is None
    assert entries[1].conditions == (
        "pay_method=transfer business_type=any currency=CNY|USD amount=1000..any "
        "submitters=bills|callers|lease|payouts"
    )
    assert entries[2].conditions == (
        "pay_method=bank business_type=payout currency=CNY amount=0..any submitters=bills|lease|payouts"
    )


def test_only_an_earlier_rule_covering_every_condition_shadows() -> None:
    router = Router(
        [
            rule(name="small", pay_method="transfer", channel="ledger", max_amount="100"),
            rule(name="cny", pay_method="transfer", channel="ledger", currency="CNY"),
            rule(name="callers", pay_method="transfer", channel="ledger", submitters=["callers"]),
            rule(name="rest", pay_method="transfer", channel="ledger"),
            rule(name="usd", pay_method="transfer", channel="ledger", currency="USD", max_amount="50"),
        ],
        CAPS,
    )
    # "cny" leaves USD to "callers"; "small" takes every USD transfer up to 50 before "usd"
    assert [e.shadowed_by for e in report(router)] == [None, None, None, None, "small (#1)"]
