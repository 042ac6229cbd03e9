"""Prometheus metrics of one gateway app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.flowbuffer import FlowLogBuffer


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


class Metrics:
    def __init__(self, flow: FlowLogBuffer | None = None) -> None:
        self.registry = CollectorRegistry()
        if flow is not None:
            self.registry.register(FlowLogCollector(flow))
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
