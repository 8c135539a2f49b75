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


class Sender:
    """Publishes runs with the app's producer pool; `transactional` (RabbitMQ) makes a batch one AMQP transaction."""

    def __init__(self, app: Celery, *, transactional: bool) -> None:
        self.app = app
        self.transactional = transactional

    def send(self, runs: list[Outgoing], config: AppliedConfig, revision: int | None) -> int:
        """Send every run; returns how many. Raises what the broker raises: then none is known to be sent."""
        if not runs:
            return 0
        with self.app.producer_or_acquire() as producer:
            channel = producer.channel if self.transactional else None
            if channel is not None and not getattr(channel, "gitbeat_tx", False):
                channel.tx_select()  # once per channel: a channel stays transactional
                channel.gitbeat_tx = True
            for run in runs:
                self.app.send_task(
                    run.spec.task,
                    args=list(run.spec.args),
                    kwargs=dict(run.spec.kwargs),
                    task_id=run.task_id,
                    producer=producer,
                    headers=headers(run, revision),
                    **config.schedule_options(run.spec),
                )
            if channel is not None:
                channel.tx_commit()  # returns once RabbitMQ holds every message of the batch
        return len(runs)


def headers(run: Outgoing, revision: int | None) -> dict[str, Any]:
    return {
        SCHEDULE_HEADER: run.schedule,
        DUE_HEADER: run.due_at.astimezone(UTC).isoformat(),
        REVISION_HEADER: revision,
        SEND_HEADER: uuid.uuid4().hex[:16],
        TRIGGER_HEADER: run.trigger,
    }
