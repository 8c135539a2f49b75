"""Sending runs of a schedule to the broker, routed exactly as the config says.

Beat, the outbox and the operator commands send through here. Each run has the task
id `uuid5(schedule|due time)`, so every beat (and a repeated backfill) names a due
time's run the same; each copy of a message carries a send id of its own, so the
worker can tell a redelivered copy (its worker died) from a duplicate one. On
RabbitMQ a batch is one AMQP transaction: in the broker when it commits, one round
trip for 1 or 1,000 messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from .applied import AppliedConfig
from .spec import ScheduleSpec

TASK_ID_NAMESPACE = uuid.UUID("6f1c3f1e-2c55-4d2b-9a47-7a1f0f6b9e21")

# Message headers: the worker reads them to find the run in the ledger.
SCHEDULE_HEADER = "gitbeat_schedule"
DUE_HEADER = "gitbeat_due"
REVISION_HEADER = "gitbeat_revision"
SEND_HEADER = "gitbeat_send"
TRIGGER_HEADER = "gitbeat_trigger"


def task_id(schedule: str, due: datetime) -> str:
    """The same id for the same (schedule, due time), on every beat: a duplicate is visible."""
    return str(uuid.uuid5(TASK_ID_NAMESPACE, f"{schedule}|{due.astimezone(UTC).isoformat()}"))


@dataclass(frozen=True)
class Outgoing:
    """One run to send: which schedule, which due time, the spec that says how."""

    task_id: str
    schedule: str
    due_at: datetime
    trigger: str
    spec: ScheduleSpec


@dataclass(frozen=True)
class Prepared:
    """A run's Celery message, built: publishing it is all that is left (at its due time)."""

    task: str
    message: Any  # celery.app.amqp.task_message: headers, properties, body, sent event
    options: dict[str, Any]  # where it goes: send_task_message's routing options


class Sender:
    """Publishes runs with the app's producer pool; `transactional` (RabbitMQ) makes a batch one AMQP transaction.

    A run's message is built as `send_task` builds it (routed by the app's router, the same
    headers, properties and body), ahead of its due time, and only published then: at 1,000
    runs due at once, `send_task`'s own work per message was most of the time from the due
    time to the last one published. Nothing waits for a result, so no result is set up for
    one (`send_task` made the result backend for each message's AsyncResult).
    """

    def __init__(self, app: Celery, *, transactional: bool) -> None:
        self.app = app
        self.transactional = transactional

    def prepare(self, runs: list[Outgoing], config: AppliedConfig, revision: int | None) -> list[Prepared]:
        amqp, oid, sent_event = self.app.amqp, self.app.thread_oid, self.app.conf.task_send_sent_event
        prepared = []
        for run in runs:
            options = config.schedule_options(run.spec)
            expires = options.pop("expires", None)
            args, kwargs = list(run.spec.args), dict(run.spec.kwargs)
            options = amqp.router.route(options, run.spec.task, args, kwargs)
            if expires is not None:
                options["expiration"] = expires  # also a per-message TTL in the broker, as send_task sets it
            message = amqp.create_task_message(run.task_id, run.spec.task, args, kwargs, expires=expires,
                                               reply_to=oid, create_sent_event=sent_event, ignore_result=None,
                                               **options)
            options["headers"] = headers(run, revision)
            prepared.append(Prepared(run.spec.task, message, options))
        return prepared

    def publish(self, prepared: list[Prepared]) -> int:
        """Publish built runs; returns how many. Raises what the broker raises: then none is known to be sent."""
        if not prepared:
            return 0
        send = self.app.amqp.send_task_message
        with self.app.producer_or_acquire() as producer, producer.connection._reraise_as_library_errors():
            channel = producer.channel if self.transactional else None
            if channel is not None and not getattr(channel, "gitbeat_tx", False):
                channel.tx_select()  # once per channel: a channel stays transactional
                channel.gitbeat_tx = True
            for item in prepared:
                send(producer, item.task, item.message, **item.options)
            if channel is not None:
                channel.tx_commit()  # returns once RabbitMQ holds every message of the batch
        return len(prepared)

    def send(self, runs: list[Outgoing], config: AppliedConfig, revision: int | None) -> int:
        """Build and publish at once (what is sent now, not at a due time)."""
        return self.publish(self.prepare(runs, config, revision))


def headers(run: Outgoing, revision: int | None) -> dict[str, Any]:
    return {
        SCHEDULE_HEADER: run.schedule,
        DUE_HEADER: run.due_at.astimezone(UTC).isoformat(),
        REVISION_HEADER: revision,
        SEND_HEADER: uuid.uuid4().hex[:16],
        TRIGGER_HEADER: run.trigger,
    }
