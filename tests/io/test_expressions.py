"""Tests of the Vensim expression parser (sdhealth.io.expressions)."""

from __future__ import annotations

import math

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sdhealth.errors import ModelSyntaxError
from sdhealth.io.expressions import (
    MAX_NESTING,
    parse_equation,
    parse_expression,
    parse_lookup_points,
)
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Equation, SourceLocation

a, b, c, x, y = sympy.symbols("a b c x y")
HERE = SourceLocation("m.yaml", 10, 5)


def value(text: str, **values: float) -> float:
    """Parse ``text`` and evaluate it with variables bound by key (spaces as underscores)."""
    expr = parse_expression(text)
    bindings = {sympy.Symbol(k.replace("_", " ")): v for k, v in values.items()}
    bindings.update({fn.TIME: values.get("time_", 0.0)})
    return float(expr.subs(bindings))


def syntax_error(text: str, location: SourceLocation | None = HERE) -> ModelSyntaxError:
    with pytest.raises(ModelSyntaxError) as info:
        parse_expression(text, location=location)
    return info.value


# --- numbers and arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", sympy.Integer(12)),
        ("1.5", sympy.Float(1.5)),
        (".5", sympy.Float(0.5)),
        ("1e-3", sympy.Float(0.001)),
        ("2.5E+06", sympy.Float(2.5e6)),
        ("3.", sympy.Float(3.0)),
    ],
)
def test_number_literals(text: str, expected: sympy.Expr) -> None:
    result = parse_expression(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b", a + b),
        ("a - b", a - b),
        ("a * b", a * b),
        ("a / b", a / b),
        ("a ^ b", a**b),
        ("-a", -a),
        ("+a", a),
        ("a - b + c", a - b + c),
        ("a / b / c", a / b / c),
        ("a * b / c * x", a * b * x / c),
        ("(a + b) * c", (a + b) * c),
        ("a + b * c", a + b * c),
        ("a * b ^ c", a * b**c),
        ("-a ^ 2", -(a**2)),
        ("a ^ -b", a ** (-b)),
        ("a - -b", a + b),
        ("--a", a),
    ],
)
def test_arithmetic_builds_the_expected_sympy(text: str, expected: sympy.Expr) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("100 / 10 / 5", 2),
        ("2 ^ 3 ^ 2", 512),  # right to left, as Vensim computes it (and the .mdl reader)
        ("(2 ^ 3) ^ 2", 64),
        ("2 ^ -2 ^ -1", 2 ** -(2**-1)),  # a sign after '^' negates the power on its right
        ("-2 ^ 2", -4),  # '^' binds tighter than unary minus
        ("(-2) ^ 2", 4),
        ("2 ^ -1", 0.5),
        ("2 * 3 ^ 2", 18),
        ("-3 * -2", 6),
        ("1 - 2 * 3 ^ 2 / 6 + 4", 2),
        ("7 / 2", 3.5),
        ("- - - 5", -5),
    ],
)
def test_arithmetic_precedence_numerically(text: str, expected: float) -> None:
    assert float(parse_expression(text)) == pytest.approx(expected)


def test_variables_evaluate_with_precedence() -> None:
    assert value("a + b * c ^ 2", a=1, b=2, c=3) == pytest.approx(19)
    assert value("(a + b) / (c - 1)", a=1, b=5, c=3) == pytest.approx(3)


def test_an_integer_literal_beyond_double_precision_is_a_float() -> None:
    assert parse_expression("123456789012345") == sympy.Integer(123456789012345)
    assert parse_expression("12345678901234567890") == sympy.Float(12345678901234567890.0)
    assert syntax_error("9" * 400).message == f"number '{'9' * 400}' is too large"


def test_large_integer_power_becomes_a_float_not_a_huge_integer() -> None:
    result = parse_expression("2 ^ 1000000000")  # beyond a double: kept as written, for check
    assert not isinstance(result, sympy.Integer)
    assert result.is_Pow and result.exp == 1000000000
    assert parse_expression("2 ^ 100") == sympy.Float(2.0**100)
    assert parse_expression("2 ^ 10") == 1024


