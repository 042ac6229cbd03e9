"""HTTP handler of the operator calling /ops: who they are and what they may do."""

from __future__ import annotations

from aiohttp import web

from core.operators.model import Permission
from gateway.http.errors import body_of
from gateway.keys import operator_of


async def whoami(request: web.Request) -> web.Response:
    operator = operator_of(request)
    return body_of(
        {
            "login": operator.login,
            "display_name": operator.display_name,
            "roles": operator.role_names,
            "permissions": sorted(p.value for p in Permission if operator.may(p)),
        }
    )
