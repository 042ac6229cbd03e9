"""Routing rules: (pay method, channel, business type, currency, amount range) -> channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import NoRoute


class RoutingRule(BaseModel):
    """One rule of `routing.rules`; empty conditions match anything. `channel` is the target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    pay_method: str
    channel: str
    business_type: str | None = None
    currency: str | None = None
    min_amount: Decimal | None = Field(default=None, ge=0)
    max_amount: Decimal | None = Field(default=None, ge=0)

    @field_validator("min_amount", "max_amount", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            return str(value)
        return value

    def label(self, index: int) -> str:
        return self.name or f"rule #{index + 1}"


@dataclass(frozen=True, slots=True)
class ChannelCapability:
    """What an installed channel says it can do (from its plugin)."""

    code: str
    ports: frozenset[str]
    pay_methods: frozenset[str]
    currencies: frozenset[str]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    pay_method: str
    amount: Decimal
    currency: str
    channel: str | None = None
    business_type: str | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    channel: str
    rule_index: int
    rule: RoutingRule

    def explain(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "rule": {
                "index": self.rule_index,
                "label": self.rule.label(self.rule_index),
                **self.rule.model_dump(mode="json", exclude_none=True),
            },
        }


class RoutingConfigError(ValueError):
    """The routing rules refer to something that is not installed or not supported."""


class Router:
    """First matching rule wins; rules are checked against installed channels up front."""

    def __init__(self, rules: Sequence[RoutingRule], channels: Mapping[str, ChannelCapability]):
        self.rules = tuple(rules)
        self.channels = dict(channels)
        self.check()

    def check(self) -> None:
        problems: list[str] = []
        for index, rule in enumerate(self.rules):
            where = f"routing.rules[{index}] ({rule.label(index)})"
            capability = self.channels.get(rule.channel)
            if capability is None:
                installed = ", ".join(sorted(self.channels)) or "none"
                problems.append(
                    f"{where}: channel {rule.channel!r} is not installed (installed: {installed})"
                )
                continue
            if "payment" not in capability.ports:
                problems.append(f"{where}: channel {rule.channel!r} has no payment port")
            if rule.pay_method not in capability.pay_methods:
                problems.append(
                    f"{where}: channel {rule.channel!r} does not support pay method "
                    f"{rule.pay_method!r} (supports: {', '.join(sorted(capability.pay_methods))})"
                )
            if rule.currency is not None and rule.currency not in capability.currencies:
                problems.append(
                    f"{where}: channel {rule.channel!r} does not support currency {rule.currency!r}"
                )
            if (
                rule.min_amount is not None
                and rule.max_amount is not None
                and rule.min_amount > rule.max_amount
            ):
                problems.append(f"{where}: min_amount is above max_amount")
        if problems:
            raise RoutingConfigError("; ".join(problems))

    def matches(self, rule: RoutingRule, request: RouteRequest) -> bool:
        if rule.pay_method != request.pay_method:
            return False
        if request.channel is not None and rule.channel != request.channel:
            return False
        if rule.business_type is not None and rule.business_type != request.business_type:
            return False
        if rule.currency is not None and rule.currency != request.currency:
            return False
        if rule.min_amount is not None and request.amount < rule.min_amount:
            return False
        return not (rule.max_amount is not None and request.amount > rule.max_amount)

    def select(self, request: RouteRequest) -> RouteDecision:
        for index, rule in enumerate(self.rules):
            if self.matches(rule, request):
                return RouteDecision(rule.channel, index, rule)
        wanted = f"pay_method={request.pay_method!r}"
        if request.channel:
            wanted += f", channel={request.channel!r}"
        raise NoRoute(
            f"no routing rule matches {wanted}, currency={request.currency}, amount={request.amount}"
            + (f", business_type={request.business_type!r}" if request.business_type else ""),
            field="pay_method",
        )
