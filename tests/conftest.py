"""Shared test helpers: run the real `gitbeat` command, locate the project and its fixtures, scrub the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT / "tests" / "fixtures"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The variables gitbeat, Celery, Redis and Flower read: a developer's shell must not reach a test.
SCRUBBED = ("GITBEAT_", "CELERY_", "REDIS_", "FLOWER_")


def gitbeat(*args: str | os.PathLike[str], cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m gitbeat ARGS` in a subprocess, as a user would, and capture its output."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    environment.pop("GITBEAT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "gitbeat", *map(str, args)],
        cwd=cwd or PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def run_gitbeat():
    return gitbeat


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every GITBEAT_*, CELERY_*, REDIS_* and FLOWER_* variable for the test; a test sets what it needs."""
    for name in list(os.environ):
        if name.startswith(SCRUBBED):
            monkeypatch.delenv(name)
