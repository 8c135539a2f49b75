"""A saved plan (`plan --out FILE`): exactly what `apply FILE` will do, and what it was planned against.

It records the changes, the digest of the config files, the environment, and the database's
latest revision and a digest of its schedule rows. `apply FILE` applies it only while all
of them still hold: files that changed, a newer revision, or rows edited since (drift)
refuse it in one line, changing nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import GitbeatError
from .planner import Plan
from .planview import document, from_document

KIND = "gitbeat-plan"
VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    against: str | int | None
    config_digest: str
    environment: str | None
    prune: bool
    revision: int | None  # the database's latest revision when planned
    state: str  # the digest of its schedule rows when planned
    created_at: str


def save(path: Path, plan: Plan, revision: int | None, *, config_digest: str, environment: str | None, prune: bool,
         state: str) -> None:
    data = {
        "kind": KIND, "version": VERSION, "created_at": datetime.now(UTC).isoformat(),
        "config_digest": config_digest, "environment": environment, "prune": prune,
        "database": {"revision": revision, "state": state}, "plan": document(plan, revision),
    }
    try:
        path.write_text(json.dumps(data, indent=2) + "\n")
    except OSError as error:
        raise GitbeatError(f"cannot write the plan to {path}: {error.strerror}") from None


def load(path: Path) -> SavedPlan:
    """A saved plan; one clear line when the file is not one."""
    try:
        data: Any = json.loads(path.read_text())
    except OSError as error:
        raise GitbeatError(f"cannot read the plan {path}: {error.strerror}") from None
    except ValueError:
        raise GitbeatError(f"{path} is not a saved plan (not JSON); make one with `gitbeat plan --out FILE`") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise GitbeatError(f"{path} is not a saved plan; make one with `gitbeat plan --out {path}`")
    if data.get("version") != VERSION:
        raise GitbeatError(f"{path} is a plan of version {data.get('version')!r}; this gitbeat reads version {VERSION}")
    try:
        plan, against = from_document(data["plan"])
        return SavedPlan(plan, against, data["config_digest"], data.get("environment"), bool(data.get("prune", True)),
                         data["database"]["revision"], data["database"]["state"], data.get("created_at", ""))
    except (KeyError, TypeError, ValueError) as error:
        raise GitbeatError(f"{path} is a damaged plan ({type(error).__name__}: {str(error)[:80]})") from None
