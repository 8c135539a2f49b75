"""The config a running beat or worker uses: the latest applied revision, else the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from .applied import AppliedConfig
from .errors import ConfigError
from .settings import Settings, database_url
from .store import Store


def applied_config(root: Path, settings: Settings) -> tuple[int | None, AppliedConfig]:
    """The latest revision's id and config from the store; (None, the validated files) when none was applied."""
    from .store.beat import BeatStore

    store = Store(database_url(settings, root), readonly=True)
    try:
        revision, config = BeatStore(store).revision_config() if store.ensure_schema() else (None, None)
    finally:
        store.engine.dispose()
    if revision is not None and config is not None:
        return revision, config
    return None, files_config(root, settings.env)


def files_config(root: Path, env: str | None = None) -> AppliedConfig:
    from .validation import collect

    config, diagnostics = collect(root, env=env)
    if any(d.severity == "error" for d in diagnostics):
        raise ConfigError(diagnostics)
    return AppliedConfig(project=config.project, queues=config.queues, tasks=config.tasks)


class Runtime(NamedTuple):
    revision: int | None
    config: AppliedConfig
    app: Any  # the Celery app
    settings: Settings


def configured_app(root: Path, database: str | None) -> Runtime:
    """The revision, its config, the Celery app and the settings: what beat, worker, flower and dlq share.

    Every URL is checked before anything is read or created.
    """
    from .app import create_app
    from .settings import broker_url, load_settings, result_backend_url

    settings = load_settings(root, database)
    database_url(settings, root), broker_url(settings, root), result_backend_url(settings, root)
    revision, config = applied_config(root, settings)
    return Runtime(revision, config, create_app(root, settings, config), settings)
