"""A run built ahead and published (Sender.prepare, publish) goes out exactly as `send_task` would send it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish

from gitbeat.applied import AppliedConfig
from gitbeat.sending import Outgoing, Sender, headers, task_id
from gitbeat.spec import ScheduleSpec

DUE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = AppliedConfig.model_validate({
    "project": {"default_queue": "work"},
    "queues": {"work": {}, "urgent": {"max_priority": 10}},
    "tasks": {"reports.build": {"queue": "urgent", "priority": 7, "expires": "10m"}, "plain": {}},
})


def published(app: Celery, send: Any) -> list[dict[str, Any]]:
    """What Celery's before_task_publish saw for each message: routing, headers, properties and body."""
    seen: list[dict[str, Any]] = []

    def record(sender: str, body: Any, exchange: str, routing_key: str, headers: dict, properties: dict,
               declare: list, retry_policy: dict, **_: Any) -> None:
        shown = dict(headers)
        shown.pop("expires", None)  # an instant: `expires` seconds from when the message was built
        seen.append({"task": sender, "body": body, "exchange": exchange, "routing_key": routing_key,
                     "headers": shown, "expires": headers.get("expires") is not None, "properties": dict(properties),
                     "declare": [queue.name for queue in declare], "retry_policy": retry_policy})

    before_task_publish.connect(record, weak=False)
    try:
        send()
    finally:
        before_task_publish.disconnect(record)
    return seen


@pytest.mark.parametrize("fields", [
    {"task": "reports.build", "args": [1, "x"], "kwargs": {"day": "mon"}},  # the task's queue, priority, expires
    {"task": "plain"},  # the default queue
    {"task": "plain", "queue": "urgent", "priority": 2, "routing_key": "rk", "expires": 30},  # the schedule's own
])
def test_a_prepared_run_is_the_message_send_task_sends(fields: dict[str, Any]) -> None:
    app = Celery("sending-test", broker="memory://", set_as_current=False)
    app.conf.update(task_default_queue="work", task_routes=CONFIG.routes())
    spec = ScheduleSpec.model_validate({**fields, "every": 60, "timezone": "UTC"})
    run = Outgoing(task_id("s", DUE), "s", DUE, "scheduled", spec)
    sender = Sender(app, transactional=False)

    def by_send_task() -> None:
        app.send_task(spec.task, args=list(spec.args), kwargs=dict(spec.kwargs), task_id=run.task_id,
                      headers=headers(run, 3), **CONFIG.schedule_options(spec))

    expected, got = published(app, by_send_task), published(app, lambda: sender.send([run], CONFIG, 3))
    assert len(expected) == len(got) == 1
    for message in (expected[0], got[0]):
        message["headers"].pop("gitbeat_send")  # a fresh id for each copy sent, by design
    assert got == expected
    assert got[0]["expires"] is (spec.expires is not None or spec.task == "reports.build")
