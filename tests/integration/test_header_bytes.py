"""Headers and cookies are bytes from anyone: a byte that is not UTF-8 (aiohttp hands it on as a
lone surrogate, which no encoder takes), a non-ASCII signature or a timestamp of hundreds of
digits is refused with a 4xx naming the header, on SQLite and PostgreSQL alike; never a 500.

The requests are written byte by byte (the test client encodes headers itself)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time

from paygate_testkit import APP_ID, APP_SECRET, SignedClient

BODY = json.dumps({"owner": "x", "kind": "C", "currency": "CNY"}).encode()


async def _send(
    api: SignedClient, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, bytes]:
    """The status and body of one raw HTTP/1.1 request to the test server."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.client.server.port)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
    head += b"Connection: close\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    writer.write(head + b"\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _signed(
    nonce: bytes, *, timestamp: bytes | None = None, signature: bytes | None = None
) -> list[tuple[bytes, bytes]]:
    """Headers of POST /v1/accounts signed as the test app (over the nonce's bytes as sent)."""
    ts = timestamp or str(int(time.time())).encode()
    message = b"\n".join([b"POST", b"/v1/accounts", ts, nonce, hashlib.sha256(BODY).hexdigest().encode()])
    sig = signature or hmac.new(APP_SECRET.encode(), message, hashlib.sha256).hexdigest().encode()
    return [
        (b"X-App-Id", APP_ID.encode()),
        (b"X-Timestamp", ts),
        (b"X-Nonce", nonce),
        (b"X-Signature", sig),
        (b"Content-Type", b"application/json"),
    ]


