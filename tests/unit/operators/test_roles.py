"""Which role may do what: the one table of core/operators/model.py, and the names it accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import InvalidArgument
from core.operators.model import Operator, Permission, Role, check_login, may, parse_roles, role_needed

P, R = Permission, Role

# the brief of issue 13: what each role may do beyond looking
GRANTED = {
    R.VIEWER: {P.VIEW},
    R.OPERATOR: {P.VIEW, P.HANDLE_BILL_ERRORS, P.REPLAY_WEBHOOKS},
    R.FINANCE: {P.VIEW, P.REVIEW_PAYOUTS, P.RESOLVE_PAYMENTS, P.FUND_ACCOUNTS},
    R.ADMIN: {P.VIEW, P.MANAGE_OPERATORS},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_may_exactly_what_it_is_granted(role: Role, permission: Permission) -> None:
    assert may({role}, permission) is (permission in GRANTED[role])


def test_roles_add_up_and_no_role_may_nothing() -> None:
    assert may({R.FINANCE, R.OPERATOR}, P.HANDLE_BILL_ERRORS) and may(
        {R.FINANCE, R.OPERATOR}, P.FUND_ACCOUNTS
    )
    assert not any(may(set(), p) for p in Permission)


def test_the_role_needed_is_named_for_every_permission() -> None:
    assert role_needed(P.VIEW) is R.VIEWER
    assert role_needed(P.REVIEW_PAYOUTS) is R.FINANCE
    assert role_needed(P.MANAGE_OPERATORS) is R.ADMIN


def test_a_disabled_operator_may_nothing() -> None:
    active = Operator("opr_1", "li", None, frozenset({R.ADMIN}), False, datetime.now(UTC))
    assert active.may(P.VIEW) and active.may(P.MANAGE_OPERATORS)
    disabled = Operator("opr_1", "li", None, frozenset({R.ADMIN}), True, datetime.now(UTC))
    assert not any(disabled.may(p) for p in Permission)


def test_role_names_are_parsed_and_unknown_ones_refused() -> None:
    assert parse_roles(["finance", " viewer"]) == {R.FINANCE, R.VIEWER}
    with pytest.raises(InvalidArgument, match="role 'boss' does not exist"):
        parse_roles(["boss"])
    with pytest.raises(InvalidArgument, match="at least one role"):
        parse_roles([])


@pytest.mark.parametrize("login", ["li", "finance.li", "ops_2", "a-b"])
def test_good_logins(login: str) -> None:
    assert check_login(login) == login


@pytest.mark.parametrize("login", ["", "a", "Li", "li wang", "-li", "x" * 65, "李"])
def test_bad_logins_are_refused(login: str) -> None:
    with pytest.raises(InvalidArgument):
        check_login(login)
