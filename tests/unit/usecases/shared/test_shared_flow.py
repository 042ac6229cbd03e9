"""FlowTrail: flow-log records stamped by the clock (or one given moment), recorded through the sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.usecases.shared.flow import FlowTrail

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.records: list[FlowRecord] = []

    def record(self, record: FlowRecord) -> None:
        self.records.append(record)


class Ticking:
    """A clock that moves one second each reading."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        return T0 + timedelta(seconds=self.readings)


def test_a_node_is_recorded_with_its_outcome_message_actor_detail_and_the_clock() -> None:
    sink, clock = Sink(), Ticking()
    FlowTrail(sink, clock).record(
        "bil_1", FlowNode.REVIEW, FlowOutcome.FAILED, "rejected", actor="fin-1", reason="late"
    )
    assert sink.records == [
        FlowRecord(
            "bil_1",
            FlowNode.REVIEW,
            FlowOutcome.FAILED,
            T0 + timedelta(seconds=1),
            "rejected",
            {"reason": "late"},
            "fin-1",
        )
    ]


def test_nodes_given_one_moment_share_it_and_do_not_read_the_clock() -> None:
    sink, clock = Sink(), Ticking()
    trail = FlowTrail(sink, clock)
    trail.record("pay_1", FlowNode.ACCEPTED, at=T0)
    trail.record("pay_1", FlowNode.VALIDATED, at=T0)
    assert [r.at for r in sink.records] == [T0, T0] and clock.readings == 0
    assert [r.outcome for r in sink.records] == [FlowOutcome.OK, FlowOutcome.OK]


def test_built_nodes_are_recorded_only_when_emitted_in_their_order() -> None:
    sink = Sink()
    trail = FlowTrail(sink, Ticking())
    built = [trail.node("bil_1", FlowNode.VALIDATED), trail.node("bil_1", FlowNode.RISK_CHECKED)]
    assert sink.records == []
    trail.emit(built)
    assert sink.records == built
    assert [r.at for r in built] == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
