"""Config files to validated specs, with every problem located as FILE:LINE:COL.

All position mapping lives here: YAML marks from `yamlsource`, Pydantic error
locations mapped back onto them, duplicate names across files.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, GitbeatError, Severity
from .spec import _NAME, SECTIONS, LocatedValueError, Model, ProjectSpec, QueueSpec, ScheduleSpec, TaskSpec
from .yamlsource import MAX_FILE_BYTES, Document, Path as DataPath, YamlProblem, decode, load_yaml

CONFIG_DIRS = ("tasks", "schedules")
PROJECT_FILE = "gitbeat.yaml"
KINDS = {"queues": "queue", "tasks": "task", "schedules": "schedule"}


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
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def display_path(path: Path) -> str:
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def config_files(root: Path) -> list[Path]:
    """Every *.yaml / *.yml under tasks/ and schedules/, sorted, hidden names skipped."""
    found: list[Path] = []
    for directory in CONFIG_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / directory):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found.extend(
                Path(dirpath) / name
                for name in filenames
                if name.endswith((".yaml", ".yml")) and not name.startswith(".")
            )
    return sorted(found)


def load_config(root: Path) -> tuple[Config, list[Diagnostic]]:
    """Read and validate every config file under `root`; never raises for bad input."""
    root = Path(root)
    if not any((root / d).is_dir() for d in CONFIG_DIRS):
        raise GitbeatError(f"{display_path(root)}: no tasks/ or schedules/ directory here; is --config right?")
    config = Config(root=root)
    diagnostics: list[Diagnostic] = []
    project_path = root / PROJECT_FILE
    if project_path.is_file():
        source = _read(project_path, diagnostics)
        if source is not None:
            config.project_source = source
            project = _validate(ProjectSpec, source.document.data or {}, (), source, diagnostics)
            if project is not None:
                config.project = project
    for path in config_files(root):
        source = _read(path, diagnostics)
        config.files.append(display_path(path))
        if source is not None:
            _add_file(config, source, diagnostics)
    return config, diagnostics


def _read(path: Path, diagnostics: list[Diagnostic]) -> Source | None:
    display = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlProblem(
                f"the file is {size / 1048576:.1f} MB; gitbeat reads config files of at most "
                f"{MAX_FILE_BYTES // 1048576} MB",
                (1, 1),
            )
        document = load_yaml(decode(path.read_bytes()))
    except YamlProblem as problem:
        diagnostics.append(Diagnostic(display, *problem.position, "error", "", problem.message))
        return None
    except OSError as error:
        diagnostics.append(Diagnostic(display, 1, 1, "error", "", f"cannot read the file: {error.strerror}"))
        return None
    for problem in document.problems:
        diagnostics.append(Diagnostic(display, *problem.position, "error", "", problem.message))
    return Source(display, document)


def _error(source: Source, path: DataPath, message: str, *, key: bool = False) -> Diagnostic:
    line, column = source.document.position(path, key=key)
    return Diagnostic(source.display, line, column, "error", render_path(path), message)


def _add_file(config: Config, source: Source, diagnostics: list[Diagnostic]) -> None:
    data = source.document.data
    if data is None:
        return
    if not isinstance(data, dict):
        diagnostics.append(_error(source, (), f"expected a mapping with queues, tasks, schedules; got {_show(data)}"))
        return
    for section, entries in data.items():
        if section not in SECTIONS:
            diagnostics.append(_error(source, (section,), _unknown_key(section, list(SECTIONS)), key=True))
            continue
        if entries is None:
            continue
        if not isinstance(entries, dict):
            diagnostics.append(_error(source, (section,), f"expected a mapping of names to {section}; got {_show(entries)}"))
            continue
        target: dict[str, Any] = getattr(config, section)
        for name, value in entries.items():
            path = (section, name)
            if not _NAME.fullmatch(name) or len(name) > 200:
                diagnostics.append(_error(source, path, _bad_name(name), key=True))
                continue
            earlier = config.origins.get(path)
            if earlier is not None:
                first = earlier.document.position(path, key=True)
                diagnostics.append(
                    _error(
                        source,
                        path,
                        f"duplicate {KINDS[section]} name {name!r}; also defined at "
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
        if kind == "missing":
            found.append(_error(source, base + loc[:-1], f"missing required key {loc[-1]!r}", key=True))
        elif kind == "extra_forbidden":
            fields = _fields_at(model, loc[:-1])
            found.append(_error(source, base + loc, _unknown_key(str(loc[-1]), fields), key=True))
        elif loc and loc[-1] == "[key]":
            found.append(_error(source, base + loc[:-1], _bad_name(str(loc[-2])), key=True))
        else:
            # A check of the whole entry (no timing given) points at its name, as a missing key does.
            found.append(_error(source, base + loc, _message(item), key=not loc and kind == "value_error"))
    return found


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    return f"unknown key {key!r}; expected one of {', '.join(allowed)}"


def _bad_name(name: object) -> str:
    return (
        f"invalid name {name!r}: a name starts with a letter, digit or _ and has only "
        "letters, digits and _ . : - (at most 200 characters)"
    )


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at `loc` inside `model`, for "did you mean"."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = models[0] if len(models) == 1 else annotation
            if len(models) != 1:
                return annotation
        else:
            return annotation


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (date, datetime)):
        return f"the YAML timestamp {value.isoformat()} (quote it to pass a string)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_PATTERN_MESSAGES = {
    "[A-Za-z0-9_.:\\-]": "a name has only letters, digits and _ . : -",
    ":[A-Za-z_]": "a handler is module:function, e.g. tasks.notifications:send",
    "(\\.[A-Za-z_]": "expected a dotted Python name, e.g. tasks.errors.Transient",
}


def _message(item: Any) -> str:
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx", {})
    got = f"got {_show(value)}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind in ("string_type",):
        return f"expected a string, {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, {got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a number, {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, {got}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, {got}"
    if kind == "list_type":
        return f"expected a list, {got}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}, {got}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}, {got}"
    if kind.startswith(("datetime", "date")):
        reason = str(ctx.get("error", ""))
        why = f" ({reason})" if "outside expected range" in reason else ""
        return f"expected a date and time such as 2026-12-31T23:00:00, {got}{why}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        hint = next((text for marker, text in _PATTERN_MESSAGES.items() if marker in pattern), "invalid format")
        return f"{hint}; {got}"
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters"
    if kind == "invalid-json-value" or "json" in kind:
        return f"expected plain JSON data (strings, numbers, true/false, null, lists, mappings), {got}"
    message = str(item["msg"])
    return message[:1].lower() + message[1:]
