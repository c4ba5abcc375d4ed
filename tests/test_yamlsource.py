from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widget_server.problems import ProblemsError
from widget_server.yamlsource import MAX_BYTES, Document, Limits, load_yaml, parse_yaml


def problems(source: str | bytes) -> list[str]:
    raw = source.encode() if isinstance(source, str) else source
    with pytest.raises(ProblemsError) as caught:
        parse_yaml(raw, "t.yaml")
    return [str(p) for p in caught.value.problems]


def test_values_and_positions() -> None:
    document = parse_yaml(b"id: x\nnodes:\n  a:\n    choices:\n      - id: c\n", "t.yaml")
    assert document.data == {"id": "x", "nodes": {"a": {"choices": [{"id": "c"}]}}}
    assert document.where(("id",)) == (1, 5)
    assert document.where(("id",), key=True) == (1, 1)
    assert document.where(("nodes", "a", "choices", 0, "id")) == (5, 13)
    assert document.where(("nodes", "a", "choices", 0)) == (5, 9)
    assert document.where(("nodes", "a", "missing", "deeper")) == (4, 5)
    assert document.raw == b"id: x\nnodes:\n  a:\n    choices:\n      - id: c\n"


def test_keys_stay_text_and_dates_stay_text() -> None:
    document = parse_yaml(b"on: yes\n1: 2020-01-02\nno: 1.5\n", "t.yaml")
    assert document.data == {"on": True, "1": "2020-01-02", "no": 1.5}


def test_byte_order_mark_is_accepted() -> None:
    assert parse_yaml("\ufeffa: b\n".encode(), "t.yaml").data == {"a": "b"}


def test_duplicate_key() -> None:
    assert problems("a: 1\nb:\n  c: 2\n  c: 3\n") == [
        "t.yaml:4:3: duplicate key 'c' (already on line 3) "
        "(remove one of them; YAML would silently keep only the last)"
    ]


def test_every_duplicate_is_reported_at_once() -> None:
    assert [line.split(": ")[0] for line in problems("a: 1\na: 2\nb: 1\nb: 2\n")] == [
        "t.yaml:2:1",
        "t.yaml:4:1",
    ]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("a:\n\tb: 1\n", "t.yaml:2:1: a tab is used here (indent with spaces, not tabs)"),
        (
            'a: "open\nb: 2\n',
            't.yaml:1:4: the quote " opened here is never closed (end the text with ")',
        ),
        ("a: [1, 2\n", "t.yaml:1:4: the '[' opened here is never closed (close it with ']')"),
        ("key: {a: 1\n", "t.yaml:1:6: the '{' opened here is never closed (close it with '}')"),
        (
            "text: Note: this\n",
            "t.yaml:1:11: a text contains ': ' but has no quotes around it "
            '(put the whole text in quotes: "...")',
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            "t.yaml:3:2: not valid YAML: did not find expected key "
            "(check the indentation of this line against the lines above)",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "t.yaml:2:1: the file holds more than one YAML document "
            "(remove the '---' line: one file holds one tree)",
        ),
        (
            "a: &x [1]\nb: *y\n",
            "t.yaml:2:4: the alias *y refers to no anchor "
            "(define &y before using it, or write the value out)",
        ),
    ],
)
def test_malformed_yaml(source: str, line: str) -> None:
    assert problems(source) == [line]


def test_empty_file() -> None:
    assert problems("# only a comment\n") == [
        "t.yaml:1:1: the file is empty (write the tree in it)"
    ]


def test_tags_are_refused() -> None:
    assert problems("a: !!python/object/apply:os.system [ls]\nb: !custom x\n") == [
        "t.yaml:1:4: unsupported tag tag:yaml.org,2002:python/object/apply:os.system "
        "(remove the '!' tag)",
        "t.yaml:2:4: unsupported tag !custom (remove the '!' tag)",
    ]


def test_merge_keys_are_refused() -> None:
    assert problems("base: &b {x: 1}\nother:\n  <<: *b\n") == [
        "t.yaml:3:3: a key must be a plain word (remove '<<' merges or [ ] keys)"
    ]


def test_alias_bomb() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    assert problems("\n".join(lines) + "\n") == [
        "t.yaml:2:10: the document expands to more than 200,000 values "
        "(each alias (*) repeats what its anchor (&) holds; write the content out)"
    ]


def test_alias_to_itself() -> None:
    assert problems("a: &x [1, *x]\n") == [
        "t.yaml:1:4: an alias refers to itself (remove the '*' alias from its own anchor)"
    ]


def test_deep_nesting_stops_before_the_parser_recurses() -> None:
    # 100,000 open brackets crashed the C composer (a segmentation fault, not an exception).
    # Newer libyaml stops reading ahead at 1,000 levels, before the composer can count 41.
    [problem] = problems("[" * 100_000)
    assert problem.startswith("t.yaml:1:")
    assert problem.endswith(": nested more than 40 levels deep (flatten the structure)")
    assert problems("[" * 500) == [
        "t.yaml:1:41: nested more than 40 levels deep (flatten the structure)"
    ]
    assert problems("- " * 50_000 + "x\n") == [
        "t.yaml:1:81: nested more than 40 levels deep (flatten the structure)"
    ]


def test_five_megabyte_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (5 * 1024 * 1024) + b"\n")
    with pytest.raises(ProblemsError) as caught:
        load_yaml(path, display="trees/big.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"trees/big.yaml:1:1: the file is 5,242,884 bytes, more than the {MAX_BYTES:,} allowed "
        "(split it into several trees)"
    ]


def test_limits_can_be_raised_for_benchmarks() -> None:
    raw = b"a: " + b"x" * MAX_BYTES + b"\n"
    document = parse_yaml(raw, "t.yaml", limits=Limits(max_bytes=2 * MAX_BYTES))
    assert isinstance(document, Document)


def test_binary_junk() -> None:
    assert problems(b"a: b\n\x89PNG\r\n\x1a\n\x00\x00") == [
        "t.yaml:2:1: the file is not UTF-8 text (save it as UTF-8 in your editor)"
    ]
    assert problems(b"a: b\nc: d\x00e\n") == [
        "t.yaml:2:5: control character U+0000 in the file "
        "(this looks like a binary file; save the tree as plain text)"
    ]
    assert problems(bytes(range(256))) == [
        "t.yaml:2:118: the file is not UTF-8 text (save it as UTF-8 in your editor)"
    ]


def test_characters_yaml_refuses() -> None:
    assert problems("a: b\nc: 'éx\ufffe'\n") == [
        "t.yaml:2:7: the character U+FFFE is not allowed in YAML "
        "(remove it; it is invisible in most editors)"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        load_yaml(tmp_path / "missing.yaml", display="trees/missing.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "trees/missing.yaml:1:1: cannot read the file: No such file or directory (check the path)"
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_data_or_problems(raw: bytes) -> None:
    try:
        parse_yaml(raw, "t.yaml")
    except ProblemsError as exc:
        assert exc.problems
        assert all(str(p).startswith("t.yaml:") for p in exc.problems)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:- \n[]{}&*!'\"#|>\t,?%@`", max_size=120))
def test_any_yamlish_text_gives_data_or_problems(source: str) -> None:
    try:
        parse_yaml(source.encode(), "t.yaml")
    except ProblemsError as exc:
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)
