"""Diagnostics to text, JSON or GitHub workflow annotations (the `validate --format` choices)."""

from __future__ import annotations

import json
from typing import TextIO

from .errors import Diagnostic

JSON_VERSION = 1


def summary(diagnostics: list[Diagnostic]) -> tuple[int, int]:
    errors = sum(d.severity == "error" for d in diagnostics)
    return errors, len(diagnostics) - errors


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def write_text(diagnostics: list[Diagnostic], out: TextIO) -> None:
    for diagnostic in diagnostics:
        print(diagnostic, file=out)


def write_json(diagnostics: list[Diagnostic], files: list[str], valid: bool, out: TextIO) -> None:
    errors, warnings = summary(diagnostics)
    document = {
        "version": JSON_VERSION,
        "valid": valid,
        "errors": errors,
        "warnings": warnings,
        "files": files,
        "diagnostics": [d.as_json() for d in diagnostics],
    }
    json.dump(document, out, indent=2)
    out.write("\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_github(diagnostics: list[Diagnostic], out: TextIO) -> None:
    """One workflow command per diagnostic: GitHub shows it on the line of the pull request."""
    for d in diagnostics:
        properties = f"file={_escape_property(d.file)},line={d.line},col={d.column}"
        if d.path:
            properties += f",title={_escape_property('gitbeat: ' + d.path)}"
        print(f"::{d.severity} {properties}::{_escape_data(d.message)}", file=out)
