"""Reading hand-written YAML safely, and remembering where every value came from.

PyYAML's loaders lose what an author needs most: the line and column of a
value, and duplicate keys (the last one silently wins). So we let PyYAML
*compose* the document (safe: no tags are constructed, the C parser when
present) and build plain Python values ourselves from the node graph, recording
each value's position and refusing what a hand-written file never needs:
duplicate keys, huge expansions through aliases, custom tags, oversized files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem, ProblemsError

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

_MERGE_TAG = "tag:yaml.org,2002:merge"

_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


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
    try:
        node, first_alias = _compose(text, limits.max_depth)
    except _ComposeProblem as exc:
        raise ProblemsError([Problem(name, exc.line, exc.column, exc.message, exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        raise ProblemsError([_syntax_problem(exc, text, name, limits.max_depth)]) from None
    except yaml.reader.ReaderError as exc:
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        line, column = _line_column(text, max(text.find(char), 0))
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
    builder = _Builder(document, limits, first_alias)
    document.data = builder.build(node, ())
    if builder.problems:
        raise ProblemsError(builder.problems)
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
        line, column = _line_column(text, control.start())
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


def _line_column(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


class _ComposeProblem(Exception):
    def __init__(self, mark: Any, message: str, hint: str) -> None:
        super().__init__(message)
        self.line, self.column = mark.line + 1, mark.column + 1
        self.message, self.hint = message, hint


def _compose(text: str, max_depth: int) -> tuple[yaml.Node | None, Any]:
    """Build the node graph from parser events, without recursion.

    ``yaml.compose`` recurses once per nesting level, and the C composer
    crashes the whole process on a file of 100,000 ``[``. Reading the events
    ourselves lets us stop at ``max_depth`` before anything deep is built.
    Returns the root node and where the first alias is, which is where a
    document that expands too much should be fixed.
    """
    first_alias: Any = None
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
            if tag is None or tag == "!":
                tag = _scalar_tag(event.value) if event.implicit[0] else _STR_TAG
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
            if tag is None or tag == "!":
                tag = _SEQUENCE_TAG if is_sequence else _MAPPING_TAG
            collection = kind(tag, [], start, end, flow_style=event.flow_style)
            attach(collection, event.anchor)
            stack.append(collection)
            keys.append(None)
        elif type(event) in ends:
            stack.pop().end_mark = event.end_mark
            keys.pop()
    return root, first_alias


_STR_TAG = "tag:yaml.org,2002:str"
_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
_MAPPING_TAG = "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


def _scalar_tag(value: str) -> str:
    """The tag of a plain scalar, as PyYAML's resolver gives it, without its overhead."""
    for tag, pattern in [*_IMPLICIT.get(value[:1], ()), *_IMPLICIT.get(None, ())]:
        if pattern.match(value):
            return str(tag)
    return _STR_TAG


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, name: str, max_depth: int) -> Problem:
    """One line for a YAML syntax error, pointing where the author must look."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = exc.problem or exc.context or "this is not valid YAML"
    if "nesting depth" in what:
        # libyaml 0.2.6 and later refuse 1,000 open brackets while reading ahead,
        # before the composer sees the level where it would have stopped.
        return Problem(
            name, line, column, f"nested more than {max_depth} levels deep", "flatten the structure"
        )
    context = exc.context or ""
    opened = exc.context_mark
    lines = text.splitlines()
    here = lines[line - 1][column - 1 : column] if 0 < line <= len(lines) else ""
    if here == "\t" or "tab" in what:
        return Problem(name, line, column, "a tab is used here", "indent with spaces, not tabs")
    if opened is not None and "quoted scalar" in context:
        quote = text.splitlines()[opened.line][opened.column : opened.column + 1] or '"'
        return Problem(
            name,
            opened.line + 1,
            opened.column + 1,
            f"the quote {quote} opened here is never closed",
            f"end the text with {quote}",
        )
    if opened is not None and "flow" in context and ("expected ','" in what or "end" in what):
        bracket = text.splitlines()[opened.line][opened.column : opened.column + 1]
        closing = {"[": "]", "{": "}"}.get(bracket, "]")
        return Problem(
            name,
            opened.line + 1,
            opened.column + 1,
            f"the '{bracket}' opened here is never closed",
            f"close it with '{closing}'",
        )
    if "mapping values" in what:
        return Problem(
            name,
            line,
            column,
            "a text contains ': ' but has no quotes around it",
            'put the whole text in quotes: "..."',
        )
    if "expected" in what and ("key" in what or "block end" in what or "indicator" in what):
        hint = "check the indentation of this line against the lines above"
    else:
        hint = "check the quotes, colons and indentation around here"
    return Problem(name, line, column, f"not valid YAML: {what}", hint)


class _Builder:
    """Turns a composed node graph into plain values, with positions."""

    def __init__(self, document: Document, limits: Limits, first_alias: Any) -> None:
        self.document = document
        self.limits = limits
        self.first_alias = first_alias
        self.problems: list[Problem] = []
        self.values = 0
        self.too_big = False
        self.open: set[int] = set()

    def _add(self, node: yaml.Node, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.document.file, mark.line + 1, mark.column + 1, message, hint)
        )

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.values += 1
        if self.values > self.limits.max_values:
            if not self.too_big:
                self.too_big = True
                mark = self.first_alias or node.start_mark
                self.problems.append(
                    Problem(
                        self.document.file,
                        mark.line + 1,
                        mark.column + 1,
                        f"the document expands to more than {self.limits.max_values:,} values",
                        "each alias (*) repeats what its anchor (&) holds; write the content out",
                    )
                )
            return None
        self.document.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if node.tag not in _COLLECTION_TAGS:
            self._add(node, f"unsupported tag {node.tag}", "remove the '!' tag")
            return None
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
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                self._add(key_node, "a key must be a plain word", "remove '<<' merges or [ ] keys")
                continue
            key = str(key_node.value)
            if key in first_seen:
                line = first_seen[key].start_mark.line + 1
                self._add(
                    key_node,
                    f"duplicate key '{key}' (already on line {line})",
                    "remove one of them; YAML would silently keep only the last",
                )
                continue
            first_seen[key] = key_node
            child = (*path, key)
            mark = key_node.start_mark
            self.document.key_positions[child] = (mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self._add(node, f"unsupported tag {node.tag}", "remove the '!' tag")
            return None
        constructor = yaml.SafeLoader.yaml_constructors[node.tag]
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)  # dates stay text: alerts parse them with their own rules
        return constructor(_CONSTRUCTOR, node)


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    yield from node.value


_CONSTRUCTOR = yaml.SafeLoader("")
