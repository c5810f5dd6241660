"""Structure-aware mutation operators for the shipped models, one small function each.

A :class:`Source` is one file shipped in ``models/`` or any folder below it: ``*.yaml`` models,
causal-loop diagrams and experiment files (scenarios, sweeps, Monte Carlo, sensitivity and
calibration specs), ``*.mdl`` models and ``*.csv`` observations -- with its text and, for
YAML, its parsed tree. An operator takes a source and a
``random.Random`` and returns a :class:`Mutant` (the bytes to write and what was changed) or
``None`` when it does not apply (no auxiliary to make self-referent, say). Tree operators
change a deep copy of the parsed YAML and dump it again; text operators change the bytes
(duplicate keys, invalid UTF-8 and truncation cannot be written as a tree).

:data:`OPERATORS` is the registry the fuzz tests draw from and count outcomes by.
"""

from __future__ import annotations

import copy
import io
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sdhealth.ir.functions import BUILTIN_FUNCTIONS, MATH_FUNCTIONS

MODELS = Path(__file__).resolve().parents[2] / "models"

#: Huge, tiny and non-finite numbers, written into files as raw text.
EXTREMES = ("1e308", "-1e308", "1e-300", "-1e-300", "0", "-1", "nan", "inf", "-inf", ".nan",
            ".inf", "-.inf", "1e309", "9" * 400)  # fmt: skip
#: Equations that are fine to parse but poison a run or a printer.
HAZARDS = ("1/0", "LN(0)", "SQRT(-1)", "0/0", "EXP(1e308)", "1e308 * 1e308", "LOG(0, 1)",
           "ZIDZ(1, 0)", "XIDZ(1, 0, 1/0)", "MODULO(1, 0)", "0 ^ -1", "(-1) ^ 0.5", "Time / 0",
           "0 = SMOOTH(1, 2)", "1 <= DELAY N(1, 2, 0, -1)", "SMOOTH(1, 2) >= 2.5 < 1e-6",
           "INTEGER(1e308)", "ARCCOS(2)", "TAN(1e308)")  # fmt: skip
WRONG_VALUES: tuple[Any, ...] = ([1, 2], {"a": 1}, "text", "", True, None, 3, -1.5, [[0, "x"]],
                                 "1 +", [], {})  # fmt: skip
FUNCTION_NAMES = tuple(sorted({*BUILTIN_FUNCTIONS, *MATH_FUNCTIONS, "if then else"}))
SECTIONS = ("stocks", "flows", "auxiliaries", "constants", "lookups", "nodes")
#: Experiment files, by the top-level key that names their kind.
SPEC_KINDS = ("scenario", "sweep", "montecarlo", "sensitivity", "calibration")
MODEL_KINDS = frozenset({"yaml", "cld"})

_yaml = YAML(typ="safe", pure=True)
_yaml.default_flow_style = False
_yaml.width = 4096
_yaml.allow_unicode = True

TreePath = tuple[Any, ...]


@dataclass(frozen=True)
class Source:
    """One shipped file. ``kind``: ``yaml`` (a model), ``cld`` (a causal-loop diagram), ``mdl``,
    ``data`` (observations, CSV) or one of :data:`SPEC_KINDS` (an experiment file)."""

    path: Path
    text: str
    tree: Any

    @property
    def kind(self) -> str:
        if self.path.suffix in (".mdl", ".csv"):
            return {".mdl": "mdl", ".csv": "data"}[self.path.suffix]
        if isinstance(self.tree, dict):
            if "diagram" in self.tree:
                return "cld"
            return next((kind for kind in SPEC_KINDS if kind in self.tree), "yaml")
        return "yaml"

    @property
    def name(self) -> str:
        """The path below ``models/``."""
        return str(self.path.relative_to(MODELS))


@dataclass(frozen=True)
class Mutant:
    """The mutated file and a one-line description of the change (the reproducer's recipe)."""

    data: bytes
    description: str
    suffix: str


