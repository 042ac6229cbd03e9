"""Operators, their roles, and the one table of which role each kind of action needs.

Roles are not ranks: `admin` manages operators and does not approve payouts. A person who
reviews payouts and handles bill errors holds both `finance` and `operator`. Every role may
look (`Permission.VIEW`), so a viewer is an operator with no role beyond looking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from core.errors import InvalidArgument


class Role(StrEnum):
    VIEWER = "viewer"  # reads every /ops list, detail, timeline and report
    OPERATOR = "operator"  # error handling (差错处理), webhook replay
    FINANCE = "finance"  # payout review (财务审核), resolving unknown outcomes, funding, ledger actions
    ADMIN = "admin"  # operators: add, disable, reset, tokens


class Permission(StrEnum):
    """What an /ops action does, as far as who may do it is concerned."""

    VIEW = "view"
    HANDLE_BILL_ERRORS = "handle_bill_errors"
    REPLAY_WEBHOOKS = "replay_webhooks"
    REVIEW_PAYOUTS = "review_payouts"
    RESOLVE_PAYMENTS = "resolve_payments"
    FUND_ACCOUNTS = "fund_accounts"
    MANAGE_OPERATORS = "manage_operators"


# None: every role may (looking); otherwise the one role an operator must hold
ROLE_NEEDED: Mapping[Permission, Role | None] = MappingProxyType(
    {
        Permission.VIEW: None,
        Permission.HANDLE_BILL_ERRORS: Role.OPERATOR,
        Permission.REPLAY_WEBHOOKS: Role.OPERATOR,
        Permission.REVIEW_PAYOUTS: Role.FINANCE,
        Permission.RESOLVE_PAYMENTS: Role.FINANCE,
        Permission.FUND_ACCOUNTS: Role.FINANCE,
        Permission.MANAGE_OPERATORS: Role.ADMIN,
    }
)


def role_needed(permission: Permission) -> Role:
    """The role that grants `permission` to the fewest people (viewer: any role)."""
    return ROLE_NEEDED[permission] or Role.VIEWER


def may(roles: Iterable[Role], permission: Permission) -> bool:
    """Whether an operator holding `roles` may do what `permission` names."""
    held = frozenset(roles)
    needed = ROLE_NEEDED[permission]
    return bool(held) if needed is None else needed in held


LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def check_login(login: str) -> str:
    if LOGIN_PATTERN.fullmatch(login) is None:
        raise InvalidArgument(
            "a login is 2 to 64 characters: lower-case letters, digits, '.', '_' or '-'", field="login"
        )
    return login


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names as given (CLI, settings, storage) to roles; at least one, each known."""
    roles = set()
    for name in names:
        try:
            roles.add(Role(name.strip()))
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise InvalidArgument(f"role {name!r} does not exist; use {choices}", field="roles") from None
    if not roles:
        raise InvalidArgument("an operator needs at least one role", field="roles")
    return frozenset(roles)


@dataclass(frozen=True)
class Operator:
    """A person who may use /ops: who they are (`login`, recorded on every action) and may do."""

    id: str
    login: str
    display_name: str | None
    roles: frozenset[Role]
    disabled: bool
    created_at: datetime

    def may(self, permission: Permission) -> bool:
        return not self.disabled and may(self.roles, permission)

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)