# --- comparisons and logic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "relation"),
    [
        ("a = b", sympy.Eq(a, b)),
        ("a <> b", sympy.Ne(a, b)),
        ("a < b", sympy.Lt(a, b)),
        ("a > b", sympy.Gt(a, b)),
        ("a <= b", sympy.Le(a, b)),
        ("a >= b", sympy.Ge(a, b)),
    ],
)
def test_comparisons_are_sympy_relationals(text: str, relation: sympy.Basic) -> None:
    # A comparison as the whole equation is a number: 1 where true, 0 where false.
    assert parse_expression(text) == sympy.Piecewise((1, relation), (0, True))
    condition = parse_expression(f"IF THEN ELSE({text}, 1, 0)")
    assert condition == sympy.Piecewise((1, relation), (0, True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1 > 0", 1), ("1 < 0", 0), ("2 = 2", 1), ("2 <> 2", 0), ("3 >= 3", 1), ("3 <= 2.5", 0)],
)
def test_comparisons_of_numbers_evaluate(text: str, expected: int) -> None:
    assert parse_expression(text) == expected


def test_comparison_binds_looser_than_arithmetic() -> None:
    # Relations are built unevaluated (sympy would rewrite this one as ``b < a/2 + 1/2``).
    greater = sympy.StrictGreaterThan(a + 1, 2 * b, evaluate=False)
    expected = sympy.Piecewise((1, greater), (0, True), evaluate=False)
    assert parse_expression("IF THEN ELSE(a + 1 > b * 2, 1, 0)") == expected


def test_logical_operators_and_their_precedence() -> None:
    expr = parse_expression("IF THEN ELSE(a > 1 :OR: b > 1 :AND: c > 1, 1, 0)")
    cond = sympy.Or(a > 1, sympy.And(b > 1, c > 1))
    assert expr == sympy.Piecewise((1, cond), (0, True))
    negated = parse_expression("IF THEN ELSE(:NOT: a > 1 :AND: b > 1, 1, 0)")
    # :NOT: stays a Not (sympy would fold ``Not(a > 1)`` into ``a <= 1``).
    not_a = sympy.Not(a > 1, evaluate=False)
    assert negated == sympy.Piecewise((1, sympy.And(not_a, b > 1)), (0, True))


def test_logical_keywords_are_case_insensitive() -> None:
    upper = parse_expression("IF THEN ELSE(a > 1 :AND: b > 1, 1, 0)")
    assert parse_expression("if then else(a > 1 :and: b > 1, 1, 0)") == upper


@pytest.mark.parametrize(
    ("text", "bindings", "expected"),
    [
        ("IF THEN ELSE(a > 1 :AND: b > 1, 10, 20)", {"a": 2, "b": 2}, 10),
        ("IF THEN ELSE(a > 1 :AND: b > 1, 10, 20)", {"a": 2, "b": 0}, 20),
        ("IF THEN ELSE(a > 1 :OR: b > 1, 10, 20)", {"a": 0, "b": 2}, 10),
        ("IF THEN ELSE(:NOT: a > 1, 10, 20)", {"a": 0, "b": 0}, 10),
        ("IF THEN ELSE(:NOT: :NOT: a > 1, 10, 20)", {"a": 0, "b": 0}, 20),
        ("(a > 1) + (b > 1)", {"a": 2, "b": 2}, 2),
        ("(a > 1) * 5", {"a": 0, "b": 0}, 0),
    ],
)
def test_logic_numerically(text: str, bindings: dict[str, float], expected: float) -> None:
    assert value(text, **bindings) == pytest.approx(expected)


def test_numbers_as_conditions_become_not_equal_zero() -> None:
    assert parse_expression("IF THEN ELSE(x, 1, 2)") == sympy.Piecewise(
        (1, sympy.Ne(x, 0)), (2, True)
    )
    both = parse_expression("IF THEN ELSE(a :AND: b, 1, 2)")
    assert both == sympy.Piecewise((1, sympy.And(sympy.Ne(a, 0), sympy.Ne(b, 0))), (2, True))
    assert parse_expression("IF THEN ELSE(0, a, b)") == b
    assert parse_expression("IF THEN ELSE(3, a, b)") == a


def test_booleans_as_numbers_become_piecewise() -> None:
    assert parse_expression("(a > b) + 1") == sympy.Piecewise((1, a > b), (0, True)) + 1
    assert parse_expression("MAX(a > b, 0.5)") == sympy.Max(
        sympy.Piecewise((1, a > b), (0, True)), sympy.Float(0.5)
    )


def test_if_then_else_with_constant_condition_collapses() -> None:
    assert parse_expression("IF THEN ELSE(1 > 0, a, b)") == a
    assert parse_expression("IF THEN ELSE(1 < 0, a, b)") == b


def test_complex_values_in_comparisons_do_not_crash() -> None:
    expr = parse_expression("IF THEN ELSE(SQRT(-1) > 0, 1, 2)")
    assert isinstance(expr, sympy.Piecewise)


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Teacup Temperature", "teacup temperature"),
        ("teacup_temperature", "teacup temperature"),
        ("TEACUP   Temperature", "teacup temperature"),
        ("Teacup__ _Temperature", "teacup temperature"),
        ("Patients waiting 52 weeks", "patients waiting 52 weeks"),
        ("A&E attendances", "a&e attendances"),
        ("patients' length of stay", "patients' length of stay"),
        ("cost in $", "cost in $"),
        ("_hidden", "hidden"),
        ("Größe", "grösse"),  # keys are case-folded
        ('"Beds (G&A)"', "beds (g&a)"),
        ('"4-hour target: 95%"', "4-hour target: 95%"),
        ('"Time"', "@time"),
    ],
)
def test_names_map_to_their_keys(text: str, key: str) -> None:
    expr = parse_expression(text)
    if key.startswith("@"):
        assert expr is fn.TIME
    else:
        assert expr == sympy.Symbol(key)


