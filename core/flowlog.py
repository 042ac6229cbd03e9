"""The flow log (pay_life_log): one record per node a payment or bill passes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class FlowNode(enum.StrEnum):
    ACCEPTED = "accepted"  # 业务受理: the request arrived and was authenticated
    VALIDATED = "validated"  # 业务受理验证
    RISK_CHECKED = "risk_checked"  # 业务风控验证
    ROUTED = "routed"
    REQUEST_SAVED = "request_saved"  # 请求原始日志
    CHANNEL_REQUEST = "channel_request"  # 调用银行请求报文 (e.g. 8801 sent)
    CHANNEL_ANSWER = "channel_answer"  # 银行反馈 (8801 answer)
    QUERY_ANSWER = "query_answer"  # 8804 / query answer
    BUSINESS_PROCESSING = "business_processing"  # 业务请求处理日志
    LEDGER_POSTED = "ledger_posted"  # 流水变动日志
    WRITE_OFF = "write_off"  # 核销流程日志
    FINAL_STATE = "final_state"  # 单据完成状态
    ESCALATED = "escalated"  # outcome still unknown after the query schedule
    OPERATOR_ACTION = "operator_action"  # 差错处理
    REVIEW = "review"
    NOTIFIED = "notified"
    RETURNED = "returned"  # 退票: the channel gave a paid payment's money back


class FlowOutcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class FlowRecord:
    subject_id: str
    node: FlowNode
    outcome: FlowOutcome
    at: datetime
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
