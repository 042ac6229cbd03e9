"""The shape of an applied item (OutwardPayDataDTO with its ExtData), parsed strictly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.payouts.model import PAYOUT_CURRENCY

MAX_BATCH_ITEMS = 100  # items in one application

_SERIAL = r"^[A-Za-z0-9_.:\-]+$"


class _Strict(BaseModel):
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


class PayoutExtBody(_Strict):
    """ExtData of seed §3.1, with snake_case names."""

    type: int = Field(description="0 other … 7 review bonus top-up; 8 test-bill reimbursement")
    pay_method: int = Field(description="1 Alipay, 2 bank transfer (3 credit card: unsupported)")
    pay_back_type: int = Field(default=0, description="0 default, 1 original route, 2 non-original")
    reason: str = Field(max_length=256, description="支付原因 (paidRemark)")
    payee_name: str | None = Field(default=None, max_length=128, description="收款人姓名")
    insurance_merchant: str | None = Field(default=None, max_length=128, description="保险供应商")
    bank: BankInfoBody | None = None
    business_type: Literal["C", "B"] = "C"
    send_sms: bool = False
    creator: str | None = Field(default=None, max_length=64, description="业务审核人 (reviewer)")
    voucher: VoucherBody | None = None


class PayoutItemBody(_Strict):
    """One item of a payout application (OutwardPayDataDTO)."""

    serial_no: str = Field(max_length=64, pattern=_SERIAL, description="项目对外支付流水号")
    order_serial_no: str = Field(max_length=64, description="订单流水号")
    payee_account: str = Field(max_length=128, description="收款账号: Alipay account or bank card")
    amount: str = Field(description='decimal string, at most 2 decimals, e.g. "12.30"')
    currency: str = PAYOUT_CURRENCY
    ext: PayoutExtBody
