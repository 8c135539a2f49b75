"""The module-level Celery app, for `celery -A gitbeat.celery worker|beat|flower|inspect` and application code.

Built from the settings (GITBEAT_CONFIG names the config root) and the latest applied
revision (the files when none is applied), with the config's tasks registered: their
`.delay()` and `.apply_async()`, and `app.send_task(name)`, route exactly as the YAML says.
A worker started from it is a gitbeat worker: it follows revisions, records runs in the
ledger and never consumes dead-letter queues unless `-Q` names them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .runtime import configured_app
from .settings import database_url
from .workers import prepare_worker

if os.environ.get("CELERY_BROKER_URL") and os.environ.get("CELERY_BROKER_URL") == os.environ.get("CELERY_BROKER"):
    # `celery -A …` reads the seed's CELERY_BROKER (rabbitmq, redis) as its own --broker
    # option and copies it into CELERY_BROKER_URL, which Celery's config prefers to any URL.
    del os.environ["CELERY_BROKER_URL"]

_root = Path(os.environ.get("GITBEAT_CONFIG", "."))
_runtime = configured_app(_root, None)
app = _runtime.app
revision = _runtime.revision
config = _runtime.config
prepare_worker(app, _root, database_url(_runtime.settings, _root), revision, config)

__all__ = ["app", "config", "revision"]
