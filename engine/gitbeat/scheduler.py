"""The Celery beat Scheduler that fires from gitbeat's store (RedBeat's shape: Scheduler + Entry).

A heap of next fire times makes a tick with nothing due cost the same for 10 or
10,000 schedules. A new revision (NOTIFY on PostgreSQL, a polled revision id on
SQLite) reloads only the rows whose digest changed. Each batch of due times is
claimed and its run state written in one transaction that commits only after the
messages were sent; the claim refuses a due time already claimed, so several beats
never send one twice. One beat leads; the others stand by and take over.
"""

from __future__ import annotations

import gc
import heapq
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import beat

from .app import is_rabbitmq
from .applied import AppliedConfig
from .errors import StoreError
from .settings import database_url, load_settings
from .spec import ScheduleSpec
from .store import Store
from .store.beat import BeatStore, Claim, ScheduleRow
from .store.leadership import leadership_for
from .timing import next_fire, to_fire

logger = logging.getLogger("gitbeat.beat")

TASK_ID_NAMESPACE = uuid.UUID("6f1c3f1e-2c55-4d2b-9a47-7a1f0f6b9e21")
POLL_INTERVAL = 0.2  # seconds between revision checks: a change is used within 0.5 s
LEADER_CHECK_INTERVAL = 1.0  # standbys try the lock this often: takeover well within 5 s
HEARTBEAT_INTERVAL = 5.0
RESCAN_INTERVAL = 30.0  # also catch rows edited by hand, which send no notification
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)
PREPARE = 0.05  # claim a batch this long before it is due, then send it on time
SAME_INSTANT = 0.001  # send times this close form one batch


def task_id(schedule: str, due: datetime) -> str:
    """The same id for the same (schedule, due time), on every beat: a duplicate is visible."""
    return str(uuid.uuid5(TASK_ID_NAMESPACE, f"{schedule}|{due.astimezone(UTC).isoformat()}"))


@dataclass
class Entry:
    """One schedule as beat holds it: its spec as stored, its cursor and its place in the heap.

    The spec is kept as its JSON text and parsed when the entry fires: 10,000 parsed
    specs would hold ~30 MB that a waiting beat does not need.
    """

    name: str
    text: str
    digest: str
    anchor: datetime
    after: datetime  # due times up to here are handled
    last_task_id: str | None
    version: int = 0
    due: datetime | None = None  # the next due time
    fire_at: float = 0.0  # when to send it: due plus this due's jitter

    @property
    def spec(self) -> ScheduleSpec:
        return ScheduleSpec.model_validate_json(self.text)

    @classmethod
    def from_row(cls, row: ScheduleRow) -> tuple[Entry, ScheduleSpec]:
        spec = ScheduleSpec.model_validate_json(row.spec)  # a row that does not parse is refused here
        anchor = row.anchor_at or row.created_at
        return cls(row.name, row.spec, row.digest, anchor, row.last_due_at or anchor, row.last_task_id), spec

    def advance(self, spec: ScheduleSpec) -> None:
        """Compute the next due time after the cursor and when to send it."""
        self.due = next_fire(spec, spec.timezone or "UTC", self.after, self.anchor)
        if self.due is None:
            return
        offset = 0.0
        if spec.jitter:
            # Seeded by the due time: every beat, and a restart, picks the same delay.
            offset = random.Random(task_id(self.name, self.due)).uniform(0, spec.jitter)
            following = next_fire(spec, spec.timezone or "UTC", self.due, self.anchor)
            if following is not None:  # never past the next run
                offset = min(offset, max((following - self.due).total_seconds() - 0.001, 0.0))
        self.fire_at = self.due.timestamp() + offset


@dataclass
class _State:
    revision: int | None = None
    config: AppliedConfig = field(default_factory=AppliedConfig)
    leader: bool = False
    database_failures: int = 0
    broker_failures: int = 0


