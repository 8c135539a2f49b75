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
from pathlib import Path
from typing import Any

from celery import Celery, Task
from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES

from .errors import BrokerError, GitbeatError
from .imports import Allowed, prepare_path, resolve_exception, resolve_handler
from .settings import Settings, broker_url, database_url, load_settings, result_backend_url, safe_url
from .spec import RetrySpec
from .taskbase import FailureLogFilter, GitbeatTask, retrying


# The embedded broker (gitbeat.embedded), imported by kombu only where it is used.
TRANSPORT_ALIASES.setdefault("gitbeat-sqlite", "gitbeat.embedded:Transport")


def dead_letter_queue(name: str, spec: dict[str, Any]) -> str | None:
    target = spec.get("dead_letter")
    if target is True:
        return f"{name}.dlq"
    return target or None


def declared_queues(queues: dict[str, dict[str, Any]], default_queue: str) -> list[Queue]:
    """Kombu queues exactly as gitbeat declares them on every process (RabbitMQ refuses a mismatch)."""
    declared: dict[str, Queue] = {}
    for name, spec in sorted(queues.items()):
        arguments: dict[str, Any] = {}
        if spec.get("message_ttl"):
            arguments["x-message-ttl"] = int(spec["message_ttl"] * 1000)
        if spec.get("max_length"):
            arguments["x-max-length"] = int(spec["max_length"])
        dead_letter = dead_letter_queue(name, spec)
        if dead_letter:
            arguments["x-dead-letter-exchange"] = dead_letter
            arguments["x-dead-letter-routing-key"] = dead_letter
            declared.setdefault(dead_letter, Queue(dead_letter, Exchange(dead_letter, "direct"), dead_letter))
        exchange = Exchange(spec.get("exchange") or name, "direct")
        declared[name] = Queue(
            name,
            exchange,
            routing_key=spec.get("routing_key") or name,
            queue_arguments=arguments or None,
            max_priority=spec.get("max_priority"),
        )
    declared.setdefault(default_queue, Queue(default_queue, Exchange(default_queue, "direct"), default_queue))
    return list(declared.values())


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.broker == "embedded" and not settings.broker_url_override:
        return {"connect_args": {"timeout": 30}}  # several processes share the SQLite file
    if settings.broker == "rabbitmq" or (settings.broker_url_override or "").startswith(("amqp", "pyamqp")):
        return {"confirm_publish": True}  # a publish returns once RabbitMQ has the message
    return {}


def create_app(
    root: Path | None = None,
    settings: Settings | None = None,
    config: dict[str, Any] | None = None,
    name: str = "gitbeat",
) -> Celery:
    """A Celery app for the config root: `config` is a revision's {project, queues, tasks}."""
    root = Path(root or os.environ.get("GITBEAT_CONFIG", "."))
    settings = settings or load_settings(root)
    config = config or {}
    project = config.get("project") or {}
    default_queue = project.get("default_queue", "celery")
    backend = result_backend_url(settings, root)
    app = Celery(name, set_as_current=True)
    app.conf.update(
        broker_url=broker_url(settings, root),
        result_backend=backend,
        task_track_started=True,
        timezone=project.get("timezone", "UTC"),
        enable_utc=True,
        task_default_queue=default_queue,
        task_default_exchange=default_queue,
        task_default_routing_key=default_queue,
        task_queues=declared_queues(config.get("queues") or {}, default_queue),
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        result_extended=True,
        beat_scheduler="gitbeat.scheduler:Scheduler",
    )
    # Celery reads CELERY_RESULT_BACKEND from the environment over its config: pin the normalised URL.
    app.backend_cls = backend
    app.conf.gitbeat_root = str(root)
    app.conf.gitbeat_database_url = database_url(settings, root)
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