def test_name_with_line_continuation() -> None:
    assert parse_expression("Teacup \\\n   Temperature") == sympy.Symbol("teacup temperature")


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("Time", fn.TIME),
        ("TIME", fn.TIME),
        ("TIME STEP", fn.TIME_STEP),
        ("time_step", fn.TIME_STEP),
        ("INITIAL TIME", fn.INITIAL_TIME),
        ("FINAL TIME", fn.FINAL_TIME),
        ("SAVEPER", fn.SAVEPER),
    ],
)
def test_builtin_symbols(text: str, symbol: sympy.Symbol) -> None:
    assert parse_expression(text) is symbol
    assert parse_equation(text).references == ()


def test_names_that_start_with_a_builtin_are_variables() -> None:
    assert parse_expression("Time to discharge") == sympy.Symbol("time to discharge")
    assert (
        parse_expression("Time to discharge * Time") == sympy.Symbol("time to discharge") * fn.TIME
    )


# --- functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABS(x)", sympy.Abs(x)),
        ("EXP(x)", sympy.exp(x)),
        ("LN(x)", sympy.log(x)),
        ("LOG(x, 10)", sympy.log(x) / sympy.log(10)),
        ("SQRT(x)", sympy.sqrt(x)),
        ("SIN(x)", sympy.sin(x)),
        ("COS(x)", sympy.cos(x)),
        ("TAN(x)", sympy.tan(x)),
        ("ARCSIN(x)", sympy.asin(x)),
        ("ARCCOS(x)", sympy.acos(x)),
        ("ARCTAN(x)", sympy.atan(x)),
        ("MIN(x, y)", sympy.Min(x, y)),
        ("MAX(x, y)", sympy.Max(x, y)),
        ("max(x, y)", sympy.Max(x, y)),
    ],
)
def test_math_functions(text: str, expected: sympy.Expr) -> None:
    assert parse_expression(text) == expected


def test_math_functions_numerically() -> None:
    assert value("LOG(8, 2)") == pytest.approx(3)
    assert value("MIN(3, 2) + MAX(3, 2) + ABS(-4) + SQRT(16) + LN(EXP(2))") == pytest.approx(15)


