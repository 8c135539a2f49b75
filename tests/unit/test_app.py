"""The app factory without a broker: queues as declared, tasks with their options, calls checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitbeat.app import create_app, declared_queues, register_tasks
from gitbeat.applied import AppliedConfig
from gitbeat.runtime import files_config
from gitbeat.settings import load_settings
from gitbeat.taskbase import GitbeatTask
from tests.conftest import PROJECT


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    for name in ("CELERY_BROKER", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "GITBEAT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("tasks", "schedules"):
        shutil.copytree(PROJECT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "gitbeat.yaml", tmp_path / "gitbeat.yaml")
    config = files_config(tmp_path)
    app = create_app(tmp_path, load_settings(tmp_path), config)
    return app, register_tasks(app, config, tmp_path), config


def test_queues_are_declared_with_their_arguments() -> None:
    config = AppliedConfig.model_validate({
        "queues": {"mail": {"max_priority": 10, "message_ttl": 3600, "max_length": 5, "dead_letter": True},
                   "plain": {"exchange": "ex", "routing_key": "rk"}},
        "project": {"default_queue": "default"},
    })
    queues = {q.name: q for q in declared_queues(config)}
    assert set(queues) == {"mail", "mail.dlq", "plain", "default"}
    assert queues["mail"].queue_arguments == {
        "x-message-ttl": 3600000, "x-max-length": 5,
        "x-dead-letter-exchange": "mail.dlq", "x-dead-letter-routing-key": "mail.dlq",
    }
    assert queues["mail"].max_priority == 10
    assert (queues["plain"].exchange.name, queues["plain"].routing_key) == ("ex", "rk")
    dead_letters = AppliedConfig.model_validate({"queues": {"mail": {"dead_letter": True}}, "project": {"default_queue": "d"}})
    assert dead_letters.consumed_queues() == ["d", "mail"]


def test_yaml_tasks_carry_their_options(example: tuple) -> None:
    app, tasks, _ = example
    send = tasks["notifications.send"]
    assert isinstance(send, GitbeatTask)
    assert (send.time_limit, send.soft_time_limit, send.rate_limit) == (60, 50, "100/m")
    assert (send.acks_late, send.reject_on_worker_lost, send.expires) == (True, True, 3600)
    assert send.gitbeat_dead_letter == "notifications.dlq"
    assert app.conf.task_routes["notifications.send"] == {"queue": "notifications", "priority": 5}
    assert app.conf.task_routes["email.send"] == {"queue": "default"}
    assert tasks["db_log.log_login"].ignore_result is True


def test_calls_are_checked_against_the_handler(example: tuple) -> None:
    _, tasks, _ = example
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'message'"):
        tasks["notifications.send"].apply_async(args=[42])  # async handler with a retry policy
    with pytest.raises(TypeError, match="missing 2 required positional arguments: 'subject' and 'body'"):
        tasks["email.send"].apply_async(args=["a@b.c"])


def test_handlers_run_in_process(example: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "app.db"))
    _, tasks, _ = example
    assert tasks["notifications.send"].apply(args=[7, "hello"]).get() == {"status": "sent", "user_id": 7}
    assert tasks["email.send"].apply(args=["a@b.c", "s", "b"]).get() == {"status": "queued", "to": "a@b.c"}


@pytest.mark.parametrize(
    ("backend", "expires", "installed"),
    [
        ("db+sqlite:///results.db", None, True),  # a database backend keeps results for ever: beat cleans up
        ("db+sqlite:///results.db", "0", False),  # CELERY_RESULT_EXPIRES=0: keep them
        ("redis://127.0.0.1:6379/5", None, False),  # Redis expires keys itself
        ("rpc://", None, False),
    ],
)
def test_beat_installs_celerys_backend_cleanup_where_needed(
    backend: str, expires: str | None, installed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbeat.applied import AppliedConfig
    from gitbeat.scheduler import default_entries

    for name in ("CELERY_BROKER", "CELERY_BROKER_URL", "GITBEAT_DATABASE_URL", "CELERY_RESULT_EXPIRES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", backend)
    if expires is not None:
        monkeypatch.setenv("CELERY_RESULT_EXPIRES", expires)
    app = create_app(tmp_path, load_settings(tmp_path), AppliedConfig())
    entries = default_entries(app)
    assert bool(entries) is installed
    assert installed is (bool(app.conf.result_expires) and not app.backend.supports_autoexpire)  # Celery's own rule
    if installed:
        spec = entries["celery.backend_cleanup"]
        assert (spec.task, spec.cron, spec.timezone) == ("celery.backend_cleanup", "0 4 * * *", "UTC")
        assert app.conf.result_expires.total_seconds() == 86400
