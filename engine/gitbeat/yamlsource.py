"""Safe YAML to plain data plus the line:column of every key and value.

A file is read only if it is a regular file, and only up to MAX_FILE_BYTES. Two composers
give the same Document. The fast one lets libyaml compose the nodes in C and walks them
once, keeping only each node's offset; it takes the documents that hold no problem. The
exact one is iterative over libyaml's events, so depth, alias expansion and size are
bounded before anything is built: no object construction, no recursion, no "last key
wins". Whatever the fast one meets that is not plain, bounded YAML (a bad tag, a duplicate
key, an alias that loops or expands too far, deep nesting, a syntax error) it leaves to
the exact one, which reports it where and as it always did. Messages quote the input in
excerpts only (`excerpt`, `cut`, `shorten`).
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import sys
from array import array
from collections.abc import Iterator, Mapping
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
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
    values: Mapping[Path, Position] = field(default_factory=dict)
    keys: Mapping[Path, Position] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """The place of `path` (its key if asked and known), else of its nearest parent."""
        # One lookup each (get): a lazily located document computes a place on every lookup.
        found = self.keys.get(path) if key else None
        while found is None:
            found = self.values.get(path)
            if not path:
                break
            path = path[:-1]
        return found or (1, 1)

    def key_lines(self, path: Path) -> dict[Any, int]:
        """The line of each key of the mapping at `path` that is placed at once (a file's worth in one pass); any
        other is found with `position`."""
        if isinstance(self.keys, _Places):
            return self.keys.lines(path)
        return {key[-1]: line for key, (line, _) in self.keys.items() if len(key) == len(path) + 1 and key[:-1] == path}


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
    if _NodeLoader is not None:
        document = _fast_document(text)
        if document is not None:
            return document
    return _exact_document(text)


def _exact_document(text: str) -> Document:
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
    values: dict[Path, Position] = {}
    keys: dict[Path, Position] = {}
    doc = Document(data=None, values=values, keys=keys)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    alias_nodes = 0
    documents = 0

    def add(value: Any, position: Position, size: int, plain: bool = False) -> None:
        if not stack:
            doc.data = value
            values[()] = position
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.container, list):
            path = top.path + (len(top.container),)
            top.container.append(value)
            values[path] = position
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
            first = keys[path]
            doc.problems.append(
                YamlProblem(
                    f"duplicate key {excerpt(key)} (first at line {first[0]}, column {first[1]})", top.key_position
                )
            )
            return
        top.container[key] = value
        keys[path] = top.key_position
        values[path] = position

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
            values[frame.path] = position
            continue
        if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            frame = stack.pop()
            if frame.merges:
                _merge(frame, values, keys)
            if frame.anchor:
                open_anchors.discard(frame.anchor)
                anchors[frame.anchor] = (frame.container, frame.size)
            add(frame.container, values[frame.path], frame.size)
            continue
    return doc


def _merge(frame: _Frame, values: dict[Path, Position], keys: dict[Path, Position]) -> None:
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
                    values[frame.path + (key,)] = position
                    keys[frame.path + (key,)] = position


# --- the fast composer ---------------------------------------------------------------------------
#
# libyaml composes the nodes (with marks) in C; one walk turns them into data and keeps, per
# container, the offset of each key and value: a list beside each dict and list, found by the
# container's id. Offsets become line:column only when a position is asked for. An alias is the
# node of its anchor again: the walk tells it from the anchor by having seen the node before,
# counts what it would expand to over the node graph (never expanding it), and finds the `*` in
# the text for its position. Anything else is left to the exact composer (_Fallback).

# How the resolver below tags a node that has no tag (or "!"): what the walk builds from it.
# The walk compares by identity, so a tag written in the file (a str) never passes for one.
_T_STR, _T_MERGE, _T_NULL, _T_BOOL, _T_INT, _T_FLOAT, _T_TIME, _T_OTHER, _T_COLLECTION = range(9)
_T_CODES = {
    _STR: _T_STR,
    "tag:yaml.org,2002:merge": _T_MERGE,
    "tag:yaml.org,2002:value": _T_STR,  # as the exact composer: a plain "=" is text
    "tag:yaml.org,2002:null": _T_NULL,
    "tag:yaml.org,2002:bool": _T_BOOL,
    "tag:yaml.org,2002:int": _T_INT,
    "tag:yaml.org,2002:float": _T_FLOAT,
    "tag:yaml.org,2002:timestamp": _T_TIME,
}
_RESOLVERS = {
    first: [*resolvers, *Loader.yaml_implicit_resolvers.get(None, [])]
    for first, resolvers in Loader.yaml_implicit_resolvers.items()
    if first is not None
}
# Plain scalars that may be more than text ("true", "5", "2026-01-01"), by value: they repeat.
_RESOLVED: dict[str, int] = {}
_RESOLVED_MAX = 4096
_NO_PATHS: dict[Any, Any] = {}
_CONSTRUCTOR = SafeConstructor()
_BOOLS = SafeConstructor.bool_values
_BREAKS = "\r\n\x85\u2028\u2029"


class _Fallback(Exception):
    """Raised when a document is for the exact composer: it holds a problem, or an alias the fast one does not place."""


if getattr(yaml, "__with_libyaml__", False):

    class _CNodeLoader(yaml.CSafeLoader):
        """libyaml's composer, its resolver answering with the _T_ codes (the same rules as Loader's)."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is not ScalarNode:
                return _T_COLLECTION
            if not implicit[0] or value[:1] not in _RESOLVERS:
                return _T_STR
            code = _RESOLVED.get(value)
            if code is None:
                code = next((_T_CODES.get(t, _T_OTHER) for t, r in _RESOLVERS[value[:1]] if r.match(value)), _T_STR)
                if len(_RESOLVED) < _RESOLVED_MAX and len(value) <= EXCERPT:
                    _RESOLVED[value] = code
            return code

        # Called for every node; with no path resolvers they do nothing: C functions that take
        # the same arguments, not two Python calls per node.
        descend_resolver = _NO_PATHS.get  # type: ignore[assignment]
        ascend_resolver = int  # type: ignore[assignment]

    _NodeLoader: type[yaml.CSafeLoader] | None = _CNodeLoader
