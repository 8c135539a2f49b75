"""The Celery beat Scheduler that fires from gitbeat's store (RedBeat's shape: Scheduler + Entry).

A heap of next fire times makes a tick with nothing due cost the same for 10 or
10,000 schedules. A new revision (NOTIFY on PostgreSQL, a polled revision id on
SQLite) reloads only the rows whose digest changed. Each batch of due times is
claimed, and its runs recorded in the ledger, in one transaction that commits just
before the due time; then the messages go out and the runs are marked sent. The
claim refuses a due time already claimed, so several beats never claim one twice;
a run claimed but not known to be sent (a crash, a broker or database outage at the
wrong moment) is sent again by the leader, and the worker runs it once whichever
copy arrives (store.runs). One beat leads; the others stand by and take over.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import beat

from .app import is_rabbitmq
from .applied import AppliedConfig
from .beatentry import Entry, internal_entry
from .collector import gc_paused
from .errors import StoreError
from .firing import plan_batch
from .sending import Outgoing, Sender, task_id
from .settings import database_url, load_settings
from .spec import ScheduleSpec
from .store import Store
from .store.beat import BeatStore, ScheduleRow
from .store.leadership import leadership_for
from .store.operate import Operations, Override

if TYPE_CHECKING:
    from .metrics import BeatMetrics
from .store.runs import SWEEP_AFTER, RunLedger
from .timing import to_fire

__all__ = ["Entry", "Scheduler", "task_id"]

logger = logging.getLogger("gitbeat.beat")

POLL_INTERVAL = 0.2  # seconds between revision checks: a change is used within 0.5 s
LEADER_CHECK_INTERVAL = 1.0  # standbys try the lock this often: takeover well within 5 s
HEARTBEAT_INTERVAL = 5.0
RESCAN_INTERVAL = 30.0  # also catch rows edited by hand, which send no notification
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)
# Claim a batch this long before it is due, build its messages, then publish them on time: 1,000 due at
# once take about 0.15 s to claim and build.
PREPARE = 0.2
SAME_INSTANT = 0.001  # send times this close form one batch
OUTBOX_INTERVAL = 1.0  # the leader looks for runs claimed but not known to be sent this often
TRIM_INTERVAL = 60.0  # the ledger is trimmed to each schedule's history this often, off the hot path
BACKEND_CLEANUP = "celery.backend_cleanup"  # Celery's own entry: expire results in a database result backend


@dataclass
class _State:
    revision: int | None = None
    config: AppliedConfig = field(default_factory=AppliedConfig)
    leader: bool = False
    database_failures: int = 0
    broker_failures: int = 0


class Scheduler(beat.Scheduler):
    """gitbeat's beat scheduler: `gitbeat beat`, or `celery beat -S gitbeat.scheduler:Scheduler`."""

    Entry: Any = Entry

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        root = Path(getattr(app.conf, "gitbeat_root", None) or ".")
        url = getattr(app.conf, "gitbeat_database_url", None) or database_url(load_settings(root), root)
        self.store = Store(url, application_name="gitbeat beat")
        self.beatstore = BeatStore(self.store)
        self.ledger = RunLedger(self.store)
        self.operations = Operations(self.store)
        self.paused: dict[str, Override] = {}
        self.metrics: BeatMetrics | None = None
        self._audit_seen = 0
        self.leadership = leadership_for(self.store)
        self.internal: dict[str, ScheduleSpec] = {}
        self.entries: dict[str, Entry] = {}
        self.heap: list[tuple[float, int, str, int]] = []
        self.state = _State()
        self.started_at = datetime.now(UTC)
        self._next_poll = self._next_leader_check = self._next_heartbeat = self._next_rescan = 0.0
        self._next_outbox = self._next_trim = 0.0
        self._retry_at = 0.0
        self._announced = False
        # On RabbitMQ a batch is published in one AMQP transaction: one round trip for all its
        # messages instead of a publisher confirm each (the two cannot share a channel).
        self.transactional = is_rabbitmq(app)
        if self.transactional:
            app.conf.broker_transport_options = {**app.conf.broker_transport_options, "confirm_publish": False}
        self.sender = Sender(app, transactional=self.transactional)
        super().__init__(app, *args, **kwargs)

    # --- Celery's Scheduler interface -----------------------------------------------

    def setup_schedule(self) -> None:
        self.store.ensure_schema()
        self._serve_metrics(getattr(self.app.conf, "gitbeat_metrics_port", None))
        try:
            self._check_leadership(time.monotonic())  # a new leader loads the schedule
        except StoreError as error:
            self._database_failed(error)
        gc.freeze()  # the loaded schedule lives as long as beat: keep it out of full collections

    def _serve_metrics(self, port: int | None) -> None:
        """Prometheus metrics on `port` (all interfaces, as exporters do): the store's and this beat's own."""
        if not port:
            return
        from prometheus_client import start_http_server

        from .metrics import BeatMetrics, DeadLetterCollector, registry_for

        registry = registry_for(self.store)
        self.metrics = BeatMetrics(registry)
        registry.register(DeadLetterCollector(self.app, lambda: sorted(self.state.config.dead_letter_queues())))
        start_http_server(port, registry=registry)
        logger.info("beat: metrics on port %d", port)

    @property
    def schedule(self) -> dict[str, Entry]:
        return self.entries

    @property
    def info(self) -> str:
        return f"    . db -> {self.store.describe()}\n    . schedules -> {len(self.entries)}"

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Send what is due; return how long beat may sleep. Nothing due: a clock read and a heap peek."""
        clock = time.monotonic()
        if clock >= self._next_poll:
            self._housekeeping(clock, self.leadership.notified())
        elif self.leadership.notified():
            self._housekeeping(clock, True)
        if not self.state.leader:
            return max(min(self._next_leader_check, self._next_poll) - time.monotonic(), 0.01)
        wall = time.time()
        if self.heap and self.heap[0][0] - PREPARE <= wall and clock >= self._retry_at:
            self._fire(max(self.heap[0][0], wall))
            wall = time.time()
        until_due = self.heap[0][0] - PREPARE - wall if self.heap else POLL_INTERVAL
        return max(min(until_due, self._next_poll - time.monotonic(), POLL_INTERVAL), 0.0)

    def sync(self) -> None:
        pass  # run state is written as each run is claimed

    def close(self) -> None:
        self.leadership.close()
        with contextlib.suppress(StoreError):
            self.beatstore.leave()
        self.store.engine.dispose()
        super().close()

    # --- loading --------------------------------------------------------------------

    def _load_all(self) -> None:
        # The load covers the audit so far and the next 30 s of rescans: the next poll reloads only
        # what changes after it, not every row again (read first: a pause meanwhile is reloaded).
        audit_seen = self.operations.latest_audit()
        revision, config = self.beatstore.revision_config()
        self.state.revision, self.state.config = revision, config or AppliedConfig()
        self.paused = self.operations.overrides(datetime.now(UTC))
        self.entries = {}
        with gc_paused():  # entries that live on, no cycles: at 100,000 the collector cost a fifth of the load
            for row in self.beatstore.rows():
                self._install(row)
        self._install_internal(datetime.now(UTC))
        self._rebuild_heap()
        self._audit_seen, self._next_rescan = audit_seen, time.monotonic() + RESCAN_INTERVAL
        logger.info("beat: loaded %d schedules (revision %s)", len(self.entries), revision)

    def _install(self, row: ScheduleRow) -> None:
        if not row.enabled or row.name in self.paused:
            self.entries.pop(row.name, None)
            return
        try:
            entry, spec = Entry.from_row(row)
        except ValueError as error:
            logger.error("beat: schedule %s cannot be read and is skipped: %s", row.name, str(error).splitlines()[0])
            self.entries.pop(row.name, None)
            return
        previous = self.entries.get(row.name)
        entry.version = previous.version + 1 if previous else 0
        entry.advance(spec)
        self.entries[row.name] = entry

    def _install_internal(self, now: datetime) -> None:
        self.internal = default_entries(self.app)
        for name, spec in self.internal.items():
            entry = internal_entry(name, spec, now)
            entry.advance(spec)
            self.entries[name] = entry

    def _rebuild_heap(self) -> None:
        self.heap = [(e.fire_at, i, e.name, e.version) for i, e in enumerate(self.entries.values()) if e.due]
        heapq.heapify(self.heap)

    def _push(self, entry: Entry) -> None:
        if entry.due is not None:
            heapq.heappush(self.heap, (entry.fire_at, id(entry), entry.name, entry.version))

    def _reload_changed(self) -> int:
        """Install the rows whose digest, enabled flag or pause changed; drop the ones gone."""
        revision, config = self.beatstore.revision_config()
        self.state.revision, self.state.config = revision, config or AppliedConfig()
        paused = self.operations.overrides(datetime.now(UTC))
        flipped = set(paused) ^ set(self.paused)
        for name in sorted(flipped):
            logger.info("beat: %s %s", name, paused[name].describe() if name in paused else "resumed")
        self.paused = paused
        stored = self.beatstore.digests()
        changed = [
            name
            for name, (digest, enabled) in stored.items()
            if (enabled and name not in paused and (name not in self.entries or self.entries[name].digest != digest))
            or ((not enabled or name in paused) and name in self.entries)
            or name in flipped
        ]
        for name in set(self.entries) - set(stored) - set(self.internal):
            del self.entries[name]
        for row in self.beatstore.rows(changed) if changed else []:
            self._install(row)
            if row.name in self.entries:
                self._push(self.entries[row.name])
        if len(self.heap) > 2 * len(self.entries) + 64:
            self._rebuild_heap()  # drop stale heap items left by reloads
        return len(changed)

    # --- housekeeping: revisions, leadership, heartbeat ------------------------------

    def _housekeeping(self, clock: float, notified: bool) -> None:
        self._next_poll = clock + POLL_INTERVAL
        try:
            if clock >= self._next_leader_check:
                self._check_leadership(clock)
            polled = None if notified else self._polled_changes(clock)
            changed = notified or (polled is not None and polled != (self.state.revision, self._audit_seen))
            if polled is not None:
                self._audit_seen = polled[1]
            if self.state.leader and self._pause_ends(datetime.now(UTC)):
                changed = True
            if self.state.leader and (changed or clock >= self._next_rescan):  # a standby loads on taking the lead
                self._next_rescan = clock + RESCAN_INTERVAL
                reloaded = self._reload_changed()
                if reloaded:
                    logger.info("beat: revision %s: %d schedule(s) changed", self.state.revision, reloaded)
            if self.state.leader and clock >= self._next_outbox and clock >= self._retry_at:
                self._next_outbox = clock + OUTBOX_INTERVAL
                self._send_outbox()
            if self.state.leader and clock >= self._next_trim:
                self._next_trim = clock + TRIM_INTERVAL
                trimmed = self.ledger.trim(self.state.config.project.history_limit)
                if trimmed:
                    logger.info("beat: trimmed %d run(s) beyond each schedule's history", trimmed)
            if clock >= self._next_heartbeat:
                self._next_heartbeat = clock + HEARTBEAT_INTERVAL
                role = "leader" if self.state.leader else "standby"
                self.beatstore.heartbeat(role, self.started_at, datetime.now(UTC))
            if self.state.database_failures:
                logger.info("beat: database reachable again")
                self.state.database_failures = 0
        except (StoreError, OSError) as error:
            self._database_failed(error)

    def _polled_changes(self, clock: float) -> tuple[int | None, int] | None:
        """The latest revision and audit entry (a pause or resume), where no NOTIFY tells of them."""
        if self.store.dialect == "postgresql" and getattr(self.leadership, "connection", None) is not None:
            return None  # NOTIFY tells us; the rescan is the safety net
        return self.beatstore.latest_revision(), self.operations.latest_audit()

    def _pause_ends(self, now: datetime) -> bool:
        """End the pauses whose time is up (the leader does it for every beat); True when one ended."""
        if not any(o.until is not None and o.until <= now for o in self.paused.values()):
            return False
        for name in self.operations.expire(now):
            logger.info("beat: %s: its pause expired; it runs again", name)
        return True

    def _check_leadership(self, clock: float) -> None:
        self._next_leader_check = clock + LEADER_CHECK_INTERVAL
        was_leader = self.state.leader
        try:
            self.state.leader = self.leadership.acquire()
        except StoreError:  # the lock connection is gone: lead no more until it is back
            self.state.leader = False
            raise
        if self.state.leader and not was_leader:
            logger.info("beat: %s leads; reloading the run state", self.beatstore.process_id)
            try:
                self._load_all()  # another leader may have fired since we loaded
            except BaseException:
                # Not loaded, so not leading: entries from before are stale and must never fire. The
                # next check finds the lock held and loads again.
                self.state.leader = False
                raise
            self._next_heartbeat = 0.0
        elif was_leader and not self.state.leader:
            logger.warning("beat: %s lost the lead; standing by", self.beatstore.process_id)
        elif not self.state.leader and not self._announced:
            logger.info("beat: %s stands by; another beat leads", self.beatstore.process_id)
        self._announced = True
        if self.metrics is not None:
            self.metrics.leader.labels(self.beatstore.process_id).set(1 if self.state.leader else 0)

    def _database_failed(self, error: BaseException) -> None:
        delay = RETRY_DELAYS[min(self.state.database_failures, len(RETRY_DELAYS) - 1)]
        self.state.database_failures += 1
        if self.metrics is not None:
            self.metrics.database_failures.inc()
        self._retry_at = time.monotonic() + delay
        self._next_poll = self._retry_at
        logger.error("beat: database unavailable (%s); retrying in %gs", str(error).strip().splitlines()[0], delay)

    # --- firing ---------------------------------------------------------------------

    def _fire(self, moment: float) -> None:
        """Send every entry due by `moment` (now, or an instant at most PREPARE ahead) as one claimed batch.

        The claim is committed as soon as the batch is known and the messages go out at
        `moment`: the database round trips are done before the due time, not after it.
        """
        now = datetime.fromtimestamp(moment, UTC)
        due: list[tuple[Entry, ScheduleSpec, list[datetime]]] = []
        while self.heap and self.heap[0][0] <= moment + SAME_INSTANT:
            _, _, name, version = heapq.heappop(self.heap)
            entry = self.entries.get(name)
            if entry is None or entry.version != version:
                continue
            spec = entry.spec
            due.append((entry, spec, to_fire(spec, entry.after, now, entry.anchor)))
        if not due:
            return
        try:
            overlapping = [entry.name for entry, spec, dues in due if dues and spec.overlap == "skip"]
            batch = plan_batch(due, self.ledger.last_runs(overlapping), self.state.config, now, set(self.internal))
            won, recorded = self.beatstore.claim(batch.claims, batch.runs, self.state.revision, now)
        except StoreError as error:  # nothing was claimed: the same due times fire when the database is back
            for entry, _, _ in due:
                self._push(entry)
            self._database_failed(error)
            return
        for entry, spec, dues in due:
            if entry.name in won or entry.name in self.internal:
                entry.after = max(now, dues[-1]) if dues else now
                if dues:
                    entry.last_task_id = task_id(entry.name, dues[-1])
            else:
                entry.after = now  # another beat claimed it: that beat leads now
            entry.advance(spec)
            self._push(entry)
        for name, skipped_due, why in batch.skipped:
            if task_id(name, skipped_due) in recorded:
                logger.info("beat: %s skipped its run due %s: %s", name, skipped_due.isoformat(), why)
        self._send([run for run_id, run in batch.outgoing.items() if run_id in recorded], at=moment)

    def _send(self, runs: list[Outgoing], *, at: float = 0.0, again: bool = False) -> None:
        """Send claimed runs (built now, published at `at`) and mark them sent; what fails stays in the outbox and
        is sent again later."""
        if not runs:
            return
        try:
            prepared = self.sender.prepare(runs, self.state.config, self.state.revision)
            early = at - time.time()
            if early > 0:
                time.sleep(early)  # claimed and built ahead: published on the dot
            self.sender.publish(prepared)
        except Exception as error:  # noqa: BLE001 - kombu, py-amqp, redis or a socket: one line, then retry
            self._send_failed(error, len(runs))
            return
        if self.state.broker_failures:
            logger.info("beat: broker reachable again")
            self.state.broker_failures = 0
        _log_sent(runs, again)
        if self.metrics is not None:
            for run in runs:
                self.metrics.fires.labels(run.schedule, self.state.config.schedule_queue(run.spec)).inc()
        try:
            self.ledger.mark_sent([run.task_id for run in runs], datetime.now(UTC))
        except StoreError as error:  # they are in the broker: a copy sent again is dropped by the worker
            logger.warning("beat: could not mark %d run(s) sent (%s); they will be sent again", len(runs), error)

    def _send_outbox(self) -> None:
        """Send again the runs claimed a while ago but never known to be sent (by any beat)."""
        now = datetime.now(UTC)
        unsent = self.ledger.unsent(now - SWEEP_AFTER)
        runs: list[Outgoing] = []
        for run in unsent:
            entry = self.entries.get(run.schedule)
            if entry is None:  # removed or disabled since it was claimed: it will not run
                self.ledger.finish(run.task_id, "revoked", now, error="the schedule was removed or disabled before "
                                   "its run was sent")
                continue
            runs.append(Outgoing(run.task_id, run.schedule, run.due_at, run.trigger, entry.spec))
        self._send(runs, again=True)

    def _send_failed(self, error: BaseException, count: int) -> None:
        delay = RETRY_DELAYS[min(self.state.broker_failures, len(RETRY_DELAYS) - 1)]
        self.state.broker_failures += 1
        if self.metrics is not None:
            self.metrics.broker_failures.inc()
        self._retry_at = time.monotonic() + delay
        self._next_outbox = self._retry_at
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.error("beat: could not send %d run(s) to the broker (%s); they stay claimed and are sent when "
                     "it is back; retrying in %gs", count, text, delay)


def default_entries(app: Any) -> dict[str, ScheduleSpec]:
    """Celery's default entry `celery.backend_cleanup` (daily at 04:00 UTC, as Celery's own beat), when results
    expire and the result backend does not expire them itself (a database one)."""
    if not app.conf.result_expires or _expires_results_itself(app):
        return {}
    spec = {"task": BACKEND_CLEANUP, "cron": "0 4 * * *", "timezone": "UTC", "catchup": "skip"}
    return {BACKEND_CLEANUP: ScheduleSpec.model_validate(spec)}


def _expires_results_itself(app: Any) -> bool:
    # A db+ URL is Celery's DatabaseBackend, which does not: known without importing it (its ORM
    # models cost beat's start-up a tenth of a second, and nothing else in beat needs them).
    if str(app.conf.result_backend or "").startswith("db+"):
        return False
    return bool(getattr(app.backend, "supports_autoexpire", True))


def _log_sent(runs: list[Outgoing], again: bool) -> None:
    shown = ", ".join(f"{run.schedule} ({run.due_at.astimezone(UTC):%H:%M:%S})" for run in runs[:5])
    more = f" and {len(runs) - 5} more" if len(runs) > 5 else ""
    logger.info("beat: %s %d run(s): %s%s", "sent again" if again else "sent", len(runs), shown, more)
