"""落签 (alipay.commerce.rent.enterprise.seal.sign) against the simulator on 127.0.0.1: the
adapter uploads the signed contract with the lessor's seal parameters, the signer's identity
number stays masked, and the simulator takes that shape and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pydantic
import pytest
from aiohttp.test_utils import TestServer
from ant_lease_harness import KEYS, SEAL_SIGNER, make_adapter, openapi, order, synced

from core.lease.order import LeaseOrder
from plugins.alipay_openapi.client import FileUpload
from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.client import CONTRACT_SEAL, SEAL_FILE_PARAM, seal_sign_params
from plugins.ant_lease.sandbox import LeaseSimulator, create_lease_sandbox_app
from plugins.ant_lease.settings import SANDBOX_APP_ID, AntLeaseSettings
from ports.channels import ChannelStatus, SigningRequest
from ports.lease import CONTRACT_SIGNING

CERT_NUMBER = SEAL_SIGNER["seal_signer_cert_number"]


@dataclass
class Seal:
    simulator: LeaseSimulator
    adapter: AntLeaseAdapter

    async def presigned(self, order_id: str) -> LeaseOrder:
        """A synced order whose contract the adapter pre-signed (not yet signed by the lessee)."""
        o = await synced(self.adapter, order(order_id))
        started = await self.adapter.start_signing(
            SigningRequest(
                o.id,
                "shop",
                CONTRACT_SIGNING,
                {"template_id": "TPL_LEASE_STD", "channel_order_id": o.channel_order_id},
            )
        )
        assert started.agreement_ref
        return replace(o, contract=replace(o.contract, contract_no=started.agreement_ref))

    def sign(self, o: LeaseOrder) -> None:
        assert (
            self.simulator.contract_page(o.contract.contract_no or "", "lessee", "confirm")["result"]
            == "signed"
        )

    async def upload(self, params: dict[str, Any], files: dict[str, FileUpload]) -> Any:
        return await self.adapter.client().execute_upload(CONTRACT_SEAL, params, files)


@pytest.fixture
async def seal() -> AsyncIterator[Seal]:
    simulator = LeaseSimulator(load_sandbox_keys(KEYS, SANDBOX_APP_ID))
    server = TestServer(create_lease_sandbox_app(simulator), host="127.0.0.1")
    await server.start_server()
    simulator.base_url = str(server.make_url("")).rstrip("/")
    adapter = make_adapter(str(server.make_url("/gateway.do")))
    yield Seal(simulator, adapter)
    await adapter.close()
    await server.close()


async def test_the_signed_contract_is_sealed_once_with_the_signer_masked(seal: Seal) -> None:
    o = await seal.presigned("lse_0195f2a3b4c5d6e7f8091a2b3d1")
    seal.sign(o)

    sealed = await seal.adapter.finalise_contract(o)
    again = await seal.adapter.finalise_contract(o)

    assert sealed.status is ChannelStatus.SUCCEEDED and sealed.data["biz_no"] == o.contract.contract_no
    assert again.data["sign_flow_id"] == sealed.data["sign_flow_id"]
    assert [e.operation for e in sealed.exchanges] == ["alipay.commerce.rent.order.query", CONTRACT_SEAL]
    logged = " ".join(f"{e.request} {e.response}" for e in sealed.exchanges)
    assert CERT_NUMBER not in logged and "1101**********0011" in logged
    assert f'"{SEAL_FILE_PARAM}":"<{o.contract.contract_no}.pdf, ' in sealed.exchanges[-1].request
    contract = seal.simulator.orders[o.id].contract
    assert contract is not None and contract.status == "SEALED"


async def test_a_contract_not_signed_by_every_party_has_no_file_to_seal(seal: Seal) -> None:
    o = await seal.presigned("lse_0195f2a3b4c5d6e7f8091a2b3d2")

    answer = await seal.adapter.finalise_contract(o)

    assert (answer.status, answer.code) == (ChannelStatus.FAILED, "CONTRACT_FILE_NOT_FOUND")
    assert [e.operation for e in answer.exchanges] == ["alipay.commerce.rent.order.query"]


async def test_the_old_contract_no_form_is_refused(seal: Seal) -> None:
    o = await seal.presigned("lse_0195f2a3b4c5d6e7f8091a2b3d3")
    seal.sign(o)
    old = {"out_order_id": o.id, "order_id": o.channel_order_id, "contract_no": o.contract.contract_no}

    answer = await seal.adapter.client().execute(CONTRACT_SEAL, old)

    assert (answer.code, answer.sub_code) == ("40004", "INVALID_PARAMETER")
    assert seal.simulator.orders[o.id].contract.status == "SIGNED"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"contract_no": "x"}, "contract_no"),
        ({"extra_field": "x"}, "extra_field"),
        ({"signer_user_name": ""}, "signer_user_name"),
        ({"signer_user_cert_number": "12345"}, "signer_user_cert_number"),
        ({"sign_area_org": {"pos_page": 0, "pos_x": 1, "pos_y": 1}}, "sign_area_org"),
        ({"sign_area_person": {"pos_x": 1, "pos_y": 1}}, "sign_area_person"),
        ({"file": "missing"}, "file_content"),
        ({"file": "another document"}, "file_content"),
    ],
)
async def test_the_simulator_takes_the_sdk_shape_and_nothing_else(
    seal: Seal, change: dict[str, Any], why: str
) -> None:
    o = await seal.presigned("lse_0195f2a3b4c5d6e7f8091a2b3d4")
    seal.sign(o)
    contract_no = o.contract.contract_no or ""
    document = seal.simulator.contract_file(contract_no)
    assert document is not None
    params: dict[str, Any] = {**seal_sign_params(contract_no, "t", seal.adapter.settings.seal_signer)}
    files = {SEAL_FILE_PARAM: FileUpload("c.pdf", document, "application/pdf")}
    file_change = change.pop("file", None)
    if file_change == "missing":
        files = {}
    elif file_change is not None:
        files = {SEAL_FILE_PARAM: FileUpload("c.pdf", file_change.encode())}
    params.update(change)

    refused = await seal.upload(params, files)
    accepted = await seal.upload(
        seal_sign_params(contract_no, "t", seal.adapter.settings.seal_signer),
        {SEAL_FILE_PARAM: FileUpload("c.pdf", document, "application/pdf")},
    )

    assert (refused.code, refused.sub_code) == ("40004", "INVALID_PARAMETER"), refused.raw
    assert why in (refused.sub_msg or "")
    assert accepted.is_success and accepted.get("sign_flow_id")


def test_real_leasing_needs_the_lessors_signer() -> None:
    with pytest.raises(pydantic.ValidationError, match="seal_signer_name"):
        AntLeaseSettings.model_validate({"openapi": openapi("https://openapi.alipay.com/gateway.do")})
    settings = AntLeaseSettings.model_validate(
        {"openapi": openapi("https://openapi.alipay.com/gateway.do"), **SEAL_SIGNER}
    )
    assert settings.seal_signer.signer_cert_number == CERT_NUMBER
    assert CERT_NUMBER not in repr(settings) and CERT_NUMBER not in repr(settings.seal_signer)
