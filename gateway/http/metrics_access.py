"""Who may read GET /metrics: the scraper holding `metrics.token`, or, where no token is set, a
client on this host only. The counters tell how many payments each channel made, failed or left
escalated: not for whoever reaches the port when the gateway listens beyond 127.0.0.1."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from gateway.http.errors import error_response
from gateway.http.request_body import bearer_token
from gateway.settings import MetricsSettings


def metrics_refusal(request: web.Request, settings: MetricsSettings) -> web.Response | None:
    """The answer refusing `request` (401 or 403), or None when it may read the metrics."""
    if settings.token is not None:
        given = bearer_token(request)
        expected = settings.token.get_secret_value()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error_response(
                401, "UNAUTHENTICATED", "the metrics token is required: Authorization: Bearer <metrics.token>"
            )
        return None
    if not _on_this_host(request.remote):
        return error_response(
            403,
            "METRICS_LOCAL_ONLY",
            "metrics are served to this host only: set metrics.token (PAYGATE_METRICS__TOKEN) "
            "and send it as Authorization: Bearer <token> to scrape from elsewhere",
        )
    return None


def _on_this_host(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:  # not an IP address: a Unix socket's peer has none
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # an IPv4 client of a dual-stack socket
    return address.is_loopback