BUILTIN_CALLS = [
    ("STEP(a, 3)", fn.STEP(a, 3)),
    ("PULSE(a, b)", fn.PULSE(a, b)),
    ("PULSE TRAIN(1, 2, 5, 20)", fn.PULSE_TRAIN(1, 2, 5, 20)),
    ("RAMP(a, 1, 10)", fn.RAMP(a, 1, 10)),
    ("ZIDZ(a, b)", fn.ZIDZ(a, b)),
    ("XIDZ(a, b, 1)", fn.XIDZ(a, b, 1)),
    ("INTEGER(a)", fn.INTEGER(a)),
    ("QUANTUM(a, 2)", fn.QUANTUM(a, 2)),
    ("MODULO(a, 3)", fn.MODULO(a, 3)),
    ("INITIAL(a)", fn.INITIAL(a)),
    ("DELAY1(a, 4)", fn.DELAY1(a, 4)),
    ("DELAY1I(a, 4, b)", fn.DELAY1I(a, 4, b)),
    ("DELAY3(a, 4)", fn.DELAY3(a, 4)),
    ("DELAY3I(a, 4, b)", fn.DELAY3I(a, 4, b)),
    ("DELAY N(a, 4, b, 5)", fn.DELAY_N(a, 4, b, 5)),
    ("DELAY FIXED(a, 4, b)", fn.DELAY_FIXED(a, 4, b)),
    ("SMOOTH(a, 4)", fn.SMOOTH(a, 4)),
    ("SMOOTHI(a, 4, b)", fn.SMOOTHI(a, 4, b)),
    ("SMOOTH3(a, 4)", fn.SMOOTH3(a, 4)),
    ("SMOOTH3I(a, 4, b)", fn.SMOOTH3I(a, 4, b)),
    ("SMOOTH N(a, 4, b, 2)", fn.SMOOTH_N(a, 4, b, 2)),
    ("TREND(a, 4, 0)", fn.TREND(a, 4, 0)),
    ("FORECAST(a, 4, 6)", fn.FORECAST(a, 4, 6)),
]


@pytest.mark.parametrize(("text", "expected"), BUILTIN_CALLS)
def test_builtin_functions(text: str, expected: sympy.Expr) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(("text", "expected"), BUILTIN_CALLS)
def test_builtin_functions_check_their_argument_count(text: str, expected: sympy.Expr) -> None:
    name = text[: text.index("(")]
    too_many = text[:-1] + ", 99)"
    error = syntax_error(too_many)
    expected_count = len(expected.args)
    word = "argument" if expected_count == 1 else "arguments"
    assert error.message == f"'{name}' takes {expected_count} {word}, got {expected_count + 1}"
    assert (error.path, error.line, error.column) == ("m.yaml", 10, 5)


def test_multi_word_function_names_accept_underscores_and_case() -> None:
    assert parse_expression("delay_n(a, 4, b, 5)") == fn.DELAY_N(a, 4, b, 5)
    assert parse_expression("If_Then_Else(a, 1, 2)") == parse_expression("IF THEN ELSE(a, 1, 2)")
    assert parse_expression("Pulse  Train (1, 2, 5, 20)") == fn.PULSE_TRAIN(1, 2, 5, 20)


def test_nested_calls_and_time() -> None:
    expr = parse_expression("SMOOTH(STEP(10, 5) + RAMP(1, 0, Time), TIME STEP * 4)")
    assert expr == fn.SMOOTH(fn.STEP(10, 5) + fn.RAMP(1, 0, fn.TIME), 4 * fn.TIME_STEP)
    assert fn.is_stateful(expr)


def test_named_lookup_call() -> None:
    expr = parse_expression("effect of occupancy(beds occupied / beds) * 2")
    ratio = sympy.Symbol("beds occupied") / sympy.Symbol("beds")
    assert expr == 2 * fn.LOOKUP(sympy.Symbol("effect of occupancy"), ratio)


def test_quoted_lookup_name_is_never_a_misspelt_builtin() -> None:
    assert parse_expression('"SMOTH"(a)') == fn.LOOKUP(sympy.Symbol("smoth"), a)


def test_mixed_case_name_close_to_a_builtin_is_a_lookup() -> None:
    assert parse_expression("Smooth factor(a)") == fn.LOOKUP(sympy.Symbol("smooth factor"), a)
    assert parse_expression("Smoth(a)") == fn.LOOKUP(sympy.Symbol("smoth"), a)


