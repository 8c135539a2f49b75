"""Prometheus metrics: each schedule's health and runs (from the store, in any process that reads it), and beat's own.

Label names follow celery-exporter's where they overlap (`name`, `queue`, `hostname`).
Run counts and lags are counted from the ledger as runs finish, scrape by scrape: the
counters start at zero with the process that serves them, as counters do.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .store import Store
from .store.runs import FINAL, RunLedger

if TYPE_CHECKING:
    from .overview import Overview

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class StoreCollector(Collector):
    """Schedules' health, last success and last run, runs by outcome and lag, the revision: read from the store."""

    def __init__(self, store: Store, overview: Overview | None = None,
                 views: Callable[[datetime], list[Any]] | None = None) -> None:
        """`views`: the schedules' overview at a moment (a server passes its snapshot's); else computed per scrape."""
        from .overview import Overview

        self.store = store
        self.ledger = RunLedger(store)
        self.overview = overview or Overview(store)
        self.views = views or self.overview.schedules
        self._lock = threading.Lock()
        self._watermark = datetime.now(UTC)
        self._runs: dict[tuple[str, str], int] = defaultdict(int)
        self._lags: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(LAG_BUCKETS) + 1))  # counts, then sum
        self._lag_counts: dict[str, int] = defaultdict(int)

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        with self._lock:
            self._count_finished()
            views = self.views(now)
            yield from self._schedule_metrics(views)
            yield from self._run_metrics()
        yield from self._revision()

    def _count_finished(self) -> None:
        if not self.store.ensure_schema():
            return
        for run in self.ledger.finished_since(self._watermark):
            self._watermark = max(self._watermark, run.finished_at or self._watermark)
            if run.state in FINAL:
                self._runs[(run.schedule, run.state)] += 1
            if run.lag is not None:
                counts = self._lags[run.schedule]
                for index, bound in enumerate(LAG_BUCKETS):
                    if run.lag <= bound:
                        counts[index] += 1
                counts[-1] += max(run.lag, 0.0)
                self._lag_counts[run.schedule] += 1

    def _schedule_metrics(self, views: list[Any]) -> Iterator[Metric]:
        success = GaugeMetricFamily("gitbeat_schedule_last_success_timestamp_seconds",
                                    "When the schedule last succeeded (Unix time)", labels=["name"])
        # One series for the current value (not one per possible value): 10,000 schedules stay a small page.
        state = GaugeMetricFamily("gitbeat_schedule_last_run_state", "1, labelled with the state of the newest run",
                                  labels=["name", "state"])
        health = GaugeMetricFamily("gitbeat_schedule_health", "1, labelled with the schedule's health",
                                   labels=["name", "health"])
        following = GaugeMetricFamily("gitbeat_schedule_next_due_timestamp_seconds",
                                      "When the schedule is due next (Unix time)", labels=["name"])
        for view in views:
            if view.stats and view.stats.last_success_at:
                success.add_metric([view.name], view.stats.last_success_at.timestamp())
            if view.stats:
                state.add_metric([view.name, view.stats.last.state], 1.0)
            health.add_metric([view.name, view.health.word], 1.0)
            if view.health.next_due:
                following.add_metric([view.name], view.health.next_due.timestamp())
        yield from (success, state, health, following)

    def _run_metrics(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("gitbeat_schedule_runs", "Runs that ended, by outcome", labels=["name", "state"])
        for (name, state), count in sorted(self._runs.items()):
            runs.add_metric([name, state], count)
        lag = HistogramMetricFamily("gitbeat_schedule_lag_seconds", "From a run's due time to its start",
                                    labels=["name"])
        for name, counts in sorted(self._lags.items()):
            buckets = [(str(bound), counts[i]) for i, bound in enumerate(LAG_BUCKETS)]
            buckets.append(("+Inf", self._lag_counts[name]))
            lag.add_metric([name], buckets, counts[-1])
        yield from (runs, lag)

    def _revision(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("gitbeat_revision_info", "The revision applied", labels=["revision", "git_commit"])
        latest = self.store.history(1)
        if latest:
            info.add_metric([str(latest[0].id), latest[0].git_commit or ""], 1.0)
        yield info


class BeatMetrics:
    """What a beat process counts itself: whether it leads, runs it sent, failures of its database and broker."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.leader = Gauge("gitbeat_beat_leader", "1 while this beat leads", ["hostname"], registry=registry)
        self.fires = Counter("gitbeat_beat_fires", "Runs this beat sent", ["name", "queue"], registry=registry)
        self.database_failures = Counter("gitbeat_beat_database_failures", "Database errors this beat met",
                                         registry=registry)
        self.broker_failures = Counter("gitbeat_beat_broker_failures", "Broker errors this beat met",
                                       registry=registry)


class DeadLetterCollector(Collector):
    """The depth of each dead-letter queue, read from the broker (cached for a few seconds)."""

    def __init__(self, app: Any, queues: Any) -> None:
        self.app, self.queues = app, queues  # queues: () -> list of dead-letter queue names
        self._cache: tuple[float, dict[str, int]] = (0.0, {})

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("gitbeat_dead_letter_queue_depth", "Messages in the dead-letter queue",
                                  labels=["queue"])
        for name, count in sorted(self._depths().items()):
            depth.add_metric([name], count)
        yield depth

    def _depths(self) -> dict[str, int]:
        taken, depths = self._cache
        if time.monotonic() - taken < 5.0:
            return depths
        depths = {}
        try:
            with self.app.connection_for_read() as connection:
                channel = connection.default_channel
                for name in self.queues():
                    try:
                        depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                    except Exception:  # noqa: BLE001 - not declared yet: no depth to show
                        channel = connection.channel()
        except Exception:  # noqa: BLE001 - the broker is away: no figure rather than a failed scrape
            return depths
        self._cache = (time.monotonic(), depths)
        return depths


def registry_for(store: Store) -> CollectorRegistry:
    """A registry with the store's metrics (what `gitbeat serve` and beat serve at /metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
