"""What `/metrics` tells Prometheus: requests and their latency by route and status, postings
by type, 503s caused by the store, and — read from the store when scraped — the log's head, how
far the read models and the audit tree have read it, and the tree's size.

Each app has its own registry (not prometheus-client's global one), so that many apps in one
process (tests) do not collide. Counters are this process's: with `serve --workers N` each
worker counts what it served (a scrape reaches one of them); the figures read from the store
are the same whichever answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import LedgerError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a cached balance (~2 ms) to a request caught by an outage (~22 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The messages of 503s whose cause is the database (ledger/messages.py).
STORE_FAILURES = {"store_down", "store_failed", "read_models_failed"}
UNMATCHED = "(unmatched)"


def route_of(scope: Scope) -> str:
    """The route's template (`/v1/volunteers/{volunteer_id}`), never the path itself: ids in
    paths would make a series per volunteer."""
    route = scope.get("route")
    return str(getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED)


class ProgressCollector(Collector):
    """Gauges read from the store at each scrape (nothing when the database does not answer,
    but `hour_ledger_database_up 0`)."""

    def __init__(self, ledger: Any, read_models: Any, audit: Any) -> None:
        self.ledger = ledger
        self.read_models = read_models
        self.audit = audit

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hour_ledger_database_up", "1 when the store answered this scrape, else 0")
        try:
            head = self.ledger.head_position()
            read_models = self.read_models.position()
            tree_size, tree_position = self.audit.stored_progress()
        except Exception:  # noqa: BLE001 - an unreachable store is what this gauge reports
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("hour_ledger_log_head_position", "The position of the log's latest event", value=head)
        yield GaugeMetricFamily(
            "hour_ledger_read_models_position", "The log position every read model has processed", value=read_models
        )
        yield GaugeMetricFamily(
            "hour_ledger_read_models_lag_events", "Events recorded that the read models have not processed",
            value=max(0, head - read_models),
        )
        yield GaugeMetricFamily("hour_ledger_audit_tree_size", "Leaves in the audit's Merkle tree", value=tree_size)
        yield GaugeMetricFamily(
            "hour_ledger_audit_tree_lag_events", "Events recorded that are not leaves of the audit tree yet",
            value=max(0, head - tree_position),
        )


class Metrics:
    """One app's metrics, in a registry of its own."""

    def __init__(self, ledger: Any, read_models: Any, audit: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hour_ledger_http_requests", "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "hour_ledger_http_request_duration_seconds", "Time to answer an HTTP request, by method, route and status",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.postings = Counter(
            "hour_ledger_postings", "Transactions recorded through this process, by type (replays not counted)",
            ["type"], registry=self.registry,
        )
        self.database_errors = Counter(
            "hour_ledger_database_errors", "Requests answered 503 because the store was down or failed, by reason",
            ["reason"], registry=self.registry,
        )
        self.registry.register(ProgressCollector(ledger, read_models, audit))
        # Each (method, route, status)'s counter and histogram, found once: `labels` checks
        # and locks on every call, and there are few such triples.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def answered(self, method: str, route: str, status: str, seconds: float) -> None:
        """Counts and times one answered request."""
        series = self._series.get((method, route, status))
        if series is None:
            series = self.requests.labels(method, route, status), self.latency.labels(method, route, status)
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def posted(self, transaction_type: str, count: int = 1) -> None:
        self.postings.labels(transaction_type).inc(count)

    def refused(self, error: LedgerError | Exception) -> None:
        """Counts a 503 whose cause is the store."""
        reason = getattr(error, "message", type(error).__name__)
        if not isinstance(error, LedgerError) or reason in STORE_FAILURES:
            self.database_errors.labels(reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetrics:
    """Counts and times every HTTP request by its route's template and its status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            self.metrics.answered(scope["method"], route_of(scope), str(status), time.perf_counter() - started)