else:  # pragma: no cover - PyYAML without libyaml: the exact composer alone
    _NodeLoader = None


def _fast_document(text: str) -> Document | None:
    """The Document of `text` composed by libyaml, or None when the exact composer must answer."""
    assert _NodeLoader is not None
    loader = _NodeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    if root is None:
        return None
    try:
        located = _Located(text, root)
    except (_Fallback, RecursionError):
        return None
    return Document(located.data, _Places(located, key=False), _Places(located, key=True))


def _alias_at(text: str, start: int) -> int:
    """The offset of the next `*` from `start`, where only indicators, spaces and comments come before the alias."""
    try:
        while text[start] != "*":
            if text[start] == "#":
                while text[start] not in _BREAKS:
                    start += 1
            start += 1
    except IndexError:
        raise _Fallback from None
    return start


def _expanded_size(node: Node, sizes: dict[Node, int]) -> int:
    """How many nodes `node` stands for with every alias in it expanded: what the exact composer counts.

    Over the node graph, iteratively, each node once (`sizes` remembers): a billion laughs
    costs a few dozen steps. A mapping counts itself, each key and each value.
    """
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if current in sizes:
            continue
        if isinstance(current, ScalarNode):
            sizes[current] = 1
            continue
        items = current.value if isinstance(current, SequenceNode) else [value for _, value in current.value]
        if children_done:
            keys = len(items) if isinstance(current, MappingNode) else 0
            sizes[current] = 1 + keys + sum(sizes[item] for item in items)
        else:
            stack.append((current, True))
            stack.extend((item, False) for item in items if item not in sizes)
    return sizes[node]


