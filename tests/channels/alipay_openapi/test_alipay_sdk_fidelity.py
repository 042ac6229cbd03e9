"""Our Alipay requests and our simulators' answers, read by Alipay's official Python SDK.

Every biz_content the two Alipay plugins build is loaded into the SDK's domain model of its
method (`<Method>Model.from_alipay_dict(biz).to_alipay_dict()`): a field the model does not
have would be dropped, so the round trip must give back what went in. Every answer the
simulators give is parsed by the SDK's response class, which must carry each field the
adapters read, with the same value.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from plugins.alipay_openapi.client import encode_param
from plugins.alipay_openapi.sandbox import SandboxAnswer, SandboxKeys
from plugins.alipay_openapi.sandbox_request import SandboxFile
from plugins.alipay_openapi.times import format_alipay_time
from plugins.alipay_payout.client import (
    QUERY_METHOD,
    TRANSFER_METHOD,
    BankAccountType,
    BankcardExtInfo,
    IdentityType,
    Payee,
    TransferOrder,
    TransferQuery,
)
from plugins.alipay_payout.simulator import PayoutSimulator
from plugins.ant_lease import client as lease
from plugins.ant_lease.sandbox import LeaseSimulator

pytest.importorskip("alipay.aop.api.domain.AlipayTradePayModel")

BUYER = "2088102146225135"
PRODUCT = lease.WithholdingProduct()
PLAN = [
    lease.Installment(1, date(2026, 3, 1), Decimal("99.00")),
    lease.Installment(2, date(2026, 4, 1), Decimal("99.00")),
]
ALIPAY_PAYEE = Payee("2088000000000001", IdentityType.ALIPAY_USER_ID)
BANK_PAYEE = Payee(
    "6222020000000001",
    IdentityType.BANKCARD_ACCOUNT,
    name="张三",
    bankcard_ext_info=BankcardExtInfo(BankAccountType.PERSONAL, inst_name="中国工商银行", inst_city="苏州市"),
)


def camel(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("."))


def sdk_class(kind: str, method: str) -> Any:
    name = camel(method) + kind
    return getattr(importlib.import_module(f"alipay.aop.api.{kind.lower()}.{name}"), name)


def sdk_model(method: str) -> Any:
    name = camel(method) + "Model"
    return getattr(importlib.import_module(f"alipay.aop.api.domain.{name}"), name)


# -- requests: every method both plugins call, built by the plugins' own builders -------------
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        TRANSFER_METHOD,
        TransferOrder("P-1", Decimal("12.30"), ALIPAY_PAYEE, "退款", remark="r").to_biz_content(),
    ),
    (TRANSFER_METHOD, TransferOrder("P-2", Decimal("1.00"), BANK_PAYEE, "报销").to_biz_content()),
    (
        QUERY_METHOD,
        TransferQuery.for_order(TransferOrder("P-1", Decimal("1.00"), ALIPAY_PAYEE, "t")).to_biz_content(),
    ),
    (QUERY_METHOD, TransferQuery.by_pay_fund_order_id("20240101110070001506").to_biz_content()),
    (
        lease.ORDER_CREATE,
        lease.create_order_biz("lse_1", BUYER, "手机租赁", "ORD-1", Decimal("198.00"), PLAN),
    ),
    (lease.ORDER_QUERY, lease.query_order_biz("lse_1", "2200001", lease.ORDER_FULL_INFO)),
    (lease.ORDER_CLOSE, lease.close_biz("lse_1", "2200001", "USER_FULFILLED", "履约完成")),
    (
        lease.ECSIGN_APPLY,
        lease.ecsign_apply_biz("2200001", "lse_1_TPL_1", "TPL", ["lessee", "guarantor"], "https://m/n"),
    ),
    (lease.PLAN_APPEND, lease.cancel_plan_biz("lse_1", "2200001", "LEASE_TO_SALE", "买断", 2)),
    (lease.AGREEMENT_PAGE_SIGN, PRODUCT.page_sign_biz("ext_1", BUYER)),
    (lease.AGREEMENT_QUERY, PRODUCT.query_biz("ext_1", "20215423000000000001")),
    (lease.AGREEMENT_UNSIGN, PRODUCT.unsign_biz("20215423000000000001", "ext_1")),
    (
        lease.AGREEMENT_UNSIGN,
        PRODUCT.async_unsign_biz("2021542300", "REFUSE", "客服", Decimal("10.00"), "欠款"),
    ),
    (lease.TRADE_PAY, PRODUCT.deduction_biz("pay_1", Decimal("99.00"), "租金", "2021542300", "2200001", 1)),
    (lease.TRADE_QUERY, {"out_trade_no": "pay_1"}),  # the adapter's query, as it sends it
]


@pytest.mark.parametrize(("method", "biz"), REQUESTS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(REQUESTS)])
def test_request_round_trips_through_the_sdk_model(method: str, biz: dict[str, Any]) -> None:
    assert sdk_model(method).from_alipay_dict(biz).to_alipay_dict() == biz


# The one lease method the SDK has no biz model for: its request class takes its fields as
# top-level parameters (biz_no, biz_name, biz_desc, pre_auth_no, sign_area_org,
# sign_area_person, signer_user_name, signer_user_cert_number) and a file_content upload —
# source: alipay-sdk-python, alipay/aop/api/request/AlipayCommerceRentEnterpriseSealSignRequest.py.
SIGNER = lease.SealSigner(
    lease.SignArea(1, 400, 120), lease.SignArea(1, 200, 120), "张三", "110101199001010011"
)


def test_seal_sign_sends_only_the_sdk_request_parameters_as_the_sdk_writes_them() -> None:
    assert not hasattr(importlib.import_module("alipay.aop.api.domain"), camel(lease.CONTRACT_SEAL) + "Model")
    sent = lease.seal_sign_params("lse_1_TPL_1", "手机租赁", SIGNER)
    request = sdk_class("Request", lease.CONTRACT_SEAL)()
    assert set(sent) <= lease.SEAL_SIGN_PARAMS
    assert all(hasattr(request, name) for name in {*lease.SEAL_SIGN_PARAMS, lease.SEAL_FILE_PARAM})
    for name, value in sent.items():
        setattr(request, name, value)
    request.file_content = importlib.import_module("alipay.aop.api.FileItem").FileItem("c.pdf", b"%PDF")
    params = request.get_params()
    assert "biz_content" not in params
    assert {k: v for k, v in params.items() if k not in ("method", "version")} == {
        name: encode_param(name, value) for name, value in sent.items()
    }
    assert list(request.get_multipart_params()) == [lease.SEAL_FILE_PARAM]


# -- answers: what the simulators say, read by the SDK's response classes ----------------------
def read(method: str, answer: Mapping[str, Any] | SandboxAnswer) -> tuple[Any, Mapping[str, Any]]:
    payload = answer.payload if isinstance(answer, SandboxAnswer) else answer
    response = sdk_class("Response", method)()
    response.parse_response_content(json.dumps(payload, ensure_ascii=False))
    return response, payload


def assert_reads(method: str, answer: Mapping[str, Any] | SandboxAnswer, fields: tuple[str, ...]) -> None:
    response, payload = read(method, answer)
    assert response.is_success(), payload
    for name in fields:
        value = getattr(response, name)
        if isinstance(value, list):
            value = [v.to_alipay_dict() if hasattr(v, "to_alipay_dict") else v for v in value]
        assert value == payload[name], f"{method}.{name}"


async def test_payout_simulator_answers_parse_into_the_sdk_responses() -> None:
    keys, _ = SandboxKeys.generate("2021")
    simulator = PayoutSimulator(keys)
    common = {"app_id": "2021"}
    biz = TransferOrder("P-1", Decimal("12.30"), ALIPAY_PAYEE, "退款").to_biz_content()
    transferred = await simulator.uni_transfer(biz, common)
    assert_reads(
        TRANSFER_METHOD, transferred, ("out_biz_no", "order_id", "pay_fund_order_id", "status", "trans_date")
    )
    queried = await simulator.common_query(
        {"out_biz_no": "P-1", **{k: biz[k] for k in ("product_code", "biz_scene")}}, common
    )
    assert_reads(
        QUERY_METHOD,
        queried,
        ("out_biz_no", "order_id", "pay_fund_order_id", "status", "trans_amount", "pay_date"),
    )


async def test_lease_simulator_answers_parse_into_the_sdk_responses() -> None:
    keys, _ = SandboxKeys.generate("2021")
    simulator = LeaseSimulator(keys)
    common = {"app_id": "2021", "timestamp": format_alipay_time(simulator._clock())}
    created = await simulator.order_create(
        lease.create_order_biz("lse_1", BUYER, "t", "o", Decimal("198.00"), PLAN), common
    )
    assert_reads(lease.ORDER_CREATE, created, ("order_id", "out_order_id"))
    order_id = str(created["order_id"])
    applied = await simulator.ecsign_apply(
        lease.ecsign_apply_biz(order_id, "lse_1_TPL_LEASE_STD_1", "TPL_LEASE_STD", ["lessee"], None), common
    )
    assert_reads(lease.ECSIGN_APPLY, applied, ())
    queried = await simulator.order_query(
        lease.query_order_biz("lse_1", order_id, lease.ORDER_FULL_INFO), common
    )
    assert_reads(lease.ORDER_QUERY, queried, ("order_id", "out_order_id", "status", "ec_sign_apply_infos"))
    signed = await simulator.agreement_page(PRODUCT.page_sign_biz("ext_1", BUYER), common, "confirm")
    agreement = await simulator.agreement_query(PRODUCT.query_biz("ext_1", None), common)
    assert_reads(
        lease.AGREEMENT_QUERY,
        agreement,
        ("agreement_no", "status", "sign_time", "valid_time", "invalid_time"),
    )
    agreement_no = str(signed["agreement_no"])
    paid = await simulator.trade_pay(
        PRODUCT.deduction_biz("pay_1", Decimal("99.00"), "租金", agreement_no, order_id, 1), common
    )
    assert_reads(lease.TRADE_PAY, paid, ("trade_no", "out_trade_no", "total_amount", "gmt_payment"))
    trade = await simulator.trade_query({"out_trade_no": "pay_1"}, common)
    assert_reads(lease.TRADE_QUERY, trade, ("trade_no", "trade_status", "total_amount"))
    contract = simulator.orders["lse_1"].contract
    assert contract is not None
    page = simulator.contract_page(contract.contract_no, "lessee", "confirm")
    assert page["result"] == "signed"
    document = simulator.contract_file(contract.contract_no)
    assert document is not None
    sealed = await simulator.seal_sign(
        {k: encode_param(k, v) for k, v in lease.seal_sign_params(contract.contract_no, "t", SIGNER).items()},
        common,
        {lease.SEAL_FILE_PARAM: SandboxFile("c.pdf", document, "application/pdf")},
    )
    assert_reads(lease.CONTRACT_SEAL, sealed, ("biz_no", "sign_flow_id"))
    cancelled = await simulator.plan_append(
        lease.cancel_plan_biz("lse_1", order_id, "LEASE_TO_SALE", "x", 2), common
    )
    assert_reads(lease.PLAN_APPEND, cancelled, ())
    closed = await simulator.order_close(lease.close_biz("lse_1", order_id, "LEASE_TO_SALE", "x"), common)
    assert_reads(lease.ORDER_CLOSE, closed, ())
    unsigned = await simulator.agreement_unsign(PRODUCT.unsign_biz(agreement_no, "ext_1"), common)
    assert_reads(lease.AGREEMENT_UNSIGN, unsigned, ())
