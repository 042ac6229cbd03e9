"""How the Ant Lease adapter calls Alipay: one signed call with its exchange masked, and a
call that moves no money read as done, refused or unknown."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.payouts.payees import mask_account
from plugins.alipay_openapi.channel import OpenApiAdapter
from plugins.alipay_openapi.client import FileUpload
from plugins.alipay_openapi.codes import is_system_fault, normalise_sub_code
from plugins.alipay_openapi.errors import RequestNotSentError, UnknownOutcomeError, outcome_code
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.ant_lease.settings import AntLeaseSettings
from ports.channels import ChannelStatus, Exchange
from ports.lease import LeaseAnswer


def failure_code(response: OpenApiResponse) -> str:
    return normalise_sub_code(response.sub_code) if response.sub_code else response.code


def answer_data(response: OpenApiResponse) -> dict[str, Any]:
    return {k: v for k, v in response.body.items() if k not in ("code", "msg", "sub_code", "sub_msg")}


class LeaseCalls(OpenApiAdapter):
    """The adapter's settings, withholding product and its calls to Alipay."""

    def __init__(self, settings: AntLeaseSettings, openapi: AlipayOpenApiSettings) -> None:
        self.settings = settings
        super().__init__(openapi)
        self.product = settings.product

    async def _call(
        self,
        method: str,
        biz: Mapping[str, Any],
        masked: str | None = None,
        files: Mapping[str, FileUpload] | None = None,
    ) -> tuple[OpenApiResponse | None, Exchange, UnknownOutcomeError | RequestNotSentError | None]:
        """Send one call (`biz` is the biz_content, or with `files` the top-level parameters of
        an upload); the exchange is logged with `masked` (the lessee's Alipay id, the signer's
        identity number) masked and each file by its name and size only. No answer comes with
        its error: unknown, or `RequestNotSentError` when nothing reached Alipay."""

        def mask(text: str) -> str:
            return text.replace(masked, mask_account(masked)) if masked else text

        shown = {**biz, **{n: f"<{f.file_name}, {len(f.content)} bytes>" for n, f in (files or {}).items()}}
        wire = mask(json.dumps(shown, ensure_ascii=False, separators=(",", ":")))
        try:
            if files is None:
                response = await self.client().execute(method, biz)
            else:
                response = await self.client().execute_upload(method, biz, files)
        except (UnknownOutcomeError, RequestNotSentError) as exc:
            return None, Exchange(method, wire, None, str(exc)), exc
        return response, Exchange(method, wire, mask(response.raw)), None

    async def _operation(
        self,
        method: str,
        biz: Mapping[str, Any],
        masked: str | None = None,
        files: Mapping[str, FileUpload] | None = None,
    ) -> LeaseAnswer:
        """A call that moves no money: done, refused (any verified failure but a system
        fault), or unknown (a call not sent too: the lease use cases ask again)."""
        response, exchange, error = await self._call(method, biz, masked, files)
        if response is None:
            assert error is not None
            return LeaseAnswer(ChannelStatus.UNKNOWN, outcome_code(error), str(error), exchanges=(exchange,))
        if response.is_success:
            return LeaseAnswer(ChannelStatus.SUCCEEDED, data=answer_data(response), exchanges=(exchange,))
        status = (
            ChannelStatus.UNKNOWN
            if is_system_fault(response.sub_code, response.code)
            else ChannelStatus.FAILED
        )
        return LeaseAnswer(
            status, failure_code(response), response.sub_msg or response.msg, exchanges=(exchange,)
        )
