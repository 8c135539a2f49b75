"""The Celery app from settings and the applied config: broker, results, queues, routes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from .settings import Settings, broker_url, load_settings, result_backend_url


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
    app = Celery(name, set_as_current=True)
    app.conf.update(
        broker_url=broker_url(settings, root),
        result_backend=result_backend_url(settings.result_backend, root),
        task_track_started=True,
        timezone=project.get("timezone", "UTC"),
        enable_utc=True,
        task_default_queue=default_queue,
        task_default_exchange=default_queue,
        task_default_routing_key=default_queue,
        task_queues=declared_queues(config.get("queues") or {}, default_queue),
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},
        result_extended=True,
        beat_scheduler="gitbeat.scheduler:Scheduler",
    )
    app.conf.gitbeat_root = str(root)
    app.conf.gitbeat_database_url = settings.database_url
    return app
