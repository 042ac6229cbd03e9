"""Packet ids: date-prefixed, 16 digits, never repeated within a day by one generator."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from plugins.spdb.packet import BEIJING, PacketIdGenerator


class SteppingClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_ids_are_sixteen_digits_prefixed_with_the_beijing_date() -> None:
    # 20:30 UTC is already the next day in Beijing.
    ids = PacketIdGenerator(lambda: datetime(2024, 5, 19, 20, 30, tzinfo=UTC))
    packet_id = ids()
    assert len(packet_id) == 16 and packet_id.isdigit()
    assert packet_id.startswith("20240520")


def test_ids_never_repeat_when_the_clock_stands_still() -> None:
    ids = PacketIdGenerator(lambda: datetime(2024, 5, 20, 10, 0, tzinfo=BEIJING))
    minted = [ids() for _ in range(20_000)]
    assert len(set(minted)) == len(minted)
    assert minted == sorted(minted)


def test_ids_keep_increasing_when_the_clock_steps_back() -> None:
    clock = SteppingClock(datetime(2024, 5, 20, 10, 0, 1, tzinfo=BEIJING))
    ids = PacketIdGenerator(clock)
    first = ids()
    clock.now -= timedelta(seconds=1)
    assert ids() > first


def test_a_new_day_starts_a_new_prefix() -> None:
    clock = SteppingClock(datetime(2024, 5, 20, 23, 59, 59, tzinfo=BEIJING))
    ids = PacketIdGenerator(clock)
    ids()
    clock.now += timedelta(seconds=2)
    assert ids().startswith("20240521")


def test_two_generators_with_their_own_randomness_do_not_collide_in_one_second() -> None:
    moment = datetime(2024, 5, 20, 10, 0, tzinfo=BEIJING)
    first = PacketIdGenerator(lambda: moment, random.Random(1))
    second = PacketIdGenerator(lambda: moment, random.Random(2))
    assert first() != second()


def test_a_seeded_generator_repeats_its_sequence_for_replayed_tests() -> None:
    moment = datetime(2024, 5, 20, 10, 0, tzinfo=BEIJING)

    def mint() -> list[str]:
        ids = PacketIdGenerator(lambda: moment, random.Random(7))
        return [ids() for _ in range(3)]

    assert mint() == mint()
