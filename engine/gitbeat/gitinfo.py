"""What git says about the config directory: the commit, whether it is dirty, who applies."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def commit(root: Path) -> tuple[str | None, bool | None]:
    """HEAD's commit and whether the config root has uncommitted changes; (None, None) outside git.

    Where the config is deployed without git (a container image), GITBEAT_GIT_COMMIT names
    the commit it was built from.
    """
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        given = os.environ.get("GITBEAT_GIT_COMMIT", "").strip()
        return (given[:64], None) if given else (None, None)
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    return head, bool(status)


def author(root: Path) -> str:
    """GITBEAT_AUTHOR, else git's user.name <user.email>, else the login name."""
    if os.environ.get("GITBEAT_AUTHOR"):
        return os.environ["GITBEAT_AUTHOR"]
    name = _git(root, "config", "user.name")
    email = _git(root, "config", "user.email")
    if name:
        return f"{name} <{email}>" if email else name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
