"""Where config files come from, each read into a located document: the working tree, or git's objects at a ref.

In the working tree only regular files inside the config root are read (a symlink out of
it is refused and never opened); at a ref, only regular files of that commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Diagnostic
from .gittree import GitTree
from .yamlsource import Document, YamlProblem, decode, load_yaml, read_regular
from .yamlsource import Path as DataPath

CONFIG_DIRS = ("tasks", "schedules")
PROJECT_FILE = "gitbeat.yaml"
ENVIRONMENTS = "environments"


@dataclass
class Source:
    """One file as read: its name for messages and its located document."""

    display: str
    document: Document

    def locate(self, path: DataPath, *, key: bool = False) -> tuple[str, int, int]:
        """The file, line and column of `path` (its key if asked), else of its nearest parent."""
        line, column = self.document.position(path, key=key)
        return self.display, line, column

    def key_lines(self, path: DataPath) -> dict[Any, int]:
        """The line of each key under `path` that one pass places (see Document.key_lines); `locate` finds any other."""
        return self.document.key_lines(path)


@dataclass
class Overlaid(Source):
    """A base entry that an environment's overlay changes: each field is located in the file that set it."""

    overlay: Source | None = None
    entry: DataPath = ()

    def locate(self, path: DataPath, *, key: bool = False) -> tuple[str, int, int]:
        field = path[: len(self.entry) + 1]
        if self.overlay is not None and len(path) > len(self.entry) and field in self.overlay.document.values:
            return self.overlay.locate(path, key=key)
        return super().locate(path, key=key)

    def key_lines(self, path: DataPath) -> dict[Any, int]:
        return {}  # an overlaid entry's keys may stand in the overlay: each is located


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


def config_files(root: Path, directories: tuple[str, ...] = CONFIG_DIRS) -> tuple[list[Path], list[Diagnostic]]:
    """Every *.yaml / *.yml under `directories` of the root (tasks/ and schedules/), sorted, hidden names skipped.

    A symlinked directory is followed when it stays inside the root, after the real
    directories and each real directory once (a link loop ends); one that leads out of
    the root is reported and never listed. Files are checked as they are read.
    """
    found: list[Path] = []
    refused: list[Diagnostic] = []
    seen: set[Path] = set()
    pending = [root / name for name in reversed(directories)]
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


def read_file(path: Path, root: Path, diagnostics: list[Diagnostic]) -> Source | None:
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


def read_blob(tree: GitTree, relative: str, diagnostics: list[Diagnostic]) -> Source | None:
    """The located document of a file at the tree's ref; else None and the reason in `diagnostics`."""
    display = tree.display(relative)
    try:
        document = load_yaml(decode(tree.read(relative)))
    except YamlProblem as problem:
        diagnostics.append(Diagnostic(display, *problem.position, "error", "", problem.message))
        return None
    for found in document.problems:
        diagnostics.append(Diagnostic(display, *found.position, "error", "", found.message))
    return Source(display, document)
