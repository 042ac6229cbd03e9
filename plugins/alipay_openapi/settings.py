"""Settings of one Alipay OpenAPI application: gateway, app id, keys, timeout."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from plugins.alipay_openapi.errors import KeyFormatError
from plugins.alipay_openapi.signing import PrivateKey, PublicKey, load_private_key, load_public_key


class AlipayOpenApiSettings(BaseModel):
    """Where and as whom to call the OpenAPI. Keys are PEM (PKCS#1 or PKCS#8) or the bare
    base64 bodies Alipay's console shows; the private key and app_auth_token never print."""

    # hide_input_in_errors: a mistyped private key must not end up in a log line.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    gateway_url: str = Field(min_length=1)
    app_id: str = Field(min_length=1)
    app_private_key: SecretStr
    alipay_public_key: str = Field(min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notify_url: str | None = None
    app_auth_token: SecretStr | None = None
    # Certificate mode (公钥证书), which Alipay requires for fund transfers: the serial numbers
    # of the app's public-key certificate and of Alipay's root certificate chain, as Alipay's
    # tools compute them; alipay_public_key is then Alipay's public-key certificate PEM.
    app_cert_sn: str | None = None
    alipay_root_cert_sn: str | None = None

    @field_validator("app_private_key")
    @classmethod
    def _private_key_loads(cls, value: SecretStr) -> SecretStr:
        try:
            load_private_key(value.get_secret_value())
        except KeyFormatError as exc:
            raise ValueError(f"app_private_key: {exc}") from None
        return value

    @field_validator("alipay_public_key")
    @classmethod
    def _public_key_loads(cls, value: str) -> str:
        try:
            load_public_key(value)
        except KeyFormatError as exc:
            raise ValueError(f"alipay_public_key: {exc}") from None
        return value

    def private_key(self) -> PrivateKey:
        """The loaded app private key."""
        return load_private_key(self.app_private_key.get_secret_value())

    def public_key(self) -> PublicKey:
        """The loaded Alipay public key that answers and notifications are verified with."""
        return load_public_key(self.alipay_public_key)