def sources() -> list[Source]:
    """Every file shipped in ``models/`` and its subfolders (a glob: new files are covered)."""
    found = []
    for path in sorted(p for suffix in ("yaml", "mdl", "csv") for p in MODELS.rglob(f"*.{suffix}")):
        text = path.read_text(encoding="utf-8")
        tree = _yaml.load(text) if path.suffix == ".yaml" else None
        found.append(Source(path, text, tree))
    return found


# -- tree helpers ---------------------------------------------------------------------------


def _walk(node: Any, path: TreePath = ()) -> Iterator[tuple[TreePath, Any]]:
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield (*path, key), value
        yield from _walk(value, (*path, key))


def _mapping_path(tree: Any, rng: random.Random, *, any_parent: bool = False) -> TreePath:
    """A random path into ``tree`` (a key of a mapping unless ``any_parent``), mostly not prose.

    Docs and sources are most of a model's keys; they are picked one time in five.
    """
    paths = [p for p, _ in _walk(tree) if any_parent or isinstance(_parent(tree, p), dict)]
    prose = {"doc", "source", "description"}
    structural = [p for p in paths if not prose & {str(k) for k in p}]
    return rng.choice(structural if structural and rng.random() < 0.8 else paths)


def _parent(tree: Any, path: TreePath) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def _variables(tree: Any, *sections: str) -> list[tuple[str, str]]:
    """``(section, name)`` of the variables in ``sections`` (default: all)."""
    wanted = sections or SECTIONS
    return [(s, name) for s in wanted if isinstance(tree.get(s), dict) for name in tree[s] if name]


def _equation_paths(tree: Any) -> list[TreePath]:
    """Paths of every equation: ``equation``/``initial`` fields and shorthand definitions."""
    found = [p for p, v in _walk(tree) if p[-1] in ("equation", "initial") and _scalar(v)]
    for section in ("flows", "auxiliaries"):
        found += [(s, n) for s, n in _variables(tree, section) if _scalar(tree[s][n])]
    return found


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _set_equation(tree: Any, section: str, name: str, equation: str) -> None:
    _replace_equation(tree, (section, name, "equation"), equation)


def _replace_equation(tree: Any, path: TreePath, equation: str) -> None:
    """Set the equation at ``path`` (or the shorthand one level up), dropping its ``links``.

    Declared links that the new equation no longer mentions would stop the load before the
    new equation reaches the checks and the run.
    """
    parent = _parent(tree, path)
    if isinstance(parent, dict) and path[-1] in ("equation", "initial"):
        parent.pop("links", None)
        parent[path[-1]] = equation
    elif isinstance(parent.get(path[-1]), dict):
        parent[path[-1]].pop("links", None)
        parent[path[-1]]["equation"] = equation
    else:
        parent[path[-1]] = equation


def _dump(tree: Any, raw: dict[str, str] | None = None) -> bytes:
    stream = io.StringIO()
    _yaml.dump(tree, stream)
    text = stream.getvalue()
    for marker, value in (raw or {}).items():
        text = text.replace(marker, value)
    return text.encode("utf-8", "surrogatepass")


def _tree_mutant(source: Source, tree: Any, description: str, raw: Any = None) -> Mutant:
    return Mutant(_dump(tree, raw), description, source.path.suffix)


def _show(path: TreePath) -> str:
    return "/".join(str(p) for p in path)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + "x"
    i = rng.randrange(len(word) - 1)
    return rng.choice(
        [
            word[:i] + word[i + 1] + word[i] + word[i + 2 :],  # swap
            word[:i] + word[i + 1 :],  # drop
            word[:i] + word[i] * 2 + word[i + 1 :],  # double
            word + "s",
            word.upper(),
        ]
    )


def _random_call(rng: random.Random, names: list[str]) -> str:
    args = [rng.choice([*names, *HAZARDS, "1", "0", "-1", "Time", "1e308"]) for _ in range(6)]
    name = rng.choice(FUNCTION_NAMES).upper()
    return f"{name}({', '.join(args[: rng.randrange(0, 6)])})"


# -- tree operators -------------------------------------------------------------------------