class _Located:
    """One document's data, and the offset in its text of each key and value, from libyaml's nodes."""

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        # id(container) -> [key, value, ...] offsets or [item, ...]: 4-byte unsigned ints (files are at most
        # 10 MB), a tenth of a list of Python ints, for the offsets of every key and value a config holds
        self.places: dict[int, array[int]] = {}
        self.merged: dict[int, dict[str, int]] = {}  # id(mapping with <<) -> merged key -> offset of the << value
        self.aliased: set[tuple[int, str | int]] = set()  # (id(container), key or index) whose value is an alias
        self.keep: list[Any] = []  # << values: not in the data, but their ids stay taken
        self.root = root.start_mark.index
        self._lines: array[int] | None = None  # the offset each line starts at (4 bytes each, as the places)
        self._indexes: dict[int, dict[str, int]] = {}
        self._exact: Document | None = None
        self.data = _Walk(self).value(root)

    def offset(self, path: Path, *, key: bool) -> int | None:
        """The offset of the key (or value) at `path`; None where the exact composer records no place."""
        if not path:
            return None if key else self.root
        current = self.data
        last = len(path) - 1
        for depth, part in enumerate(path):
            offsets = self.places.get(id(current))
            if offsets is None:
                return None
            if isinstance(current, dict):
                if part == "<<" and id(current) in self.merged:
                    raise _Fallback  # the exact composer places a << value's own items under "<<"
                index = self._key_indexes(current, offsets).get(part) if isinstance(part, str) else None
                if index is None:
                    merged = self.merged.get(id(current), {}).get(part) if isinstance(part, str) else None
                    return merged if depth == last else None
                if depth == last:
                    return offsets[2 * index + (0 if key else 1)]
            elif type(part) is int and 0 <= part < len(offsets):
                if depth == last:
                    return None if key else offsets[part]
            else:
                return None
            if (id(current), part) in self.aliased:
                return None  # the exact composer places an alias, not what is inside it
            current = current[part]
        return None

    def key_lines(self, path: Path) -> dict[str, int]:
        """The line of each key written in the mapping at `path`: what `offset` answers for each, in one pass."""
        current: Any = self.data
        for part in path:
            indexes = self._written_keys(current)
            if indexes is None or part not in indexes or (id(current), part) in self.aliased:
                return {}  # not a mapping, or merged or an alias: `offset` answers for each
            current = current[part]
        indexes = self._written_keys(current)
        if indexes is None:
            return {}
        offsets = self.places[id(current)]
        return {key: self.position(offsets[2 * index])[0] for key, index in indexes.items()}

    def _written_keys(self, container: Any) -> dict[str, int] | None:
        """The index of each key written in `container` when it is a mapping the walk placed, else None."""
        offsets = self.places.get(id(container))
        return self._key_indexes(container, offsets) if isinstance(container, dict) and offsets is not None else None

    def _key_indexes(self, mapping: dict[str, Any], offsets: array[int]) -> dict[str, int]:
        indexes = self._indexes.get(id(mapping))
        if indexes is None:
            written = len(offsets) // 2  # the keys written in the mapping come first, merged ones after
            indexes = self._indexes[id(mapping)] = {k: i for i, k in zip(range(written), mapping, strict=False)}
        return indexes

    def position(self, offset: int) -> Position:
        """The 1-based line and column of `offset`, counting line breaks as libyaml does."""
        if self._lines is None:
            self._lines = array("I", [0, *(match.end() for match in _BREAK.finditer(self.text))])
        line = bisect.bisect_right(self._lines, offset)
        return (line, offset - self._lines[line - 1] + 1)

    def exact(self) -> Document:
        """The exact composer's Document of the same text: for what the offsets do not answer."""
        if self._exact is None:
            self._exact = _exact_document(self.text)
        return self._exact


