"""Bank card numbers as answers and logs show them."""

from __future__ import annotations


def mask_card_no(card_no: str | None) -> str | None:
    """A card number for answers and logs: every character but the last four starred."""
    if card_no is None:
        return None
    compact = "".join(card_no.split())
    if len(compact) <= 4:
        return "*" * len(compact)
    return "*" * (len(compact) - 4) + compact[-4:]
