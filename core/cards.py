"""Bank card numbers: compared without blanks, shown in answers and logs with their last four only."""

from __future__ import annotations


def compact_card_no(card_no: str | None) -> str | None:
    """A card number without blanks; None when missing or blank."""
    if card_no is None:
        return None
    return "".join(card_no.split()) or None


def mask_card_no(card_no: str | None) -> str | None:
    """A card number for answers and logs: every character but the last four starred."""
    if card_no is None:
        return None
    compact = compact_card_no(card_no) or ""
    if len(compact) <= 4:
        return "*" * len(compact)
    return "*" * (len(compact) - 4) + compact[-4:]