def test_with_lookup_with_and_without_range() -> None:
    expected = fn.WITH_LOOKUP(
        fn.TIME,
        sympy.Tuple(sympy.Float(0), sympy.Float(5), sympy.Float(10)),
        sympy.Tuple(sympy.Float(0), sympy.Float(0.5), sympy.Float(-1)),
    )
    with_range = "WITH LOOKUP(Time, ([(0,-1)-(10,1)], (0,0), (5,0.5), (10,-1)))"
    assert parse_expression(with_range) == expected
    assert parse_expression("with_lookup(Time, ((0,0),(5,.5),(10,-1)))") == expected


def test_with_lookup_input_is_an_expression_with_references() -> None:
    eq = parse_equation("WITH LOOKUP(a / b, ((0, 1), (1, 2))) + c")
    lookup = next(arg for arg in eq.expr.args if isinstance(arg, fn.WITH_LOOKUP))
    assert lookup.args[0] == a / b
    assert [key for key, _ in eq.references] == ["a", "b", "c"]


# --- references and Equation --------------------------------------------------------------------


def test_references_in_order_with_offsets() -> None:
    text = 'Beds * "Occupancy (G&A)" + effect(Time) - SMOOTH(beds_, TIME STEP)'
    eq = parse_equation(text)
    assert eq.references == (
        ("beds", 0),
        ("occupancy (g&a)", 7),
        ("effect", 27),
        ("beds", 49),
    )
    spelled = ["Beds", '"Occupancy (G&A)"', "effect", "beds_"]
    assert [
        text[offset : offset + len(w)]
        for (_, offset), w in zip(eq.references, spelled, strict=True)
    ] == (spelled)
    assert isinstance(eq, Equation)
    assert eq.text == text


def test_references_and_location_of_across_lines() -> None:
    text = "a +\n  IF THEN ELSE(Bed  occupancy > 0.9,\n    Extra beds, 0)"
    eq = parse_equation(text, location=HERE)
    keys = [key for key, _ in eq.references]
    assert keys == ["a", "bed occupancy", "extra beds"]
    assert eq.location == HERE
    assert eq.location_of("a") == SourceLocation("m.yaml", 10, 5)
    assert eq.location_of("bed occupancy") == SourceLocation("m.yaml", 11, 16)
    assert eq.location_of("extra beds") == SourceLocation("m.yaml", 12, 5)


def test_free_keys_match_references() -> None:
    eq = parse_equation("x * Time + LOOKUP TABLE(y) + ZIDZ(a, b)")
    assert eq.free_keys == {"x", "y", "a", "b", "lookup table"}
    assert {key for key, _ in eq.references} == eq.free_keys


# --- lookup points ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "([(0,0)-(10,1)],(0,0),(5,0.5),(10,1))",
        "((0,0),(5,0.5),(10,1))",
        "(0,0),(5,0.5),(10,1)",
        "[(0,0)-(10,1)],(0,0),(5,.5),(10,1)",
        " ( [(0,0)-(10,1),(0,0.5)-(10,0.5)] , (0, 0) , ( 5 , 5e-1 ) , (1E1, 1) ) ",
    ],
)
def test_lookup_points_forms(text: str) -> None:
    assert parse_lookup_points(text) == ((0.0, 5.0, 10.0), (0.0, 0.5, 1.0))


