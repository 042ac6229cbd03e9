"""Settings of the Ant Lease channel (`channels.ant_lease`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from plugins.alipay_openapi.channel import AlipayChannelSettings
from plugins.alipay_openapi.sandbox import GATEWAY_PATH
from plugins.alipay_openapi.sandbox_keys import sandbox_openapi_settings
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.ant_lease.client import SealSigner, SignArea, WithholdingProduct

# Where the embedded simulator listens (the standalone `python -m plugins.ant_lease.sandbox`
# uses the same default), and its app id.
SANDBOX_PORT = 8702
SANDBOX_APP_ID = "9021000000000002"
# Relative to the gateway's working directory; `/data/` is ignored by git. Holds generated,
# sandbox-only keys — never real ones.
DEFAULT_SANDBOX_KEYS_DIR = "data/ant_lease_sandbox_keys"
# Who signs 落签 for the lessor when the channel talks to the simulator (a made-up person:
# real leasing must set `seal_signer_name` and `seal_signer_cert_number`).
SANDBOX_SIGNER_NAME = "沙箱出租方签署人"
SANDBOX_SIGNER_CERT_NUMBER = "110101199001010011"


class SealArea(BaseModel):
    """A position on the contract (the SDK's SignAreaRequest): page from 1, x and y in points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pos_page: int = Field(ge=1)
    pos_x: int = Field(ge=0)
    pos_y: int = Field(ge=0)

    def area(self) -> SignArea:
        return SignArea(self.pos_page, self.pos_x, self.pos_y)


class AntLeaseSettings(AlipayChannelSettings):
    """Everything that differs between the simulator and the real Alipay gateway.

    With no `openapi` table the channel talks to the simulator started beside the gateway
    (the embedded default), with sandbox-only keys generated into `sandbox_keys_dir`. Real
    leasing sets `openapi` (gateway URL, app id, the app's private key, Alipay's public key,
    notify URL) and the withholding product Alipay assigned — a settings change only.
    """

    sandbox_port: int = Field(default=SANDBOX_PORT, ge=1, le=65535)
    sandbox_keys_dir: str = Field(default=DEFAULT_SANDBOX_KEYS_DIR, min_length=1)
    sandbox_state_file: str = Field(default="data/ant_lease_sandbox.db", min_length=1)
    notify_url: str = Field(
        default="http://127.0.0.1:8080/callbacks/ant_lease",
        description="this gateway's callback URL as the channel reaches it (sandbox mode)",
    )
    return_url: str | None = Field(
        default=None, description="where Alipay sends the user after the withholding signing page"
    )
    pay_methods: list[str] = Field(default_factory=lambda: ["withholding"], min_length=1)
    product_code: str = "GENERAL_WITHHOLDING"
    personal_product_code: str = "GENERAL_WITHHOLDING_P"
    sign_scene: str = Field(
        default="INDUSTRY|CARRENTAL",
        description="the withholding scene agreed with Alipay (not DEFAULT|DEFAULT)",
    )
    access_channel: str = Field(default="ALIPAYAPP", pattern="^(ALIPAYAPP|QRCODE|QRCODEORSMS)$")

    contract_parties: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "TPL_LEASE_STD": ["lessee"],
            "TPL_LEASE_GUARANTEED": ["lessee", "guarantor"],
        },
        description="the parties who sign each contract template (多方落签); others: the lessee only",
    )
    contract_sign_url: str = Field(
        default="{gateway_origin}/_sandbox/contracts/{biz_no}/sign?party={party}",
        description="the page where a party signs a contract (fields: gateway_origin, biz_no, "
        "order_id, party); the default is the simulator's page — ecsign.apply answers no URL, "
        "so set Alipay's page for real signing",
    )

    seal_area_org: SealArea = Field(
        default=SealArea(pos_page=1, pos_x=400, pos_y=120),
        description="where the lessor's company seal goes on the contract (落签)",
    )
    seal_area_person: SealArea = Field(
        default=SealArea(pos_page=1, pos_x=200, pos_y=120),
        description="where the lessor's signer signs on the contract (落签)",
    )
    seal_signer_name: str | None = Field(
        default=None, min_length=1, description="the person who signs 落签 for the lessor"
    )
    seal_signer_cert_number: SecretStr | None = Field(
        default=None, description="that person's identity card number (masked in logs and exchanges)"
    )

    @model_validator(mode="after")
    def _coherent(self) -> AntLeaseSettings:
        if self.sign_scene == "DEFAULT|DEFAULT":
            raise ValueError("sign_scene cannot be DEFAULT|DEFAULT with an external agreement number")
        if self.openapi is not None and (
            self.seal_signer_name is None or self.seal_signer_cert_number is None
        ):
            raise ValueError(
                "real leasing (openapi) needs seal_signer_name and seal_signer_cert_number for 落签"
            )
        return self

    @property
    def seal_signer(self) -> SealSigner:
        """The lessor's side of 落签: the settings', or the simulator's made-up signer."""
        name = self.seal_signer_name or SANDBOX_SIGNER_NAME
        secret = self.seal_signer_cert_number
        cert_number = secret.get_secret_value() if secret is not None else SANDBOX_SIGNER_CERT_NUMBER
        return SealSigner(self.seal_area_org.area(), self.seal_area_person.area(), name, cert_number)

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def product(self) -> WithholdingProduct:
        return WithholdingProduct(
            self.product_code, self.personal_product_code, self.sign_scene, self.access_channel
        )

    def parties_of(self, template_code: str) -> list[str]:
        return list(self.contract_parties.get(template_code) or ["lessee"])

    def party_sign_url(self, gateway_url: str, biz_no: str, order_id: str, party: str) -> str:
        """Where `party` signs the contract `biz_no` of the rent order `order_id`."""
        parts = urlsplit(gateway_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return self.contract_sign_url.format(
            gateway_origin=origin, biz_no=quote(biz_no), order_id=quote(order_id), party=quote(party)
        )

    def openapi_settings(self) -> AlipayOpenApiSettings:
        """The OpenAPI application the adapter calls: `openapi`, or the simulator's."""
        if self.openapi is not None:
            return self.openapi
        return sandbox_openapi_settings(
            self.sandbox_url + GATEWAY_PATH, SANDBOX_APP_ID, Path(self.sandbox_keys_dir), self.notify_url
        )
