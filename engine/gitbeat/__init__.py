"""gitbeat: Celery tasks, queues and schedules declared as YAML in git.

Application code calls the config's tasks through `gitbeat.task(name)`:

    from gitbeat import task
    task("email.send").delay("a@example.com", "Hello", "Welcome!")

The task routes exactly as the YAML says (queue, exchange, routing key, priority,
expires, dead-letter path) and its arguments are checked against the handler before
anything is sent. The app behind it is `gitbeat.celery.app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Task

__version__ = "0.1.0"


def task(name: str) -> Task:
    """The Celery task `name` of the config (declared in tasks/ or registered by `imports`)."""
    import difflib

    from .celery import app, config
    from .errors import GitbeatError

    if name not in config.tasks:
        close = difflib.get_close_matches(name, list(config.tasks), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GitbeatError(f"no task named {name!r} in the config{hint}")
    return app.tasks[name]
