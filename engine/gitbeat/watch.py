"""`gitbeat dev`: apply the files, run worker and beat, and on every edit validate, apply, restart.

Hot reload is plain: a valid YAML edit is applied (beat and the worker pick the
revision up by themselves); Python code, or a change that plan marks `restart`
(planner.effect: new tasks, handlers, queue arguments, imports), restarts the worker.
An invalid edit prints its located errors and the last good revision keeps running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import gitinfo, report
from .errors import GitbeatError
from .planner import Plan, desired_state
from .store import RevisionMeta, Store
from .validation import collect

WATCHED_SUFFIXES = (".yaml", ".yml", ".py")


def say(message: str) -> None:
    print(f"gitbeat dev: {message}", flush=True)


class Dev:
    """One process tree: this supervisor, a worker, a beat and (if asked) Flower."""

    def __init__(self, root: Path, store: Store, database: str | None, flower: bool, serve: bool = False,
                 env: str | None = None) -> None:
        self.env = env
        self.root = root
        self.store = store
        self.database = database
        self.roles = ["worker", "beat", *(["flower"] if flower else []), *(["serve"] if serve else [])]
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.revision: int | None = None

    def apply(self) -> tuple[bool, Plan | None]:
        """Validate and apply the files; (ok, plan). Errors are printed, nothing changes."""
        config, diagnostics = collect(self.root, env=self.env)
        errors = [d for d in diagnostics if d.severity == "error"]
        if errors:
            report.write_text(errors, sys.stdout)
            kept = f"revision {self.revision} keeps running" if self.revision else "nothing runs until it is fixed"
            say(f"{report.plural(len(errors), 'error')} in the config; {kept}")
            return False, None
        meta = RevisionMeta(author=gitinfo.author(self.root), message="gitbeat dev")
        plan, revision = self.store.apply(desired_state(config), meta, datetime.now(UTC))
        if revision is not None:
            self.revision = revision
            say(f"applied revision {revision}: {plan.summary()}")
        elif self.revision is None:
            self.revision = self.store.latest_revision()
        return True, plan

    def spawn(self, role: str, *, again: bool = False) -> None:
        command = [sys.executable, "-m", "gitbeat", role, "--config", str(self.root)]
        if again and role in ("worker", "beat"):
            command.append("--quiet")  # the banner was shown when it first started
        if self.database:
            command += ["--database", self.database]
        if self.env:
            command += ["--env", self.env]
        self.children[role] = subprocess.Popen(command, cwd=self.root)

    def stop_child(self, role: str) -> None:
        child = self.children.pop(role, None)
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def check_children(self) -> None:
        for role, child in list(self.children.items()):
            if child.poll() is not None:
                say(f"{role} exited with {child.returncode}; starting it again")
                time.sleep(1)
                self.spawn(role, again=True)

    def on_change(self, paths: set[str]) -> None:
        names = sorted(os.path.relpath(p, self.root) for p in paths)
        say(f"changed: {', '.join(names)}")
        ok, plan = self.apply()
        if ok and restart_needed(plan, paths):
            say("restarting the worker for the new tasks and code")
            self.stop_child("worker")
            self.spawn("worker", again=True)

    def run(self) -> int:
        from watchfiles import watch

        ok, _ = self.apply()
        if not ok:
            return 1
        for role in self.roles:
            self.spawn(role)
        say(f"running {', '.join(self.roles)}; watching {self.root} (Ctrl-C stops)")
        if "serve" in self.roles:
            say("the dashboard: http://127.0.0.1:8000/")
        try:
            for changes in watch(
                self.root, watch_filter=_relevant, debounce=50, step=25, rust_timeout=1000,
                yield_on_timeout=True, raise_interrupt=True,
            ):
                if changes:
                    self.on_change({path for _, path in changes})
                self.check_children()
        except KeyboardInterrupt:
            pass
        finally:
            say("stopping")
            for role in list(self.children):
                self.stop_child(role)
        return 0


def restart_needed(plan: Plan | None, paths: set[str]) -> bool:
    """Python code changed, or the plan has a change running workers cannot take live (planner.effect)."""
    if any(path.endswith(".py") for path in paths):
        return True
    return plan is not None and any(change.effect == "restart" for change in plan.changes)


def _relevant(change: object, path: str) -> bool:
    parts = Path(path).parts
    if any(part.startswith(".") or part == "__pycache__" for part in parts):
        return False
    return path.endswith(WATCHED_SUFFIXES)


def run_dev(root: Path, store: Store, database: str | None, flower: bool, serve: bool = False,
            env: str | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return Dev(root, store, database, flower, serve, env).run()
    except GitbeatError as error:
        say(str(error))
        return 1
