"""The example project's task handlers: plain functions that gitbeat turns into Celery tasks."""
