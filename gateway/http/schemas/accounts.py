"""Request bodies of virtual accounts: opening one (with its owner's bank card) and funding it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.http.schemas.base import Amount, Body, Currency, Id


class BankCardBody(Body):
    """The account owner's registered bank card (where the bank pays a bill's applicant)."""

    card_no: str = Field(min_length=8, max_length=32, pattern=r"^[0-9]+$")
    name: str = Field(min_length=1, max_length=128)  # the card holder
    bank_name: str | None = Field(default=None, min_length=1, max_length=128)
    # CNAPS 联行号 of the card's bank: bank code (3), city code (4), branch (4), check digit
    bank_no: str | None = Field(default=None, pattern=r"^[0-9]{12}$")


class OpenAccountBody(Body):
    owner: str = Field(min_length=1, max_length=128)
    kind: Literal["C", "B", "company"]
    currency: Currency
    allow_overdraft: bool = False
    bank_card: BankCardBody | None = None


class FundBody(Body):
    out_request_no: str = Id
    amount: Amount
    currency: Currency
