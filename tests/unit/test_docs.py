"""The documentation lives in the repository: its links resolve inside it, and it names every command and setting."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from gitbeat.cli import COMMANDS
from gitbeat.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [README, *PAGES]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
# [text](target "title"): the text may hold `code` and one level of brackets.
_INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^\s>]+)>")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def prose(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
            else:
                lines.append(line)
        elif match and match.group(1).startswith(fence) and not match.group(2).strip():
            fence = None  # a closing fence: the same character, at least as long, no info string
    return lines


def links(path: Path) -> list[str]:
    """Every link target of a Markdown file: inline, reference definitions and autolinks (not in code)."""
    found: list[str] = []
    for line in prose(path.read_text(encoding="utf-8")):
        # Code spans blanked, backticks kept: `[a](b)` is no link, [`a`](b) still is.
        line = _CODE_SPAN.sub(lambda m: m[1] + " " * len(m[2]) + m[1], line)
        found += [target for _, target in _INLINE.findall(line)]
        found += _AUTOLINK.findall(line)
        reference = _REFERENCE.match(line)
        if reference:
            found.append(reference.group(1))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(path.read_text(encoding="utf-8")):
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            name, count = base, 1
            while name in found:
                name, count = f"{base}-{count}", count + 1
            found.add(name)
    return found


def section(text: str, title: str) -> str:
    """The body of the `## title` section of a Markdown text, up to the next heading of that level or higher."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^#{{1,2}} |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {title}' section"
    return match.group(1)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, content) of each fenced code block at the start of a line."""
    return [
        (info.strip(), body)
        for info, body in re.findall(r"^```([^\n`]*)\n(.*?)^```\s*$", text, re.MULTILINE | re.DOTALL)
    ]


def test_there_are_docs_pages() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "format.md", "commands.md", "settings.md", "guarantees.md", "operations.md"} <= names


def link_problems(path: Path) -> list[str]:
    """Why links of `path` do not resolve to a file inside the repository (and its heading, if named)."""
    problems = []
    for target in links(path):
        if _SCHEME.match(target) or target.startswith("//"):
            # Absolute URLs never point at this project's own files: those are relative links.
            if path == README or "gitbeat" in target.lower() or target.lower().startswith("file:"):
                problems.append(f"{target}: link to a file in the repository with a relative path")
            continue
        parts = urlsplit(target)
        if not parts.path:  # "#anchor": a heading of this page
            resolved = path
        elif parts.path.startswith("/"):
            problems.append(f"{target}: an absolute path; use one relative to {path.parent.relative_to(ROOT) or '.'}")
            continue
        else:
            resolved = (path.parent / unquote(parts.path)).resolve()
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: leads out of the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file in the repository")
            continue
        if parts.fragment and resolved.suffix == ".md" and parts.fragment not in anchors(resolved):
            problems.append(f"{target}: no heading #{parts.fragment} in {resolved.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(path: Path) -> None:
    assert link_problems(path) == []


def test_the_readme_links_every_docs_page_and_the_index_lists_them() -> None:
    readme = {urlsplit(t).path for t in links(README)}
    index = {urlsplit(t).path for t in links(DOCS / "README.md")}
    for page in PAGES:
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
        if page.name != "README.md":
            assert page.name in index, f"docs/README.md does not list {page.name}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    assert re.search(rf"\bgitbeat {re.escape(name)}\b", text), f"docs/commands.md never shows `gitbeat {name}`"


def setting_names() -> list[str]:
    names = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        assert alias, "every setting is read from an environment variable named by its alias"
        names.append(alias)
    return names


@pytest.mark.parametrize("variable", setting_names())
def test_every_setting_is_documented(variable: str) -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert re.search(rf"(?<![A-Z0-9_]){re.escape(variable)}(?![A-Z0-9_])", text), f"docs/settings.md lacks {variable}"


def test_the_readme_set_up_has_the_two_commands_and_ci_runs_the_second() -> None:
    blocks = fenced_blocks(section(README.read_text(encoding="utf-8"), "Set up"))
    bash = [body for info, body in blocks if info == "bash"]
    assert len(bash) == 2, blocks
    assert bash[0].strip().endswith("gitbeat dev")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert bash[1].rstrip("\n") in ci_lines, "CI does not run the README's test command verbatim"


def test_dotenv_is_ignored() -> None:
    patterns = [line.strip() for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()]
    assert ".env" in patterns or "/.env" in patterns
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return
    result = subprocess.run([git, "check-ignore", "--no-index", "-q", ".env"], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr
