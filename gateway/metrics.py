"""Prometheus metrics of one gateway app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
