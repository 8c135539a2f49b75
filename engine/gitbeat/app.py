"""The Celery app from settings and the applied config: broker, results, queues, routes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery, Task
from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES

from .applied import AppliedConfig
from .errors import BrokerError, GitbeatError
from .imports import Allowed, prepare_path, resolve_exception, resolve_handler
from .settings import (
    Settings,
    broker_url,
    database_url,
    load_settings,
    result_backend_url,
    safe_url,
)
from .spec import TaskSpec
from .taskbase import FailureLogFilter, GitbeatTask, Policy, adopt, retrying

# The task options a revision sets on a running worker's tasks (SPEC §6: live, no restart).
LIVE_TASK_OPTIONS = ("time_limit", "soft_time_limit", "rate_limit", "acks_late", "expires", "ignore_result")

# The embedded broker (gitbeat.embedded), imported by kombu only where it is used.
TRANSPORT_ALIASES.setdefault("gitbeat-sqlite", "gitbeat.embedded:Transport")


def declared_queues(config: AppliedConfig) -> list[Queue]:
    """Kombu queues exactly as gitbeat declares them on every process (RabbitMQ refuses a mismatch)."""
    declared: dict[str, Queue] = {}
    for name, spec in sorted(config.queues.items()):
        arguments: dict[str, Any] = {}
        if spec.message_ttl:
            arguments["x-message-ttl"] = int(spec.message_ttl * 1000)
        if spec.max_length:
            arguments["x-max-length"] = int(spec.max_length)
        dead_letter = config.dead_letter_of(name)
        if dead_letter:
            arguments["x-dead-letter-exchange"] = dead_letter
            arguments["x-dead-letter-routing-key"] = dead_letter
            declared.setdefault(dead_letter, Queue(dead_letter, Exchange(dead_letter, "direct"), dead_letter))
        declared[name] = Queue(
            name,
            Exchange(spec.exchange or name, "direct"),
            routing_key=spec.routing_key or name,
            queue_arguments=arguments or None,
            max_priority=spec.max_priority,
        )
    default = config.default_queue
    declared.setdefault(default, Queue(default, Exchange(default, "direct"), default))
    return list(declared.values())


def _transport_options(broker: str) -> dict[str, Any]:
    scheme = broker.split("://", 1)[0]
    if scheme.startswith("gitbeat-sqlite"):
        return {"connect_args": {"timeout": 30}}  # several processes share the SQLite file
    if scheme in ("amqp", "amqps", "pyamqp"):
        return {"confirm_publish": True}  # a publish returns once RabbitMQ has the message
    return {}


def create_app(
    root: Path | None = None,
    settings: Settings | None = None,
    config: AppliedConfig | None = None,
    name: str = "gitbeat",
) -> Celery:
    """A Celery app for the config root and an applied config: broker, results, queues, routes."""
    root = Path(root or os.environ.get("GITBEAT_CONFIG", "."))
    settings = settings or load_settings(root)
    config = config or AppliedConfig()
    backend = result_backend_url(settings, root)
    broker = broker_url(settings, root)
    app = Celery(name, set_as_current=True)
    app.conf.update(
        broker_url=broker,
        result_backend=backend,
        task_track_started=True,
        timezone=config.project.timezone,
        enable_utc=True,
        task_default_queue=config.default_queue,
        task_default_exchange=config.default_queue,
        task_default_routing_key=config.default_queue,
        task_queues=declared_queues(config),
        task_routes=config.routes(),
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(broker),
        result_extended=True,
        result_expires=timedelta(seconds=settings.result_expires) if settings.result_expires else None,
        beat_scheduler="gitbeat.scheduler:Scheduler",
    )
    # Celery reads CELERY_RESULT_BACKEND from the environment over its config: pin the normalised URL.
    app.backend_cls = backend
    app.conf.gitbeat_root = str(root)
    app.conf.gitbeat_database_url = database_url(settings, root)
    app.conf.gitbeat_metrics_port = settings.metrics_port
    return app


def _sync(handler: Any) -> Any:
    """An async def handler as a plain function: each process or thread runs it on its own event loop."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        loop = getattr(_loops, "loop", None)
        if loop is None or loop.is_closed():
            loop = _loops.loop = asyncio.new_event_loop()
        return loop.run_until_complete(handler(*args, **kwargs))

    run.__signature__ = inspect.signature(handler)  # type: ignore[attr-defined] # Celery checks calls with it
    return run


_loops = threading.local()


def is_rabbitmq(app: Celery) -> bool:
    return app.conf.broker_url.split(":", 1)[0] in ("amqp", "amqps", "pyamqp")


