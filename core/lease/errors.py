"""Refusals of lease operations: broken close preconditions, operations that do not fit the
order's state, and the channel's refusals or unknown answers."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class ClosePreconditionFailed(Conflict):
    """Closing the order now would break a precondition of seed 1.9.1; `field` names it."""

    code = "CLOSE_PRECONDITION_FAILED"


class LeaseStateConflict(Conflict):
    """The operation does not fit where the order, its contract or its agreement stand."""

    code = "LEASE_STATE_CONFLICT"


class ChannelRefused(BusinessRuleViolation):
    """The channel answered with a definite refusal; `code` is the channel's."""

    code = "CHANNEL_REFUSED"


class ChannelOutcomeUnknown(Conflict):
    """The channel's answer is not known (timeout, unverifiable answer): nothing was changed
    here; the same operation may be repeated."""

    code = "CHANNEL_OUTCOME_UNKNOWN"
    http_status = 502
