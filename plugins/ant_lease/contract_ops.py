"""The Ant Lease contract operations: the pre-signing (ecsign.apply) and 落签 (seal.sign with
the signed contract file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from core.lease.order import LeaseOrder
from plugins.alipay_openapi.client import FileUpload
from plugins.alipay_openapi.errors import UnknownOutcomeError, outcome_code
from plugins.ant_lease.calls import LeaseCalls
from plugins.ant_lease.client import (
    CONTRACT_SEAL,
    ECSIGN_APPLY,
    ORDER_QUERY,
    SEAL_FILE_PARAM,
    contract_biz_no,
    contract_file_url,
    ecsign_apply_biz,
    query_order_biz,
    seal_sign_params,
)
from ports.channels import ChannelStatus, Exchange, SigningRequest, SigningResult
from ports.lease import LeaseAnswer


class ContractOperations(LeaseCalls):
    """前置合同签署 and 落签 of an order's contract."""

    async def _pre_sign(self, request: SigningRequest) -> SigningResult:
        """前置合同签署 as alipay.commerce.rent.order.ecsign.apply: its answer carries no field of
        its own, so the contract's reference is our biz_no and each party's page comes from
        the settings (`contract_sign_url`)."""
        d = request.details
        order_id = d.get("channel_order_id")
        if not order_id:
            return SigningResult(
                ChannelStatus.FAILED, code="NO_CHANNEL_ORDER", message="the order is not synced yet"
            )
        template = str(d["template_id"])
        known = await self._operation(
            ORDER_QUERY, query_order_biz(request.subject_id, order_id, "contractInfo")
        )
        if known.status is not ChannelStatus.SUCCEEDED:
            return SigningResult(
                known.status, code=known.code, message=known.message, exchanges=known.exchanges
            )
        applied = [i for i in known.data.get("ec_sign_apply_infos") or () if isinstance(i, Mapping)]
        biz_no = contract_biz_no(request.subject_id, template, applied)
        parties = self.settings.parties_of(template)
        biz = ecsign_apply_biz(str(order_id), biz_no, template, parties, self.openapi.notify_url)
        answer = await self._operation(ECSIGN_APPLY, biz)
        exchanges = known.exchanges + answer.exchanges
        if answer.status is not ChannelStatus.SUCCEEDED:
            return SigningResult(answer.status, code=answer.code, message=answer.message, exchanges=exchanges)
        gateway = self.openapi.gateway_url
        signers = [
            {"party": p, "sign_url": self.settings.party_sign_url(gateway, biz_no, str(order_id), p)}
            for p in parties
        ]
        return SigningResult(
            ChannelStatus.PROCESSING,
            sign_url=signers[0]["sign_url"],
            agreement_ref=biz_no,
            raw={"signers": signers},
            exchanges=exchanges,
        )

    async def finalise_contract(self, order: LeaseOrder) -> LeaseAnswer:
        """落签 as alipay.commerce.rent.enterprise.seal.sign: the lessor's seal and signature on
        the contract every party signed. The contract file is the signed document Alipay
        holds (order.query's `file_url` of the signing), uploaded as `file_content`; the seal's
        position and the signer come from the settings."""
        biz_no = order.contract.contract_no or ""
        known = await self._operation(
            ORDER_QUERY, query_order_biz(order.id, order.channel_order_id, "contractInfo"), order.buyer_id
        )
        if known.status is not ChannelStatus.SUCCEEDED:
            return known
        applied = [i for i in known.data.get("ec_sign_apply_infos") or () if isinstance(i, Mapping)]
        url = contract_file_url(applied, biz_no)
        if url is None:
            return LeaseAnswer(
                ChannelStatus.FAILED,
                "CONTRACT_FILE_NOT_FOUND",
                f"Alipay shows no signed contract file for {biz_no}",
                exchanges=known.exchanges,
            )
        try:
            content = await self.client().download(url)
        except UnknownOutcomeError as exc:
            fetch = Exchange("GET contract file", url, None, str(exc))
            return LeaseAnswer(
                ChannelStatus.UNKNOWN, outcome_code(exc), str(exc), exchanges=(*known.exchanges, fetch)
            )
        signer = self.settings.seal_signer
        params = seal_sign_params(biz_no, order.title, signer)
        files = {SEAL_FILE_PARAM: FileUpload(f"{biz_no}.pdf", content, "application/pdf")}
        sealed = await self._operation(CONTRACT_SEAL, params, signer.signer_cert_number, files)
        return replace(sealed, exchanges=known.exchanges + sealed.exchanges)
