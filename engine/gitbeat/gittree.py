"""A config tree as it was at a git ref, read from git's objects: no checkout, no database, no network.

`gitbeat plan --base REF` diffs the working tree against it. Only regular files are read
(a symlink in git is refused, as in a working tree), each at most the loader's limit.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import GitbeatError
from .yamlsource import MAX_FILE_BYTES, YamlProblem

REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Blob:
    path: str  # relative to the config root, posix
    mode: str
    sha: str
    size: int


class GitTree:
    """The files of the config root at `ref`."""

    def __init__(self, root: Path, ref: str) -> None:
        self.root, self.ref = root, ref
        top = self._git("rev-parse", "--show-toplevel", what="find the git repository of the config").strip()
        self.prefix = PurePosixPath(Path(root).resolve().relative_to(Path(top).resolve()).as_posix())
        self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", what=f"find the commit {ref!r}")
        self.blobs = self._list()

    def _git(self, *args: str, what: str, data: bytes | None = None) -> str:
        try:
            result = subprocess.run(["git", "-C", str(self.root), *args], input=data, capture_output=True,
                                    timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise GitbeatError(f"cannot {what}: git did not run ({error})") from None
        if result.returncode != 0:
            reason = result.stderr.decode(errors="replace").strip().splitlines()
            raise GitbeatError(f"cannot {what}" + (f": {reason[0][:200]}" if reason else ""))
        return result.stdout.decode(errors="replace")

    def _list(self) -> dict[str, Blob]:
        prefix = "" if str(self.prefix) == "." else f"{self.prefix}/"
        listing = self._git("ls-tree", "-r", "-z", "-l", "--full-tree", self.ref, "--", prefix or ".",
                            what=f"list the files at {self.ref}")
        blobs = {}
        for entry in listing.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            mode, kind, sha, size = meta.split()
            if kind != "blob" or not path.startswith(prefix):
                continue
            relative = path[len(prefix):]
            blobs[relative] = Blob(relative, mode, sha, int(size) if size.isdigit() else 0)
        return blobs

    def display(self, relative: str) -> str:
        return f"{self.ref}:{relative}"

    def files(self, directories: tuple[str, ...]) -> list[str]:
        """The *.yaml / *.yml files under `directories` at the ref, sorted, hidden names skipped."""
        return sorted(
            path for path in self.blobs
            if any(path.startswith(directory + "/") for directory in directories)
            and path.endswith((".yaml", ".yml")) and not any(part.startswith(".") for part in path.split("/"))
        )

    def has(self, relative: str) -> bool:
        return relative in self.blobs

    def has_directory(self, directory: str) -> bool:
        return any(path.startswith(directory + "/") for path in self.blobs)

    def read(self, relative: str) -> bytes:
        """The bytes of a regular file at the ref; YamlProblem for a symlink or a file over the limit."""
        blob = self.blobs[relative]
        if blob.mode not in REGULAR_MODES:
            raise YamlProblem("the file is a symlink (or no regular file) in git; gitbeat reads only regular files",
                              (1, 1))
        if blob.size > MAX_FILE_BYTES:
            raise YamlProblem(f"the file is {blob.size / 1048576:.1f} MB; gitbeat reads config files of at most "
                              f"{MAX_FILE_BYTES // 1048576} MB", (1, 1))
        try:
            result = subprocess.run(["git", "-C", str(self.root), "cat-file", "blob", blob.sha],
                                    capture_output=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            raise GitbeatError(f"cannot read {self.display(relative)}: {error}") from None
        return result.stdout
