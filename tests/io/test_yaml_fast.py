"""libyaml's fast path builds the tree ruamel's round-trip loader builds, positions included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sdhealth.io.yaml_fast import load_fast

ROOT = Path(__file__).parents[2]
FILES = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("models", "docs", "tests", "benchmarks", "examples")
    if (ROOT / folder).is_dir()
    for p in (ROOT / folder).rglob("*.yaml")
)


def ruamel(text: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml.load(text)


def assert_same(fast: Any, slow: Any, where: str = "") -> None:
    assert type(fast) is type(slow) or (
        isinstance(fast, float) and isinstance(slow, float)  # ruamel's ScalarFloat
    ), f"{where}: {type(fast).__name__} != {type(slow).__name__}"
    if isinstance(slow, CommentedMap):
        assert list(fast) == list(slow), where
        assert (fast.lc.line, fast.lc.col) == (slow.lc.line, slow.lc.col), where
        assert fast.fa.flow_style() == slow.fa.flow_style(), where
        for key in slow:
            assert fast.lc.data[key] == slow.lc.data[key], f"{where}/{key}"
            assert type(list(fast)[list(slow).index(key)]) is type(key), f"{where}/{key}"
            assert_same(fast[key], slow[key], f"{where}/{key}")
    elif isinstance(slow, CommentedSeq):
        assert len(fast) == len(slow), where
        assert (fast.lc.line, fast.lc.col) == (slow.lc.line, slow.lc.col), where
        for index, item in enumerate(slow):
            assert fast.lc.data[index] == slow.lc.data[index], f"{where}[{index}]"
            assert_same(fast[index], item, f"{where}[{index}]")
    else:
        assert fast == slow, where


def test_there_are_files_to_compare():
    assert "models/nhs_england.yaml" in FILES and len(FILES) > 20


@pytest.mark.parametrize("name", FILES)
def test_every_yaml_file_of_the_repository(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    fast = load_fast(text)
    if fast is None:
        pytest.skip("outside the fast path's subset: read by ruamel")  # still checked below
    assert_same(fast, ruamel(text), name)


SCALARS = """\
null: ~
word: Null
yes: true
no: FALSE
int: 42
negative: -7
zero: 0
float: 0.25
exponent: 1e3
dotted: 1.
leading dot: .5
signed leading dot: -.5
version: v1.2
not a float: .5e3
dotted version: 1.2.3
quoted: "12"
single: 'a b'
text: hello world
multi: a
  b
literal: |
  line 1
  line 2
folded: >-
  one
  two
flow: {a: 1, "b": [x, 2.5, {c: ~}]}
"quoted key": 1
list:
- 1
- - nested
  - [3]
- key: value
"""


def test_scalars_styles_and_positions():
    fast = load_fast(SCALARS)
    assert fast is not None
    assert_same(fast, ruamel(SCALARS))
    assert fast["signed leading dot"] == -0.5 and fast["dotted"] == 1.0
    assert fast["version"] == "v1.2" and fast["zero"] == 0 and fast["no"] is False


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 5\n",  # explicit tags
        "base: {x: 1}\nother:\n  <<: {y: 2}\n",  # merge keys
        "when: 2020-01-01\n",  # timestamps
        "n: 0x1F\n",
        "n: 1_000\n",
        "n: 012\n",
        "n: .inf\n",
        "a: 1\na: 2\n",  # a duplicate key: ruamel reports it
        "a: 1\n---\nb: 2\n",  # several documents
        "a: [1, 2\n",  # a syntax error: ruamel reports it
        "? [a, b]\n: 1\n",  # a key that is a sequence
        "a:\nb: 1\n",  # an empty value (ruamel places it by the comments around it)
    ],
)
def test_everything_else_is_left_to_ruamel(text):
    assert load_fast(text) is None


def test_an_empty_document():
    assert load_fast("") is None and load_fast("# nothing\n") is None
