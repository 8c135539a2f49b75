"""The exception tree of gitbeat and the located diagnostic every check reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in the config, with the place it was found."""

    file: str
    line: int
    column: int
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        path = f"{self.path}: " if self.path else ""
        return f"{where}: {self.severity}: {path}{self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
        }


class GitbeatError(Exception):
    """Raised when gitbeat cannot do what it was asked; the message is for a person."""


class ConfigError(GitbeatError):
    """Raised when the config has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the config")


class UnknownScheduleError(GitbeatError):
    """Raised when a command names a schedule the config does not declare."""


class StoreError(GitbeatError):
    """Raised when the database cannot be reached or refuses a change; nothing was changed."""
