"""Specification of card numbers as answers and logs show them (core.cards)."""

from __future__ import annotations

import pytest

from core.cards import compact_card_no, mask_card_no


@pytest.mark.parametrize(
    ("raw", "compact"),
    [(None, None), ("", None), ("   ", None), ("6225 8800 1111 2222", "6225880011112222")],
)
def test_a_card_number_compares_without_blanks(raw: str | None, compact: str | None) -> None:
    assert compact_card_no(raw) == compact


@pytest.mark.parametrize(
    ("raw", "masked"),
    [(None, None), ("6225 8800 1111 2222", "************2222"), ("1234", "****"), ("  ", "")],
)
def test_a_card_number_shows_only_its_last_four(raw: str | None, masked: str | None) -> None:
    assert mask_card_no(raw) == masked