def task_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The Celery task attributes a task's YAML sets (unset ones keep Celery's defaults)."""
    options: dict[str, Any] = {}
    for field in ("time_limit", "soft_time_limit", "rate_limit", "acks_late", "expires", "ignore_result"):
        if spec.get(field) is not None:
            options[field] = spec[field]
    if spec.get("acks_late"):
        options["reject_on_worker_lost"] = True  # a worker killed mid-task: redeliver, never drop
    return options


def retry_policy(spec: dict[str, Any], allowed: Allowed) -> tuple[RetrySpec, tuple[type[BaseException], ...]] | None:
    """A task's retry policy and the exception classes it retries, or None."""
    if not spec.get("retry"):
        return None
    retry = RetrySpec.model_validate(spec["retry"])
    retry_on = tuple(_exception(exception, allowed) for exception in retry.on)
    return (retry, retry_on) if retry_on else None


def routes_for(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """task_routes: each task's queue (the default queue when it names none) and priority."""
    default_queue = (config.get("project") or {}).get("default_queue", "celery")
    routes: dict[str, dict[str, Any]] = {}
    for name, spec in (config.get("tasks") or {}).items():
        routes[name] = {"queue": spec.get("queue") or default_queue}
        if spec.get("priority") is not None:
            routes[name]["priority"] = spec["priority"]  # a route option: the task attribute goes in Celery 6
    return routes


def register_tasks(app: Celery, config: dict[str, Any], root: Path) -> dict[str, Task]:
    """Turn the config's tasks into Celery tasks: handlers become GitbeatTasks, registered ones get their options."""
    project = config.get("project") or {}
    queues = config.get("queues") or {}
    prepare_path(root)
    allowed = Allowed(root, project.get("imports") or [])
    for module in project.get("imports") or []:
        importlib.import_module(module)
    native = is_rabbitmq(app)
    routes = routes_for(config)
    names: set[str] = set()
    for name, spec in sorted((config.get("tasks") or {}).items()):
        queue = routes[name]["queue"]
        options = task_options(spec)
        policy = retry_policy(spec, allowed)
        dead_letter = dead_letter_queue(queue, queues.get(queue, {}))
        if spec.get("handler"):
            handler, problem = resolve_handler(spec["handler"], allowed)
            if problem:
                raise GitbeatError(f"tasks.{name}.handler: {problem}")
            run = _sync(handler) if inspect.iscoroutinefunction(handler) else handler
            app.task(
                name=name,
                base=GitbeatTask,
                bind=True,
                shared=False,  # this app's own: a shared task would leak into every later app of the process
                gitbeat_policy=policy,
                gitbeat_dead_letter=dead_letter,
                gitbeat_native_dead_letter=native and bool(dead_letter),
                gitbeat_queue=queue,
                # RabbitMQ dead-letters a message rejected without requeue: a failure must reject.
                acks_on_failure=not (native and dead_letter),
                acks_on_timeout=not (native and dead_letter),
                store_errors_even_if_ignored=bool(dead_letter),
                **options,
            )(retrying(run))
            names.add(name)
        else:
            task = app.tasks[name]
            for option, value in options.items():
                setattr(task, option, value)
            if policy is not None:
                from celery.app.autoretry import add_autoretry_behaviour

                retry, retry_on = policy
                add_autoretry_behaviour(
                    task, autoretry_for=retry_on, max_retries=retry.max_retries, default_retry_delay=retry.delay,
                    retry_backoff=retry.backoff == "exponential" and max(1, round(retry.delay)),
                    retry_backoff_max=round(retry.backoff_max), retry_jitter=retry.jitter,
                )
    app.conf.task_routes = routes
    logging.getLogger("celery.app.trace").addFilter(FailureLogFilter(names))
    return {name: app.tasks[name] for name in routes}


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


def consumed_queues(config: dict[str, Any]) -> list[str]:
    """The queues a worker consumes by default: every declared one and the default, not dead-letter queues."""
    project = config.get("project") or {}
    queues = config.get("queues") or {}
    dead = {dead_letter_queue(name, spec) for name, spec in queues.items()}
    names = set(queues) | {project.get("default_queue", "celery")}
    names |= {spec.get("queue") for spec in (config.get("tasks") or {}).values() if spec.get("queue")}
    return sorted(name for name in names - dead if name)