class Scheduler(beat.Scheduler):
    """gitbeat's beat scheduler: `gitbeat beat`, or `celery beat -S gitbeat.scheduler:Scheduler`."""

    Entry = Entry

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        root = Path(getattr(app.conf, "gitbeat_root", None) or ".")
        url = getattr(app.conf, "gitbeat_database_url", None) or database_url(load_settings(root), root)
        self.store = Store(url)
        self.beatstore = BeatStore(self.store)
        self.leadership = leadership_for(self.store)
        self.entries: dict[str, Entry] = {}
        self.heap: list[tuple[float, int, str, int]] = []
        self.state = _State()
        self.started_at = datetime.now(UTC)
        self._next_poll = self._next_leader_check = self._next_heartbeat = self._next_rescan = 0.0
        self._retry_at = 0.0
        # On RabbitMQ a batch is published in one AMQP transaction: one round trip for all its
        # messages instead of a publisher confirm each (the two cannot share a channel).
        self.transactional = is_rabbitmq(app)
        if self.transactional:
            app.conf.broker_transport_options = {**app.conf.broker_transport_options, "confirm_publish": False}
        super().__init__(app, *args, **kwargs)

    # --- Celery's Scheduler interface -----------------------------------------------

    def setup_schedule(self) -> None:
        self.store.ensure_schema()
        try:
            self._check_leadership(time.monotonic())  # a new leader loads the schedule
        except StoreError as error:
            self._database_failed(error)
        gc.freeze()  # the loaded schedule lives as long as beat: keep it out of full collections

    @property
    def schedule(self) -> dict[str, Entry]:  # type: ignore[override]
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
        try:
            self.beatstore.leave()
        except StoreError:
            pass
        self.store.engine.dispose()
        super().close()

    # --- loading --------------------------------------------------------------------

    def _load_all(self) -> None:
        revision, config = self.beatstore.revision_config()
        self.state.revision, self.state.config = revision, config or AppliedConfig()
        self.entries = {}
        for row in self.beatstore.rows():
            self._install(row)
        self._rebuild_heap()
        logger.info("beat: loaded %d schedules (revision %s)", len(self.entries), revision)

    def _install(self, row: ScheduleRow) -> None:
        if not row.enabled:
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

    def _rebuild_heap(self) -> None:
        self.heap = [(e.fire_at, i, e.name, e.version) for i, e in enumerate(self.entries.values()) if e.due]
        heapq.heapify(self.heap)

    def _push(self, entry: Entry) -> None:
        if entry.due is not None:
            heapq.heappush(self.heap, (entry.fire_at, id(entry), entry.name, entry.version))

    def _reload_changed(self) -> int:
        """Install the rows whose digest or enabled flag changed; drop the ones gone."""
        revision, config = self.beatstore.revision_config()
        self.state.revision, self.state.config = revision, config or AppliedConfig()
        stored = self.beatstore.digests()
        changed = [
            name
            for name, (digest, enabled) in stored.items()
            if (enabled and (name not in self.entries or self.entries[name].digest != digest))
            or (not enabled and name in self.entries)
        ]
        for name in set(self.entries) - set(stored):
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
            revision = None if notified else self._polled_revision(clock)
            changed = notified or (revision is not None and revision != self.state.revision)
            if self.state.leader and (changed or clock >= self._next_rescan):  # a standby loads on taking the lead
                self._next_rescan = clock + RESCAN_INTERVAL
                changed = self._reload_changed()
                if changed:
                    logger.info("beat: revision %s: %d schedule(s) changed", self.state.revision, changed)
            if clock >= self._next_heartbeat:
                self._next_heartbeat = clock + HEARTBEAT_INTERVAL
                role = "leader" if self.state.leader else "standby"
                self.beatstore.heartbeat(role, self.started_at, datetime.now(UTC))
            if self.state.database_failures:
                logger.info("beat: database reachable again")
                self.state.database_failures = 0
        except (StoreError, OSError) as error:
            self._database_failed(error)

    def _polled_revision(self, clock: float) -> int | None:
        if self.store.dialect == "postgresql" and self.leadership.connection is not None:
            return None  # NOTIFY tells us; the rescan is the safety net
        return self.beatstore.latest_revision()

    def _check_leadership(self, clock: float) -> None:
        self._next_leader_check = clock + LEADER_CHECK_INTERVAL
        was_leader = self.state.leader
        try:
            self.state.leader = self.leadership.acquire()
        except Exception as error:  # the lock connection is gone: lead no more until it is back
            self.state.leader = False
            raise StoreError(f"lost the leadership connection: {str(error).strip().splitlines()[0]}") from None
        if self.state.leader and not was_leader:
            logger.info("beat: %s leads; reloading the run state", self.beatstore.process_id)
            self._load_all()  # another leader may have fired since we loaded
            self._next_heartbeat = 0.0
        elif was_leader and not self.state.leader:
            logger.warning("beat: %s lost the lead; standing by", self.beatstore.process_id)

    def _database_failed(self, error: BaseException) -> None:
        delay = RETRY_DELAYS[min(self.state.database_failures, len(RETRY_DELAYS) - 1)]
        self.state.database_failures += 1
        self._retry_at = time.monotonic() + delay
        self._next_poll = self._retry_at
        logger.error("beat: database unavailable (%s); retrying in %gs", str(error).strip().splitlines()[0], delay)

    # --- firing ---------------------------------------------------------------------

    def _fire(self, moment: float) -> None:
        """Send every entry due by `moment` (now, or an instant at most PREPARE ahead) as one claimed batch.

        The claim is made as soon as the batch is known and the messages go out at `moment`:
        the database round trips are done before the due time, not after it.
        """
        now = datetime.fromtimestamp(moment, UTC)
        batch: list[tuple[Entry, ScheduleSpec, list[datetime]]] = []
        while self.heap and self.heap[0][0] <= moment + SAME_INSTANT:
            _, _, name, version = heapq.heappop(self.heap)
            entry = self.entries.get(name)
            if entry is None or entry.version != version:
                continue
            spec = entry.spec
            dues = to_fire(spec, entry.after, now, entry.anchor)
            if dues and spec.overlap == "skip" and self._still_running(entry, spec):
                logger.info("beat: %s skipped %s: its last run %s is still queued or running",
                            name, dues[-1].isoformat(), entry.last_task_id)
                dues = []
            batch.append((entry, spec, dues))
        if not batch:
            return
        claims = [
            Claim(
                name=entry.name,
                first_due=dues[0] if dues else now,
                last_due=dues[-1] if dues else now,
                count=len(dues),
                task_id=task_id(entry.name, dues[-1]) if dues else None,
                cursor=max(now, dues[-1]) if dues else now,
                next_due=next_fire(spec, spec.timezone or "UTC", now, entry.anchor),
            )
            for entry, spec, dues in batch
        ]
        try:
            with self.beatstore.claiming(claims) as won:
                early = moment - time.time()
                if early > 0:
                    time.sleep(early)  # claimed ahead: send on the dot
                sent = self._publish([(e, s, d) for e, s, d in batch if e.name in won and d])
        except Exception as error:  # noqa: BLE001 - the broker or the database; nothing was recorded
            for entry, _, _ in batch:
                self._push(entry)
            self._database_failed(error) if isinstance(error, StoreError) else self._send_failed(error)
            return
        for entry, spec, dues in batch:
            if entry.name in won:
                entry.after = max(now, dues[-1]) if dues else now
                if dues:
                    entry.last_task_id = task_id(entry.name, dues[-1])
            else:
                entry.after = now  # another beat claimed it: that beat leads now
            entry.advance(spec)
            self._push(entry)
        if sent:
            logger.info("beat: sent %d task(s)", sent)
        if self.state.broker_failures:
            logger.info("beat: broker reachable again")
            self.state.broker_failures = 0

    def _publish(self, batch: list[tuple[Entry, ScheduleSpec, list[datetime]]]) -> int:
        sent = 0
        with self.app.producer_or_acquire() as producer:
            channel = producer.channel if self.transactional else None
            if channel is not None and not getattr(channel, "gitbeat_tx", False):
                channel.tx_select()  # once per channel: a channel stays transactional
                channel.gitbeat_tx = True
            for entry, spec, dues in batch:
                options = self.state.config.schedule_options(spec)
                for due in dues:
                    self.app.send_task(
                        spec.task,
                        args=list(spec.args),
                        kwargs=dict(spec.kwargs),
                        task_id=task_id(entry.name, due),
                        producer=producer,
                        headers={
                            "gitbeat_schedule": entry.name,
                            "gitbeat_due": due.astimezone(UTC).isoformat(),
                            "gitbeat_revision": self.state.revision,
                        },
                        **options,
                    )
                    sent += 1
            if channel is not None:
                channel.tx_commit()  # returns once RabbitMQ holds every message of the batch
        return sent

    def _send_failed(self, error: BaseException) -> None:
        delay = RETRY_DELAYS[min(self.state.broker_failures, len(RETRY_DELAYS) - 1)]
        self.state.broker_failures += 1
        self._retry_at = time.monotonic() + delay
        logger.error("beat: could not send to the broker (%s); nothing was recorded; retrying in %gs",
                     str(error).strip().splitlines()[0] if str(error) else type(error).__name__, delay)

    def _still_running(self, entry: Entry, spec: ScheduleSpec) -> bool:
        """overlap: skip — is the last run queued or running? (PENDING counts for as long as it may wait)."""
        if not entry.last_task_id:
            return False
        try:
            state = self.app.AsyncResult(entry.last_task_id).state
        except Exception:  # noqa: BLE001 - no result backend answer: do not block the schedule
            return False
        if state in ("STARTED", "RETRY", "RECEIVED"):
            return True
        if state != "PENDING":
            return False
        limit = self.state.config.schedule_options(spec).get("expires")
        queued_for = (datetime.now(UTC) - entry.after).total_seconds()
        return queued_for < (limit or 3600)