def task_options(spec: TaskSpec) -> dict[str, Any]:
    """The Celery task attributes a task's YAML sets (unset ones keep Celery's defaults)."""
    options: dict[str, Any] = {}
    for field in LIVE_TASK_OPTIONS:
        value = getattr(spec, field)
        if value is not None:
            options[field] = value
    if spec.acks_late:
        options["reject_on_worker_lost"] = True  # a worker killed mid-task: redeliver, never drop
    return options


def retry_policy(spec: TaskSpec, allowed: Allowed) -> Policy | None:
    """A task's retry policy and the exception classes it retries, or None."""
    if spec.retry is None:
        return None
    retry_on = tuple(_exception(exception, allowed) for exception in spec.retry.on)
    return (spec.retry, retry_on) if retry_on else None


def configure_task(task: Task, spec: TaskSpec, allowed: Allowed) -> None:
    """Set a task's YAML options and retry policy on it: at registration and for each new revision.

    Options the YAML leaves unset go back to Celery's defaults (the class attribute), so
    removing `rate_limit` from the YAML removes it from a running worker too.
    """
    options = task_options(spec)
    for option in (*LIVE_TASK_OPTIONS, "reject_on_worker_lost"):
        if option in options:
            setattr(task, option, options[option])
        elif option in vars(task):
            delattr(task, option)
    task.gitbeat_policy = retry_policy(spec, allowed)


def register_tasks(app: Celery, config: AppliedConfig, root: Path) -> dict[str, Task]:
    """Turn the config's tasks into Celery tasks: handlers become GitbeatTasks, registered ones get their options.

    Both kinds retry through the same wrapper (taskbase.retrying), so one YAML policy
    gives the same delays whichever way the task was made.
    """
    prepare_path(root)
    allowed = Allowed(root, config.project.imports)
    for module in config.project.imports:
        importlib.import_module(module)
    native = is_rabbitmq(app)
    names: set[str] = set()
    for name, spec in sorted(config.tasks.items()):
        queue = config.task_queue(name)
        dead_letter = config.dead_letter_of(queue)
        if spec.handler:
            handler, problem = resolve_handler(spec.handler, allowed)
            if problem:
                raise GitbeatError(f"tasks.{name}.handler: {problem}")
            run = _sync(handler) if inspect.iscoroutinefunction(handler) else handler
            task = app.task(
                name=name,
                base=GitbeatTask,
                bind=True,
                shared=False,  # this app's own: a shared task would leak into every later app of the process
                gitbeat_dead_letter=dead_letter,
                gitbeat_native_dead_letter=native and bool(dead_letter),
                gitbeat_queue=queue,
                # RabbitMQ dead-letters a message rejected without requeue: a failure must reject.
                acks_on_failure=not (native and dead_letter),
                acks_on_timeout=not (native and dead_letter),
                store_errors_even_if_ignored=bool(dead_letter),
                # Calls are checked against the handler, not the bound body: Celery's check of a bound
                # task counts its `self` in the message ("takes 3 positional arguments" for add(x, y)).
                __header__=app.type_checker(run, bound=False),
            )(retrying(run))
            names.add(name)
        else:
            task = app.tasks[name]
            adopt(task)
        configure_task(task, spec, allowed)
    app.conf.task_routes = config.routes()
    logging.getLogger("celery.app.trace").addFilter(FailureLogFilter(names))
    return {name: app.tasks[name] for name in config.tasks}


def _exception(name: str, allowed: Allowed) -> type[BaseException]:
    found, problem = resolve_exception(name, allowed)
    if problem or found is None:
        raise GitbeatError(f"retry.on: {problem}")
    return found


@contextlib.contextmanager
def broker_errors(app: Celery, doing: str) -> Iterator[None]:
    """Turn what kombu, py-amqp and redis raise when the broker is away or refuses us into one BrokerError line."""
    try:
        yield
    except Exception as error:
        where = safe_url(app.conf.broker_url)
        # kombu wraps a refused or dropped connection in its own OperationalError
        cause = error.__cause__
        unreachable = isinstance(error, OSError) or isinstance(cause, OSError) or (
            cause is not None and type(cause).__name__ in ("ConnectionError", "TimeoutError")  # redis-py's own
        )
        if unreachable:
            raise BrokerError(f"cannot reach the broker at {where} to {doing}: {_line(error)}") from None
        if type(error).__module__.split(".")[0] not in ("amqp", "kombu", "redis"):
            raise
        raise BrokerError(f"the broker at {where} refused to {doing}: {_line(error)}") from None


def _line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def declare_queues(app: Celery) -> None:
    """Declare every configured queue, dead-letter queues too: RabbitMQ's DLX needs its target to exist."""
    with broker_errors(app, "declare the queues"), app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=2, interval_start=0.5, interval_step=0.5)
        channel = connection.default_channel
        for queue in app.conf.task_queues or []:
            queue(channel).declare()
