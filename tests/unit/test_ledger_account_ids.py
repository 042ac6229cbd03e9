"""Which accounts a payment's answer shows as they are (the ledger's own ids) and which masked
(core/ledger.py `is_ledger_account_id`, core/usecases/payments/views.py `shown_account`)."""

from __future__ import annotations

import pytest

from core.ids import new_id
from core.ledger import external_account_id, is_ledger_account_id
from core.usecases.payments.views import shown_account


@pytest.mark.parametrize(
    "account", [new_id("acc"), external_account_id("CNY"), "cpay_" + "a1" * 15, "cwof_" + "0f" * 15]
)
def test_a_ledger_account_is_shown_as_it_is(account: str) -> None:
    assert is_ledger_account_id(account) and shown_account(account) == account


@pytest.mark.parametrize(
    ("account", "shown"),
    [
        ("6222020000000001", "6222********0001"),
        ("zhangsan@example.com", "z*******@example.com"),
        ("acc_bob@example.com", "a******@example.com"),  # an e-mail that begins like an id
        ("2088102146225135", "2088********5135"),
        ("13812345678", "1381***5678"),
    ],
)
def test_any_other_account_is_masked(account: str, shown: str) -> None:
    assert not is_ledger_account_id(account) and shown_account(account) == shown
