"""The simulated payout API: transfers (kept in a `SandboxStore`), their scenarios, and the
order.changed messages."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.sandbox import SandboxAnswer, SandboxHandler, SandboxKeys, business_error, success
from plugins.alipay_openapi.sandbox_notify import NotifyDelivery, deliver_round
from plugins.alipay_openapi.signing import PrivateKey, generate_private_key
from plugins.alipay_openapi.times import beijing_now, format_alipay_time
from plugins.alipay_payout.client import (
    DIRECT_TRANSFER,
    ORDER_CHANGED_METHOD,
    ORDER_NOT_EXIST,
    QUERY_METHOD,
    TRANSFER_METHOD,
    IdentityType,
    ProductCode,
    TransferStatus,
)
from plugins.alipay_payout.simulator_records import TransferRecords
from plugins.sandbox_store.store import SandboxStore

SANDBOX_APP_ID = "9021000000000001"
DEFAULT_BALANCE = Decimal("1000000.00")
DEFAULT_DEALING_QUERIES = 2
MIN_AMOUNT = Decimal("0.10")
RETURNED_REASON = "收款卡状态异常，资金退回"


class Scenario:
    """Scenarios, chosen by the start of the payee identity (see README.md)."""

    SUCCESS = "success"
    DEALING = "dealing"
    DEALING_FAIL = "dealing_fail"
    PAYEE_NOT_EXIST = "payee_not_exist"
    SYSTEM_ERROR = "system_error"
    BAD_SIGN = "bad_sign"
    RETURNED = "returned"  # paid, then bounced (退票) once the success was told

    # Longest prefix first: "dealing_fail" must not be read as "dealing".
    PREFIXES = (DEALING_FAIL, DEALING, PAYEE_NOT_EXIST, SYSTEM_ERROR, BAD_SIGN, RETURNED)

    @classmethod
    def for_identity(cls, identity: str) -> str:
        lowered = identity.lower()
        for prefix in cls.PREFIXES:
            if lowered.startswith(prefix):
                return prefix
        return cls.SUCCESS


@dataclass
class SimTransfer:
    """One transfer the simulator accepted, keyed by out_biz_no."""

    out_biz_no: str
    biz_content: dict[str, Any]
    app_id: str
    notify_url: str | None
    scenario: str
    trans_amount: Decimal
    product_code: str
    biz_scene: str
    order_id: str
    pay_fund_order_id: str
    status: TransferStatus
    created_at: datetime
    dealing_queries_left: int = 0
    pay_date: datetime | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    notified: bool = False

    def answer_fields(self) -> dict[str, Any]:
        return {
            "out_biz_no": self.out_biz_no,
            "order_id": self.order_id,
            "pay_fund_order_id": self.pay_fund_order_id,
            "status": self.status.value,
            "trans_date": format_alipay_time(self.created_at),
        }

    def query_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "order_id": self.order_id,
            "pay_fund_order_id": self.pay_fund_order_id,
            "out_biz_no": self.out_biz_no,
            "trans_amount": f"{self.trans_amount:.2f}",
            "status": self.status.value,
        }
        if self.pay_date is not None:
            fields["pay_date"] = format_alipay_time(self.pay_date)
        if self.product_code == ProductCode.TRANS_BANKCARD_NO_PWD:
            fields["order_fee"] = "0.00"
            fields["arrival_time_end"] = format_alipay_time(self.created_at)
        if self.error_code:
            fields["error_code"] = self.error_code
        if self.fail_reason:
            fields["fail_reason"] = self.fail_reason
        return fields


def _invalid(sub_msg: str) -> dict[str, Any]:
    return business_error("INVALID_PARAMETER", sub_msg)


def _parse_amount(raw: Any) -> Decimal | None:
    if not isinstance(raw, str):
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return amount


def _validate_transfer(biz: Mapping[str, Any]) -> dict[str, Any] | None:
    """An INVALID_PARAMETER answer for a malformed transfer, or None."""
    for name in ("out_biz_no", "trans_amount", "product_code", "biz_scene", "order_title"):
        if not isinstance(biz.get(name), str) or not biz[name]:
            return _invalid(f"{name}不能为空")
    if _parse_amount(biz["trans_amount"]) is None:
        return _invalid("trans_amount格式错误")
    if biz["product_code"] not in set(ProductCode):
        return _invalid("product_code不支持")
    if biz["biz_scene"] != DIRECT_TRANSFER:
        return _invalid("biz_scene不支持")
    payee = biz.get("payee_info")
    if not isinstance(payee, dict) or not payee.get("identity"):
        return _invalid("payee_info.identity不能为空")
    identity_type = payee.get("identity_type")
    if identity_type not in set(IdentityType):
        return _invalid("payee_info.identity_type不支持")
    if identity_type != IdentityType.ALIPAY_USER_ID and not payee.get("name"):
        return _invalid("payee_info.name不能为空")
    is_card = identity_type == IdentityType.BANKCARD_ACCOUNT
    if is_card != (biz["product_code"] == ProductCode.TRANS_BANKCARD_NO_PWD):
        return _invalid("product_code与payee_info.identity_type不匹配")
    if is_card:
        ext = payee.get("bankcard_ext_info")
        if not isinstance(ext, dict) or ext.get("account_type") not in ("1", "2"):
            return _invalid("bankcard_ext_info.account_type不能为空")
        if ext["account_type"] == "1" and not ext.get("inst_name"):
            return _invalid("对公账户bankcard_ext_info.inst_name不能为空")
    return None


class PayoutSimulator:
    """Payout state and the two method handlers; deterministic (no timers).

    The state lives in `store` (in memory unless given a file): a simulator started again on the
    same file knows every transfer, the balance, and the messages not yet acknowledged.
    """

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        wrong_key: PrivateKey | None = None,
        dealing_queries: int = DEFAULT_DEALING_QUERIES,
        balance: Decimal = DEFAULT_BALANCE,
        default_notify_url: str | None = None,
        clock: Callable[[], datetime] = beijing_now,
        store: SandboxStore | None = None,
    ) -> None:
        self.keys = keys
        self._wrong_key = wrong_key
        self.dealing_queries = dealing_queries
        self.balance = balance
        self.default_notify_url = default_notify_url
        self._clock = clock
        self._sequence = 0
        self.records = TransferRecords(store or SandboxStore())
        self.transfers: dict[str, SimTransfer] = self.records.transfers()
        self.pending_notifications: list[SimTransfer] = [
            t for t in self.transfers.values() if t.status is not TransferStatus.DEALING and not t.notified
        ]
        state = self.records.state()
        if state is not None:
            self.balance, self._sequence = state
        self.on_final: Callable[[SimTransfer], None] | None = None

    @property
    def wrong_key(self) -> PrivateKey:
        """The key that 'bad_sign' answers are signed with (made on first use)."""
        if self._wrong_key is None:
            self._wrong_key = generate_private_key()
        return self._wrong_key

    def handlers(self) -> dict[str, SandboxHandler]:
        return {TRANSFER_METHOD: self.uni_transfer, QUERY_METHOD: self.common_query}

    def _next_ids(self, now: datetime) -> tuple[str, str]:
        self._sequence += 1
        day = f"{now:%Y%m%d}"
        return f"{day}1100700{self._sequence:017d}", f"{day}1100710{self._sequence:017d}"

    def _finalise(self, transfer: SimTransfer, status: TransferStatus) -> None:
        transfer.status = status
        if status is TransferStatus.SUCCESS:
            transfer.pay_date = self._clock()
        elif status is TransferStatus.FAIL:
            self.balance += transfer.trans_amount  # the debit is returned
            transfer.error_code = "PAYEE_CARD_INFO_ERROR"
            transfer.fail_reason = "收款方银行卡信息有误"
        self.records.save(transfer)
        self.records.save_state(self.balance, self._sequence)
        self.pending_notifications.append(transfer)
        if self.on_final is not None:
            self.on_final(transfer)

    def _return_if_bounced(self, transfer: SimTransfer) -> None:
        """The `returned` scenario, once its SUCCESS was told: the money comes back (REFUND),
        the debit is returned and a second order.changed (REFUND) is queued."""
        if transfer.scenario != Scenario.RETURNED or transfer.status is not TransferStatus.SUCCESS:
            return
        transfer.status = TransferStatus.REFUND
        transfer.fail_reason = RETURNED_REASON
        self.balance += transfer.trans_amount
        self.records.save(transfer)
        self.records.save_state(self.balance, self._sequence)
        self.pending_notifications.append(transfer)
        if self.on_final is not None:
            self.on_final(transfer)

    async def uni_transfer(
        self, biz: dict[str, Any], common: Mapping[str, str]
    ) -> Mapping[str, Any] | SandboxAnswer:
        invalid = _validate_transfer(biz)
        if invalid is not None:
            return invalid
        out_biz_no: str = biz["out_biz_no"]
        scenario = Scenario.for_identity(str(biz["payee_info"]["identity"]))
        existing = self.transfers.get(out_biz_no)
        if existing is not None:
            if existing.biz_content != biz:
                return business_error("PAYMENT_INFO_INCONSISTENCY", "两次请求商户单号一样，但是参数不一致")
            return self._transfer_answer(existing, success(**existing.answer_fields()))
        if scenario == Scenario.PAYEE_NOT_EXIST:
            return business_error("PAYEE_NOT_EXIST", "收款账号不存在")
        amount = _parse_amount(biz["trans_amount"])
        assert amount is not None  # validated above
        if amount < MIN_AMOUNT:
            return business_error("EXCEED_LIMIT_SM_MIN_AMOUNT", "单笔最低转账金额0.1元")
        if amount > self.balance:
            return business_error("PAYER_BALANCE_NOT_ENOUGH", "付款方余额不足")
        now = self._clock()
        order_id, pay_fund_order_id = self._next_ids(now)
        dealing = scenario in (Scenario.DEALING, Scenario.DEALING_FAIL)
        transfer = SimTransfer(
            out_biz_no=out_biz_no,
            biz_content=dict(biz),
            app_id=common.get("app_id", ""),
            notify_url=common.get("notify_url") or self.default_notify_url,
            scenario=scenario,
            trans_amount=amount,
            product_code=biz["product_code"],
            biz_scene=biz["biz_scene"],
            order_id=order_id,
            pay_fund_order_id=pay_fund_order_id,
            status=TransferStatus.DEALING,
            created_at=now,
            dealing_queries_left=self.dealing_queries if dealing else 0,
        )
        self.balance -= amount
        self.transfers[out_biz_no] = transfer
        self.records.save(transfer)
        self.records.save_state(self.balance, self._sequence)
        if not dealing:
            self._finalise(transfer, TransferStatus.SUCCESS)
        if scenario == Scenario.SYSTEM_ERROR:
            # The transfer exists, but the caller is only told the system was busy.
            return business_error("SYSTEM_ERROR", "系统繁忙")
        return self._transfer_answer(transfer, success(**transfer.answer_fields()))

    def _transfer_answer(
        self, transfer: SimTransfer, payload: dict[str, Any]
    ) -> Mapping[str, Any] | SandboxAnswer:
        if transfer.scenario == Scenario.BAD_SIGN:
            return SandboxAnswer(payload, signing_key=self.wrong_key)
        return payload

    def find(self, biz: Mapping[str, Any]) -> SimTransfer | None:
        """Alipay's lookup order: pay_fund_order_id, then order_id, then out_biz_no."""
        if biz.get("pay_fund_order_id"):
            return next(
                (t for t in self.transfers.values() if t.pay_fund_order_id == biz["pay_fund_order_id"]), None
            )
        if biz.get("order_id"):
            return next((t for t in self.transfers.values() if t.order_id == biz["order_id"]), None)
        transfer = self.transfers.get(str(biz.get("out_biz_no")))
        if transfer is None:
            return None
        if (transfer.product_code, transfer.biz_scene) != (biz["product_code"], biz["biz_scene"]):
            return None
        return transfer

    async def common_query(
        self, biz: dict[str, Any], common: Mapping[str, str]
    ) -> Mapping[str, Any] | SandboxAnswer:
        by_id = biz.get("pay_fund_order_id") or biz.get("order_id")
        if not by_id and not (biz.get("out_biz_no") and biz.get("product_code") and biz.get("biz_scene")):
            return _invalid("out_biz_no查询时product_code和biz_scene不能为空")
        transfer = self.find(biz)
        if transfer is None:
            return business_error(ORDER_NOT_EXIST, "转账订单不存在")
        if transfer.status is TransferStatus.DEALING:
            if transfer.dealing_queries_left > 0:
                transfer.dealing_queries_left -= 1
                self.records.save(transfer)
            else:
                final = (
                    TransferStatus.FAIL
                    if transfer.scenario == Scenario.DEALING_FAIL
                    else TransferStatus.SUCCESS
                )
                self._finalise(transfer, final)
        answer = success(**transfer.query_fields())
        self._return_if_bounced(transfer)  # told SUCCESS: the next query answers REFUND
        return answer

    def order_changed_fields(self, transfer: SimTransfer) -> dict[str, str]:
        """The unsigned form fields of an `alipay.fund.trans.order.changed` message."""
        biz: dict[str, str] = {
            "out_biz_no": transfer.out_biz_no,
            "order_id": transfer.order_id,
            "pay_fund_order_id": transfer.pay_fund_order_id,
            "product_code": transfer.product_code,
            "biz_scene": transfer.biz_scene,
            "origin_interface": TRANSFER_METHOD,
            "status": transfer.status.value,
            "action_type": "FINISH" if transfer.status is TransferStatus.SUCCESS else "FAIL",
            "trans_amount": f"{transfer.trans_amount:.2f}",
        }
        if transfer.pay_date is not None:
            biz["pay_date"] = format_alipay_time(transfer.pay_date)
        if transfer.error_code:
            biz["error_code"] = transfer.error_code
        if transfer.fail_reason:
            biz["fail_reason"] = transfer.fail_reason
        now = self._clock()
        return {
            "app_id": transfer.app_id,
            "charset": "utf-8",
            "msg_method": ORDER_CHANGED_METHOD,
            "notify_id": f"sandbox{transfer.pay_fund_order_id}"
            + ("R" if transfer.status is TransferStatus.REFUND else ""),
            "utc_timestamp": str(int(now.timestamp() * 1000)),
            "version": "1.1",
            "biz_content": encode_biz_content(biz),
        }

    async def deliver_notifications(
        self, session: aiohttp.ClientSession, *, timeout_seconds: float = 10.0
    ) -> list[NotifyDelivery]:
        """Send an order.changed message for every transfer that became final; those not
        acknowledged with `success` stay pending (Alipay retries them). A `returned` transfer
        whose SUCCESS was acknowledged bounces: its REFUND message goes in the next round."""
        pending, self.pending_notifications = self.pending_notifications, []
        done = await deliver_round(
            session,
            pending,
            lambda transfer: (transfer.notify_url, self.order_changed_fields(transfer)),
            self.keys.alipay_private_key,
            timeout_seconds=timeout_seconds,
        )
        self.pending_notifications.extend(done.unacknowledged)
        for transfer in done.acknowledged:
            transfer.notified = True
            self.records.save(transfer)
            self._return_if_bounced(transfer)  # told SUCCESS: a REFUND message follows
        return done.deliveries
