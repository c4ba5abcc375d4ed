"""Reading hand-written YAML safely, and remembering where every value came from.

PyYAML's loaders lose what an author needs most: the line and column of a
value, and duplicate keys (the last one silently wins). So we let PyYAML
*compose* the document (safe: no tags are constructed, the C parser when
present) and build plain Python values ourselves from the node graph, recording
each value's position and refusing what a hand-written file never needs:
duplicate keys, huge expansions through aliases, custom tags, oversized files.
"""

from __future__ import annotations

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


def load_yaml(path: Path | str, *, display: str | None = None) -> Document:
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
    return parse_yaml(raw, name)


def parse_yaml(raw: bytes, name: str) -> Document:
    """Parse YAML bytes into a :class:`Document`, or raise :class:`ProblemsError`."""
    if len(raw) > MAX_BYTES:
        raise ProblemsError(
            [
                Problem(
                    name,
                    1,
                    1,
                    f"the file is {len(raw):,} bytes, more than the {MAX_BYTES:,} allowed",
                    "split it into several trees",
                )
            ]
        )
    text = _decode(raw, name)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "this is not valid YAML"
        raise ProblemsError(
            [Problem(name, line, column, f"not valid YAML: {what}", _yaml_hint(what))]
        ) from None
    except yaml.YAMLError as exc:
        raise ProblemsError(
            [Problem(name, 1, 1, f"not valid YAML: {exc}", "check the file's syntax")]
        ) from None
    document = Document(file=name, data=None, raw=raw)
    if node is None:
        raise ProblemsError([Problem(name, 1, 1, "the file is empty", "write the tree in it")])
    builder = _Builder(document)
    document.data = builder.build(node, ())
    if builder.problems:
        raise ProblemsError(builder.problems)
    return document


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
    for index, char in enumerate(text):
        if char == "\x00" or (ord(char) < 32 and char not in "\t\n\r"):
            line = text.count("\n", 0, index) + 1
            column = index - (text.rfind("\n", 0, index) + 1) + 1
            raise ProblemsError(
                [
                    Problem(
                        name,
                        line,
                        column,
                        f"control character U+{ord(char):04X} in the file",
                        "this looks like a binary file; save the tree as plain text",
                    )
                ]
            )
    return text


def _yaml_hint(what: str) -> str:
    if "tab" in what:
        return "indent with spaces, not tabs"
    if "mapping values" in what:
        return "put quotes around a text that contains ': '"
    if "expected <block end>" in what or "indentation" in what:
        return "check the indentation of this line against the lines above"
    return "check the quotes, colons and indentation around here"


class _Builder:
    """Turns a composed node graph into plain values, with positions."""

    def __init__(self, document: Document) -> None:
        self.document = document
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
        if self.values > MAX_VALUES:
            if not self.too_big:
                self.too_big = True
                self._add(
                    node,
                    f"the document expands to more than {MAX_VALUES:,} values",
                    "anchors (&) and aliases (*) repeat content; write it out or use shared ids",
                )
            return None
        self.document.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            self._add(node, "an alias refers to itself", "remove the '*' alias inside its own anchor")
            return None
        if len(path) > MAX_DEPTH:
            self._add(node, f"nested more than {MAX_DEPTH} levels deep", "flatten the structure")
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
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
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