def test_lookup_points_signs_and_single_point() -> None:
    assert parse_lookup_points("(-1, -2.5), (+3, 4)") == ((-1.0, 3.0), (-2.5, 4.0))
    assert parse_lookup_points("((2, 3))") == ((2.0,), (3.0,))
    xs, ys = parse_lookup_points("(1, 2)")
    assert all(isinstance(v, float) for v in xs + ys)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("", "empty lookup table", 10, 5),
        ("(0,0),(1,1))", "unexpected ')'", 10, 16),
        ("((0,0),(1,1)", "expected ')' to close '(' opened at column 5", 10, 17),
        ("(0,0),(1,x)", "expected a number in the lookup table, found name 'x'", 10, 14),
        ("(0,0) (1,1)", "unexpected '(' (missing operator?)", 10, 11),
        ("([(0,0)-(1,1),(0,0))", "expected ']' to close '[' opened at column 6", 10, 25),
        ("(0;0)", "unexpected character ';'", 10, 7),
        ("(0,0),\n(1)", "expected ',' to start the point's y value, found ')'", 11, 3),
    ],
)
def test_malformed_lookup_points(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(ModelSyntaxError) as info:
        parse_lookup_points(text, location=HERE)
    assert info.value.message == message
    assert (info.value.path, info.value.line, info.value.column) == ("m.yaml", line, column)


# --- malformed equations ------------------------------------------------------------------------

MALFORMED = [
    ("", "empty equation", 10, 5),
    ("   ", "empty equation", 10, 5),
    ("a +", "unexpected end of equation", 10, 8),
    ("(a + b", "expected ')' to close '(' opened at column 5", 10, 11),
    ("a * (b + c", "expected ')' to close '(' opened at column 9", 10, 15),
    ("MAX(a, (b + c, 1)", "expected ')' to close '(' opened at column 12, found ','", 10, 18),
    ("a + b)", "unexpected ')'", 10, 10),
    ("a + * b", "unexpected '*'", 10, 9),
    ("a ** 2", "unexpected '*' (write '^' for a power)", 10, 8),
    ("a == b", "unexpected '=' (write a single '=' to compare)", 10, 8),
    ("2 3", "unexpected number '3' (missing operator?)", 10, 7),
    ("a, b", "unexpected ','", 10, 6),
    ("SMOTH(x, 3)", "unknown function 'SMOTH' (did you mean 'SMOOTH'?)", 10, 5),
    ("1 + DELAY3(a, b, c)", "'DELAY3' takes 2 arguments, got 3", 10, 9),
    ("IF THEN ELSE(a, b)", "'IF THEN ELSE' takes 3 arguments, got 2", 10, 5),
    ("MIN(a)", "'MIN' takes 2 arguments, got 1", 10, 5),
    ('a + "Beds (G&A)', "unterminated quoted name", 10, 9),
    ("x[region] * 2", "subscripted references are not supported in equations yet", 10, 6),
    ("a := 3", "unexpected ':=' (write only the right-hand side of the equation)", 10, 7),
    (
        "INTEG(inflow, 0)",
        "INTEG belongs to stocks: give the stock's initial value, inflows and outflows instead",
        10,
        5,
    ),
    ("a @ b", "unexpected character '@'", 10, 7),
    (
        "a != b",
        "unexpected character '!' (write '<>' for 'not equal' and :NOT: for negation)",
        10,
        7,
    ),
    ("a :XOR: b", "unknown operator ':XOR:' (expected :AND:, :OR: or :NOT:)", 10, 7),
    ("f(a, b)", "'f' is not a builtin function, and a lookup call takes 1 argument, got 2", 10, 5),
    ("Smoth(a, 2)", "unknown function 'Smoth' (did you mean 'SMOOTH'?)", 10, 5),
    ("Time(3)", "'Time' is not a function", 10, 5),
    ("SUM(a)", "function 'SUM' is not supported", 10, 5),
    ("1e999", "number '1e999' is too large", 10, 5),
    ('a + ""', 'empty name ""', 10, 9),
    ('"@time" + 1', "a name cannot start with '@'", 10, 5),
    (
        "WITH LOOKUP(x)",
        "expected ',' and a lookup table after the input of WITH LOOKUP, found ')'",
        10,
        18,
    ),
    ("WITH LOOKUP(x, (1, 2))", "expected '(' to start a point '(x, y)', found number '1'", 10, 21),
    ("__import__('os')", 'unexpected character "\'" (put names in double quotes)', 10, 16),
    ("a + :NOT: b", "unexpected ':NOT:'", 10, 9),
    # Multi-line text: the line advances and the column restarts at 1.
    ("a +\n  (b * c", "expected ')' to close '(' opened at column 3", 11, 9),
    ("(a +\n  b * c", "expected ')' to close '(' opened at line 10, column 5", 11, 8),
    ("a\n + b\n + (c * )", "unexpected ')'", 12, 9),
    ("a\nb", "unexpected name 'b' (missing operator?)", 11, 1),
    ("SMOOTH(a,\n  DELAY1(b))", "'DELAY1' takes 2 arguments, got 1", 11, 3),
]


@pytest.mark.parametrize(("text", "message", "line", "column"), MALFORMED)
def test_malformed_equations_name_file_line_and_column(
    text: str, message: str, line: int, column: int
) -> None:
    error = syntax_error(text)
    assert error.message == message
    assert (error.path, error.line, error.column) == ("m.yaml", line, column)
    assert str(error) == f"m.yaml:{line}:{column}: {message}"


def test_errors_without_location_count_from_the_text() -> None:
    error = syntax_error("a +\n (b", location=None)
    assert (error.path, error.line, error.column) == (None, 2, 4)
    assert error.message == "expected ')' to close '(' opened at column 2"


def test_first_error_in_reading_order_is_reported() -> None:
    # The lexical error '@' comes after the syntax error ')'.
    error = syntax_error("a + ) @")
    assert (error.message, error.column) == ("unexpected ')'", 9)


def test_parse_equation_reports_the_same_errors() -> None:
    with pytest.raises(ModelSyntaxError, match=r"^m\.yaml:10:8: unexpected end of equation$"):
        parse_equation("a -", location=HERE)


# --- size and nesting ---------------------------------------------------------------------------


def test_long_sums_and_products_parse_fast_and_flat() -> None:
    terms = [f"x{i}" for i in range(2000)]
    total = parse_expression(" + ".join(terms))
    assert isinstance(total, sympy.Add)
    assert len(total.args) == 2000
    alternating = parse_expression(" - ".join(f"{i}" for i in range(1, 2001)))
    assert alternating == 1 - sum(range(2, 2001))
    product = parse_expression(" * ".join(["1.001"] * 2000))
    assert float(product) == pytest.approx(1.001**2000)


def test_nesting_limit() -> None:
    deep = "(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert parse_expression(deep) == a
    calls = "ABS(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert str(parse_expression(calls)) == "Abs(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    error = syntax_error("(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1))
    assert error.message == f"expression nested too deeply (more than {MAX_NESTING} levels)"
    assert error.column == 5 + MAX_NESTING


# --- property: random arithmetic evaluates like Python ------------------------------------------

NAMES = {"alpha rate": 1.5, "Beta": -2.25, "gamma_3 level": 0.75}
SPELLINGS = {
    "alpha rate": ["alpha rate", "Alpha_Rate", "ALPHA  rate", '"alpha rate"'],
    "Beta": ["Beta", "beta", "BETA"],
    "gamma_3 level": ["gamma_3 level", "Gamma 3_Level", '"GAMMA 3 LEVEL"'],
}

# A case is (text, value computed by Python, largest magnitude met on the way).
Case = tuple[str, float, float]

numbers = st.one_of(
    st.integers(min_value=0, max_value=50).map(lambda n: (str(n), float(n), float(n))),
    st.decimals(min_value=0, max_value=100, places=3, allow_nan=False).map(
        lambda d: (str(d), float(d), float(d))
    ),
)
names = st.sampled_from(sorted(NAMES)).flatmap(
    lambda n: st.sampled_from(SPELLINGS[n]).map(
        lambda spelling: (spelling, NAMES[n], abs(NAMES[n]))
    )
)


def _case(text: str, result: float, *parts: Case) -> Case:
    return text, result, max([abs(result)] + [part[2] for part in parts])


def _binary(parts: tuple[str, Case, Case]) -> Case:
    op, left, right = parts
    if op == "/":
        # Near-zero divisors would magnify rounding differences: leave them out.
        result = left[1] / right[1] if abs(right[1]) > 1e-3 else math.nan
    else:
        result = {"+": left[1] + right[1], "-": left[1] - right[1], "*": left[1] * right[1]}[op]
    return _case(f"({left[0]} {op} {right[0]})", result, left, right)


def _combine(children: st.SearchStrategy[Case]) -> st.SearchStrategy[Case]:
    binary = st.tuples(st.sampled_from("+-*/"), children, children).map(_binary)
    negated = children.map(lambda t: _case(f"(-{t[0]})", -t[1], t))
    power = st.tuples(children, st.integers(min_value=0, max_value=3)).map(
        lambda p: _case(f"({p[0][0]} ^ {p[1]})", p[0][1] ** p[1], p[0])
    )
    return binary | negated | power


expressions = st.recursive(numbers | names, _combine, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_random_arithmetic_evaluates_like_python(case: Case) -> None:
    text, expected, scale = case
    assume(math.isfinite(expected) and scale < 1e12)
    expr = parse_expression(text)
    keys = {" ".join(k.replace("_", " ").lower().split()): v for k, v in NAMES.items()}
    assert expr.free_symbols <= {sympy.Symbol(k) for k in keys}
    result = float(expr.subs({sympy.Symbol(k): v for k, v in keys.items()}))
    assert result == pytest.approx(expected, rel=1e-9, abs=1e-12 * max(scale, 1.0))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        ),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
def test_lookup_points_round_trip(points: list[tuple[float, float]], with_range: bool) -> None:
    body = ",".join(f"({px!r},{py!r})" for px, py in points)
    text = f"([(0,0)-(1,1)],{body})" if with_range else body
    xs, ys = parse_lookup_points(text)
    assert xs == tuple(px for px, _ in points)
    assert ys == tuple(py for _, py in points)


def test_a_quoted_name_may_hold_an_escaped_quote() -> None:
    equation = parse_equation('"say \\"hi\\" now" * 2 + b')
    assert equation.references == (('say \\"hi\\" now', 0), ("b", 23))
    assert equation.expr == 2 * sympy.Symbol('say \\"hi\\" now') + sympy.Symbol("b")


# --- user text is never evaluated into a hang -------------------------------------------------

#: Inputs on which sympy's evaluation of relations and ``Piecewise`` never returned or raised
#: ``KeyError('pop from an empty set')`` (issue 12): each now parses, fast, as written.
HANGS = [
    "0 = SMOOTH(1, 2)",
    "1 <= DELAY N(1, 2, 0, -1)",
    "1 = XIDZ(1, 0, 1/0)",
    "SMOOTH(1, 2) >= 2.5 < 1e-6",
    "IF THEN ELSE(0 = SMOOTH(1, 2), 1, 0)",
    "IF THEN ELSE(:NOT: 1 <= DELAY N(1, 2, 0, -1), MAX(1, 1/0), MIN(SMOOTH(1, 2), 0))",
    # found by the fuzz suite: a chain of powers of conditionals (exponential in sympy), a
    # quotient of conditionals comparing LN(0) (TypeError), powers of huge numbers (Overflow)
    " ^ ".join(["(IF THEN ELSE(None(23), Time * FINAL TIME, 237))"] * 12),
    " ^ ".join(["(((TIME STEP ^ TIME STEP * +330)))"] * 12),
    " / ".join(["(((b = LN(0) <> --1e308)))"] * 6),
    " <= ".join(["EXP(1e308) ^ EXP(1e308)"] * 6),
    "a / (0 = SMOOTH(1, 2))",  # a power pushed into the branches of a conditional
    " = ".join(["((then(None) / ((0 = SMOOTH(1, 2)))))"] * 6),
    " ^ ".join(["(((-1e308 + -1e308)))"] * 12),  # arbitrary-precision complex powers
    " ^ ".join(["((((x))))"] * 30),
    " ^ ".join(["((((1e308 * 1e308))))"] * 12),
    "(0/0 = 0/0 :OR: 0/0 ^ a)",  # sympy orders the operands of :OR: and cannot order NaN
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", HANGS)
def test_constant_relations_of_functions_parse_fast(text: str) -> None:
    import time

    started = time.perf_counter()
    expr = parse_expression(text)
    assert time.perf_counter() - started < 1.0
    assert isinstance(expr, sympy.Basic)


def test_a_relation_of_numbers_is_still_decided() -> None:
    assert parse_expression("IF THEN ELSE(2 = 2, a, b)") == a
    assert parse_expression("IF THEN ELSE(1 > 2, a, b)") == b


def test_min_and_max_of_unevaluated_relations_still_compute() -> None:
    assert value("MIN(3, a)", a=1) == 1
    assert value("MAX(a, IF THEN ELSE(a > 2, 10, 0))", a=3) == 10


@pytest.mark.timeout(60)
def test_ten_kilobytes_of_nested_relations_parse_in_well_under_a_second() -> None:
    import time

    text = " + ".join(["IF THEN ELSE(SMOOTH(a, 2) >= 2.5, MAX(b, 1/0), 0 = c)"] * 180)
    assert len(text) > 9_000
    started = time.perf_counter()
    parse_expression(text)
    assert time.perf_counter() - started < 1.0
