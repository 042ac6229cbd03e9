"""Domain errors: each carries a stable upper-case code that callers can rely on."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; `code` is stable, `message` says what to fix."""

    code = "INVALID_ARGUMENT"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"
    http_status = 400


class NotFound(DomainError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(DomainError):
    """The request contradicts the current state (e.g. an illegal transition)."""

    code = "CONFLICT"
    http_status = 409


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_CONFLICT"


class BusinessRuleViolation(DomainError):
    """Well-formed input that a business rule refuses (risk limits, fee rules, ...)."""

    code = "BUSINESS_RULE_VIOLATION"
    http_status = 422


class InsufficientFunds(BusinessRuleViolation):
    code = "INSUFFICIENT_FUNDS"


class BalanceLimitExceeded(BusinessRuleViolation):
    """A balance, or a transaction's net change to one, beyond what an amount can say
    (core/ledger.py `balance_limit`)."""

    code = "BALANCE_LIMIT_EXCEEDED"


class NoRoute(BusinessRuleViolation):
    code = "NO_ROUTE"


class IllegalTransition(Conflict):
    code = "ILLEGAL_TRANSITION"