def delete_key(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    path = _mapping_path(tree, rng)
    del _parent(tree, path)[path[-1]]
    return _tree_mutant(source, tree, f"deleted {_show(path)}")


def rename_key(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    path = _mapping_path(tree, rng)
    parent, key = _parent(tree, path), path[-1]
    new = _typo(str(key), rng)
    if new in parent:
        return None
    parent[new] = parent.pop(key)
    return _tree_mutant(source, tree, f"renamed {_show(path)} to {new!r}")


def wrong_type(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    path = _mapping_path(tree, rng, any_parent=True)
    value = copy.deepcopy(rng.choice(WRONG_VALUES))
    _parent(tree, path)[path[-1]] = value
    return _tree_mutant(source, tree, f"set {_show(path)} to {value!r}")


def corrupt_equation(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    paths = _equation_paths(tree)
    if not paths:
        return None
    path = rng.choice(paths)
    new = corrupt_text(str(_parent(tree, path)[path[-1]]), rng)
    _replace_equation(tree, path, new)
    return _tree_mutant(source, tree, f"set {_show(path)} to {new!r}")


def corrupt_text(text: str, rng: random.Random) -> str:
    """One character-level or token-level corruption of an equation."""
    i = rng.randrange(len(text) + 1)
    junk = rng.choice("()+-*/^=<>,:\"'\t\n#[]{}&|!@$%~`\\.0123456789eE \x00\u00e9\u2028")
    operator = rng.choice([" + * ", " ^ ^ ", " :AND: ", "<>", " = ", ":NOT:", ", ", " - - "])
    return rng.choice(
        [
            text[:i] + junk + text[i:],  # insert
            text[:i] + text[i + 1 :],  # delete
            text[:i] + junk + text[i + 1 :],  # replace
            text[:i] + rng.choice("()") + text[i:],  # unbalance
            text[:i] + operator + text[i:],
            rng.choice(HAZARDS),
            f"{text} {rng.choice(['= 0', '>= 2.5 < 1e-6', '<> 1', ':OR: 1'])}",
            f"({text}" * rng.randrange(1, 80),
        ]
    )


def random_function(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    paths = _equation_paths(tree)
    if not paths:
        return None
    path = rng.choice(paths)
    names = [n for _, n in _variables(tree)]
    new = _random_call(rng, names)
    _replace_equation(tree, path, new)
    return _tree_mutant(source, tree, f"set {_show(path)} to {new!r}")


def numeric_extreme(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    paths = [p for p, v in _walk(tree) if _scalar(v) and not isinstance(v, str)]
    if not paths:
        return None
    path, value = rng.choice(paths), rng.choice(EXTREMES)
    _parent(tree, path)[path[-1]] = "RAWVALUE0"
    return _tree_mutant(source, tree, f"set {_show(path)} to {value}", {"RAWVALUE0": value})


def time_extreme(source: Source, rng: random.Random) -> Mutant | None:
    """A huge, tiny or wrong clock setting; these cases run the model's own clock."""
    tree = copy.deepcopy(source.tree)
    if not isinstance(tree.get("time"), dict):
        return None
    key = rng.choice(["start", "stop", "dt", "saveper"])
    value = rng.choice([*EXTREMES, "[1, 2]", "{a: 1}", "abc", '"1/0"', '"TIME STEP / 0"'])
    tree["time"][key] = "RAWVALUE0"
    return _tree_mutant(source, tree, f"set time/{key} to {value}", {"RAWVALUE0": value})


def self_reference(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    candidates = _variables(tree, "auxiliaries") or _variables(tree, "flows")
    if not candidates:
        return None
    section, name = rng.choice(candidates)
    equation = rng.choice(["{0} + 1", "{0} * 2", "MAX({0}, 0)", "IF THEN ELSE({0} > 0, 1, {0})"])
    _set_equation(tree, section, name, equation.format(name))
    return _tree_mutant(source, tree, f"set {section}/{name} to {equation.format(name)!r}")


def two_variable_loop(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    candidates = _variables(tree, "auxiliaries", "flows")
    if len(candidates) < 2:
        return None
    (sa, a), (sb, b) = rng.sample(candidates, 2)
    _set_equation(tree, sa, a, f"{b} + 1")
    _set_equation(tree, sb, b, f"{a} * 2")
    return _tree_mutant(source, tree, f"set {a!r} = {b} + 1 and {b!r} = {a} * 2")


def delete_stock_flow(source: Source, rng: random.Random) -> Mutant | None:
    tree = copy.deepcopy(source.tree)
    used = {
        flow
        for _, stock in _variables(tree, "stocks")
        if isinstance(tree["stocks"][stock], dict)
        for key in ("inflows", "outflows")
        for flow in tree["stocks"][stock].get(key) or []
        if isinstance(flow, str) and flow in (tree.get("flows") or {})
    }
    if not used:
        return None
    flow = rng.choice(sorted(used))
    del tree["flows"][flow]
    return _tree_mutant(source, tree, f"deleted flows/{flow} (still listed by a stock)")


# -- text operators -------------------------------------------------------------------------

_KEY_LINE = re.compile(r"^\s*[^\s#\-][^:\n]*:(\s|$)", re.MULTILINE)
_NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)?(e[-+]?\d+)?(?![\w.])", re.IGNORECASE)
_BAD_BYTES = (b"\xff\xfe", b"\x00", b"\x07\x1b[31m", b"\xc3\x28", b"\xed\xa0\x80", b"\t", b"\r",
              b"\xef\xbb\xbf", b"\xc2\x85", b"\xe2\x80\xa8", b"\x80", b"{", b"[", b"'", b'"',
              b": ", b" #", b"\n  - ", b"&a", b"*a", b"!!python/object:os.system")  # fmt: skip


def duplicate_key(source: Source, rng: random.Random) -> Mutant | None:
    lines = [m for m in _KEY_LINE.finditer(source.text)]
    if not lines:
        return None
    match = rng.choice(lines)
    line_end = source.text.find("\n", match.start())
    line_end = len(source.text) if line_end < 0 else line_end
    line = source.text[match.start() : line_end]
    text = source.text[:line_end] + "\n" + line + source.text[line_end:]
    return Mutant(text.encode(), f"duplicated line {line.strip()!r}", source.path.suffix)


def random_bytes(source: Source, rng: random.Random) -> Mutant | None:
    data = bytearray(source.text.encode())
    done = []
    for _ in range(rng.randrange(1, 6)):
        chunk = rng.choice([*_BAD_BYTES, rng.randbytes(rng.randrange(1, 16))])
        at = rng.randrange(len(data) + 1)
        overwrite = rng.random() < 0.5
        data[at : at + (len(chunk) if overwrite else 0)] = chunk
        done.append(f"{'wrote' if overwrite else 'inserted'} {bytes(chunk)!r} at byte {at}")
    return Mutant(bytes(data), "; ".join(done), source.path.suffix)


def truncate(source: Source, rng: random.Random) -> Mutant | None:
    data = source.text.encode()
    at = rng.randrange(len(data))
    return Mutant(data[:at], f"truncated at byte {at} of {len(data)}", source.path.suffix)


def text_equation(source: Source, rng: random.Random) -> Mutant | None:
    """An ``.mdl`` equation (text after ``=``) corrupted like :func:`corrupt_text`."""
    equals = [m.end() for m in re.finditer(r"= ", source.text)]
    if not equals:
        return None
    at = rng.choice(equals)
    end = source.text.find("\n", at)
    old = source.text[at:end]
    new = corrupt_text(old, rng) if rng.random() < 0.7 else _random_call(rng, ["Time"])
    text = source.text[:at] + new + source.text[end:]
    return Mutant(text.encode(), f"equation {old!r} -> {new!r}", source.path.suffix)


def text_number(source: Source, rng: random.Random) -> Mutant | None:
    numbers = list(_NUMBER.finditer(source.text))
    if not numbers:
        return None
    match, value = rng.choice(numbers), rng.choice(EXTREMES)
    text = source.text[: match.start()] + value + source.text[match.end() :]
    line = source.text.count("\n", 0, match.start()) + 1
    return Mutant(text.encode(), f"line {line}: {match.group()} -> {value}", source.path.suffix)


#: A variable of an ``.mdl`` file: its name, ``=``, and its equation up to the units (``~``).
_MDL_VARIABLE = re.compile(r"^(?P<name>[A-Za-z\"][^=\n~|(]*?)\s*=(?P<equation>[^~]*?)(?=\t~)", re.M)


def _mdl_auxiliaries(text: str) -> list[re.Match[str]]:
    """The ``.mdl`` variables that are neither stocks (``INTEG``) nor lookups."""
    return [m for m in _MDL_VARIABLE.finditer(text) if "INTEG" not in m["equation"]]


def _mdl_replace(text: str, changes: list[tuple[re.Match[str], str]]) -> str:
    """``text`` with the equation of each matched variable replaced (last first)."""
    for match, equation in sorted(changes, key=lambda c: -c[0].start("equation")):
        text = text[: match.start("equation")] + f"\n\t{equation}\n" + text[match.end("equation") :]
    return text


def mdl_self_reference(source: Source, rng: random.Random) -> Mutant | None:
    candidates = _mdl_auxiliaries(source.text)
    if not candidates:
        return None
    match = rng.choice(candidates)
    equation = f"{match['name'].strip()} * 2 + 1"
    text = _mdl_replace(source.text, [(match, equation)])
    return Mutant(text.encode(), f"set {match['name'].strip()!r} to {equation!r}", ".mdl")


def mdl_two_variable_loop(source: Source, rng: random.Random) -> Mutant | None:
    candidates = _mdl_auxiliaries(source.text)
    if len(candidates) < 2:
        return None
    a, b = rng.sample(candidates, 2)
    name_a, name_b = a["name"].strip(), b["name"].strip()
    text = _mdl_replace(source.text, [(a, f"{name_b} + 1"), (b, f"{name_a} * 2")])
    return Mutant(text.encode(), f"set {name_a!r} = {name_b} + 1 and {name_b!r} = {name_a} * 2",
                  ".mdl")  # fmt: skip


def mdl_duplicate_variable(source: Source, rng: random.Random) -> Mutant | None:
    """A variable defined twice: its whole block (to the ``|``) copied after itself."""
    candidates = list(_MDL_VARIABLE.finditer(source.text))
    if not candidates:
        return None
    match = rng.choice(candidates)
    end = source.text.find("|", match.end()) + 1
    block = source.text[match.start() : end]
    text = source.text[:end] + "\n\n" + block + source.text[end:]
    return Mutant(text.encode(), f"defined {match['name'].strip()!r} twice", ".mdl")


Operator = Callable[[Source, random.Random], Mutant | None]

#: name -> (operator, the source kinds it applies to).
OPERATORS: dict[str, tuple[Operator, frozenset[str]]] = {
    **{
        op.__name__: (op, MODEL_KINDS)
        for op in (
            corrupt_equation,
            random_function,
            time_extreme,
            self_reference,
            two_variable_loop,
            delete_stock_flow,
        )
    },
    **{
        op.__name__: (op, MODEL_KINDS | set(SPEC_KINDS))
        for op in (delete_key, rename_key, wrong_type, numeric_extreme, duplicate_key)
    },
    **{
        op.__name__: (op, MODEL_KINDS | {"mdl", "data", *SPEC_KINDS})
        for op in (random_bytes, truncate, text_number)
    },
    **{
        op.__name__: (op, frozenset({"mdl"}))
        for op in (text_equation, mdl_self_reference, mdl_two_variable_loop, mdl_duplicate_variable)
    },
}

#: Operators whose mutants keep the model's own clock (the others run a few steps only).
OWN_CLOCK = frozenset({"time_extreme"})


def mutate(source: Source, operator: str, seed: int) -> Mutant | None:
    """Apply ``operator`` to ``source`` with a ``random.Random(seed)``; ``None`` if n/a."""
    function, kinds = OPERATORS[operator]
    if source.kind not in kinds:
        return None
    return function(source, random.Random(seed))
