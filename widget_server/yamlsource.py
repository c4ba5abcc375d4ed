"""Reading hand-written YAML safely, and remembering where every value came from.

PyYAML's loaders lose what an author needs most: the line and column of a
value, and duplicate keys (the last one silently wins). So we let PyYAML
*compose* the document (safe: no tags are constructed, the C parser when
present) and build plain Python values ourselves from the node graph, recording
each value's position and refusing what a hand-written file never needs:
duplicate keys, huge expansions through aliases, explicit tags, numbers too long
to be numbers, oversized files. What each plain value means is decided in
:mod:`.yamlvalues`; lines and columns are counted as editors count them
(:mod:`.yamlsyntax`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from widget_server.problems import Problem, ProblemsError
from widget_server.yamlsyntax import Lines, syntax_problem
from widget_server.yamlvalues import MERGE_TAG, STR_TAG, ValueProblem, plain_value, tag_problem

try:  # The C parser is several times faster; fall back when libyaml is missing.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: A tree file is a few hundred lines; anything this large is a mistake or an attack.
MAX_BYTES = 1_000_000

#: How many values a document may expand to. Aliases let a tiny file expand to
#: billions of values ("billion laughs"); a real tree has a few thousand.
MAX_VALUES = 200_000

#: How deep mappings and lists may nest. A tree needs about eight levels.
MAX_DEPTH = 40

#: A key path into a document: mapping keys and list indexes.
Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A YAML document's plain data, and where each part of it was written."""

    file: str
    data: Any
    #: Position (line, column), 1-based, of the value at each key path.
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    #: Position of each mapping key, so "unknown key" can point at the key itself.
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    #: The raw bytes, so callers can hash exactly what was read.
    raw: bytes = b""

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The closest known position of ``path`` (walking up to a parent if needed)."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: Path_, message: str, hint: str = "", *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(self.file, line, column, message, hint)


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a hand-written file may hold. Benchmarks raise them; nothing else should."""

    max_bytes: int = MAX_BYTES
    max_values: int = MAX_VALUES
    max_depth: int = MAX_DEPTH


DEFAULT_LIMITS = Limits()


def load_yaml(
    path: Path | str, *, display: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Document:
    """Read one YAML file into a :class:`Document`, or raise :class:`ProblemsError`.

    ``display`` is the name used in problem lines (usually the path as the
    author typed it, relative to where they run the command).
    """
    name = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProblemsError(
            [Problem(name, 1, 1, f"cannot read the file: {exc.strerror}", "check the path")]
        ) from None
    return parse_yaml(raw, name, limits=limits)


def parse_yaml(raw: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse YAML bytes into a :class:`Document`, or raise :class:`ProblemsError`."""
    if len(raw) > limits.max_bytes:
        raise ProblemsError(
            [
                Problem(
                    name,
                    1,
                    1,
                    f"the file is {len(raw):,} bytes, more than the {limits.max_bytes:,} allowed",
                    "split it into several trees",
                )
            ]
        )
    text = _decode(raw, name)
    lines = Lines(text)
    try:
        node, first_alias, tags = _compose(text, limits.max_depth)
    except _ComposeProblem as exc:
        line, column = lines.of(exc.mark)
        raise ProblemsError([Problem(name, line, column, exc.message, exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        raise ProblemsError([syntax_problem(exc, lines, name, limits.max_depth)]) from None
    except yaml.reader.ReaderError as exc:
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        line, column = lines.at(max(text.find(char), 0))
        raise ProblemsError(
            [
                Problem(
                    name,
                    line,
                    column,
                    f"the character U+{ord(char[:1] or '?'):04X} is not allowed in YAML",
                    "remove it; it is invisible in most editors",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        what = str(exc).splitlines()[0] if str(exc) else "this is not valid YAML"
        raise ProblemsError(
            [Problem(name, 1, 1, f"not valid YAML: {what}", "check the file's syntax")]
        ) from None
    document = Document(file=name, data=None, raw=raw)
    if node is None:
        raise ProblemsError([Problem(name, 1, 1, "the file is empty", "write the tree in it")])
    builder = _Builder(document, limits, first_alias, lines)
    for mark, message, hint in tags:
        builder.add(mark, message, hint)
    document.data = builder.build(node, ())
    if builder.problems:
        # An aliased value is built once per alias: say each of its problems once.
        unique = dict.fromkeys(builder.problems)
        raise ProblemsError(sorted(unique, key=lambda p: (p.line, p.column)))
    return document


_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _decode(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProblemsError(
            [
                Problem(
                    name,
                    line,
                    column,
                    "the file is not UTF-8 text",
                    "save it as UTF-8 in your editor",
                )
            ]
        ) from None
    control = _CONTROL_RE.search(text)
    if control:
        line, column = Lines(text).at(control.start())
        raise ProblemsError(
            [
                Problem(
                    name,
                    line,
                    column,
                    f"control character U+{ord(control.group()):04X} in the file",
                    "this looks like a binary file; save the tree as plain text",
                )
            ]
        )
    return text


class _ComposeProblem(Exception):
    def __init__(self, mark: Any, message: str, hint: str) -> None:
        super().__init__(message)
        self.mark, self.message, self.hint = mark, message, hint


#: A problem found while composing, reported with the builder's: (mark, message, hint).
_Found = tuple[Any, str, str]


def _compose(text: str, max_depth: int) -> tuple[yaml.Node | None, Any, list[_Found]]:
    """Build the node graph from parser events, without recursion.

    ``yaml.compose`` recurses once per nesting level, and the C composer
    crashes the whole process on a file of 100,000 ``[``. Reading the events
    ourselves lets us stop at ``max_depth`` before anything deep is built.
    Returns the root node, where the first alias is (which is where a
    document that expands too much should be fixed) and the explicit tags
    refused. A node with a refused tag is built as if it had none, so the
    rest of the file is still checked.
    """
    first_alias: Any = None
    tags: list[_Found] = []
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    anchors: dict[str, yaml.Node] = {}
    stack: list[yaml.CollectionNode] = []
    keys: list[yaml.Node | None] = []
    root: yaml.Node | None = None
    documents = 0

    def attach(node: yaml.Node, anchor: str | None) -> None:
        nonlocal root
        if anchor is not None:
            anchors[anchor] = node
        if not stack:
            root = node
        elif isinstance(stack[-1], yaml.SequenceNode):
            stack[-1].value.append(node)
        elif keys[-1] is None:
            keys[-1] = node
        else:
            stack[-1].value.append((keys[-1], node))
            keys[-1] = None

    events: Iterator[Any] = yaml.parse(text, Loader=_Loader)
    for event in events:
        start: Any = event.start_mark
        end: Any = event.end_mark
        if type(event) is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _ComposeProblem(
                    event.start_mark,
                    "the file holds more than one YAML document",
                    "remove the '---' line: one file holds one tree",
                )
        elif type(event) is yaml.ScalarEvent:
            tag = event.tag
            if tag is not None and (refused := tag_problem(tag, scalar=True)):
                tags.append((start, *refused))
            if tag is None:
                tag = _scalar_tag(event.value) if event.implicit[0] else STR_TAG
            elif tag != STR_TAG:  # '!' says "text" (YAML's non-specific tag); others refused
                tag = STR_TAG
            node: yaml.Node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            attach(node, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise _ComposeProblem(
                    event.start_mark,
                    f"the alias *{event.anchor} refers to no anchor",
                    f"define &{event.anchor} before using it, or write the value out",
                )
            first_alias = first_alias or event.start_mark
            attach(anchors[event.anchor], None)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(stack) >= max_depth:
                raise _ComposeProblem(
                    event.start_mark,
                    f"nested more than {max_depth} levels deep",
                    "flatten the structure",
                )
            is_sequence = isinstance(event, yaml.SequenceStartEvent)
            kind = yaml.SequenceNode if is_sequence else yaml.MappingNode
            tag = event.tag
            if tag is not None and (refused := tag_problem(tag, scalar=False)):
                tags.append((start, *refused))
            tag = _SEQUENCE_TAG if is_sequence else _MAPPING_TAG
            collection = kind(tag, [], start, end, flow_style=event.flow_style)
            attach(collection, event.anchor)
            stack.append(collection)
            keys.append(None)
        elif type(event) in ends:
            stack.pop().end_mark = event.end_mark
            keys.pop()
    return root, first_alias, tags


_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
_MAPPING_TAG = "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


def _scalar_tag(value: str) -> str:
    """The tag of a plain scalar, as PyYAML's resolver gives it, without its overhead."""
    for tag, pattern in [*_IMPLICIT.get(value[:1], ()), *_IMPLICIT.get(None, ())]:
        if pattern.match(value):
            return str(tag)
    return STR_TAG


class _Builder:
    """Turns a composed node graph into plain values, with positions."""

    def __init__(self, document: Document, limits: Limits, first_alias: Any, lines: Lines) -> None:
        self.document = document
        self.limits = limits
        self.first_alias = first_alias
        self.lines = lines
        self.problems: list[Problem] = []
        self.values = 0
        self.too_big = False
        self.open: set[int] = set()

    def add(self, mark: Any, message: str, hint: str = "") -> None:
        line, column = self.lines.of(mark)
        self.problems.append(Problem(self.document.file, line, column, message, hint))

    def _add(self, node: yaml.Node, message: str, hint: str = "") -> None:
        self.add(node.start_mark, message, hint)

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.values += 1
        if self.values > self.limits.max_values:
            if not self.too_big:
                self.too_big = True
                self.add(
                    self.first_alias or node.start_mark,
                    f"the document expands to more than {self.limits.max_values:,} values",
                    "each alias (*) repeats what its anchor (&) holds; write the content out",
                )
            return None
        self.document.positions[path] = self.lines.of(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            self._add(node, "an alias refers to itself", "remove the '*' alias from its own anchor")
            return None
        if len(path) > self.limits.max_depth:
            message = f"nested more than {self.limits.max_depth} levels deep"
            self._add(node, message, "flatten the structure")
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            assert isinstance(node, yaml.SequenceNode)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in _pairs(node):
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                self._add(key_node, "a key must be a plain word", "remove '<<' merges or [ ] keys")
                continue
            key = str(key_node.value)
            if key in first_seen:
                line = self.lines.of(first_seen[key].start_mark)[0]
                self._add(
                    key_node,
                    f"duplicate key '{key}' (already on line {line})",
                    "remove one of them; YAML would silently keep only the last",
                )
                continue
            first_seen[key] = key_node
            child = (*path, key)
            self.document.key_positions[child] = self.lines.of(key_node.start_mark)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return plain_value(node.tag, node.value)
        except ValueProblem as exc:
            self._add(node, exc.message, exc.hint)
            return None


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    yield from node.value
