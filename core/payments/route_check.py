"""What `paygate routes check` says of each routing rule: its conditions, and whether an earlier
rule takes every request it could match (a shadowed rule never matches)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.payments.routing import Router, RoutingRule


@dataclass(frozen=True, slots=True)
class RuleReport:
    """One rule as the operator reads it. `shadowed_by`: the earlier rule that takes every
    request this one could match; `taken_first_by`: an earlier rule to another channel that does
    so unless the request names this rule's channel."""

    index: int
    rule: RoutingRule
    conditions: str
    shadowed_by: str | None = None
    taken_first_by: str | None = None


def conditions(router: Router, rule: RoutingRule) -> str:
    """Every condition of a rule, including those its channel adds (currencies, submitters)."""
    parts = [f"pay_method={rule.pay_method}"]
    parts.append(f"business_type={rule.business_type}" if rule.business_type else "business_type=any")
    parts.append(f"currency={'|'.join(sorted(router.currencies_of(rule))) or 'none'}")
    low = rule.min_amount if rule.min_amount is not None else "0"
    high = rule.max_amount if rule.max_amount is not None else "any"
    parts.append(f"amount={low}..{high}")
    parts.append(f"submitters={'|'.join(sorted(router.submitters_of(rule)))}")
    return " ".join(parts)


def covers(router: Router, earlier: RoutingRule, later: RoutingRule) -> bool:
    """Every request `later` could match (naming no channel) is matched by `earlier` too."""
    if earlier.pay_method != later.pay_method:
        return False
    if earlier.business_type is not None and earlier.business_type != later.business_type:
        return False
    if not router.currencies_of(later) <= router.currencies_of(earlier):
        return False
    if not router.submitters_of(later) <= router.submitters_of(earlier):
        return False
    return _range_within(later, earlier)


def _range_within(inner: RoutingRule, outer: RoutingRule) -> bool:
    inner_low = inner.min_amount if inner.min_amount is not None else Decimal(0)
    if outer.min_amount is not None and inner_low < outer.min_amount:
        return False
    if outer.max_amount is None:
        return True
    return inner.max_amount is not None and inner.max_amount <= outer.max_amount


def report(router: Router) -> list[RuleReport]:
    """Each rule in order, with the first earlier rule that shadows it (if any)."""
    out = []
    for index, rule in enumerate(router.rules):
        shadowed_by = taken_first_by = None
        for earlier_index, earlier in enumerate(router.rules[:index]):
            if not covers(router, earlier, rule):
                continue
            label = f"{earlier.label(earlier_index)} (#{earlier_index + 1})"
            if earlier.channel == rule.channel:
                shadowed_by = label
                break
            taken_first_by = taken_first_by or label
        out.append(RuleReport(index, rule, conditions(router, rule), shadowed_by, taken_first_by))
    return out
