"""Pydantic's validation errors as messages a person can act on: "did you mean", what was expected, what came."""

from __future__ import annotations

import difflib
import math
import types
import typing
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, JsonValue

from .spec import NAME_MAX
from .yamlsource import excerpt

NOT_JSON_NUMBER = "NaN and infinity are not JSON numbers"


def in_json_data(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    """True when `loc` leads into a field of JSON data (args, kwargs).

    Pydantic names each step inside JSON data with the type it went through, ('kwargs',
    'a', 'list', 0, 'float'): every other part after the field's own key or index.
    """
    info = model.model_fields.get(str(loc[0])) if len(loc) > 1 else None
    return info is not None and JsonValue in typing.get_args(info.annotation)


def unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {excerpt(key)} (did you mean {close[0]!r}?)"
    return f"unknown key {excerpt(key)}; expected one of {', '.join(allowed)}"


def bad_name(name: object) -> str:
    return (
        f"invalid name {excerpt(name)}: a name starts with a letter, digit or _ and has only "
        f"letters, digits and _ . : - (at most {NAME_MAX} characters)"
    )


def fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
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


def show(value: Any) -> str:
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
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    return excerpt(value)


_PATTERN_MESSAGES = {
    "[A-Za-z0-9_.:\\-]": "a name has only letters, digits and _ . : -",
    ":[A-Za-z_]": "a handler is module:function, e.g. tasks.notifications:send",
    "(\\.[A-Za-z_]": "expected a dotted Python name, e.g. tasks.errors.Transient",
}


def describe(item: Any) -> str:
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx", {})
    got = f"got {show(value)}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind in ("string_type",):
        return f"expected a string, {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, {got}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, {got}"
    if kind == "finite_number":
        return f"expected a finite number, {got}"
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
