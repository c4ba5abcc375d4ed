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


_OTHER_TAGS = "these files hold texts, numbers, true or false, lists and 'key: value' lines"


def test_tags_are_refused() -> None:
    assert problems("a: !!python/object/apply:os.system [ls]\nb: !custom x\n") == [
        "t.yaml:1:4: the tag !!python/object/apply:os.system is not allowed "
        f"(remove !!python/object/apply:os.system: {_OTHER_TAGS})",
        f"t.yaml:2:4: the tag !custom is not allowed (remove !custom: {_OTHER_TAGS})",
    ]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        # Each of these raised from PyYAML's constructors (KeyError, ValueError, IndexError).
        (
            "x: !!bool maybe\n",
            "t.yaml:1:4: the tag !!bool is not allowed "
            "(remove !!bool: write true or false without it)",
        ),
        (
            "x: !!int abc\n",
            "t.yaml:1:4: the tag !!int is not allowed "
            "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        ),
        (
            "x: !!float abc\n",
            "t.yaml:1:4: the tag !!float is not allowed "
            "(remove !!float: write the number alone, like 1.5, or put a text in quotes)",
        ),
        (
            "id: x\nstart: !!int id\n",
            "t.yaml:2:8: the tag !!int is not allowed "
            "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        ),
        (
            "x: !!int ''\n",
            "t.yaml:1:4: the tag !!int is not allowed "
            "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        ),
        (
            "x: !<tag:yaml.org,2002:int> zz\n",
            "t.yaml:1:4: the tag !!int is not allowed "
            "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        ),
        # Tags that built a value without a word: refused too, so every tag gets one answer.
        (
            "x: !!timestamp 2026-01-01\n",
            "t.yaml:1:4: the tag !!timestamp is not allowed "
            "(remove !!timestamp: write the date alone, like 2026-03-01)",
        ),
        (
            "x: !!null abc\n",
            "t.yaml:1:4: the tag !!null is not allowed "
            "(remove !!null: leave the value empty instead)",
        ),
        (
            "x: !!binary aGk=\n",
            f"t.yaml:1:4: the tag !!binary is not allowed (remove !!binary: {_OTHER_TAGS})",
        ),
        (
            "x: !!map {a: 1}\n",
            f"t.yaml:1:4: the tag !!map is not allowed (remove !!map: {_OTHER_TAGS})",
        ),
        (
            "x: !!seq [1]\n",
            f"t.yaml:1:4: the tag !!seq is not allowed (remove !!seq: {_OTHER_TAGS})",
        ),
        (
            "x: !!str [1]\n",
            f"t.yaml:1:4: the tag !!str is not allowed (remove !!str: {_OTHER_TAGS})",
        ),
        (
            "!!int 1: x\n",
            "t.yaml:1:1: the tag !!int is not allowed "
            "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        ),
    ],
)
def test_explicit_tags_give_a_problem_line(source: str, line: str) -> None:
    assert problems(source) == [line]


def test_every_tag_is_reported_with_the_other_problems_in_order() -> None:
    assert [p.split(": ")[0] for p in problems("a: !!int x\nb: 1\nb: 2\nc: !!bool y\n")] == [
        "t.yaml:1:4",
        "t.yaml:3:1",
        "t.yaml:4:4",
    ]


def test_a_refused_value_behind_aliases_is_reported_once() -> None:
    assert problems("a: &n 1.5e+999\nb: [*n, *n, *n]\nc: &t !!int x\nd: [*t, *t]\n") == [
        "t.yaml:1:4: the number 1.5e+999 is too large "
        "(a phone number or a code is a text: put it in quotes)",
        "t.yaml:3:4: the tag !!int is not allowed "
        "(remove !!int: write the number alone, like 12, or put a text in quotes)",
    ]


def test_str_tags_say_text_as_quotes_do() -> None:
    document = parse_yaml(b"a: !!str 12\nb: ! yes\nc: !!str\n", "t.yaml")
    assert document.data == {"a": "12", "b": "yes", "c": ""}


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("12", 12),
        ("-3", -3),
        ("1_000", 1000),
        ("9" * 18, int("9" * 18)),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.5e+3", 1500.0),
        # YAML 1.1 reads these as octal, base 60, hexadecimal and binary: an author
        # means them as written (a number to dial, a time).
        ("0612", "0612"),
        ("10:30", "10:30"),
        ("190:20:30", "190:20:30"),
        ("1:30.5", "1:30.5"),
        ("0x1F", "0x1F"),
        ("0b101", "0b101"),
        ("0x" + "f" * 5000, "0x" + "f" * 5000),
        # Values PyYAML gives a tag of its own that is no value at all.
        ("=", "="),
        ("<<", "<<"),
        ("yes", True),
        ("off", False),
        ("~", None),
        ("2026-13-45", "2026-13-45"),
    ],
)
def test_plain_values(written: str, value: object) -> None:
    assert parse_yaml(f"x: {written}\n".encode(), "t.yaml").data == {"x": value}


@pytest.mark.parametrize(
    ("written", "line"),
    [
        (
            "9" * 5000,
            "t.yaml:2:4: the number 999999999999999999999... has 5,000 digits, more than the 18 "
            "allowed (a phone number or a code is a text: put it in quotes)",
        ),
        (
            "-" + "1" * 19,
            "t.yaml:2:4: the number -1111111111111111111 has 19 digits, more than the 18 "
            "allowed (a phone number or a code is a text: put it in quotes)",
        ),
        (
            "0." + "1" * 5000,
            "t.yaml:2:4: the number 0.1111111111111111111... has 5,001 digits, more than the 18 "
            "allowed (a phone number or a code is a text: put it in quotes)",
        ),
        (
            "1.5e+999",
            "t.yaml:2:4: the number 1.5e+999 is too large "
            "(a phone number or a code is a text: put it in quotes)",
        ),
        (
            "1.0e+" + "9" * 5000,
            "t.yaml:2:4: the number 1.0e+9999999999999999... is too large "
            "(a phone number or a code is a text: put it in quotes)",
        ),
        (
            ".inf",
            "t.yaml:2:4: .inf is not a number these files can hold "
            "(write an ordinary number, like 1.5, or put a text in quotes)",
        ),
        (
            "-.Inf",
            "t.yaml:2:4: -.Inf is not a number these files can hold "
            "(write an ordinary number, like 1.5, or put a text in quotes)",
        ),
        (
            ".NaN",
            "t.yaml:2:4: .NaN is not a number these files can hold "
            "(write an ordinary number, like 1.5, or put a text in quotes)",
        ),
    ],
)
def test_numbers_are_bounded_before_they_are_read(written: str, line: str) -> None:
    assert problems(f"a: 1\nx: {written}\n") == [line]


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
@given(st.text(alphabet="ab:- \n[]{}&*!'\"#|>\t,?%@`09.\u2028", max_size=120))
def test_any_yamlish_text_gives_data_or_problems(source: str) -> None:
    try:
        parse_yaml(source.encode(), "t.yaml")
    except ProblemsError as exc:
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_lines_are_counted_as_editors_count_them(separator: str) -> None:
    # PyYAML ends a line at U+2028, U+2029 and U+0085 too; editors, grep -n and wc -l do
    # not, so every line after one used to be reported one line too far.
    assert problems(f"a: \"one{separator}two\"\nb: 'x{separator}y'\nc: [1, 2\n") == [
        "t.yaml:3:4: the '[' opened here is never closed (close it with ']')"
    ]
    assert problems(f'a: ["x{separator}y", !!int z]\nb: 1\nb: 2\n') == [
        "t.yaml:1:12: the tag !!int is not allowed "
        "(remove !!int: write the number alone, like 12, or put a text in quotes)",
        "t.yaml:3:1: duplicate key 'b' (already on line 2) "
        "(remove one of them; YAML would silently keep only the last)",
    ]
    document = parse_yaml(f'a: "x{separator}y"\nb: {{k: v}}\n'.encode(), "t.yaml")
    assert document.where(("b", "k")) == (2, 8)
    assert document.where(("b",), key=True) == (2, 1)
    assert problems(f'a: "x{separator}y"\nb: "\ufffe"\n') == [
        "t.yaml:2:5: the character U+FFFE is not allowed in YAML "
        "(remove it; it is invisible in most editors)"
    ]


def test_a_lone_carriage_return_ends_a_line_as_in_editors() -> None:
    assert problems(b"a: b\rc: \x00\r\n") == [
        "t.yaml:2:4: control character U+0000 in the file "
        "(this looks like a binary file; save the tree as plain text)"
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab é\u2028\u2029\x85", max_size=6), min_size=1, max_size=8))
def test_every_key_is_found_on_the_line_an_editor_shows(values: list[str]) -> None:
    source = "".join(f'k{i}: "{value}"\n' for i, value in enumerate(values))
    document = parse_yaml(source.encode(), "t.yaml")
    for i in range(len(values)):
        assert document.where((f"k{i}",), key=True) == (i + 1, 1)
        assert document.where((f"k{i}",)) == (i + 1, len(f"k{i}: ") + 1)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["", "!!int ", "!!float ", "!!bool ", "!!null ", "!!str ", "! ", "!x "]),
    st.text(alphabet="0123456789._+-:eExXobyn~ \u2028", max_size=40),
)
def test_any_tagged_or_numeric_value_gives_data_or_problems(tag: str, value: str) -> None:
    try:
        parse_yaml(f"a: 1\nx: {tag}{value}\n".encode(), "t.yaml")
    except ProblemsError as exc:
        assert exc.problems
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)
