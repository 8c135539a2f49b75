"""Config files to validated specs, with every problem located as FILE:LINE:COL.

All position mapping lives here: YAML marks from `yamlsource`, Pydantic error
locations mapped back onto them, duplicate names across files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import yamlsource
from .collector import gc_paused
from .errors import Diagnostic, GitbeatError, Severity
from .explain import NOT_JSON_NUMBER, bad_name, describe, fields_at, in_json_data, show, unknown_key
from .gittree import GitTree
from .sources import (
    CONFIG_DIRS,
    ENVIRONMENTS,
    PROJECT_FILE,
    Overlaid,
    Source,
    config_files,
    display_path,
    inside_root,
    read_blob,
    read_file,
    real_path,
)
from .spec import SECTIONS, TIMINGS, LocatedValueError, Model, ProjectSpec, QueueSpec, ScheduleSpec, TaskSpec, is_name
from .yamlsource import Path as DataPath
from .yamlsource import cut, excerpt

__all__ = ["Config", "Source", "display_path", "environments", "inside_root", "load_config", "real_path",
           "render_path"]

KINDS = {"queues": "queue", "tasks": "task", "schedules": "schedule"}
# The store keeps where each schedule is declared, "<file>:<line>", in a column of this many characters.
MAX_ORIGIN = 300


@dataclass
class Config:
    """The whole validated config and where each entry was declared."""

    root: Path
    project: ProjectSpec = field(default_factory=ProjectSpec)
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    schedules: dict[str, ScheduleSpec] = field(default_factory=dict)
    origins: dict[tuple[str, str], Source] = field(default_factory=dict)
    project_source: Source | None = None
    broken: set[tuple[str, str]] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    environment: str | None = None

    def timezone_of(self, schedule: ScheduleSpec) -> str:
        return schedule.timezone or self.project.timezone

    def declared(self, section: str, name: str) -> bool:
        """True when `name` is declared, even if its entry has errors."""
        return name in getattr(self, section) or (section, name) in self.broken

    def diagnostic(
        self, severity: Severity, section: str, name: str, *fields: str | int, message: str, key: bool = False
    ) -> Diagnostic:
        """A diagnostic at `section.name.fields…` (the nearest place that exists)."""
        path: DataPath = (section, name, *fields)
        display, line, column = self.origins[(section, name)].locate(path, key=key)
        return Diagnostic(display, line, column, severity, render_path(path), message)

    def project_diagnostic(self, severity: Severity, *fields: str | int, message: str) -> Diagnostic:
        source = self.project_source
        if source is None:
            return Diagnostic(display_path(self.root / PROJECT_FILE), 1, 1, severity, render_path(tuple(fields)),
                              message)
        display, line, column = source.locate(tuple(fields))
        return Diagnostic(display, line, column, severity, render_path(tuple(fields)), message)


def render_path(path: DataPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{cut(part)}" if text else cut(part))
    return text


def environments(root: Path) -> list[str]:
    """The environments the config root declares: the folders of environments/."""
    folder = Path(root) / ENVIRONMENTS
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_config(root: Path, *, env: str | None = None, ref: str | None = None) -> tuple[Config, list[Diagnostic]]:
    """Read and validate every config file under `root` (at git `ref`, with environment `env`'s overlay).

    Never raises for bad input: every problem is a located diagnostic.
    """
    with gc_paused():
        return _load_config(Path(root), env, ref)


def _load_config(root: Path, env: str | None, ref: str | None) -> tuple[Config, list[Diagnostic]]:
    tree = GitTree(root, ref) if ref else None
    exists = (lambda d: tree.has_directory(d)) if tree else (lambda d: (root / d).is_dir())
    if not any(exists(d) for d in CONFIG_DIRS):
        where = f"{ref}:{display_path(root)}" if ref else display_path(root)
        raise GitbeatError(f"{where}: no tasks/ or schedules/ directory here; is --config right?")
    if env is not None and not exists(f"{ENVIRONMENTS}/{env}"):
        known = ", ".join(environments(root)) or "none"
        raise GitbeatError(f"no environment {env!r}: environments/{env}/ does not exist (environments: {known})")
    config = Config(root=root, environment=env)
    diagnostics: list[Diagnostic] = []
    project = _read_project(root, tree, diagnostics)
    if project is not None:
        config.project_source = project
        spec = _validate(ProjectSpec, project.document.data or {}, (), project, diagnostics)
        if spec is not None:
            config.project = spec
    entries: dict[tuple[str, str], tuple[Any, Source]] = {}
    for source in _sources(root, tree, CONFIG_DIRS, diagnostics, config):
        _collect(config, source, entries, diagnostics)
    if env is not None:
        for source in _sources(root, tree, (f"{ENVIRONMENTS}/{env}",), diagnostics, config):
            _overlay(source, entries, diagnostics)
    for (section, name), (value, source) in entries.items():
        _add_entry(config, section, name, value, source, diagnostics)
    return config, diagnostics


def _read_project(root: Path, tree: GitTree | None, diagnostics: list[Diagnostic]) -> Source | None:
    if tree is not None:
        return read_blob(tree, PROJECT_FILE, diagnostics) if tree.has(PROJECT_FILE) else None
    path = root / PROJECT_FILE
    return read_file(path, root, diagnostics) if os.path.lexists(path) else None


def _sources(root: Path, tree: GitTree | None, directories: tuple[str, ...], diagnostics: list[Diagnostic],
             config: Config) -> list[Source]:
    """The files under `directories`, read (the ones that could not be are in `diagnostics`)."""
    found: list[Source] = []
    if tree is not None:
        for relative in tree.files(directories):
            config.files.append(tree.display(relative))
            source = read_blob(tree, relative, diagnostics)
            if source is not None:
                found.append(source)
        return found
    paths, refused = config_files(root, directories)
    diagnostics.extend(refused)
    for path in paths:
        config.files.append(display_path(path))
        source = read_file(path, root, diagnostics)
        if source is not None:
            found.append(source)
    return found


def _origin_too_long(source: Source) -> Diagnostic | None:
    """An error when a schedule's "<file>:<line>" (planner.desired_state's origin) cannot be stored."""
    if len(source.display) + 1 + len(str(yamlsource.MAX_FILE_BYTES + 1)) <= MAX_ORIGIN:
        return None  # a file has at most one line more than it has bytes: no line number is long enough
    lines = [line for path, (line, _) in source.document.keys.items() if len(path) == 2 and path[0] == "schedules"]
    if not lines or len(f"{source.display}:{max(lines)}") <= MAX_ORIGIN:
        return None
    return Diagnostic(
        source.display,
        1,
        1,
        "error",
        "",
        f"the path of this file is too long ({len(source.display)} characters): gitbeat records where each "
        f"schedule is declared as PATH:LINE in at most {MAX_ORIGIN} characters; move or rename the file",
    )


def _error(source: Source, path: DataPath, message: str, *, key: bool = False) -> Diagnostic:
    display, line, column = source.locate(path, key=key)
    return Diagnostic(display, line, column, "error", render_path(path), message)


def _collect(config: Config, source: Source, entries: dict[tuple[str, str], tuple[Any, Source]],
             diagnostics: list[Diagnostic]) -> None:
    """The entries of one file, by (section, name); a name declared twice is an error at the second."""
    for section, name, value in _entries(source, diagnostics):
        path = (section, name)
        earlier = entries.get(path)
        if earlier is not None:
            display, line, column = earlier[1].locate(path, key=True)
            diagnostics.append(_error(
                source, path,
                f"duplicate {KINDS[section]} name {excerpt(name)}; also defined at {display}:{line}:{column}", key=True,
            ))
            continue
        entries[path] = (value, source)


def _entries(source: Source, diagnostics: list[Diagnostic]) -> list[tuple[str, str, Any]]:
    """(section, name, value) of each entry of a file whose shape is right; the rest are errors."""
    data = source.document.data
    if data is None:
        return []
    if not isinstance(data, dict):
        diagnostics.append(_error(source, (), f"expected a mapping with queues, tasks, schedules; got {show(data)}"))
        return []
    too_long = _origin_too_long(source)
    if too_long is not None:
        diagnostics.append(too_long)
    found = []
    for section, entries in data.items():
        if section not in SECTIONS:
            diagnostics.append(_error(source, (section,), unknown_key(section, list(SECTIONS)), key=True))
            continue
        if entries is None:
            continue
        if not isinstance(entries, dict):
            diagnostics.append(
                _error(source, (section,), f"expected a mapping of names to {section}; got {show(entries)}")
            )
            continue
        for name, value in entries.items():
            if not is_name(name):
                diagnostics.append(_error(source, (section, name), bad_name(name), key=True))
                continue
            found.append((section, name, value))
    return found


def _overlay(source: Source, entries: dict[tuple[str, str], tuple[Any, Source]], diagnostics: list[Diagnostic]) -> None:
    """Merge an environment's file over the base entries, by name, field by field.

    An overlay changes fields of schedules, tasks and queues (a new timing replaces the
    base's timing) and may add schedules; it cannot add a task or a queue, nor rename.
    """
    for section, name, value in _entries(source, diagnostics):
        path = (section, name)
        base = entries.get(path)
        if base is None:
            if section != "schedules":
                diagnostics.append(_error(
                    source, path, f"{KINDS[section]} {excerpt(name)} is not in the base config: an environment "
                    "changes tasks and queues, and adds only schedules", key=True,
                ))
                continue
            entries[path] = (value, source)
            continue
        base_value, base_source = base
        if not isinstance(value, dict) or not isinstance(base_value, dict):
            diagnostics.append(_error(source, path, f"expected a mapping of fields to change; got {show(value)}"))
            continue
        if section == "schedules" and any(kind in value for kind in TIMINGS):
            base_value = {key: item for key, item in base_value.items() if key not in TIMINGS}
        entries[path] = ({**base_value, **value}, Overlaid(base_source.display, base_source.document, source, path))


def _add_entry(config: Config, section: str, name: str, value: Any, source: Source,
               diagnostics: list[Diagnostic]) -> None:
    path = (section, name)
    config.origins[path] = source
    spec = _validate(SECTIONS[section], value, path, source, diagnostics)
    if spec is None:
        config.broken.add(path)
        return
    if section == "schedules" and spec.timezone is None:
        spec.timezone = config.project.timezone  # resolved once: the store keeps the effective zone
    _share_fields_set(spec)
    target: dict[str, Any] = getattr(config, section)
    target[name] = spec


# Each distinct set of given fields, shared by the loaded models given those (see _share_fields_set).
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _share_fields_set(spec: Model) -> None:
    """Make `spec` share its set of given fields with every loaded model given the same ones.

    pydantic keeps one set per instance (`model_fields_set`): 728 bytes for 8 fields, 50-70 MB
    of identical sets for 100,000 schedules. gitbeat never asks which fields were given (no
    `exclude_unset`), and a loaded spec is not assigned to after this (which would change the
    set of every spec sharing it); `model_copy` copies the set.
    """
    fields_set = spec.__pydantic_fields_set__
    object.__setattr__(spec, "__pydantic_fields_set__", _FIELDS_SETS.setdefault(frozenset(fields_set), fields_set))


def _validate(model: type[Model], value: Any, path: DataPath, source: Source, diagnostics: list[Diagnostic]) -> Any:
    if value is None:
        value = {}
    try:
        return model.model_validate(value)
    except ValidationError as error:
        diagnostics.extend(_from_pydantic(model, error, path, source))
        return None


def _from_pydantic(model: type[Model], error: ValidationError, base: DataPath, source: Source) -> list[Diagnostic]:
    found = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, LocatedValueError):
            loc += (cause.key,)
        json_data = in_json_data(model, loc)
        if json_data:
            loc = (loc[0], *loc[1::2])
        if kind == "missing":
            found.append(_error(source, base + loc[:-1], f"missing required key {loc[-1]!r}", key=True))
        elif kind == "extra_forbidden":
            fields = fields_at(model, loc[:-1])
            found.append(_error(source, base + loc, unknown_key(str(loc[-1]), fields), key=True))
        elif loc and loc[-1] == "[key]":
            found.append(_error(source, base + loc[:-1], bad_name(str(loc[-2])), key=True))
        else:
            message = NOT_JSON_NUMBER if json_data and kind == "finite_number" else describe(item)
            # A check of the whole entry (no timing given) points at its name, as a missing key does.
            found.append(_error(source, base + loc, message, key=not loc and kind == "value_error"))
    return found
