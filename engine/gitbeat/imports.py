"""Import checks: handlers, retry exception classes and `imports`, from allowed modules only.

A module may be imported when it lives in a package under the config root (the
project's own code) or under a module that gitbeat.yaml lists in `imports`. A name
that resolves to an object defined elsewhere (`tasks.x:system` re-exporting
os.system) is refused too, and so is code of the config root that is a symlink out
of it or that takes the name of a standard library module.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import importlib.abc
import importlib.machinery
import inspect
import os
import sys
import sysconfig
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import Diagnostic
from .loader import Config, display_path, real_path
from .yamlsource import cut, excerpt, shorten


@dataclass
class ImportReport:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)
    handlers: dict[str, Any] = field(default_factory=dict)


def local_packages(root: Path) -> dict[str, Path]:
    """Top-level modules and packages that live in the config root, each with its file."""
    found = {p.stem: p for p in root.glob("*.py")}
    found.update({p.parent.name: p for p in root.glob("*/__init__.py")})
    return {name: path for name, path in found.items() if name.isidentifier()}


def _shadows(module: str) -> str:
    return f"module {module!r} in the config root shadows Python's standard library module of that name; rename it"


class Allowed:
    """Which module names the config may import."""

    def __init__(self, root: Path, imports: list[str]) -> None:
        self.root = root.resolve()
        self._levels: dict[str, str | None] = {}  # a dotted module prefix: why its level leads out, or None
        local = local_packages(self.root)
        # A local `queue.py` never counts as code of the config: importing it is refused, and an
        # object of the real `queue` module is not the config's own.
        self.shadowing = {name: path for name, path in local.items() if name in sys.stdlib_module_names}
        self.roots = set(local) - set(self.shadowing)
        self.prefixes = tuple(imports)

    def __contains__(self, module: str) -> bool:
        if module.split(".")[0] in self.roots:
            return True
        return any(module == prefix or module.startswith(prefix + ".") for prefix in self.prefixes)

    def describe(self) -> str:
        local = ", ".join(map(cut, sorted(self.roots))) or "none"
        listed = ", ".join(map(cut, self.prefixes)) or "none"
        return f"packages in the config root ({local}) and gitbeat.yaml imports ({listed})"

    def refusal(self, module: str) -> str | None:
        """Why `module` may not be imported, or None."""
        top = module.split(".")[0]
        if top in self.shadowing:
            return _shadows(top)
        if module not in self:
            return f"module {cut(module)} is outside the modules this config may import: {self.describe()}"
        return self._linked_out(module)

    def _linked_out(self, module: str) -> str | None:
        """A symlink out of the root on the way to `module`'s file: its code is not the config's own.

        Checked a level at a time, each level once (a thousand handlers share their packages'
        levels): a level's paths are inside the root when its package directory is and none of
        them is a symlink that leads out.
        """
        here = self.root
        prefix = ""
        for part in module.split("."):
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix not in self._levels:
                self._levels[prefix] = self._level_linked_out(module, here, part)
            if self._levels[prefix] is not None:
                return self._levels[prefix]
            here = here / part
        return None

    def _level_linked_out(self, module: str, here: Path, part: str) -> str | None:
        package = here / part
        # The package directory, its __init__, or the module file (.py, .pyc, extension module).
        candidates = [package]
        for suffix in _SUFFIXES:
            candidates += [package / f"__init__{suffix}", here / f"{part}{suffix}"]
        for candidate in candidates:
            # `here` is inside the root (the level above was checked), so only a symlink can lead out.
            if os.path.islink(candidate) and not real_path(candidate).is_relative_to(self.root):
                where = cut(candidate.relative_to(self.root).as_posix())
                return (
                    f"module {cut(module)}: {where} is a symlink to outside the config root; "
                    "gitbeat imports only code inside it"
                )
        return None


_SUFFIXES = importlib.machinery.all_suffixes()


class _StandardLibraryFirst(importlib.abc.MetaPathFinder):
    """Finds standard library modules on sys.path without the config roots on it.

    The config root goes first on sys.path so that its packages win over installed ones;
    a `queue.py` or `json/` in it must not win over the standard library, or gitbeat and
    Celery would import the user's file in its place.
    """

    def __init__(self) -> None:
        self.roots: set[str] = set()

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or name not in sys.stdlib_module_names:
            return None
        elsewhere = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) not in self.roots]
        return importlib.machinery.PathFinder.find_spec(name, elsewhere)


_STANDARD_LIBRARY_FIRST = _StandardLibraryFirst()


def prepare_path(root: Path) -> None:
    """Put the config root first on sys.path (the standard library still first of all) and forget
    stale copies of its packages; a local module named like a standard one is never one of them."""
    resolved = str(root.resolve())
    _STANDARD_LIBRARY_FIRST.roots.add(resolved)
    if _STANDARD_LIBRARY_FIRST not in sys.meta_path:
        finders = sys.meta_path
        before = next((i for i, f in enumerate(finders) if f is importlib.machinery.PathFinder), len(finders))
        finders.insert(before, _STANDARD_LIBRARY_FIRST)
    if resolved in sys.path:
        sys.path.remove(resolved)
    sys.path.insert(0, resolved)
    local = set(local_packages(root.resolve())) - sys.stdlib_module_names
    # A module being imported right now (an app module of the config root that imports
    # gitbeat.celery) and its packages stay: forgetting them would break that import.
    busy = {name for name, module in list(sys.modules.items())
            if getattr(getattr(module, "__spec__", None), "_initializing", False)}
    keep = {".".join(name.split(".")[: i + 1]) for name in busy for i in range(name.count(".") + 1)}
    for name in list(sys.modules):
        if name.split(".")[0] in local and name not in keep:
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
    except BaseException as error:  # noqa: BLE001 - a user module may raise anything, SystemExit included
        # The innermost frame of the user's own code, not of the library that raised (json, ...).
        frames = [f for f in traceback.extract_tb(error.__traceback__)[1:] if "importlib" not in f.filename]
        own = [f for f in frames if not f.filename.startswith(_LIBRARY_PATHS)]
        where = next((f"{f.filename}:{f.lineno}" for f in reversed(own or frames)), "")
        # The user's exception message may quote anything: in excerpts only.
        detail = f"{type(error).__name__}: {error}".strip().splitlines()[0] if str(error) else type(error).__name__
        detail = shorten(detail)
        at = f" (at {where})" if where and "ModuleNotFound" not in detail else ""
        return None, f"cannot import {cut(module)}: {detail}{at}"


def check_imports(config: Config) -> ImportReport:
    """Import what the config names and report every failure at its place."""
    report = ImportReport()
    sys.dont_write_bytecode = True  # checking the config never writes __pycache__ into the user's tree
    prepare_path(config.root)
    allowed = Allowed(config.root, config.project.imports)
    for index, module in enumerate(config.project.imports):
        _, problem = _import_allowed(module, allowed)
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
                        message=f"task {excerpt(name)} has no handler and no module in imports registers it; "
                        "add handler: module:function, or list the module that defines it in gitbeat.yaml imports",
                        key=True,
                    )
                )
    report.diagnostics.extend(_check_arguments(config, report.handlers))
    report.diagnostics.extend(_unnamed_shadowing(config, allowed))
    return report


def _unnamed_shadowing(config: Config, allowed: Allowed) -> list[Diagnostic]:
    """A module that shadows the standard library and that no handler, exception or import names.

    Nothing imports it during validate, but a worker or `python -m` started in the config root
    would import it in place of the standard library module: it is reported on its own file.
    """
    named = {module.split(".")[0] for module in config.project.imports}
    for task in config.tasks.values():
        if task.handler:
            named.add(task.handler.partition(":")[0].split(".")[0])
        if task.retry:
            named.update(exception.split(".")[0] for exception in task.retry.on if "." in exception)
    return [
        Diagnostic(
            display_path(path),
            1,
            1,
            "error",
            "",
            f"this module shadows Python's standard library module {name!r} (the config root goes first "
            "on the import path); rename it",
        )
        for name, path in sorted(allowed.shadowing.items())
        if name not in named
    ]


def registered_tasks() -> set[str]:
    """Names of the tasks registered by imported code (shared tasks and tasks of any app)."""
    from celery import Celery, _state

    probe = Celery("gitbeat-validate", set_as_current=False)
    names = set(probe.tasks)
    for app in list(_state._get_active_apps()):
        names.update(app.tasks)
    return {name for name in names if not name.startswith("celery.")}


def _import_allowed(module_name: str, allowed: Allowed) -> tuple[Any, str | None]:
    problem = allowed.refusal(module_name)
    return (None, problem) if problem else _import(module_name)


def resolve_handler(handler: str, allowed: Allowed) -> tuple[Any, str | None]:
    module_name, _, attribute = handler.partition(":")
    module, problem = _import_allowed(module_name, allowed)
    if problem:
        return None, problem
    if not hasattr(module, attribute):
        public = [n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n))]
        close = difflib.get_close_matches(attribute, public, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return None, f"module {cut(module_name)} has no {excerpt(attribute)}{hint}"
    handler_object = getattr(module, attribute)
    if not callable(handler_object):
        return None, f"{cut(handler)} is a {type(handler_object).__name__}, not a function"
    defined_in = getattr(inspect.unwrap(handler_object), "__module__", None) or module_name
    if defined_in not in allowed:
        return None, f"{cut(handler)} is {cut(f'{defined_in}.{attribute}')}, outside the modules this config may import"
    return handler_object, None


def resolve_exception(name: str, allowed: Allowed) -> tuple[type[BaseException] | None, str | None]:
    if "." not in name:
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found, None
        builtin = [
            n
            for n in dir(builtins)
            if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
        ]
        close = difflib.get_close_matches(name, builtin, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return None, (
            f"{excerpt(name)} is not a built-in exception{hint}; "
            "name others by their module, e.g. tasks.errors.Transient"
        )
    module_name, _, attribute = name.rpartition(".")
    module, problem = _import_allowed(module_name, allowed)
    if problem:
        return None, problem
    found = getattr(module, attribute, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        return None, f"{cut(name)} is not an exception class"
    if found.__module__ != "builtins" and found.__module__ not in allowed:
        where = cut(f"{found.__module__}.{found.__qualname__}")
        return None, f"{cut(name)} is {where}, outside the modules this config may import"
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
                    message=shorten(
                        f"the arguments do not fit {config.tasks[schedule.task].handler}{signature}: {error}"
                    ),
                )
            )
    return found
