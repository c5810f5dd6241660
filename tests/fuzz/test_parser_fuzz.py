"""Random equation strings through the expression parser.

Property: ``parse_expression`` returns or raises a ``SdhealthError`` within one second, for
strings built from the equation grammar (names, numbers, operators, relations, ``:AND:``,
builtin calls with random arities, ``IF THEN ELSE``, deep nesting, up to 10 kB) and for raw text.
"""

from __future__ import annotations

from harness import TALLY, classify, shrink_text
from hypothesis import strategies as st
from mutations import EXTREMES, FUNCTION_NAMES, HAZARDS

from sdhealth.io.expressions import parse_expression

SECONDS = 1.0

names = st.sampled_from(
    ["a", "b", "Beds", "Time", "TIME STEP", "INITIAL TIME", "FINAL TIME", "SAVEPER", "x_1",
     '"G&A beds"', '"4-hour target"', "Room Temperature", "Effect of occupancy", "if",
     "then", "else", "e", "pi", "zoo", "nan", "I", "oo", "Lambda", "None", "__import__"]
)  # fmt: skip
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(EXTREMES),
    st.from_regex(r"\A\d{0,3}(\.\d{0,3})?([eE][-+]?\d{1,4})?\Z"),
)
binary = st.sampled_from(
    ["+", "-", "*", "/", "^", "=", "<>", "<", ">", "<=", ">=", ":AND:", ":OR:", "", ",", "**"]
)
functions = st.sampled_from([name.upper() for name in FUNCTION_NAMES])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, binary, inner).map(" ".join),
        st.tuples(st.sampled_from(["-", "+", ":NOT: ", "- -"]), inner).map("".join),
        inner.map("({})".format),
        st.tuples(functions, st.lists(inner, max_size=6)).map(
            lambda call: f"{call[0]}({', '.join(call[1])})"
        ),
        st.tuples(inner, inner, inner).map(lambda t: "IF THEN ELSE({}, {}, {})".format(*t)),
        st.tuples(names, inner).map(lambda t: "{}({})".format(*t)),  # a lookup call
        st.tuples(inner, st.integers(1, 60), st.integers(0, 60)).map(
            lambda n: "(" * n[1] + n[0] + ")" * n[2]  # deep and unbalanced nesting
        ),
    )


expressions = st.recursive(
    st.one_of(names, numbers, st.sampled_from(HAZARDS)), _extend, max_leaves=40
)
long_expressions = st.tuples(expressions, binary, st.integers(1, 2000)).map(
    lambda r: f" {r[1]} ".join([r[0]] * r[2])[:10_000]
)
raw_text = st.one_of(
    st.text(max_size=10_000),
    st.text(alphabet="()+-*/^=<>,:\"' \t\n#.0123456789eEaAIFTHNLSX_[]!", max_size=2_000),
)


def _parse(text: str) -> None:
    """Parse ``text`` in the case's child process. The expression is not sent back: unpickling
    rebuilds sympy objects with evaluation, which would undo the parser's care in the parent."""
    parse_expression(text)


def _check(operator: str, text: str) -> None:
    outcome = classify(lambda: _parse(text), SECONDS)
    reproducer = text
    if TALLY.is_new("parser", operator, outcome):
        reproducer = shrink_text(
            text, lambda t: classify(lambda: _parse(t), SECONDS).label == outcome.label
        )
    TALLY.record("parser", operator, outcome, repr(reproducer))


def test_grammar_strings_parse_or_raise_sdhealth_errors(budget):
    @budget.given(150, 6_000, st.one_of(expressions, long_expressions))
    def case(text: str) -> None:
        _check("grammar", text)

    case()
    TALLY.assert_clean("parser", "grammar")


def test_raw_text_parses_or_raises_sdhealth_errors(budget):
    @budget.given(120, 2_500, raw_text)
    def case(text: str) -> None:
        _check("raw_text", text)

    case()
    TALLY.assert_clean("parser", "raw_text")


def test_known_bad_equations_parse_or_raise_sdhealth_errors():
    """The hazards every mutation draws from, each on its own (no luck involved)."""
    for text in HAZARDS:
        _check("hazards", text)
    TALLY.assert_clean("parser", "hazards")
