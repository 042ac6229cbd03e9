"""The shape of an applied item (OutwardPayDataDTO with its ExtData), parsed strictly, by the
seed's camelCase names or the platform's snake_case ones (core.spellings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.payouts.model import PAYOUT_CURRENCY, PayBackType
from core.spellings import TwoSpellings

MAX_BATCH_ITEMS = 100  # items in one application

_SERIAL = r"^[A-Za-z0-9_.:\-]+$"


class _Strict(TwoSpellings):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        # forms send "" for fields that do not apply (bank fields of an Alipay payout)
        return None if isinstance(value, str) and not value.strip() else value


class BankInfoBody(_Strict):
    """开户银行: the payee's bank, for bank payouts (each field is checked by `check_item`)."""

    main_bank: str | None = Field(default=None, max_length=128, description="head bank (开户银行总行)")
    province: str | None = Field(default=None, max_length=64, description="branch province (支行所在省)")
    city: str | None = Field(default=None, max_length=64, description="branch city (支行所在市)")
    branch: str | None = Field(default=None, max_length=128, description="branch (开户银行支行)")
    bank_code: str | None = Field(default=None, max_length=32, description="bank code, if known")

    @property
    def given(self) -> bool:
        return any((self.main_bank, self.province, self.city, self.branch, self.bank_code))

    @property
    def missing(self) -> list[str]:
        present = {
            "main_bank": self.main_bank,
            "province": self.province,
            "city": self.city,
            "branch": self.branch,
        }
        return [name for name, value in present.items() if not value]


class VoucherBody(_Strict):
    """An uploaded voucher (凭证), by reference: the platform stores the reference, not the file."""

    ref: str = Field(max_length=256, description="where the caller stored the file (URL or file id)")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="file digest")


# The seed's ExtData names the payee's bank in four flat fields; here they are `bank`'s.
SEED_BANK_FIELDS = {
    "receivedMainBank": "main_bank",
    "receivedBankProvince": "province",
    "receivedBankCity": "city",
    "receivedBank": "branch",
}


def _business_type(value: object) -> object:
    # the seed's businessType: 0 C端, 1 B端 (a bool is no code)
    if isinstance(value, int) and not isinstance(value, bool):
        return {0: "C", 1: "B"}.get(value, value)
    return value


BusinessTypeCode = Annotated[
    Literal["C", "B"],
    BeforeValidator(_business_type),
    WithJsonSchema(
        {"enum": ["C", "B", 0, 1], "description": "C or 0: C端 (consumer); B or 1: B端 (business)"}
    ),
]


class PayoutExtBody(_Strict):
    """ExtData of seed §3.1 (ExtDataInfo), by its names or snake_case ones."""

    type: int = Field(description="0 other … 7 review bonus top-up; 8 test-bill reimbursement")
    pay_method: int = Field(
        alias="payMethod", description="1 Alipay, 2 bank transfer (3 credit card: unsupported)"
    )
    pay_back_type: int = Field(
        default=int(PayBackType.NON_ORIGINAL_ROUTE),
        alias="payBackType",
        description="0 default, 1 original route, 2 non-original (the default: 目前仅有非原路)",
    )
    reason: str = Field(max_length=256, alias="paidRemark", description="支付原因")
    payee_name: str | None = Field(
        default=None, max_length=128, alias="receivedName", description="收款人姓名"
    )
    insurance_merchant: str | None = Field(
        default=None, max_length=128, alias="insuranceMerchant", description="保险供应商"
    )
    bank: BankInfoBody | None = Field(
        default=None,
        description="开户银行; the seed's flat receivedMainBank, receivedBankProvince, "
        "receivedBankCity, receivedBank are accepted instead",
    )
    business_type: BusinessTypeCode = Field(default="C", alias="businessType")
    send_sms: bool = Field(default=False, alias="sms", description="是否发送短信: text the payee once paid")
    sms_phone: str | None = Field(
        default=None,
        pattern=r"^\+?[0-9]{6,20}$",
        alias="smsPhone",
        description="the phone the SMS goes to (default: the payee account, when it is a mobile number)",
    )
    pay_type: int | None = Field(
        default=None, ge=0, le=32767, alias="payType", description="支付方式(原路): recorded (0–32767)"
    )
    creator: str | None = Field(default=None, max_length=64, description="业务审核人 (reviewer)")
    voucher: VoucherBody | None = None

    @model_validator(mode="before")
    @classmethod
    def _seed_bank_fields(cls, data: object) -> object:
        """The seed's four flat bank fields become `bank`; giving both ways is refused."""
        if not isinstance(data, Mapping) or not any(key in data for key in SEED_BANK_FIELDS):
            return data
        if "bank" in data:
            raise PydanticCustomError(
                "both_spellings", "give `bank` or the seed's receivedMainBank/receivedBank… fields, not both"
            )
        flat: dict[str, Any] = dict(data)
        flat["bank"] = {name: flat.pop(key) for key, name in SEED_BANK_FIELDS.items() if key in flat}
        return flat

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for key, name in SEED_BANK_FIELDS.items():
            target["properties"][key] = {
                "type": "string",
                "description": f"the seed's flat name of `bank.{name}`",
            }
        return schema


class PayoutItemBody(_Strict):
    """One item of a payout application (OutwardPayDataDTO), by its names or snake_case ones."""

    serial_no: str = Field(
        max_length=64, pattern=_SERIAL, alias="projectOutwardPaySerialNo", description="项目对外支付流水号"
    )
    order_serial_no: str = Field(max_length=64, alias="orderSerialNo", description="订单流水号")
    payee_account: str = Field(
        max_length=128, alias="account", description="收款账号: Alipay account or bank card"
    )
    amount: str = Field(description='decimal string, at most 2 decimals, e.g. "12.30"')
    currency: str = PAYOUT_CURRENCY
    ext: PayoutExtBody = Field(alias="extData", description="an object, or the seed's JSON string of it")
