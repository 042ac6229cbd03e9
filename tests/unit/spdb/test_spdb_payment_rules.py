"""8801 input rules checked before anything is signed or sent, and transStatus mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from core.errors import InvalidArgument
from plugins.spdb.client import SpdbClient
from plugins.spdb.errors import NotSent
from plugins.spdb.messages import RemitLocation, SinglePayment, SysFlag, trans_status_outcome
from plugins.spdb.settings import SpdbSettings
from ports.channels import ChannelStatus


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("0", ChannelStatus.PROCESSING),
        ("1", ChannelStatus.PROCESSING),
        ("2", ChannelStatus.PROCESSING),
        ("3", ChannelStatus.PROCESSING),
        ("4", ChannelStatus.SUCCEEDED),
        ("8", ChannelStatus.FAILED),
        ("9", ChannelStatus.FAILED),
        ("5", ChannelStatus.UNKNOWN),
        ("", ChannelStatus.UNKNOWN),
        ("44", ChannelStatus.UNKNOWN),
    ],
)
def test_trans_status_maps_to_the_platform_vocabulary(code: str, status: ChannelStatus) -> None:
    assert trans_status_outcome(code) is status


@pytest.fixture
async def client() -> AsyncIterator[SpdbClient]:
    # Nothing listens on port 9: a request that got through validation would fail loudly.
    settings = SpdbSettings(
        front_machine_url="http://127.0.0.1:9/front", signing_server_url="http://127.0.0.1:9/signer"
    )
    async with aiohttp.ClientSession() as session:
        yield SpdbClient(settings, session)


def payment(**changes: object) -> SinglePayment:
    fields: dict[str, object] = {
        "elec_cheque_no": "EC20240520001",
        "payee_acct_no": "6225160100120946",
        "payee_name": "张三",
        "amount": Decimal("12.30"),
    }
    fields.update(changes)
    return SinglePayment(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"amount": 12.3}, "INVALID_REQUEST"),
        ({"amount": Decimal("0")}, "INVALID_REQUEST"),
        ({"amount": Decimal("-1.00")}, "INVALID_REQUEST"),
        ({"amount": Decimal("1.001")}, "INVALID_REQUEST"),
        ({"amount": Decimal("NaN")}, "INVALID_REQUEST"),
        ({"amount": Decimal("1E+20")}, "INVALID_REQUEST"),
        ({"elec_cheque_no": ""}, "INVALID_REQUEST"),
        ({"elec_cheque_no": "has space"}, "INVALID_REQUEST"),
        ({"payee_acct_no": " "}, "INVALID_PAYEE"),
        ({"payee_name": ""}, "INVALID_PAYEE"),
        ({"sys_flag": SysFlag.OTHER_BANK, "remit_location": RemitLocation.OTHER_CITY}, "INVALID_PAYEE"),
    ],
)
async def test_invalid_payments_are_refused_before_signing(
    client: SpdbClient, bad: dict[str, object], code: str
) -> None:
    with pytest.raises(NotSent) as refused:
        await client.pay_8801(payment(**bad))
    assert refused.value.code == code
    assert isinstance(refused.value.__cause__, InvalidArgument)


def test_a_payment_repr_does_not_show_the_payee_account() -> None:
    assert "6225160100120946" not in repr(payment())
    assert payment().masked_payee_acct_no == "6225********0946"
