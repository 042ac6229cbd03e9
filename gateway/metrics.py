"""Prometheus metrics of one gateway app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.flowbuffer import FlowLogBuffer
from gateway.storage.pg_batches import StatementBatches


class FlowLogCollector(Collector):
    """The flow-log buffer's figures, read when /metrics is scraped."""

    def __init__(self, flow: FlowLogBuffer) -> None:
        self.flow = flow

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "paygate_flow_records_pending", "Flow-log records recorded and not yet written", self.flow.pending
        )
        yield CounterMetricFamily(
            "paygate_flow_records_written", "Flow-log records written by the buffer", self.flow.written
        )
        yield CounterMetricFamily(
            "paygate_flow_flush_failures",
            "Flow-log flushes that failed (their records are kept and retried)",
            self.flow.flush_failures,
        )


class LedgerBatchesCollector(Collector):
    """How the ledger statements went to PostgreSQL: statements over round trips is the mean
    number that shared a commit (gateway/storage/pg_batches.py)."""

    def __init__(self, batches: StatementBatches) -> None:
        self.batches = batches

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "paygate_ledger_statements",
            "Ledger statements sent to PostgreSQL in their own transaction (each of a batch counted)",
            self.batches.statements,
        )
        yield CounterMetricFamily(
            "paygate_ledger_round_trips",
            "Sends of those statements: a lone statement, a batch, a statement sent again",
            self.batches.round_trips,
        )
        yield CounterMetricFamily(
            "paygate_ledger_batches_refused",
            "Batches PostgreSQL rolled back as a whole, whose statements were then sent one by one",
            self.batches.refused_batches,
        )


class Metrics:
    def __init__(
        self, flow: FlowLogBuffer | None = None, ledger_batches: StatementBatches | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        if flow is not None:
            self.registry.register(FlowLogCollector(flow))
        if ledger_batches is not None:
            self.registry.register(LedgerBatchesCollector(ledger_batches))
        self.requests = Counter(
            "paygate_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "paygate_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "paygate_notifications_total",
            "Webhook delivery attempts",
            ["result"],
            registry=self.registry,
        )
        self.escalated = Gauge(
            "paygate_payments_escalated",
            "Payments whose outcome stays unknown after their query schedule",
            registry=self.registry,
        )
        self.callbacks_refused = Counter(
            "paygate_callbacks_refused_total",
            "Verified channel callbacks acknowledged but not applied",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.sms = Counter(
            "paygate_sms_total",
            "SMS to payees, by result (sent, failed, no_phone)",
            ["result"],
            registry=self.registry,
        )
        self.outbox_dead = Gauge(
            "paygate_outbox_dead", "Notifications parked as dead", registry=self.registry
        )
