"""`gitbeat import`: schedules from Celery's beat_schedule, django-celery-beat, sqlalchemy-celery-beat, RedBeat.

One reader per source turns its storage into `entry.SourceEntry` values (the source library's
own schedule objects); `translate` makes gitbeat schedules of them, `writer` the YAML, `proof`
compares their fire times with the source's, `pipeline` ties these together and `report` says
what came of it. The source libraries are the `import` extra: only the reader of the source
named imports its library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GitbeatError
from .entry import Source

# Each source and the file it is written to under schedules/imported/.
OUTPUTS = {
    "beat-schedule": "celery.yaml",
    "django-celery-beat": "django.yaml",
    "sqlalchemy-celery-beat": "sqlalchemy.yaml",
    "redbeat": "redbeat.yaml",
}
LIBRARIES = {"django-celery-beat": "django_celery_beat", "sqlalchemy-celery-beat": "sqlalchemy_celery_beat",
             "redbeat": "redbeat"}


def read_source(kind: str, args: argparse.Namespace, root: Path) -> Source:
    """Read the source named `kind` as the command line describes it."""
    _require(kind)
    if kind == "beat-schedule":
        from . import beat_schedule

        return beat_schedule.read(args.app, root, args.timezone)
    if kind == "django-celery-beat":
        from . import django_beat

        return django_beat.read(args.from_database)
    if kind == "sqlalchemy-celery-beat":
        from . import sqlalchemy_beat

        return sqlalchemy_beat.read(args.from_database, args.schema)
    from . import redbeat_store

    return redbeat_store.read(args.from_redis, args.key_prefix or redbeat_store.DEFAULT_PREFIX, args.timezone or "UTC")


def _require(kind: str) -> None:
    """The source's library, or one line saying how to install it."""
    import importlib.util

    module = LIBRARIES.get(kind)
    if module is not None and importlib.util.find_spec(module) is None:
        raise GitbeatError(f"gitbeat import {kind} needs {kind if kind != 'redbeat' else 'celery-redbeat'}: "
                           "pip install 'gitbeat[import]'")
