"""Keys and settings shared by the Alipay OpenAPI library's unit tests (generated per session)."""

from __future__ import annotations

import pytest

from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import (
    PrivateKey,
    generate_private_key,
    private_key_pem,
    public_key_pem,
)

APP_ID = "2021000000000042"


@pytest.fixture(scope="session")
def app_key() -> PrivateKey:
    """The calling app's key pair."""
    return generate_private_key()


@pytest.fixture(scope="session")
def alipay_key() -> PrivateKey:
    """The key pair that plays Alipay (signs answers and notifications)."""
    return generate_private_key()


@pytest.fixture(scope="session")
def stranger_key() -> PrivateKey:
    """A key nobody registered: what a forger would sign with."""
    return generate_private_key()


@pytest.fixture
def make_settings(app_key: PrivateKey, alipay_key: PrivateKey):  # type: ignore[no-untyped-def]
    def make(gateway_url: str = "http://127.0.0.1:9/gateway.do", **overrides: object):
        values: dict[str, object] = {
            "gateway_url": gateway_url,
            "app_id": APP_ID,
            "app_private_key": private_key_pem(app_key, pkcs1=True),
            "alipay_public_key": public_key_pem(alipay_key.public_key()),
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        return AlipayOpenApiSettings.model_validate(values)

    return make
