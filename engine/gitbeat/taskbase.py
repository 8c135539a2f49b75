"""The base class of gitbeat's tasks: retries as declared, one log line per failure, dead letters.

A task on a queue with `dead_letter` that fails for good goes to its dead-letter queue:
on RabbitMQ natively (the message is rejected without requeue and the queue's DLX
routes it; the result backend keeps the exception and traceback), on Redis and the
embedded broker by publishing a dead-letter message that carries them.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import traceback as tb
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, Retry
from kombu import Exchange, Queue

from .errors import StoreError
from .runrecord import RunRecord
from .spec import RetrySpec

logger = logging.getLogger("gitbeat.task")


Policy = tuple[RetrySpec, tuple[type[BaseException], ...]]
_CONTROL = (Retry, Ignore, Reject)
REQUEUE_DELAY = 1.0  # seconds before a message goes back when the ledger is away: no hot loop


def _call(task: Task, handler: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run `handler` once per run, retrying as the task's `gitbeat_policy` says (read now: revisions change it).

    A scheduled run is first moved to `started` in the ledger; a copy of a run that
    already ran, or runs elsewhere, is acknowledged and dropped (Ignore) without
    calling the handler.
    """
    record = RunRecord.of(task)
    if record is not None:
        try:
            duplicate = record.begin()
        except StoreError as error:
            if not task.acks_late:  # the message is acknowledged already: putting it back is impossible
                logger.warning("task %s[%s]: the run ledger cannot be reached (%s); running it unrecorded",
                               task.name, record.task_id, error)
                return handler(*args, **kwargs)
            # Whether another copy runs it cannot be told: the message goes back, and comes again.
            logger.warning("task %s[%s]: the run ledger cannot be reached (%s); the message goes back to its queue",
                           task.name, record.task_id, error)
            time.sleep(REQUEUE_DELAY)
            raise Reject(str(error), requeue=True) from None
        if duplicate is not None:
            logger.info("task %s[%s]: dropped a copy of its message: %s", task.name, record.task_id, duplicate)
            raise Ignore()
    policy: Policy | None = getattr(task, "gitbeat_policy", None)
    try:
        result = handler(*args, **kwargs)
    except _CONTROL:
        raise  # the body asked Celery to retry, ignore or reject: not an outcome of the run
    except Exception as error:
        if policy is not None and isinstance(error, policy[1]) and not task.request.called_directly:
            retry = policy[0]
            if task.request.retries < retry.max_retries:
                if record is not None:
                    try:
                        record.retrying(error)  # before the retry is sent: its message must find the run waiting
                    except StoreError as problem:  # the attempt runs again from its redelivered message
                        time.sleep(REQUEUE_DELAY)
                        raise Reject(str(problem), requeue=True) from None
                raise task.retry(exc=error, countdown=retry.countdown(task.request.retries),
                                 max_retries=retry.max_retries) from None
        if record is not None:
            record.failed(error)
        raise
    if record is not None:
        record.succeeded()
    return result


def retrying(handler: Callable[..., Any]) -> Any:
    """`handler` as a bound task body that retries as the task's `gitbeat_policy` says.

    A wrapper around the body, as Celery's own autoretry, rather than an override of
    Task.__call__ (that makes Celery build a second request context per task).
    """

    @functools.wraps(handler)
    def run(task: Task, *args: Any, **kwargs: Any) -> Any:
        return _call(task, handler, args, kwargs)

    # Celery checks a call's arguments against the body's signature: keep the handler's.
    signature = inspect.signature(handler)
    bound = inspect.Parameter("task", inspect.Parameter.POSITIONAL_ONLY)
    run.__signature__ = signature.replace(parameters=[bound, *signature.parameters.values()])  # type: ignore[attr-defined]
    return run


def adopt(task: Task) -> None:
    """Give a task the code registers (no `handler` in the YAML) the same retry wrapper, once.

    As Celery's own autoretry does, the body is replaced on the instance; the policy
    is then set and changed through `gitbeat_policy` like a GitbeatTask's.
    """
    if "gitbeat_original_run" in vars(task):
        return
    original = task.run

    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        return _call(task, original, args, kwargs)

    task.gitbeat_original_run = original
    task.run = run


class GitbeatTask(Task):
    """A task declared in gitbeat's YAML."""

    gitbeat_policy: Policy | None = None
    gitbeat_dead_letter: str | None = None  # the dead-letter queue, if the task's queue has one
    gitbeat_native_dead_letter: bool = False  # RabbitMQ's DLX does the work
    gitbeat_queue: str | None = None

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        request = self.request
        schedule = getattr(request, "gitbeat_schedule", None)
        revision = getattr(request, "gitbeat_revision", None)
        logger.error(
            "task %s[%s] failed for good after %d retries (schedule %s, revision %s): %s: %s",
            self.name, task_id, request.retries or 0, schedule or "-", revision if revision is not None else "-",
            type(exc).__name__, exc,
        )
        if self.gitbeat_dead_letter and not self.gitbeat_native_dead_letter:
            self._publish_dead_letter(exc, task_id, args, kwargs, einfo)

    def _publish_dead_letter(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        assert self.gitbeat_dead_letter is not None
        name = self.gitbeat_dead_letter
        queue = Queue(name, Exchange(name, "direct"), name)
        body = {"task": self.name, "id": task_id, "args": list(args or ()), "kwargs": dict(kwargs or {})}
        headers = {
            "gitbeat_exception": f"{type(exc).__name__}: {exc}",
            "gitbeat_traceback": str(einfo.traceback) if einfo else "".join(tb.format_exception(exc)),
            "gitbeat_retries": self.request.retries or 0,
            "gitbeat_queue": self.gitbeat_queue,
            "gitbeat_failed_at": datetime.now(UTC).isoformat(),
            "gitbeat_schedule": getattr(self.request, "gitbeat_schedule", None),
        }
        with self.app.producer_or_acquire() as producer:
            producer.publish(
                body, exchange=queue.exchange, routing_key=name, declare=[queue], serializer="json",
                headers=headers, delivery_mode=2, retry=True,
            )


class FailureLogFilter(logging.Filter):
    """Drop Celery's own failure line for gitbeat tasks: GitbeatTask.on_failure logs it, once, with more."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        return not (isinstance(data, dict) and data.get("name") in self.names and record.levelno >= logging.ERROR)
