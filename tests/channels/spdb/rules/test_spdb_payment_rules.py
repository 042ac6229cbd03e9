"""8801 input rules checked before anything is signed or sent, and transStatus mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from core.errors import InvalidArgument
from plugins.spdb.client import SpdbClient
from plugins.spdb.errors import NotSent
from plugins.spdb.messages import RemitLocation, SinglePayment, SysFlag, payee_route, trans_status_outcome
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
        (
            {"sys_flag": SysFlag.OTHER_BANK},
            "INVALID_PAYEE",
        ),  # another bank in the same city needs its CNAPS too
        ({"sys_flag": SysFlag.OTHER_BANK, "payee_bank_no": "10229000"}, "INVALID_PAYEE"),  # not 12 digits
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


SPDB_SHANGHAI = "310290000013"


@pytest.mark.parametrize(
    ("payee_bank_no", "expected"),
    [
        ("", (SysFlag.SAME_BANK, RemitLocation.SAME_CITY, "")),
        ("310290000021", (SysFlag.SAME_BANK, RemitLocation.SAME_CITY, "")),  # SPDB, Shanghai
        ("310584000014", (SysFlag.SAME_BANK, RemitLocation.OTHER_CITY, "")),  # SPDB, another city
        ("102290000019", (SysFlag.OTHER_BANK, RemitLocation.SAME_CITY, "102290000019")),  # ICBC Shanghai
        ("105100000017", (SysFlag.OTHER_BANK, RemitLocation.OTHER_CITY, "105100000017")),  # CCB Beijing
    ],
)
def test_the_payee_banks_cnaps_number_sets_the_8801_flags(
    payee_bank_no: str, expected: tuple[SysFlag, RemitLocation, str]
) -> None:
    assert payee_route(payee_bank_no, SPDB_SHANGHAI) == expected
