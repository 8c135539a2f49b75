"""One live/restart rule (planner.effect): plan's marks, a running worker and `gitbeat dev` agree on every field.

For each field of a task, a queue and gitbeat.yaml: plan marks the change `live` or
`restart`; a live change is really taken by a worker's LiveConfig (on a task with a
handler and on a task the code registers), and `gitbeat dev` restarts the worker
exactly for the `restart` ones.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitbeat.app import create_app, register_tasks
from gitbeat.applied import AppliedConfig
from gitbeat.live import LiveConfig
from gitbeat.planner import Current, Desired, diff, effect
from gitbeat.runtime import files_config
from gitbeat.settings import load_settings
from gitbeat.watch import restart_needed

HANDLERS = '''
from pathlib import Path

from celery import shared_task

LOG = Path(__file__).with_suffix(".log")  # a file: every copy of this module (re-imported) counts in one place


def _attempt(name, fail_times):
    with LOG.open("a") as log:
        log.write(name + "\\n")
    if LOG.read_text().split().count(name) <= fail_times:
        raise ConnectionError("not yet")
    LOG.write_text("")
    return name


def handled(fail_times=0):
    return _attempt("handled", fail_times)


@shared_task(name="jobs.registered")
def registered(fail_times=0):
    return _attempt("registered", fail_times)
'''

MODULE = f"livejobs_{uuid.uuid4().hex[:8]}"  # shared tasks register process-wide: a name of this run's own
BASE: dict[str, Any] = {
    "project": {"timezone": "UTC", "default_queue": "main", "imports": [MODULE]},
    "queues": {"main": {}, "other": {}, "mail": {"max_priority": 5, "message_ttl": 60, "max_length": 10,
                                                 "dead_letter": True, "routing_key": "mail", "exchange": "mail"}},
    "tasks": {
        name: {"queue": "main", "retry": {"on": ["ConnectionError"], "max_retries": 2, "delay": 1},
               "time_limit": 10, "soft_time_limit": 5, "rate_limit": "10/m", "acks_late": False, "priority": 3,
               "expires": 60, "ignore_result": False, "description": "a task",
               **({"handler": f"{MODULE}:handled"} if name == "jobs.handled" else {})}
        for name in ("jobs.handled", "jobs.registered")
    },
}


def _tasks(app: Any) -> list[Any]:
    return [app.tasks["jobs.handled"], app.tasks["jobs.registered"]]


# field -> (new value, what a worker shows once it took the change, for one task)
TASK_FIELDS: dict[str, tuple[Any, Any]] = {
    "time_limit": (20, lambda app, task: task.time_limit == 20),
    "soft_time_limit": (8, lambda app, task: task.soft_time_limit == 8),
    "rate_limit": ("20/m", lambda app, task: task.rate_limit == "20/m"),
    "acks_late": (True, lambda app, task: task.acks_late is True and task.reject_on_worker_lost is True),
    "expires": (120, lambda app, task: task.expires == 120),
    "ignore_result": (True, lambda app, task: task.ignore_result is True),
    "priority": (4, lambda app, task: app.conf.task_routes[task.name]["priority"] == 4),
    "queue": ("other", lambda app, task: app.conf.task_routes[task.name]["queue"] == "other"),
    "retry": ({"on": ["ConnectionError"], "max_retries": 7, "delay": 2},
              lambda app, task: (task.gitbeat_policy[0].max_retries, task.gitbeat_policy[0].delay) == (7, 2)),
    "description": ("another", lambda app, task: True),
    "handler": (f"{MODULE}:registered", None),  # restart: a worker keeps the code it imported
}
QUEUE_FIELDS = {
    "routing_key": "mail2", "exchange": "mail2", "max_priority": 9, "message_ttl": 120, "max_length": 20,
    "dead_letter": False, "description": "mail queue",
}
PROJECT_FIELDS: dict[str, tuple[Any, Any]] = {
    "timezone": ("Europe/Berlin", lambda app: app.conf.timezone == "Europe/Berlin"),
    "default_queue": ("other", lambda app: app.conf.task_default_queue == "other"),
    "imports": ([MODULE, "json"], None),
}
EXPECTED_RESTART = {("task", "handler"), *(("queue", f) for f in QUEUE_FIELDS if f != "description"),
                    ("project", "imports")}


@pytest.fixture(scope="module")
def handlers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("live")
    (root / f"{MODULE}.py").write_text(textwrap.dedent(HANDLERS))
    (root / "tasks").mkdir()
    return root


@pytest.fixture
def worker(handlers: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, LiveConfig]:
    """An app with the two tasks registered as `gitbeat worker` does, and its LiveConfig."""
    for name in ("CELERY_BROKER", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "GITBEAT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = AppliedConfig.model_validate(BASE)
    app = create_app(handlers, load_settings(handlers), config, name=f"live-{uuid.uuid4().hex[:6]}")
    app.conf.task_always_eager = True
    register_tasks(app, config, handlers)
    return app, LiveConfig(app, handlers, "sqlite://", 1, config)


def _changed(kind: str, name: str, field: str, value: Any) -> dict[str, Any]:
    data = {section: {k: dict(v) for k, v in BASE[section].items()} for section in ("queues", "tasks")}
    data["project"] = dict(BASE["project"])
    if kind == "project":
        data["project"][field] = value
    else:
        data[f"{kind}s"][name][field] = value
    return data


def _plan_effect(kind: str, new: dict[str, Any]) -> str:
    old, changed = AppliedConfig.model_validate(BASE).as_json(), AppliedConfig.model_validate(new).as_json()
    desired = Desired({}, changed["tasks"], changed["queues"], changed["project"])
    plan = diff(desired, Current({}, old["tasks"], old["queues"], old["project"], 1), datetime.now(UTC))
    assert [c.kind for c in plan.changes] == [kind], plan.changes
    assert not restart_needed(plan, {"schedules/x.yaml"}) or plan.changes[0].effect == "restart"
    assert restart_needed(plan, {"tasks/x.yaml"}) == (plan.changes[0].effect == "restart")  # dev obeys plan
    return plan.changes[0].effect


@pytest.mark.parametrize("field", sorted(TASK_FIELDS))
def test_each_task_field(field: str, worker: tuple[Any, LiveConfig]) -> None:
    app, live = worker
    value, shows = TASK_FIELDS[field]
    expected = "restart" if ("task", field) in EXPECTED_RESTART else "live"
    for name, task in zip(("jobs.handled", "jobs.registered"), _tasks(app)):
        new = _changed("task", name, field, value)
        assert _plan_effect("task", new) == expected
        if expected == "live":
            live.apply(AppliedConfig.model_validate(new))
            assert shows(app, task), (field, name)


@pytest.mark.parametrize("field", sorted(QUEUE_FIELDS))
def test_each_queue_field(field: str) -> None:
    expected = "restart" if ("queue", field) in EXPECTED_RESTART else "live"
    assert _plan_effect("queue", _changed("queue", "mail", field, QUEUE_FIELDS[field])) == expected


@pytest.mark.parametrize("field", sorted(PROJECT_FIELDS))
def test_each_project_field(field: str, worker: tuple[Any, LiveConfig]) -> None:
    app, live = worker
    value, shows = PROJECT_FIELDS[field]
    new = _changed("project", "", field, value)
    expected = "restart" if ("project", field) in EXPECTED_RESTART else "live"
    assert _plan_effect("project", new) == expected
    if expected == "live":
        live.apply(AppliedConfig.model_validate(new))
        assert shows(app)


def test_added_and_removed_items() -> None:
    assert (effect("task", "add"), effect("task", "remove")) == ("restart", "live")
    assert (effect("queue", "add"), effect("queue", "remove")) == ("live", "live")
    added = AppliedConfig.model_validate({**BASE, "queues": {**BASE["queues"], "extra": {}}})
    assert "extra" in added.consumed_queues()  # a new queue is consumed live (RevisionWatcher follows it)


def test_handler_and_registered_tasks_retry_alike(worker: tuple[Any, LiveConfig]) -> None:
    app, _ = worker
    handled, registered = _tasks(app)
    assert handled.gitbeat_policy == registered.gitbeat_policy
    log = Path(sys.modules[MODULE].__file__).with_suffix(".log")
    for task in (handled, registered):
        log.write_text("")
        assert task.apply(kwargs={"fail_times": 2}).get() == task.name.split(".")[1]  # 2 failures, then success
        with pytest.raises(ConnectionError):
            task.apply(kwargs={"fail_times": 100}).get()
        assert log.read_text().split().count(task.name.split(".")[1]) == 3  # the first try and max_retries 2


def test_the_example_project_parses_into_the_typed_config(tmp_path: Path) -> None:
    from tests.conftest import PROJECT

    config = files_config(PROJECT)
    assert config.task_queue("notifications.send") == "notifications"
    assert config.task_queue("email.send") == "default"
    assert config.dead_letter_of("notifications") == "notifications.dlq"
    assert config.consumed_queues() == ["default", "notifications"]
    assert AppliedConfig.from_text(config.as_text()) == config
