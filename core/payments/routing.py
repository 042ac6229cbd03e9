"""Routing rules: (submitter, pay method, channel, business type, currency, amount range) -> channel.

Who may submit: every payment is submitted by `callers` (a caller app's own `POST /v1/payments`)
or by a workflow (`payouts`, `bills`, `lease`) that pays for one of its records after its own
checks (finance review, bill acceptance, a signed lease). A channel may be `workflows_only`;
a rule may narrow who reaches its channel with `submitters`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import BusinessRuleViolation, NoRoute

CALLERS = "callers"
WORKFLOWS = frozenset({"payouts", "bills", "lease"})
SUBMITTERS = WORKFLOWS | {CALLERS}


class PayMethodNotAllowed(BusinessRuleViolation):
    """The submitter may not pay this way: the matching rules are for workflows only, or the
    caller app's `pay_methods` exclude the pay method. Nothing was stored or sent."""

    code = "PAY_METHOD_NOT_ALLOWED"
    http_status = 403


class RoutingRule(BaseModel):
    """One rule of `routing.rules`; empty conditions match anything. `channel` is the target.
    `submitters` (None: the channel's default) says who may reach the channel through this rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    pay_method: str
    channel: str
    business_type: str | None = None
    currency: str | None = None
    min_amount: Decimal | None = Field(default=None, ge=0)
    max_amount: Decimal | None = Field(default=None, ge=0)
    submitters: tuple[str, ...] | None = Field(default=None, min_length=1)

    @field_validator("min_amount", "max_amount", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            return str(value)
        return value

    @field_validator("submitters")
    @classmethod
    def _known_submitters(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = sorted(set(value or ()) - SUBMITTERS)
        if unknown:
            raise ValueError(f"unknown submitter {unknown[0]!r} (known: {', '.join(sorted(SUBMITTERS))})")
        return value

    def label(self, index: int) -> str:
        return self.name or f"rule #{index + 1}"


@dataclass(frozen=True, slots=True)
class ChannelCapability:
    """What an installed channel says it can do (from its plugin). A `workflows_only` channel
    pays only for workflows (it moves money outside the platform with no review of its own)."""

    code: str
    ports: frozenset[str]
    pay_methods: frozenset[str]
    currencies: frozenset[str]
    workflows_only: bool = False

    def default_submitters(self) -> frozenset[str]:
        return WORKFLOWS if self.workflows_only else SUBMITTERS


@dataclass(frozen=True, slots=True)
class RouteRequest:
    pay_method: str
    amount: Decimal
    currency: str
    channel: str | None = None
    business_type: str | None = None
    # `callers` (a caller app's direct payment) or the workflow that submits
    submitter: str = CALLERS


@dataclass(frozen=True, slots=True)
class RouteDecision:
    channel: str
    rule_index: int
    rule: RoutingRule
    submitters: frozenset[str]

    def explain(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "rule": {
                "index": self.rule_index,
                "label": self.rule.label(self.rule_index),
                **self.rule.model_dump(mode="json", exclude_none=True),
                "submitters": sorted(self.submitters),
            },
        }


class RoutingConfigError(ValueError):
    """The routing rules refer to something that is not installed or not supported."""


def rule_problems(index: int, rule: RoutingRule, channels: Mapping[str, ChannelCapability]) -> list[str]:
    """What makes one rule unusable against the installed channels (empty: nothing)."""
    where = f"routing.rules[{index}] ({rule.label(index)})"
    capability = channels.get(rule.channel)
    if capability is None:
        installed = ", ".join(sorted(channels)) or "none"
        return [f"{where}: channel {rule.channel!r} is not installed (installed: {installed})"]
    problems = []
    if "payment" not in capability.ports:
        problems.append(f"{where}: channel {rule.channel!r} has no payment port")
    if rule.pay_method not in capability.pay_methods:
        problems.append(
            f"{where}: channel {rule.channel!r} does not support pay method "
            f"{rule.pay_method!r} (supports: {', '.join(sorted(capability.pay_methods))})"
        )
    if rule.currency is not None and rule.currency not in capability.currencies:
        problems.append(f"{where}: channel {rule.channel!r} does not support currency {rule.currency!r}")
    if rule.min_amount is not None and rule.max_amount is not None and rule.min_amount > rule.max_amount:
        problems.append(f"{where}: min_amount is above max_amount")
    if capability.workflows_only and CALLERS in (rule.submitters or ()):
        problems.append(
            f"{where}: channel {rule.channel!r} pays for workflows only "
            f"({', '.join(sorted(WORKFLOWS))}); {CALLERS!r} may not submit to it"
        )
    return problems


class Router:
    """First matching rule wins; rules are checked against installed channels up front.

    A rule matches a request when its conditions hold and its channel supports the request's
    pay method and currency; it is taken only if it admits the request's submitter."""

    def __init__(self, rules: Sequence[RoutingRule], channels: Mapping[str, ChannelCapability]):
        self.rules = tuple(rules)
        self.channels = dict(channels)
        self.check()

    def check(self) -> None:
        problems = [p for i, rule in enumerate(self.rules) for p in rule_problems(i, rule, self.channels)]
        if problems:
            raise RoutingConfigError("; ".join(problems))

    def submitters_of(self, rule: RoutingRule) -> frozenset[str]:
        """Who may reach the rule's channel through it: the rule's own list, else the channel's."""
        if rule.submitters is not None:
            return frozenset(rule.submitters)
        return self.channels[rule.channel].default_submitters()

    def currencies_of(self, rule: RoutingRule) -> frozenset[str]:
        """The currencies a rule can match: its own, within what its channel supports."""
        supported = self.channels[rule.channel].currencies
        return supported & {rule.currency} if rule.currency is not None else supported

    def matches(self, rule: RoutingRule, request: RouteRequest) -> bool:
        """The rule's conditions and its channel's capabilities hold (who submits aside)."""
        capability = self.channels[rule.channel]
        if rule.pay_method != request.pay_method or request.pay_method not in capability.pay_methods:
            return False
        if request.channel is not None and rule.channel != request.channel:
            return False
        if rule.business_type is not None and rule.business_type != request.business_type:
            return False
        if request.currency not in self.currencies_of(rule):
            return False
        if rule.min_amount is not None and request.amount < rule.min_amount:
            return False
        return not (rule.max_amount is not None and request.amount > rule.max_amount)

    def select(self, request: RouteRequest) -> RouteDecision:
        """The first matching rule that admits the submitter. Matching rules that all refuse it
        are PAY_METHOD_NOT_ALLOWED (the way exists, not for this submitter); none is NO_ROUTE."""
        refused: list[str] = []
        for index, rule in enumerate(self.rules):
            if not self.matches(rule, request):
                continue
            submitters = self.submitters_of(rule)
            if request.submitter in submitters:
                return RouteDecision(rule.channel, index, rule, submitters)
            refused.append(f"{rule.label(index)} (for {', '.join(sorted(submitters))} only)")
        if refused:
            raise PayMethodNotAllowed(
                f"pay method {request.pay_method!r} is not open to {request.submitter}: "
                f"the matching routing rules are {'; '.join(refused)}",
                field="pay_method",
            )
        wanted = f"pay_method={request.pay_method!r}"
        if request.channel:
            wanted += f", channel={request.channel!r}"
        raise NoRoute(
            f"no routing rule matches {wanted}, currency={request.currency}, amount={request.amount}"
            + (f", business_type={request.business_type!r}" if request.business_type else ""),
            field="pay_method",
        )
