"""RSA2 signing: the sign content rules, sign/verify round trips and key loading."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.alipay_openapi.errors import KeyFormatError
from plugins.alipay_openapi.signing import (
    PrivateKey,
    build_sign_content,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_base64,
    public_key_pem,
    sign_content,
    sign_params,
    verify_content,
    verify_params,
)


def test_sign_content_drops_empty_values_and_the_sign() -> None:
    params = {"b": "2", "a": "1", "empty": "", "none": None, "sign": "xyz"}

    assert build_sign_content(params) == "a=1&b=2"


def test_sign_content_sorts_keys_by_ascii() -> None:
    params = {"biz_content": "{}", "Zeta": "z", "app_id": "1", "_x": "u", "app": "0"}

    assert build_sign_content(params) == "Zeta=z&_x=u&app=0&app_id=1&biz_content={}"


def test_sign_content_keeps_raw_values_without_url_encoding() -> None:
    params = {
        "notify_url": "https://h/n?a=1&b=2",
        "timestamp": "2024-01-02 03:04:05",
        "biz_content": '{"order_title":"退款 +1"}',
    }

    assert build_sign_content(params) == (
        'biz_content={"order_title":"退款 +1"}&notify_url=https://h/n?a=1&b=2&timestamp=2024-01-02 03:04:05'
    )


def test_sign_content_can_exclude_more_keys() -> None:
    params = {"sign": "s", "sign_type": "RSA2", "a": "1"}

    assert build_sign_content(params, exclude=("sign", "sign_type")) == "a=1"


def test_signature_is_base64_without_newlines_and_verifies(app_key: PrivateKey) -> None:
    signature = sign_content("a=1&b=2", app_key)

    assert "\n" not in signature
    assert len(base64.b64decode(signature)) == 256
    assert verify_content("a=1&b=2", signature, app_key.public_key())


def test_signing_is_deterministic(app_key: PrivateKey) -> None:
    assert sign_content("a=1", app_key) == sign_content("a=1", app_key)


def test_verification_fails_for_altered_content(app_key: PrivateKey) -> None:
    signature = sign_params({"trans_amount": "1.00"}, app_key)

    assert not verify_params({"trans_amount": "100.00"}, signature, app_key.public_key())


def test_verification_fails_for_another_key(app_key: PrivateKey, stranger_key: PrivateKey) -> None:
    signature = sign_content("a=1", stranger_key)

    assert not verify_content("a=1", signature, app_key.public_key())


@pytest.mark.parametrize("garbage", ["", "not base64!", "AAAA"])
def test_verification_fails_for_garbage_signatures(app_key: PrivateKey, garbage: str) -> None:
    assert not verify_content("a=1", garbage, app_key.public_key())


def test_verification_ignores_line_breaks_in_the_signature(app_key: PrivateKey) -> None:
    signature = sign_content("a=1", app_key)
    wrapped = "\n".join(signature[i : i + 64] for i in range(0, len(signature), 64))

    assert verify_content("a=1", wrapped, app_key.public_key())


def _bare_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize("form", ["pkcs1_pem", "pkcs8_pem", "pkcs8_bare", "pkcs1_bare"])
def test_private_keys_load_in_every_console_format(app_key: PrivateKey, form: str) -> None:
    pkcs1 = form.startswith("pkcs1")
    pem = private_key_pem(app_key, pkcs1=pkcs1)
    material = pem if form.endswith("pem") else _bare_body(pem)

    loaded = load_private_key(material)

    assert verify_content("x", sign_content("x", loaded), app_key.public_key())


@pytest.mark.parametrize("form", ["spki_pem", "spki_bare", "pkcs1_pem"])
def test_public_keys_load_in_every_console_format(app_key: PrivateKey, form: str) -> None:
    public = app_key.public_key()
    if form == "spki_pem":
        material = public_key_pem(public)
    elif form == "spki_bare":
        material = public_key_base64(public)
    else:
        material = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()

    loaded = load_public_key(material)

    assert verify_content("x", sign_content("x", app_key), loaded)


def test_public_key_loads_from_a_certificate(app_key: PrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Alipay sandbox")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(app_key.public_key())
        .serial_number(4242)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(app_key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()

    assert verify_content("x", sign_content("x", app_key), load_public_key(pem))


@pytest.mark.parametrize("material", ["", "garbage!!", "AAAA", "-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_unloadable_private_keys_raise_key_format_error(material: str) -> None:
    with pytest.raises(KeyFormatError):
        load_private_key(material)


def test_non_rsa_keys_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

    with pytest.raises(KeyFormatError, match="not an RSA key"):
        load_private_key(pem)


_keys = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="=&"),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(
    params=st.dictionaries(
        _keys,
        st.one_of(
            st.none(), st.text(st.characters(exclude_characters="&", exclude_categories=("Cs",)), max_size=12)
        ),
        max_size=6,
    )
)
def test_any_params_round_trip_and_never_sign_empties(
    app_key: PrivateKey, params: dict[str, str | None]
) -> None:
    content = build_sign_content(params)
    signature = sign_params(params, app_key)

    kept = sorted(k for k, v in params.items() if v and k != "sign")
    assert [pair.split("=", 1)[0] for pair in content.split("&") if pair] == kept
    assert verify_params(params, signature, app_key.public_key())
