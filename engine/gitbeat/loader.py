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

from .errors import Diagnostic, GitbeatError, Severity
from .explain import NOT_JSON_NUMBER, bad_name, describe, fields_at, in_json_data, show, unknown_key
from .spec import SECTIONS, LocatedValueError, Model, ProjectSpec, QueueSpec, ScheduleSpec, TaskSpec, is_name
from .yamlsource import Document, YamlProblem, cut, decode, excerpt, load_yaml, read_regular
from .yamlsource import Path as DataPath

CONFIG_DIRS = ("tasks", "schedules")
PROJECT_FILE = "gitbeat.yaml"
KINDS = {"queues": "queue", "tasks": "task", "schedules": "schedule"}
# The store keeps where each schedule is declared, "<file>:<line>", in a column of this many characters.
MAX_ORIGIN = 300


@dataclass
class Source:
    """One file as read: its name for messages and its located document."""

    display: str
    document: Document


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
        source = self.origins[(section, name)]
        line, column = source.document.position(path, key=key)
        return Diagnostic(source.display, line, column, severity, render_path(path), message)

    def project_diagnostic(self, severity: Severity, *fields: str | int, message: str) -> Diagnostic:
        source = self.project_source
        display = source.display if source else display_path(self.root / PROJECT_FILE)
        line, column = source.document.position(tuple(fields)) if source else (1, 1)
        return Diagnostic(display, line, column, severity, render_path(tuple(fields)), message)


def render_path(path: DataPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{cut(part)}" if text else cut(part))
    return text


def display_path(path: Path) -> str:
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def real_path(path: Path) -> Path:
    """`path` with every symlink followed; a symlink loop stays where it is (Path.resolve raises on it)."""
    return Path(os.path.realpath(path))


def inside_root(path: Path, root: Path) -> bool:
    """True when `path`, every symlink followed, is inside the config root `root`."""
    return real_path(path).is_relative_to(real_path(root))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop: nothing to list
        return False


def _outside(path: Path, kind: str) -> Diagnostic:
    message = f"the {kind} is a symlink to outside the config root; gitbeat reads only files inside it"
    return Diagnostic(display_path(path), 1, 1, "error", "", message)


def config_files(root: Path) -> tuple[list[Path], list[Diagnostic]]:
    """Every *.yaml / *.yml under tasks/ and schedules/, sorted, hidden names skipped.

    A symlinked directory is followed when it stays inside the root, after the real
    directories and each real directory once (a link loop ends); one that leads out of
    the root is reported and never listed. Files are checked as they are read.
    """
    found: list[Path] = []
    refused: list[Diagnostic] = []
    seen: set[Path] = set()
    pending = [root / name for name in reversed(CONFIG_DIRS)]
    links: list[Path] = []
    while pending or links:
        directory = pending.pop() if pending else links.pop(0)
        if not inside_root(directory, root):
            refused.append(_outside(directory, "directory"))
            continue
        real = real_path(directory)
        if real in seen or not real.is_dir():
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue  # as os.walk did: a directory that cannot be listed holds no known file
        subdirectories = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                subdirectories.append(Path(entry.path))
            elif entry.name.endswith((".yaml", ".yml")):
                found.append(Path(entry.path))  # whatever it is: reading says if it is no regular file
            elif entry.is_symlink() and _is_dir(entry):
                links.append(Path(entry.path))
        pending.extend(reversed(subdirectories))
    return sorted(found), refused


def load_config(root: Path) -> tuple[Config, list[Diagnostic]]:
    """Read and validate every config file under `root`; never raises for bad input."""
    root = Path(root)
    if not any((root / d).is_dir() for d in CONFIG_DIRS):
        raise GitbeatError(f"{display_path(root)}: no tasks/ or schedules/ directory here; is --config right?")
    config = Config(root=root)
    paths, diagnostics = config_files(root)
    project_path = root / PROJECT_FILE
    if os.path.lexists(project_path):
        source = _read(project_path, root, diagnostics)
        if source is not None:
            config.project_source = source
            project = _validate(ProjectSpec, source.document.data or {}, (), source, diagnostics)
            if project is not None:
                config.project = project
    for path in paths:
        source = _read(path, root, diagnostics)
        config.files.append(display_path(path))
        if source is not None:
            _add_file(config, source, diagnostics)
    return config, diagnostics


def _read(path: Path, root: Path, diagnostics: list[Diagnostic]) -> Source | None:
    """The located document of `path`, a regular file inside `root`; else None and the reason in `diagnostics`."""
    display = display_path(path)
    if not inside_root(path, root):
        diagnostics.append(_outside(path, "file"))
        return None
    try:
        # The resolved path, opened without following: what was checked is what is read.
        document = load_yaml(decode(read_regular(real_path(path))))
    except YamlProblem as problem:
        diagnostics.append(Diagnostic(display, *problem.position, "error", "", problem.message))
        return None
    except OSError as error:
        diagnostics.append(Diagnostic(display, 1, 1, "error", "", f"cannot read the file: {error.strerror}"))
        return None
    for found in document.problems:
        diagnostics.append(Diagnostic(display, *found.position, "error", "", found.message))
    return Source(display, document)


def _origin_too_long(source: Source) -> Diagnostic | None:
    """An error when a schedule's "<file>:<line>" (planner.desired_state's origin) cannot be stored."""
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
    line, column = source.document.position(path, key=key)
    return Diagnostic(source.display, line, column, "error", render_path(path), message)


def _add_file(config: Config, source: Source, diagnostics: list[Diagnostic]) -> None:
    data = source.document.data
    if data is None:
        return
    if not isinstance(data, dict):
        diagnostics.append(_error(source, (), f"expected a mapping with queues, tasks, schedules; got {show(data)}"))
        return
    too_long = _origin_too_long(source)
    if too_long is not None:
        diagnostics.append(too_long)
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
        target: dict[str, Any] = getattr(config, section)
        for name, value in entries.items():
            path = (section, name)
            if not is_name(name):
                diagnostics.append(_error(source, path, bad_name(name), key=True))
                continue
            earlier = config.origins.get(path)
            if earlier is not None:
                first = earlier.document.position(path, key=True)
                diagnostics.append(
                    _error(
                        source,
                        path,
                        f"duplicate {KINDS[section]} name {excerpt(name)}; also defined at "
                        f"{earlier.display}:{first[0]}:{first[1]}",
                        key=True,
                    )
                )
                continue
            config.origins[path] = source
            spec = _validate(SECTIONS[section], value, path, source, diagnostics)
            if spec is None:
                config.broken.add(path)
                continue
            if section == "schedules" and spec.timezone is None:
                spec.timezone = config.project.timezone  # resolved once: the store keeps the effective zone
            target[name] = spec


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
