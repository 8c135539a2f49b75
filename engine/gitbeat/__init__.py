"""gitbeat: Celery tasks, queues and schedules declared as YAML in git."""

__version__ = "0.1.0"