async def _refused(api: SignedClient, headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    status, body = await _send(api, "POST", "/v1/accounts", headers, BODY)
    error: dict[str, str] = json.loads(body)["error"]
    assert (status, error["code"]) == (401, "UNAUTHENTICATED"), (status, body)
    return error


async def test_a_signed_request_with_a_header_that_is_not_text_is_a_401_naming_it(api: SignedClient) -> None:
    for nonce in (b"\xff\xfeabc", b"n\xe9once"):  # not UTF-8; Latin-1
        error = await _refused(api, _signed(nonce))
        assert error["field"] == "X-Nonce" and "character" in error["message"], error
    for signature in ("é".encode(), b"\xff" * 64):
        error = await _refused(api, _signed(b"nonce-sig", signature=signature))
        assert error["field"] == "X-Signature", error
    for timestamp in (b"9" * 400, "١٢٣".encode()):  # an overflow; digits, but not ASCII ones
        error = await _refused(api, _signed(b"nonce-ts", timestamp=timestamp))
        assert error["field"] == "X-Timestamp", error
    status, _ = await _send(api, "POST", "/v1/accounts", _signed("n中".encode()), BODY)
    assert status == 201, "a nonce of UTF-8 text is still a nonce"
    status, _ = await _send(
        api, "POST", "/v1/accounts", _signed(b"nonce-trace") + [(b"X-Trace-Id", b"\xff\xfe")], BODY
    )
    assert status == 201


async def test_an_operator_token_that_is_not_text_is_a_401(api: SignedClient) -> None:
    for token in (b"\xff\xfe", "é".encode()):
        status, body = await _send(api, "GET", "/ops/payments", [(b"Authorization", b"Bearer " + token)])
        assert (status, json.loads(body)["error"]["code"]) == (401, "UNAUTHENTICATED"), body


async def test_an_operator_action_with_a_trace_id_that_is_not_text_is_recorded(api: SignedClient) -> None:
    """The trace id of an audited action is stored: one that is not text is replaced, not stored."""
    account = await api.open_account()
    body = json.dumps({"out_request_no": "fund-trace", "amount": "1.00", "currency": "CNY"}).encode()
    token = api.ops_headers("POST", f"/ops/accounts/{account}/fund")["Authorization"].encode()
    headers = [
        (b"Authorization", token),
        (b"Content-Type", b"application/json"),
        (b"X-Trace-Id", b"\xff\xfe"),
    ]
    status, answer = await _send(api, "POST", f"/ops/accounts/{account}/fund", headers, body)
    assert status == 201, answer
    assert await api.balance(account) == "1.00"


async def test_console_cookies_that_are_not_text_are_no_session_and_no_token(api: SignedClient) -> None:
    page = await api.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token is not None
    form = b"login=demo-admin&password=demo-admin&next=/console&csrf_token=" + token.group(1).encode()
    form_headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    status, _ = await _send(
        api, "POST", "/console/login", [*form_headers, (b"Cookie", b"paygate_console_login=\xff")], form
    )
    assert status == 403, "a login cookie that is not text holds no token"
    for cookie in (b"paygate_console=\xff\xfe", "paygate_console=é".encode()):
        status, _ = await _send(api, "GET", "/console", [(b"Cookie", cookie)])
        assert status == 303, "no session: to the login page"
        status, _ = await _send(
            api, "POST", "/console/logout", [*form_headers, (b"Cookie", cookie)], b"csrf_token=x"
        )
        assert status in (303, 403)


async def test_a_console_page_with_a_referer_that_is_no_address_is_a_page(api: SignedClient) -> None:
    """A message page links back to the console page the browser came from (its Referer)."""
    from test_console_pages import csrf_token, log_in

    await log_in(api, "demo-operator")
    cookie = next(c for c in api.client.session.cookie_jar if c.key == "paygate_console")
    form = f"csrf_token={await csrf_token(api)}&reason=x".encode()
    for referer in (
        b"\xff\xfe",
        b"http://[bad/console",
        b"http://127.0.0.1:99999999/console/payouts",
        b"::::",
    ):
        headers = [
            (b"Cookie", f"paygate_console={cookie.value}".encode()),
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Referer", referer),
        ]
        status, page = await _send(api, "POST", "/console/notifications/ntf_none/replay", headers, form)
        assert status == 404 and b"<html" in page, (referer, status, page.decode()[-900:])


async def test_a_compressed_body_is_a_415_wherever_it_is_sent(api: SignedClient) -> None:
    """aiohttp inflates a body with a Content-Encoding while it is read: one that was no gzip was
    a 500. Nobody needs it: refused, however well compressed."""
    import gzip

    json_body = gzip.compress(BODY)
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    for path, headers, body in (
        ("/v1/accounts", _signed(b"nonce-gzip"), b"abcd"),
        ("/v1/accounts", _signed(b"nonce-gzip-2"), json_body),
        ("/ops/accounts/acc_none/fund", [(b"Content-Type", b"application/json")], json_body),
        ("/console/login", form, b"abcd"),
        ("/callbacks/alipay_payout", form, b"abcd"),
    ):
        for encoding in (b"gzip", b"deflate", b"br"):
            sent = [*headers, (b"Content-Encoding", encoding)]
            status, answer = await _send(api, "POST", path, sent, body)
            if encoding == b"gzip" and body == json_body:
                assert status == 415, (path, status, answer)
                assert json.loads(answer)["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
            else:  # not what it says it is: aiohttp's parser may refuse it first (400)
                assert status in (400, 415), (path, encoding, status, answer)
    status, _ = await _send(
        api, "POST", "/v1/accounts", [*_signed(b"nonce-plain"), (b"Content-Encoding", b"identity")], BODY
    )
    assert status == 201
    status, document = await api.get("/openapi.json")
    assert "415" in document["paths"]["/v1/accounts"]["post"]["responses"], "the document says so"


async def test_a_console_post_that_is_no_form_is_a_400_page(api: SignedClient) -> None:
    """A charset no codec knows, a multipart body without its boundary: a 500 once, before and
    after logging in (the CSRF check read the form first)."""
    from test_console_pages import log_in

    body = b"login=demo-operator&password=demo-operator&csrf_token=x"
    kinds = (
        b"application/x-www-form-urlencoded; charset=nonexistent",
        b"multipart/form-data",
        b"multipart/form-data; boundary=a",
    )
    for kind in kinds:
        status, page = await _send(api, "POST", "/console/login", [(b"Content-Type", kind)], body)
        assert status == 400 and b"<html" in page, (kind, status, page[-300:])
    await log_in(api, "demo-operator")
    cookie = next(c for c in api.client.session.cookie_jar if c.key == "paygate_console")
    for kind in kinds:
        headers = [(b"Cookie", f"paygate_console={cookie.value}".encode()), (b"Content-Type", kind)]
        for path in ("/console/logout", "/console/notifications/ntf_none/replay"):
            status, page = await _send(api, "POST", path, headers, b"csrf_token=x")
            assert status == 400 and b"<html" in page, (path, kind, status, page[-300:])
    assert (await api.client.get("/console", allow_redirects=False)).status == 200, "still logged in"
