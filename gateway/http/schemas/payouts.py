"""Request bodies of payouts: the batch application and finance's review decisions."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.payouts.items import MAX_BATCH_ITEMS
from gateway.http.schemas.base import Body

_LABEL = r"^[A-Za-z0-9_.:\-]+$"


class PayoutBatchBody(Body):
    """OutwardPayRequest, by the seed's names (traceId, projectAuthId, outwardPayDatas) or the
    snake_case ones. Items are objects checked one by one (a bad item is answered, not a 400)."""

    trace_id: str | None = Field(
        default=None, min_length=1, max_length=64, alias="traceId", description="全链路上下文id"
    )
    project_auth_id: str | None = Field(
        default=None,
        max_length=64,
        alias="projectAuthId",
        description="项目认证标识: if given, the signing app id",
    )
    source_platform: str | None = Field(
        default=None, max_length=64, pattern=_LABEL, description="the caller's own platform label"
    )
    items: list[dict[str, Any]] = Field(
        min_length=1,
        alias="outwardPayDatas",
        max_length=MAX_BATCH_ITEMS,
        description="each item is checked on its own against PayoutItemBody; "
        "a bad item is answered in the batch as rejected",
    )


class ApproveBody(Body):
    reviewer: str | None = Field(
        default=None,
        max_length=64,
        description="accepted for compatibility and ignored: the reviewer recorded is the operator",
    )
    note: str | None = Field(default=None, max_length=256)


class RejectBody(Body):
    reviewer: str | None = Field(
        default=None,
        max_length=64,
        description="accepted for compatibility and ignored: the reviewer recorded is the operator",
    )
    reason: str = Field(min_length=1, max_length=256, description="why it is refused (驳回原因)")
