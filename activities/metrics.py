"""q2c's Prometheus metrics, the Temporal SDK's forwarded into the same registry, and the
endpoint that serves them (Q2C_METRICS_PORT).

One registry per process (prometheus_client's default, which also carries the process's
CPU, memory and garbage-collector figures): the worker's counters below, the API's
(starter/api/metrics.py), and the SDK's metrics, which the Temporal core hands over through
a `MetricBuffer` instead of serving them on a port of its own. So one port shows all of a
process's metrics; under `q2c dev`, worker and API share a process and that port.

Labels are bounded sets named in code (document kinds, email kinds, webhook sources and
reasons, route templates): never an id, an address or a name.

Imported by the activities that count, by worker.py and by starter.api; imports db.outbox
(the outbox backlog's query).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from db import outbox
from db.connection import DatabaseError

log = logging.getLogger("q2c.metrics")

# --- q2c's own ---------------------------------------------------------------------------

# A warm invoice takes ~0.1 s; a burst queues renders behind the render processes.
RENDER_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)

DOCUMENTS_RENDERED = Counter(
    "q2c_documents_rendered",
    "PDFs rendered, by kind (draft, invoice, proposal, credit_note, certificate).",
    ["kind"],
)
RENDER_SECONDS = Histogram(
    "q2c_document_render_seconds",
    "Time from template to PDF bytes, measured in the worker around the render process "
    "(so waiting for a free render process counts too).",
    ["kind"],
    buckets=RENDER_BUCKETS,
)
RENDER_FAILURES = Counter(
    "q2c_document_render_failures",
    "Renders that raised (the activity retries).",
    ["kind"],
)
EMAILS_SENT = Counter(
    "q2c_emails_sent", "Emails SMTP accepted, by kind (proposal, invoice, reminder...).", ["kind"]
)
EMAILS_FAILED = Counter(
    "q2c_emails_failed",
    "Attempts to send an email that failed (SMTP refused or unreachable); the activity "
    "retries, so one email may fail several times before it is sent.",
    ["kind"],
)
REMINDERS_SENT = Counter("q2c_reminders_sent", "Payment reminders emailed.")
APPROVALS_REFUSED = Counter(
    "q2c_approvals_refused",
    "Approvals refused at numbering (a VAT rate not in force, a missing exchange rate...).",
)
WEBHOOKS_ACCEPTED = Counter(
    "q2c_webhooks_accepted",
    "Inbound webhook events authenticated, valid and acted on (first delivery).",
    ["source"],
)
WEBHOOKS_DUPLICATE = Counter(
    "q2c_webhooks_duplicate",
    "Inbound webhook events delivered again (answered with the first outcome, nothing done).",
    ["source"],
)
WEBHOOKS_REFUSED = Counter(
    "q2c_webhooks_refused",
    "Inbound webhooks refused, by source and reason: the signature check's reason "
    "(bad_signature, stale_timestamp, missing_signature, malformed_signature, "
    "no_secret_configured), too_large, invalid (422) or rejected (a business refusal).",
    ["source", "reason"],
)
OUTBOX_PENDING = Gauge(
    "q2c_outbox_pending_emails",
    "Emails in the outbox not sent yet (read from the database; the same figure from every "
    "worker, so aggregate with max).",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "q2c_outbox_oldest_pending_age_seconds",
    "Age of the oldest email in the outbox not sent yet; 0 when none waits.",
)
OUTBOX_READ_AT = Gauge(
    "q2c_outbox_read_timestamp_seconds", "When the outbox figures above were read (Unix time)."
)


def document_kind(template: str, context: dict[str, Any]) -> str:
    """The label of a render: the context's kind (draft or invoice for the one template),
    else the template's name (pdf/certificate.html: certificate)."""
    kind = context.get("kind")
    if isinstance(kind, str) and kind:
        return kind[:40]
    return template.rsplit("/", 1)[-1].split(".", 1)[0][:40]


# --- the Temporal SDK's, forwarded -------------------------------------------------------

