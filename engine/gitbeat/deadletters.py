"""Dead-letter queues: read what failed for good, send it back, or drop it (`gitbeat dlq`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from kombu import Exchange, Message, Queue

from .applied import AppliedConfig
from .errors import GitbeatError


@dataclass(frozen=True)
class DeadLetter:
    """One task that failed for good: its payload, why, and how often it was retried."""

    id: str | None  # None, and task None: a message that is not a Celery task (no id/task headers)
    task: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None  # where it came from; replay sends it back there
    exception: str | None
    traceback: str | None
    retries: int
    failed_at: str | None


def resolve_queue(name: str, config: AppliedConfig) -> str:
    """QUEUE may name a queue with dead_letter (its DLQ is meant) or a dead-letter queue itself; nothing else."""
    target = config.dead_letter_of(name) or name
    known = config.dead_letter_queues()
    if target not in known:
        listed = ", ".join(sorted(known)) or "none: no queue sets dead_letter"
        raise GitbeatError(
            f"{name[:60]!r} is not a dead-letter queue; gitbeat dlq acts only on those of queues with "
            f"dead_letter ({listed})"
        )
    return target


@dataclass(frozen=True)
class Selection:
    """Which dead letters an action takes: by task id, by task name, at most `limit` (None: all)."""

    ids: frozenset[str] = frozenset()
    task: str | None = None
    limit: int | None = None

    @property
    def everything(self) -> bool:
        return not self.ids and self.task is None and self.limit is None

    def matches(self, letter: DeadLetter) -> bool:
        return (not self.ids or letter.id in self.ids) and (self.task is None or letter.task == self.task)


@contextmanager
def _messages(app: Celery, queue: str) -> Iterator[list[Message]]:
    """Every message now in `queue`, held unacknowledged; whatever the caller does not ack goes back."""
    with app.connection_for_write() as connection:
        channel = connection.channel()
        # Declared first: a virtual transport (Redis, SQLite) routes a requeued message by its binding.
        Queue(queue, Exchange(queue, "direct"), queue)(channel).declare()
        held: list[Message] = []
        try:
            while True:
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                held.append(channel.message_to_python(message))
            yield held
        finally:
            for message in held:
                if not message.acknowledged:
                    message.requeue()
            channel.close()


def _letter(app: Celery, message: Message) -> DeadLetter:
    headers = message.headers or {}
    try:
        body = message.decode()
    except Exception:  # noqa: BLE001 - a message that is no Celery task: listed as such
        body = None
    if not isinstance(body, (list, tuple, dict)) or ("gitbeat_exception" not in headers and "task" not in headers):
        return DeadLetter(
            id=headers.get("id"), task=None, args=[], kwargs={}, queue=None,
            exception=f"not a Celery task message ({message.content_type or 'no content type'})",
            traceback=None, retries=0, failed_at=None,
        )
    if "gitbeat_exception" in headers and not isinstance(body, dict):
        body = {}
    if "gitbeat_exception" in headers:  # published by GitbeatTask (Redis, the embedded broker)
        return DeadLetter(
            id=body["id"], task=body["task"], args=body.get("args", []), kwargs=body.get("kwargs", {}),
            queue=headers.get("gitbeat_queue"), exception=headers.get("gitbeat_exception"),
            traceback=headers.get("gitbeat_traceback"), retries=int(headers.get("gitbeat_retries") or 0),
            failed_at=headers.get("gitbeat_failed_at"),
        )
    # A task message that RabbitMQ dead-lettered: the result backend holds the exception.
    args, kwargs = (body[0], body[1]) if isinstance(body, (list, tuple)) else ([], {})
    deaths = headers.get("x-death") or [{}]
    result = app.AsyncResult(headers.get("id"))
    try:
        exception = f"{type(result.result).__name__}: {result.result}" if result.failed() else None
        traceback = result.traceback
    except Exception:  # noqa: BLE001 - no result backend: show the message anyway
        exception = traceback = None
    return DeadLetter(
        id=headers.get("id"), task=headers.get("task"), args=list(args), kwargs=dict(kwargs),
        queue=deaths[0].get("queue"), exception=exception, traceback=traceback,
        retries=int(headers.get("retries") or 0), failed_at=_iso(deaths[0].get("time")),
    )


def _iso(moment: Any) -> str | None:
    """x-death's time (a naive UTC datetime from py-amqp) as ISO 8601 with its offset, like the virtual brokers'."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    return str(moment) if moment else None


def list_letters(app: Celery, queue: str) -> list[DeadLetter]:
    with _messages(app, queue) as messages:
        return [_letter(app, message) for message in messages]


def replay(app: Celery, queue: str, selection: Selection = Selection()) -> int:
    """Send the selected dead letters back to their queue as fresh tasks (same id, retries from zero).

    A message without a task name cannot be sent as a task: it stays in the dead-letter queue.
    """
    sent = 0
    with _messages(app, queue) as messages:
        for message in messages:
            letter = _letter(app, message)
            if letter.task is None or not selection.matches(letter):
                continue  # not acked: it goes back to the queue
            if selection.limit is not None and sent >= selection.limit:
                break
            app.send_task(letter.task, args=letter.args, kwargs=letter.kwargs, task_id=letter.id, queue=letter.queue)
            message.ack()
            sent += 1
    return sent


def purge(app: Celery, queue: str, selection: Selection = Selection()) -> int:
    """Drop the selected dead letters (all of them: the queue is purged)."""
    if selection.everything:
        with app.connection_for_write() as connection:
            channel = connection.channel()
            try:
                return channel.queue_purge(queue) or 0
            finally:
                channel.close()
    dropped = 0
    with _messages(app, queue) as messages:
        for message in messages:
            if selection.limit is not None and dropped >= selection.limit:
                break
            if selection.matches(_letter(app, message)):
                message.ack()
                dropped += 1
    return dropped
