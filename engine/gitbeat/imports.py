"""Import checks: handlers, retry exception classes and `imports`, from allowed modules only.

A module may be imported when it lives in a package under the config root (the
project's own code) or under a module that gitbeat.yaml lists in `imports`. A name
that resolves to an object defined elsewhere (`tasks.x:system` re-exporting
os.system) is refused too.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import inspect
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Diagnostic
from .loader import Config


@dataclass
class ImportReport:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)
    handlers: dict[str, Any] = field(default_factory=dict)


def local_packages(root: Path) -> set[str]:
    """Top-level modules and packages that live in the config root."""
    names = {p.stem for p in root.glob("*.py")}
    names.update(p.parent.name for p in root.glob("*/__init__.py"))
    return {name for name in names if name.isidentifier()}


class Allowed:
    """Which module names the config may import."""

    def __init__(self, root: Path, imports: list[str]) -> None:
        self.roots = local_packages(root.resolve())
        self.prefixes = tuple(imports)

    def __contains__(self, module: str) -> bool:
        if module.split(".")[0] in self.roots:
            return True
        return any(module == prefix or module.startswith(prefix + ".") for prefix in self.prefixes)

    def describe(self) -> str:
        local = ", ".join(sorted(self.roots)) or "none"
        listed = ", ".join(self.prefixes) or "none"
        return f"packages in the config root ({local}) and gitbeat.yaml imports ({listed})"


def prepare_path(root: Path) -> None:
    """Put the config root first on sys.path and forget stale copies of its packages."""
    resolved = str(root.resolve())
    if resolved in sys.path:
        sys.path.remove(resolved)
    sys.path.insert(0, resolved)
    local = local_packages(root.resolve())
    for name in list(sys.modules):
        if name.split(".")[0] in local:
            del sys.modules[name]
    importlib.invalidate_caches()


_LIBRARY_PATHS = tuple(
    {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")} - {None, ""}
)


def _import(module: str) -> tuple[Any, str | None]:
    try:
        return importlib.import_module(module), None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a user module may raise anything, SystemExit included
        # The innermost frame of the user's own code, not of the library that raised (json, ...).
        frames = [f for f in traceback.extract_tb(error.__traceback__)[1:] if "importlib" not in f.filename]
        own = [f for f in frames if not f.filename.startswith(_LIBRARY_PATHS)]
        where = next((f"{f.filename}:{f.lineno}" for f in reversed(own or frames)), "")
        detail = f"{type(error).__name__}: {error}".strip().splitlines()[0] if str(error) else type(error).__name__
        return None, f"cannot import {module}: {detail}" + (f" (at {where})" if where and "ModuleNotFound" not in detail else "")


def check_imports(config: Config) -> ImportReport:
    """Import what the config names and report every failure at its place."""
    report = ImportReport()
    sys.dont_write_bytecode = True  # checking the config never writes __pycache__ into the user's tree
    prepare_path(config.root)
    allowed = Allowed(config.root, config.project.imports)
    for index, module in enumerate(config.project.imports):
        _, problem = _import(module)
        if problem:
            report.diagnostics.append(config.project_diagnostic("error", "imports", index, message=problem))
    for name, task in config.tasks.items():
        if task.handler is not None:
            handler, problem = resolve_handler(task.handler, allowed)
            if problem:
                report.diagnostics.append(config.diagnostic("error", "tasks", name, "handler", message=problem))
            else:
                report.handlers[name] = handler
        if task.retry is not None:
            for index, exception in enumerate(task.retry.on):
                problem = resolve_exception(exception, allowed)[1]
                if problem:
                    report.diagnostics.append(
                        config.diagnostic("error", "tasks", name, "retry", "on", index, message=problem)
                    )
    needs_registry = config.project.imports or any(task.handler is None for task in config.tasks.values())
    if needs_registry:
        report.registered = registered_tasks()
        for name, task in config.tasks.items():
            if task.handler is None and name not in report.registered:
                report.diagnostics.append(
                    config.diagnostic(
                        "error",
                        "tasks",
                        name,
                        message=f"task {name!r} has no handler and no module in imports registers it; "
                        "add handler: module:function, or list the module that defines it in gitbeat.yaml imports",
                        key=True,
                    )
                )
    report.diagnostics.extend(_check_arguments(config, report.handlers))
    return report


def registered_tasks() -> set[str]:
    """Names of the tasks registered by imported code (shared tasks and tasks of any app)."""
    from celery import Celery, _state

    probe = Celery("gitbeat-validate", set_as_current=False)
    names = set(probe.tasks)
    for app in list(_state._get_active_apps()):
        names.update(app.tasks)
    return {name for name in names if not name.startswith("celery.")}


def _import_allowed(module_name: str, allowed: Allowed) -> tuple[Any, str | None]:
    if module_name not in allowed:
        return None, f"module {module_name} is outside the modules this config may import: {allowed.describe()}"
    return _import(module_name)


def resolve_handler(handler: str, allowed: Allowed) -> tuple[Any, str | None]:
    module_name, _, attribute = handler.partition(":")
    module, problem = _import_allowed(module_name, allowed)
    if problem:
        return None, problem
    if not hasattr(module, attribute):
        public = [n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n))]
        close = difflib.get_close_matches(attribute, public, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return None, f"module {module_name} has no {attribute!r}{hint}"
    handler_object = getattr(module, attribute)
    if not callable(handler_object):
        return None, f"{handler} is a {type(handler_object).__name__}, not a function"
    defined_in = getattr(inspect.unwrap(handler_object), "__module__", None) or module_name
    if defined_in not in allowed:
        return None, f"{handler} is {defined_in}.{attribute}, outside the modules this config may import"
    return handler_object, None


def resolve_exception(name: str, allowed: Allowed) -> tuple[type[BaseException] | None, str | None]:
    if "." not in name:
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found, None
        builtin = [n for n in dir(builtins) if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)]
        close = difflib.get_close_matches(name, builtin, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return None, f"{name!r} is not a built-in exception{hint}; name others by their module, e.g. tasks.errors.Transient"
    module_name, _, attribute = name.rpartition(".")
    module, problem = _import_allowed(module_name, allowed)
    if problem:
        return None, problem
    found = getattr(module, attribute, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        return None, f"{name} is not an exception class"
    if found.__module__ != "builtins" and found.__module__ not in allowed:
        return None, f"{name} is {found.__module__}.{found.__qualname__}, outside the modules this config may import"
    return found, None


def _check_arguments(config: Config, handlers: dict[str, Any]) -> list[Diagnostic]:
    """A schedule's args and kwargs must fit its handler's signature."""
    found = []
    signatures: dict[str, inspect.Signature | None] = {}
    for name, schedule in config.schedules.items():
        if schedule.task not in handlers:
            continue
        if schedule.task not in signatures:
            try:
                signatures[schedule.task] = inspect.signature(handlers[schedule.task])
            except (TypeError, ValueError):
                signatures[schedule.task] = None
        signature = signatures[schedule.task]
        if signature is None:
            continue
        try:
            signature.bind(*schedule.args, **schedule.kwargs)
        except TypeError as error:
            where = "kwargs" if schedule.kwargs else "args"
            found.append(
                config.diagnostic(
                    "error",
                    "schedules",
                    name,
                    where,
                    message=f"the arguments do not fit {config.tasks[schedule.task].handler}{signature}: {error}",
                )
            )
    return found
