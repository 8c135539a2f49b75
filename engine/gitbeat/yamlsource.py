"""Safe YAML to plain data plus the line:column of every key and value.

A file is read only if it is a regular file, and only up to MAX_FILE_BYTES. The composer
is iterative over libyaml's events, so depth, alias expansion and size are bounded before
anything is built: no object construction, no recursion, no "last key wins". Messages
quote the input in excerpts only (`excerpt`, `cut`, `shorten`).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000
# How much of the input a message quotes: enough to find the place, never a whole line
# (a secret pasted in the wrong place must not end up in CI logs).
EXCERPT = 60
Path = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line, column

_STR = "tag:yaml.org,2002:str"
_CONSTRUCT = {
    "tag:yaml.org,2002:null": SafeConstructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": SafeConstructor.construct_yaml_timestamp,
}
# Plain "<<" and "=" outside a key resolve to these YAML 1.1 tags; as values they are text.
_PLAIN_AS_STR = {"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"}
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class YamlProblem(Exception):
    """Raised when a YAML document cannot be read; carries the 1-based place."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass
class Document:
    """The data of one YAML file and where each key and value stands in it."""

    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """The place of `path` (its key if asked and known), else of its nearest parent."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    size: int = 1
    key: str | None = None
    key_position: Position | None = None
    key_merges: bool = False
    merges: list[tuple[Any, Position]] = field(default_factory=list)


def cut(text: str) -> str:
    """`text` as a message quotes it: at most EXCERPT characters."""
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def excerpt(value: object) -> str:
    """The repr of `value` as a message quotes it: at most EXCERPT characters."""
    return cut(repr(value[: EXCERPT + 1] if isinstance(value, str) else value))


# A quoted value (as repr writes it), or a run without spaces, longer than an excerpt.
_LONG = re.compile(
    rf"'(?:[^'\\\n]|\\.){{{EXCERPT - 1},}}'"
    rf'|"(?:[^"\\\n]|\\.){{{EXCERPT - 1},}}"'
    rf"|\S{{{EXCERPT + 1},}}"
)


def shorten(message: str) -> str:
    """`message` from code that quotes input whole (libyaml, cron, durations), each quote cut to an excerpt."""
    return _LONG.sub(lambda match: cut(match[0]), message)


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_MB = 1024 * 1024


def _too_big(size: str) -> YamlProblem:
    return YamlProblem(f"the file is {size}; gitbeat reads config files of at most {MAX_FILE_BYTES // _MB} MB", (1, 1))


def read_regular(path: FilePath) -> bytes:
    """The bytes of the regular file at `path` (not followed if a symlink), at most MAX_FILE_BYTES.

    Opened without blocking (a FIFO with no writer would wait for ever), checked on the open
    descriptor (no race with a swapped file), and read only up to the limit: a device or a
    file that grows while it is read costs no more than a file of the limit.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
            raise YamlProblem(f"the file is {kind}, not a regular file; gitbeat reads only regular files", (1, 1))
        if info.st_size > MAX_FILE_BYTES:
            raise _too_big(f"{info.st_size / _MB:.1f} MB")
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_FILE_BYTES:
            chunk = os.read(descriptor, min(MAX_FILE_BYTES + 1 - total, _MB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_FILE_BYTES:
            raise _too_big(f"more than {MAX_FILE_BYTES // _MB} MB")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _position(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1)


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _within(position: Position, text: str) -> Position:
    """libyaml marks an error at the end of a file without a final newline one line past it: the end instead."""
    breaks = _BREAK.findall(text)
    if position[0] <= len(breaks) + 1:
        return position
    last = _BREAK.split(text)[-1]
    return (len(breaks) + 1, len(last) + 1)


def decode(raw: bytes) -> str:
    """UTF-8 text of `raw`, or a YamlProblem at the first byte that is not."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise YamlProblem(
            f"not valid UTF-8: byte 0x{raw[error.start]:02x} cannot start a character", (line, column)
        ) from None


def _reader_position(text: str, index: int) -> Position:
    before = text[:index]
    return (before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def _yaml_message(error: yaml.MarkedYAMLError, text: str) -> str:
    problem = error.problem or "invalid YAML"
    mark = error.problem_mark
    if mark is not None and "cannot start any token" in problem:
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if line[mark.column : mark.column + 1] == "\t":
            return "a tab character: YAML indents with spaces only"
    if error.context:
        start = error.context_mark
        if start is not None and mark is not None and (start.line, start.column) != (mark.line, mark.column):
            problem = f"{problem} ({error.context} started at line {start.line + 1}, column {start.column + 1})"
        else:
            problem = f"{problem} ({error.context})"
    return shorten(problem)


def load_yaml(text: str) -> Document:
    """Compose `text` into a Document; raise YamlProblem for anything that is not plain, bounded YAML."""
    loader = Loader(text)
    try:
        return _compose(loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlProblem(_yaml_message(error, text), _within(_position(mark), text) if mark else (1, 1)) from None
    except yaml.reader.ReaderError as error:
        character = error.character if isinstance(error.character, str) else chr(error.character)
        raise YamlProblem(
            f"character {character!r} is not allowed in YAML ({error.reason})",
            _reader_position(text, error.position),
        ) from None
    finally:
        loader.dispose()


def _scalar(loader: Any, event: ScalarEvent, position: Position) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        value = event.value
        # Fast path, same result as the resolver: quoted scalars and plain ones whose
        # first character starts no implicit type are strings.
        if not event.implicit[0] or value[:1] not in loader.yaml_implicit_resolvers:
            return value
        tag = loader.resolve(yaml.ScalarNode, value, event.implicit)
        if tag in _PLAIN_AS_STR:
            return value
    if tag == _STR:
        return event.value
    construct = _CONSTRUCT.get(tag)
    if construct is None:
        raise YamlProblem(f"the tag {_show_tag(tag)} is not allowed: gitbeat reads plain YAML only", position)
    try:
        return construct(loader, yaml.ScalarNode(tag, event.value))
    except (ValueError, OverflowError):
        # Looks like a number or timestamp but is none (2026-02-30, 0x_): keep the text,
        # the schema says where it is wrong.
        return event.value


def _show_tag(tag: str) -> str:
    """A tag as the user wrote it: !!python/object, not tag:yaml.org,2002:python/object."""
    return cut("!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag)


def _key(event: ScalarEvent, position: Position) -> str:
    # Keys are names and field names, never YAML 1.1 booleans: `on:` stays "on".
    if event.tag not in (None, "!"):
        raise YamlProblem(f"the tag {_show_tag(event.tag)} is not allowed on a key", position)
    return event.value


def _compose(loader: Any) -> Document:
    doc = Document(data=None)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    alias_nodes = 0
    documents = 0

    def add(value: Any, position: Position, size: int, plain: bool = False) -> None:
        if not stack:
            doc.data = value
            doc.values[()] = position
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.container, list):
            path = top.path + (len(top.container),)
            top.container.append(value)
            doc.values[path] = position
            return
        if top.key is None:
            if not isinstance(value, str):
                raise YamlProblem("a mapping key must be a plain string", position)
            # Only a plain << merges, as in PyYAML: a quoted '<<' is a key like any other.
            top.key, top.key_position, top.key_merges = value, position, plain and value == "<<"
            return
        key, top.key = top.key, None
        assert top.key_position is not None
        if top.key_merges:
            top.merges.append((value, position))
            return
        path = top.path + (key,)
        if key in top.container:
            first = doc.keys[path]
            doc.problems.append(
                YamlProblem(
                    f"duplicate key {excerpt(key)} (first at line {first[0]}, column {first[1]})", top.key_position
                )
            )
            return
        top.container[key] = value
        doc.keys[path] = top.key_position
        doc.values[path] = position

    def child_path() -> Path:
        top = stack[-1] if stack else None
        if top is None:
            return ()
        if isinstance(top.container, list):
            return top.path + (len(top.container),)
        return top.path + ((top.key,) if top.key is not None else ("<key>",))

    while True:
        event = loader.get_event()
        if event is None or isinstance(event, StreamEndEvent):
            break
        if isinstance(event, (StreamStartEvent, DocumentEndEvent)):
            continue
        position = _position(event.start_mark)
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlProblem("a gitbeat file holds one YAML document; found a second one here", position)
            continue
        if isinstance(event, AliasEvent):
            alias = event.anchor or ""  # PyYAML names every alias; its stubs allow None
            if alias in open_anchors:
                raise YamlProblem(f"alias *{cut(alias)} refers to a node that contains it", position)
            if alias not in anchors:
                anchor = cut(alias)
                raise YamlProblem(f"alias *{anchor} has no anchor &{anchor} before it", position)
            value, size = anchors[alias]
            alias_nodes += size
            if alias_nodes > MAX_ALIAS_NODES:
                raise YamlProblem(
                    f"aliases expand to more than {MAX_ALIAS_NODES} nodes (a 'billion laughs' document?)", position
                )
            add(value, position, size)
            continue
        if isinstance(event, ScalarEvent):
            expecting_key = bool(stack) and isinstance(stack[-1].container, dict) and stack[-1].key is None
            value = _key(event, position) if expecting_key else _scalar(loader, event, position)
            if event.anchor:
                anchors[event.anchor] = (value, 1)
            add(value, position, 1, plain=event.implicit[0])
            continue
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            if event.tag is not None and event.tag not in _COLLECTION_TAGS:  # None (no tag) is in the set
                raise YamlProblem(
                    f"the tag {_show_tag(event.tag)} is not allowed: gitbeat reads plain YAML only", position
                )
            if stack and isinstance(stack[-1].container, dict) and stack[-1].key is None:
                raise YamlProblem("a mapping key must be a plain string, not a collection", position)
            if len(stack) >= MAX_DEPTH:
                raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", position)
            container: dict[str, Any] | list[Any] = {} if isinstance(event, MappingStartEvent) else []
            frame = _Frame(container, child_path(), event.anchor)
            if event.anchor:
                open_anchors.add(event.anchor)
            stack.append(frame)
            doc.values[frame.path] = position
            continue
        if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            frame = stack.pop()
            if frame.merges:
                _merge(frame, doc)
            if frame.anchor:
                open_anchors.discard(frame.anchor)
                anchors[frame.anchor] = (frame.container, frame.size)
            add(frame.container, doc.values[frame.path], frame.size)
            continue
    return doc


def _merge(frame: _Frame, doc: Document) -> None:
    """YAML merge keys (<<): keys written in the mapping win over merged ones."""
    assert isinstance(frame.container, dict)
    for value, position in frame.merges:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise YamlProblem("a merge key (<<) takes a mapping or a list of mappings", position)
            for key, item in source.items():
                if key not in frame.container:
                    frame.container[key] = item
                    doc.values[frame.path + (key,)] = position
                    doc.keys[frame.path + (key,)] = position
