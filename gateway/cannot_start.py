"""Why a `paygate` command cannot start, said in one line instead of a traceback.

What stops a start is outside the code: a database that cannot be reached, a port another
process holds, a schema at another revision. The command prints `paygate: <what to fix>` and exits
with 2 (`gateway/cli.py`), before it has served or changed anything.
"""

from __future__ import annotations

import socket

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class CannotStart(Exception):
    """A start refused for a reason outside the code; the message says what to fix."""


def innermost_message(exc: BaseException) -> str:
    """The message of the error `exc` was raised from, deepest first: the driver's or the
    socket's own words ('role "x" does not exist', 'Connect call failed'), without the wrappers'
    decoration."""
    seen: BaseException = exc
    for _ in range(8):
        inner = seen.__cause__ or seen.__context__
        if inner is None:
            break
        seen = inner
    return str(seen).strip() or type(seen).__name__


def shown_url(url: str) -> str:
    """A database URL fit for a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(database.url is not a URL)"


def check_port_free(host: str, port: int, what: str, hint: str) -> None:
    """Raises CannotStart when `host:port` cannot be bound (another process listens there, or
    the address is not this machine's), before anything starts. The socket is bound and closed
    again at once, never listened on: nobody connects to it meanwhile."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise cannot_listen(what, host, port, exc) from exc
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own bind
            try:
                probe.bind(address)
            except OSError as exc:
                raise cannot_listen(what, host, port, exc, hint) from exc


def cannot_listen(what: str, host: str, port: int, exc: OSError, hint: str = "") -> CannotStart:
    """The refusal of a bind of `host:port` that failed with `exc`, with what to do (`hint`)."""
    return CannotStart(
        f"{what} cannot listen on {host}:{port}: {exc.strerror or exc}" + (f"; {hint}" if hint else "")
    )
