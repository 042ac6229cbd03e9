"""`paygate operators add|disable|reset|token|list`: managing the operators of /ops."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from core.approvals.model import STARTED, AuditEntry
from core.errors import DomainError
from core.ids import new_id, utcnow
from core.operators.model import Operator, Role, parse_roles
from core.usecases.ops.audit_trail import AuditTrail, run_audited

if TYPE_CHECKING:
    from gateway.container import Container
    from gateway.operators import OperatorService

T = TypeVar("T")


def add_operator_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `operators` command and its subcommands, on the `paygate` parser."""
    operators = sub.add_parser("operators", help="the operators of /ops: people with roles")
    commands = operators.add_subparsers(dest="operators_command", required=True)
    add = commands.add_parser("add", help="a new operator (password prompted, or --password-stdin)")
    add.add_argument("login")
    add.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    add.add_argument("--name", help="the display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_add)
    disable = commands.add_parser("disable", help="no password or token of theirs works any more")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_disable)
    reset = commands.add_parser("reset", help="a new password")
    reset.add_argument("login")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset.set_defaults(func=cmd_reset)
    token = commands.add_parser("token", help="a new API token for scripts, printed once")
    token.add_argument("login")
    token.set_defaults(func=cmd_token)
    commands.add_parser("list", help="every operator with roles and status").set_defaults(func=cmd_list)


def _run(work: Callable[[OperatorService], Awaitable[T]], audited: tuple[str, str] | None = None) -> T:
    """Run `work` on the configured database's operators, then close the storage. `audited`:
    (action, login) of an operator change, written to the audit log with its outcome."""
    from gateway.container import Container
    from gateway.migrate import prepare_schema

    container: Container = Container()

    async def run() -> T:
        try:
            # as `paygate serve` would: the embedded SQLite default is migrated, others checked
            await prepare_schema(container.engine(), container.settings().database)
            if audited is None:
                return await work(container.operators())
            trail = AuditTrail(container.audit_log(), _cli_audit(*audited))  # no record, no change
            return await run_audited(trail, lambda: work(container.operators()))
        finally:
            await container.engine().dispose()
            writer = container.sqlite_writer()
            if writer is not None:
                await writer.aclose()

    return asyncio.run(run())


def _cli_audit(action: str, login: str) -> AuditEntry:
    """An operator change made with the CLI: the acting person is the system user running it."""
    return AuditEntry(
        id=new_id("aud"),
        at=utcnow(),
        operator=f"cli:{getpass.getuser()}"[:64],
        role=Role.ADMIN.value,
        action=f"operators/{action}",
        subject_type="operator",
        subject_id=login,
        outcome=STARTED,
        client="cli",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.login}: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("paygate: the passwords differ")
    return first


def _line(operator: Operator) -> str:
    status = "disabled" if operator.disabled else "active"
    name = f"  ({operator.display_name})" if operator.display_name else ""
    return f"{operator.login:<24} {','.join(operator.role_names):<32} {status}{name}"


def _refused(call: Callable[[], int]) -> int:
    try:
        return call()
    except DomainError as exc:
        print(f"paygate: {exc}", file=sys.stderr)
        return 1


def cmd_add(args: argparse.Namespace) -> int:
    roles, password = parse_roles(args.role), _password(args)
    return _refused(
        lambda: _said(
            _run(lambda ops: ops.add(args.login, roles, password, args.name), ("add", args.login)), "added"
        )
    )


def cmd_disable(args: argparse.Namespace) -> int:
    return _refused(
        lambda: _said(_run(lambda ops: ops.disable(args.login), ("disable", args.login)), "disabled")
    )


def cmd_reset(args: argparse.Namespace) -> int:
    password = _password(args)
    return _refused(
        lambda: _said(
            _run(lambda ops: ops.reset(args.login, password), ("reset", args.login)), "password reset"
        )
    )


def cmd_token(args: argparse.Namespace) -> int:
    def issue() -> int:
        issued = _run(lambda ops: ops.issue_token(args.login), ("token", args.login))
        print(issued.token)
        print(f"API token {issued.prefix}… for {issued.login}: shown once, keep it secret", file=sys.stderr)
        return 0

    return _refused(issue)


def cmd_list(args: argparse.Namespace) -> int:
    for operator in _run(lambda ops: ops.all()):
        print(_line(operator))
    return 0


def _said(operator: Operator, what: str) -> int:
    print(f"{what}: {_line(operator)}")
    return 0
