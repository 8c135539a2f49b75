"""The worker's side of the run ledger: the gate before a scheduled run's handler, its outcome after it.

Only messages that beat (or an operator command) sent for a schedule carry the
`gitbeat_schedule` header and have a run in the ledger; others run as plain Celery
tasks. Each process (each pool child after fork) opens the store once, lazily.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from celery import Task, signals

from .errors import StoreError
from .sending import SCHEDULE_HEADER, SEND_HEADER
from .store import Store
from .store.runs import RunLedger

logger = logging.getLogger("gitbeat.task")

FINISH_RETRIES = (0.1, 0.5, 1.0)  # seconds between tries of writing a run's outcome
_ledgers: dict[tuple[int, str], RunLedger] = {}
_lock = threading.Lock()


def ledger_for(url: str) -> RunLedger:
    """This process's ledger for the store at `url` (never a connection shared across fork)."""
    key = (os.getpid(), url)
    with _lock:
        if key not in _ledgers:
            # The gate (start) on a durable store; outcomes on one whose commits do not wait for
            # the disk: a crash of the database may lose an outcome, never let a run in twice.
            # No liveness query before each statement: a dead connection is retried once instead.
            gate = Store(url, application_name="gitbeat worker", pre_ping=False, autocommit=True)
            outcomes = Store(url, application_name="gitbeat worker", pre_ping=False, durable=False, autocommit=True)
            _ledgers[key] = RunLedger(gate, outcomes if gate.dialect == "postgresql" else gate)
        return _ledgers[key]


class RunRecord:
    """One execution of a ledger run: `begin` before the handler, then one of the outcomes."""

    def __init__(self, task: Task, ledger: RunLedger) -> None:
        self.task, self.ledger = task, ledger
        request = task.request
        self.task_id: str = request.id
        self.retries: int = request.retries or 0
        self.attempt = f"{getattr(request, SEND_HEADER, None) or '-'}:{self.retries}"

    @classmethod
    def of(cls, task: Task) -> RunRecord | None:
        """The record of the run this task executes now, or None for a message that is no ledger run."""
        request = task.request
        if request.called_directly or not getattr(request, SCHEDULE_HEADER, None):
            return None
        url = getattr(task.app.conf, "gitbeat_database_url", None)
        return cls(task, ledger_for(url)) if url else None

    def begin(self) -> str | None:
        """None when this copy runs the run; else why it is a duplicate (and must not run)."""
        worker = f"{self.task.request.hostname or '-'}:{os.getpid()}"
        return self.ledger.start(self.task_id, self.attempt, self.retries, worker, datetime.now(UTC))

    def retrying(self, error: BaseException) -> None:
        self.ledger.retrying(self.task_id, self.retries + 1, type(error).__name__, _line(error))

    def succeeded(self) -> None:
        self._finish("succeeded")

    def failed(self, error: BaseException) -> None:
        state = "dead-lettered" if getattr(self.task, "gitbeat_dead_letter", None) else "failed"
        self._finish(state, type(error).__name__, _line(error))

    def _finish(self, state: str, error_type: str | None = None, error: str | None = None) -> None:
        """Record the outcome; the handler has run, so the store is given a few tries before the record is lost."""
        for delay in (*FINISH_RETRIES, None):
            try:
                self.ledger.finish(self.task_id, state, datetime.now(UTC), error_type=error_type, error=error)
                return
            except StoreError as problem:
                if delay is None:
                    logger.error("task %s[%s]: ran, but its outcome (%s) could not be recorded: %s",
                                 self.task.name, self.task_id, state, problem)
                    return
                time.sleep(delay)


def _line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _on_failure(sender: Task | None = None, task_id: str | None = None, exception: BaseException | None = None,
                **_: Any) -> None:
    """A failure the handler's own process could not record: a hard time limit, a rejected message."""
    if sender is None or task_id is None:
        return
    url = getattr(sender.app.conf, "gitbeat_database_url", None)
    if not url:
        return
    state = "dead-lettered" if getattr(sender, "gitbeat_dead_letter", None) else "failed"
    error = exception or RuntimeError("failed")
    try:
        ledger_for(url).finish(task_id, state, datetime.now(UTC), error_type=type(error).__name__, error=_line(error))
    except Exception as problem:  # noqa: BLE001 - the store is away: the run stays `started` in the ledger
        logger.warning("task %s[%s]: could not record its failure: %s", sender.name, task_id, problem)


def _on_revoked(request: Any = None, terminated: bool = False, expired: bool = False, **_: Any) -> None:
    """A run revoked or expired before it ran (or terminated while running)."""
    app = getattr(getattr(request, "task", None), "app", None)
    url = getattr(app.conf, "gitbeat_database_url", None) if app is not None else None
    task_id = getattr(request, "id", None)
    if not url or not task_id:
        return
    why = "expired before a worker took it" if expired else ("terminated" if terminated else "revoked")
    try:
        ledger_for(url).finish(task_id, "revoked", datetime.now(UTC), error=why)
    except Exception as problem:  # noqa: BLE001 - the store is away: the run stays queued in the ledger
        logger.warning("run %s: could not record that it was %s: %s", task_id, why, problem)


def record_outcomes() -> None:
    """Connect the signals that record what the task body cannot (call once per worker process)."""
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="gitbeat-run-failure")
    signals.task_revoked.connect(_on_revoked, weak=False, dispatch_uid="gitbeat-run-revoked")
