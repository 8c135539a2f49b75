"""What a worker's app needs beyond the app itself, however the worker is started (`gitbeat worker`, `celery -A`).

Its tasks registered, the run ledger's signals connected, revisions followed live, and the
dead-letter queues declared (RabbitMQ's DLX needs them) but never consumed unless `-Q`
names them: a worker that consumed them would run every dead letter again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, bootsteps

from .app import declare_queues, register_tasks
from .applied import AppliedConfig
from .live import follow_revisions
from .runrecord import record_outcomes


class DeadLetterQueues(bootsteps.Step):
    """A worker step, after the queues are chosen and before any is consumed: keep dead-letter queues out.

    With `-Q` (the queues chosen by hand) the choice stands; without, every declared queue
    would be consumed, dead-letter ones too.
    """

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        app = worker.app
        queues = app.amqp.queues
        # Celery keeps no public flag for "-Q was given": its selection is set only then.
        app.gitbeat_fixed_queues = getattr(queues, "_consume_from", None) is not None
        if not app.gitbeat_fixed_queues:
            dead = sorted(app.gitbeat_live.config.dead_letter_queues())
            if dead:
                queues.deselect(dead)
        declare_queues(app)


def prepare_worker(app: Celery, root: Path, database_url: str, revision: int | None, config: AppliedConfig) -> None:
    """Make `app` a gitbeat worker's app (call once, before the worker starts)."""
    register_tasks(app, config, root)
    record_outcomes()
    follow_revisions(app, root, database_url, revision, config, fixed_queues=False)
    app.steps["worker"].add(DeadLetterQueues)
