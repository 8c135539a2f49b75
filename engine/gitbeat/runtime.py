"""The config a running beat or worker uses: the latest applied revision, else the files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import Settings, database_url
from .store import Store


def applied_config(root: Path, settings: Settings) -> tuple[int | None, dict[str, Any]]:
    """(revision id, {project, queues, tasks}) from the store; the validated files when none was applied."""
    from .beatstore import BeatStore

    store = Store(database_url(settings.database_url, root))
    try:
        store.ensure_schema()
        revision, config = BeatStore(store).revision_config()
    finally:
        store.engine.dispose()
    if revision is not None:
        return revision, config
    return None, files_config(root)


def files_config(root: Path) -> dict[str, Any]:
    from .commands.validate import collect
    from .planner import desired_state

    config, diagnostics = collect(root)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise ConfigError(errors)
    return json.loads(desired_state(config).config_text())
