"""The exception tree of gitbeat, its exit codes, and the located diagnostic every check reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# Exit codes: every command returns one of these (`cli.main` maps exceptions onto them).
OK = 0
FAILED = 1  # the user's input, settings or environment: one clear line says what
CHANGES = 2  # `plan --detailed-exitcode`: there is something to apply
BUG = 3  # an unexpected error: the traceback goes to a log file, not the terminal
INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


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
    """Raised when gitbeat cannot do what it was asked; the message is one line for a person."""


class UsageError(GitbeatError):
    """Raised when the command line is wrong."""


class SettingsError(GitbeatError):
    """Raised when a setting (environment, `.env` or option) is invalid; names the setting, never its secret."""


class ConfigError(GitbeatError):
    """Raised when the config has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = [d for d in diagnostics if d.severity == "error"]
        count = len(self.diagnostics)
        super().__init__(f"{count} error{'' if count == 1 else 's'} in the config; nothing was changed")


class UnknownScheduleError(GitbeatError):
    """Raised when a command names a schedule the config does not declare."""


class StoreError(GitbeatError):
    """Raised when the database cannot be reached or refuses a change; nothing was changed."""


class BrokerError(GitbeatError):
    """Raised when the broker cannot be reached or refuses the login."""