class _Walk:
    """One walk over a document's nodes: its data, and the offsets into `located`."""

    def __init__(self, located: _Located) -> None:
        self.located = located
        self.seen: dict[Node, Any] = {}  # every node walked: its value (an alias is a node seen before)
        self.open: set[Node] = set()  # collections being walked: an alias to one would contain itself
        self.sizes: dict[Node, int] = {}
        self.expanded = 0  # nodes that the aliases so far stand for

    def value(self, root: Node) -> Any:
        return _scalar_value(root) if isinstance(root, ScalarNode) else self.collection(root, 1)

    def alias(self, node: Node) -> Any:
        """The value of an anchor's node met again; the alias counted as the exact composer counts it."""
        if node in self.open:
            raise _Fallback
        self.expanded += _expanded_size(node, self.sizes)
        if self.expanded > MAX_ALIAS_NODES:
            raise _Fallback
        return self.seen[node]

    def collection(self, node: Node, depth: int) -> Any:
        if depth > MAX_DEPTH or (node.tag is not _T_COLLECTION and node.tag not in _COLLECTION_TAGS):
            raise _Fallback
        self.open.add(node)
        result = self.mapping(node, depth) if isinstance(node, MappingNode) else self.sequence(node, depth)
        self.open.discard(node)
        return result

    def mapping(self, node: Node, depth: int) -> dict[str, Any]:
        # The hot loop: names bound once, plain scalars built inline.
        seen, text, scalar_type, str_tag, merge_tag = self.seen, self.located.text, ScalarNode, _T_STR, _T_MERGE
        intern = sys.intern
        mapping: dict[str, Any] = {}
        seen[node] = mapping
        offsets = array("I")
        self.located.places[id(mapping)] = offsets
        merges: list[tuple[Any, int]] = []
        for key_node, value_node in node.value:
            key_tag = key_node.tag
            if key_node in seen or key_node.__class__ is not scalar_type or key_tag.__class__ is not int:
                raise _Fallback  # an alias, a collection or a tag as a key
            # One str per distinct text (here and for values): libyaml makes a new one for each "task:" and each
            # "Europe/Berlin" of 100,000 schedules, 44 MB of them.
            key = intern(key_node.value)
            seen[key_node] = key
            if value_node in seen:
                value = self.alias(value_node)
                at = _alias_at(text, key_node.end_mark.index)
                if key_tag is not merge_tag:
                    self.located.aliased.add((id(mapping), key))
            else:
                at = value_node.start_mark.index
                if value_node.__class__ is not scalar_type:
                    value = self.collection(value_node, depth + 1)
                elif value_node.tag is str_tag:
                    value = intern(value_node.value)
                else:
                    value = _scalar_value(value_node)
                seen[value_node] = value
            if key_tag is merge_tag:
                merges.append((value, at))
                self.located.keep.append(value)
                continue
            mapping[key] = value
            offsets.append(key_node.start_mark.index)
            offsets.append(at)
        if len(mapping) != len(offsets) // 2:
            raise _Fallback  # a duplicate key: the exact composer reports it
        if merges:
            self.merge(mapping, merges)
        return mapping

    def sequence(self, node: Node, depth: int) -> list[Any]:
        seen, text, scalar_type, str_tag = self.seen, self.located.text, ScalarNode, _T_STR
        intern = sys.intern
        sequence: list[Any] = []
        seen[node] = sequence
        offsets = array("I")
        self.located.places[id(sequence)] = offsets
        for index, item in enumerate(node.value):
            if item in seen:
                value = self.alias(item)
                if index == 0:
                    after = node.start_mark.index
                elif (id(sequence), index - 1) in self.located.aliased:
                    after = offsets[-1] + 1
                else:
                    after = node.value[index - 1].end_mark.index
                offsets.append(_alias_at(text, after))
                self.located.aliased.add((id(sequence), index))
            else:
                offsets.append(item.start_mark.index)
                if item.__class__ is not scalar_type:
                    value = self.collection(item, depth + 1)
                elif item.tag is str_tag:
                    value = intern(item.value)
                else:
                    value = _scalar_value(item)
                seen[item] = value
            sequence.append(value)
        return sequence

    def merge(self, mapping: dict[str, Any], merges: list[tuple[Any, int]]) -> None:
        """YAML merge keys (<<) as the exact composer merges them: keys written in the mapping win."""
        merged = self.located.merged[id(mapping)] = {}
        for value, at in merges:
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    raise _Fallback
                for key, item in source.items():
                    if key not in mapping:
                        mapping[key] = item
                        merged[key] = at


def _scalar_value(node: ScalarNode) -> Any:
    """A scalar's value as the exact composer's `_scalar` builds it."""
    tag, text = node.tag, node.value
    if tag is _T_STR or tag is _T_MERGE:
        return text
    if tag is _T_NULL:
        return None
    if tag is _T_BOOL:
        return _BOOLS[text.lower()]
    if tag is _T_INT and text.isdigit() and text[0] != "0" and len(text) < 19:
        return int(text)
    if tag.__class__ is int:
        tag = {_T_INT: "tag:yaml.org,2002:int", _T_FLOAT: "tag:yaml.org,2002:float",
               _T_TIME: "tag:yaml.org,2002:timestamp"}.get(tag)
    if tag == _STR:
        return text
    construct = _CONSTRUCT.get(tag)
    if construct is None:
        raise _Fallback  # a tag gitbeat does not read: the exact composer says where
    try:
        return construct(_CONSTRUCTOR, node)
    except (ValueError, OverflowError):
        return text


class _Places(Mapping[Path, Position]):
    """Document.values or .keys of a document the fast composer read: each looked up when asked."""

    def __init__(self, located: _Located, *, key: bool) -> None:
        self._located = located
        self._key = key

    def __getitem__(self, path: Path) -> Position:
        try:
            offset = self._located.offset(path, key=self._key)
        except _Fallback:
            return self._exact()[path]
        if offset is None:
            raise KeyError(path)
        return self._located.position(offset)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, tuple):
            return False
        try:
            return self._located.offset(path, key=self._key) is not None
        except _Fallback:
            return path in self._exact()

    def lines(self, path: Path) -> dict[Any, int]:
        return self._located.key_lines(path)

    def _exact(self) -> Mapping[Path, Position]:
        document = self._located.exact()
        return document.keys if self._key else document.values

    def __iter__(self) -> Iterator[Path]:
        return iter(self._exact())

    def __len__(self) -> int:
        return len(self._exact())
