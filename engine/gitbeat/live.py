"""A running worker follows new revisions: task options, retry policies, routes and queues, no restart.

The worker's main process checks the store once a second from a consumer bootstep:
it sets the changed options on its tasks (time and rate limits take effect there),
resets rate limits, and starts or stops consuming queues. Each pool process checks
the same way, at most once a second, before it runs a task, so retry policies (which
run in the pool) follow too. Handler changes and new tasks need a restart (plan says
`restart`); a task in flight finishes under the options it started with.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from celery import Celery, bootsteps, signals

from .app import configure_task, declared_queues
from .applied import AppliedConfig
from .imports import Allowed

logger = logging.getLogger("gitbeat.worker")
CHECK_INTERVAL = 1.0


class LiveConfig:
    """The revision this process runs, and how to move it to a newer one."""

    def __init__(self, app: Celery, root: Path, database_url: str, revision: int | None, config: AppliedConfig):
        self.app, self.root, self.database_url = app, root, database_url
        self.revision, self.config = revision, config
        self._store: Any = None
        self._store_pid = 0
        self._next_check = 0.0

    def _latest(self) -> tuple[int | None, AppliedConfig | None]:
        from .store import Store
        from .store.beat import BeatStore

        if self._store is None or self._store_pid != os.getpid():  # never share a connection across fork
            self._store, self._store_pid = Store(self.database_url, readonly=True), os.getpid()
        latest = self._store.latest_revision()  # checked every second: read the whole config only when it moved
        if latest is None or latest == self.revision:
            return latest, None
        return BeatStore(self._store).revision_config()

    def refresh(self) -> AppliedConfig | None:
        """At most once a second: the previous config if a newer revision was applied (and now runs)."""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + CHECK_INTERVAL
        try:
            revision, config = self._latest()
        except Exception as error:  # noqa: BLE001 - the store is away: keep running what we have
            logger.warning("worker: cannot check for a new revision: %s", str(error).splitlines()[0])
            return None
        if revision is None or config is None or revision == self.revision:
            return None
        previous = self.config
        self.apply(config)
        self.revision, self.config = revision, config
        return previous

    def apply(self, config: AppliedConfig) -> None:
        """Set every live option of the new revision on the tasks this process runs (planner.effect says which)."""
        allowed = Allowed(self.root, config.project.imports)
        for name, spec in config.tasks.items():
            task = self.app.tasks.get(name)
            if task is None:
                continue  # a new task needs a restart: plan marks it so
            configure_task(task, spec, allowed)
        self.app.conf.task_routes = config.routes()
        self.app.conf.task_default_queue = config.default_queue
        self.app.conf.timezone = config.project.timezone


class RevisionWatcher(bootsteps.StartStopStep):
    """The worker's main process: new options on its tasks, rate limits reset, queues followed.

    A thread of its own, not the consumer's timer: without an event loop (the embedded
    broker) Celery's timer thread sleeps between its entries and would hold back ETA
    tasks, retries among them, by up to the check interval.
    """

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.stopping = threading.Event()

    def start(self, consumer: Any) -> None:
        self.stopping.clear()
        threading.Thread(target=self._watch, args=(consumer,), name="gitbeat-revisions", daemon=True).start()

    def stop(self, consumer: Any) -> None:
        self.stopping.set()

    def _watch(self, consumer: Any) -> None:
        while not self.stopping.wait(CHECK_INTERVAL):
            self.check(consumer)

    def check(self, consumer: Any) -> None:
        live: LiveConfig = consumer.app.gitbeat_live
        previous = live.refresh()
        if previous is None:
            return
        hub = getattr(consumer, "hub", None)
        if hub is not None:  # consumer state and channel work belong on the event loop's thread
            hub.call_soon(self._follow, consumer, previous, live.config)
        else:
            self._follow(consumer, previous, live.config)
        logger.info("worker: now running revision %s", live.revision)

    def _follow(self, consumer: Any, previous: AppliedConfig, current: AppliedConfig) -> None:
        consumer.reset_rate_limits()
        consumer.update_strategies()  # a task's request class holds the time limits it was started with
        self._follow_queues(consumer, previous, current)

    def _follow_queues(self, consumer: Any, previous: AppliedConfig, current: AppliedConfig) -> None:
        if consumer.app.gitbeat_fixed_queues:
            return  # -Q was given: the operator chose the queues
        queues = consumer.app.amqp.queues
        for queue in declared_queues(current):
            if queue.name not in queues:
                queues.add(queue)
        before, after = set(previous.consumed_queues()), set(current.consumed_queues())
        for name in sorted(after - before):
            consumer.add_task_queue(name)
        for name in sorted(before - after):
            consumer.cancel_task_queue(name)


def _before_task(sender: Any = None, **_: Any) -> None:
    live = getattr(getattr(sender, "app", None), "gitbeat_live", None)
    if live is not None:
        live.refresh()


def follow_revisions(app: Celery, root: Path, database_url: str, revision: int | None, config: AppliedConfig,
                     fixed_queues: bool) -> None:
    """Make a worker app follow revisions applied after it started."""
    app.gitbeat_live = LiveConfig(app, root, database_url, revision, config)
    app.gitbeat_fixed_queues = fixed_queues
    app.steps["consumer"].add(RevisionWatcher)
    signals.task_prerun.connect(_before_task, weak=False)