# Durations arrive in seconds (MetricBufferDurationFormat.SECONDS); the SDK's latencies
# range from milliseconds (a workflow task) to days (a workflow's end-to-end time).
SDK_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
    86400.0,
)
# The core fills the buffer from its threads; it is drained every second and on each scrape.
# A reminder burst makes a few thousand updates a second: far below this.
SDK_BUFFER_SIZE = 200_000
DRAIN_INTERVAL_SECONDS = 1.0

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(SDK_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        # The first bucket whose bound is >= value; past the last bound, +Inf's.
        self.buckets[bisect_left(SDK_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


@dataclass
class _Series:
    kind: int
    description: str
    unit: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)


class SdkMetrics(Collector):
    """The SDK's metrics, as the core reports them to a MetricBuffer: counters (deltas
    summed), gauges (last value) and histograms (each value observed into SDK_BUCKETS),
    under the SDK's own names and attributes (`temporal_workflow_completed`,
    `temporal_request`, ... with namespace, task_queue, workflow_type...). prometheus_client
    writes a counter with `_total` appended, as the SDK's own exporter does with
    `counters_total_suffix=True`."""

    def __init__(self) -> None:
        self._buffers: list[MetricBuffer] = []
        self._series: dict[str, _Series] = {}
        # The attribute sets the core reuses, by identity: sorting them once, not per update.
        self._labels: dict[int, tuple[Any, Labels]] = {}
        self._lock = threading.Lock()
        self._drainer: threading.Thread | None = None

    def attach(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.append(buffer)
            if self._drainer is None:
                self._drainer = threading.Thread(
                    target=self._drain_forever, name="q2c-sdk-metrics", daemon=True
                )
                self._drainer.start()

    def _drain_forever(self) -> None:
        while True:
            time.sleep(DRAIN_INTERVAL_SECONDS)
            try:
                self.drain()
            except Exception:  # a drain must never stop: the buffer would fill up
                log.exception("could not read the Temporal SDK's metrics")

    def drain(self) -> None:
        with self._lock:
            for buffer in self._buffers:
                self._apply(buffer.retrieve_updates())

    def _apply(self, updates: Iterable[BufferedMetricUpdate]) -> None:
        for update in updates:
            metric = update.metric
            series = self._series.get(metric.name)
            if series is None:
                series = self._series[metric.name] = _Series(
                    metric.kind, metric.description or metric.name, metric.unit or ""
                )
            labels = self._labels_of(update.attributes)
            if series.kind == BUFFERED_METRIC_KIND_COUNTER:
                series.values[labels] = series.values.get(labels, 0.0) + update.value
            elif series.kind == BUFFERED_METRIC_KIND_GAUGE:
                series.values[labels] = float(update.value)
            else:
                histogram = series.histograms.get(labels)
                if histogram is None:
                    histogram = series.histograms[labels] = _Histogram()
                histogram.observe(float(update.value))

    def _labels_of(self, attributes: Any) -> Labels:
        known = self._labels.get(id(attributes))
        if known is not None and known[0] is attributes:
            return known[1]
        labels = tuple(sorted((str(key), str(value)) for key, value in attributes.items()))
        self._labels[id(attributes)] = (attributes, labels)
        return labels

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for name, series in sorted(self._series.items()):
                yield from _families(name, series)


def _families(name: str, series: _Series) -> Iterator[Metric]:
    if series.kind == BUFFERED_METRIC_KIND_COUNTER:
        counter = CounterMetricFamily(name, series.description)
        for labels, value in series.values.items():
            counter.add_sample(name + "_total", dict(labels), value)
        yield counter
    elif series.kind == BUFFERED_METRIC_KIND_GAUGE:
        gauge = GaugeMetricFamily(name, series.description)
        for labels, value in series.values.items():
            gauge.add_sample(name, dict(labels), value)
        yield gauge
    else:
        histogram = HistogramMetricFamily(name, f"{series.description} (seconds)")
        for labels, data in series.histograms.items():
            cumulative = 0
            for bound, count in zip((*SDK_BUCKETS, float("inf")), data.buckets, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                histogram.add_sample(name + "_bucket", dict(labels) | {"le": le}, cumulative)
            histogram.add_sample(name + "_count", dict(labels), data.count)
            histogram.add_sample(name + "_sum", dict(labels), data.total)
        yield histogram


SDK_METRICS = SdkMetrics()
REGISTRY.register(SDK_METRICS)


def temporal_runtime() -> Runtime:
    """A Temporal runtime whose metrics go into this process's registry (through a
    MetricBuffer drained by SDK_METRICS). A client connected on it (or on the default
    runtime, once `Runtime.set_default` made it the default) reports there."""
    buffer = MetricBuffer(SDK_BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    SDK_METRICS.attach(buffer)
    return runtime


_default_runtime: Runtime | None = None


def install_default_runtime() -> None:
    """Make q2c's metrics runtime the process's default Temporal runtime, once, before any
    client connects: `q2c dev` calls it before its own client, as a process whose clients sat
    on two runtimes did not stop on Ctrl-C (the worker's default runtime replaced under the
    dev server's client)."""
    global _default_runtime
    if _default_runtime is None:
        _default_runtime = temporal_runtime()
        Runtime.set_default(_default_runtime, error_if_already_set=False)


# --- the endpoint ------------------------------------------------------------------------

_served: dict[int, Any] = {}
_serving = threading.Lock()


def serve(port: int, host: str = "127.0.0.1") -> int:
    """Serve this process's registry at http://host:port/metrics (any path answers), once
    per process and port: under `q2c dev` the worker and the API both ask for it. Returns
    the port (the one the system picked when `port` is 0)."""
    with _serving:
        if port and port in _served:
            return port
        try:
            server, _ = start_http_server(port, addr=host, registry=REGISTRY)
        except OSError as err:
            # Fail at start, as a bad setting does: a worker and an API on one host each
            # need a port of their own.
            raise RuntimeError(
                f"Q2C_METRICS_PORT: cannot listen on {host}:{port} ({err.strerror}); is "
                "another q2c process on this host using it?"
            ) from None
        bound = int(server.server_port)
        _served[bound] = server
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound


def stop_serving(port: int) -> None:
    with _serving:
        server = _served.pop(port, None)
    if server is not None:
        server.shutdown()
        server.server_close()


# --- the outbox backlog, read from the database ------------------------------------------

# As often as Prometheus scrapes by default: one aggregate over the outbox per worker.
OUTBOX_INTERVAL_SECONDS = 15.0


async def read_outbox(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        backlog = await outbox.backlog(conn)
    OUTBOX_PENDING.set(backlog.pending)
    OUTBOX_OLDEST_SECONDS.set(backlog.oldest_age_seconds)
    OUTBOX_READ_AT.set_to_current_time()


async def watch_outbox(pool: asyncpg.Pool, interval: float = OUTBOX_INTERVAL_SECONDS) -> None:
    """Refresh the outbox gauges every `interval` seconds until cancelled. Read here on the
    worker's loop, not in the scrape (which runs on the metrics server's thread)."""
    while True:
        try:
            await read_outbox(pool)
        except (DatabaseError, OSError) as failed:
            # The figure goes stale (OUTBOX_READ_AT says since when); the worker goes on.
            log.warning("could not read the outbox backlog: %s", type(failed).__name__)
        await asyncio.sleep(interval)
