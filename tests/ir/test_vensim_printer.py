"""The Vensim printer: exact text for each construct, and values checked through PySD.

The value tests print many expressions (hand-picked precedence traps plus seeded random trees)
as auxiliaries of one model, translate it once with PySD and compare every auxiliary with a
30-digit sympy evaluation of the same expression.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pysd
import pytest
import sympy

from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Equation,
    Extrapolation,
    Flow,
    Lookup,
    Model,
    Sector,
    Stock,
    Subscript,
    TimeSpec,
    symbol,
)
from sdhealth.ir.vensim import (
    SOURCE_PREFIX,
    expr_to_vensim,
    model_to_vensim,
    number_to_vensim,
    quote_name,
    split_source,
)

a, b, c, d = (sympy.Symbol(n) for n in "abcd")


def text(expr: sympy.Basic) -> str:
    return expr_to_vensim(expr, str)


# --------------------------------------------------------------------------- exact text


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (a + b, "a + b"),
        (a - b, "a - b"),
        (-a + b, "b - a"),
        (a - (b - c), "a + c - b"),
        (a * (b + c), "a*(b + c)"),
        (a / (b * c), "a/(b*c)"),
        (a / (b + c), "a/(b + c)"),
        (-a, "-a"),
        (-(a**2), "-(a^2)"),
        (-(a**2) / b, "-(a^2)/b"),
        (-(a + b) * c, "c*(-a - b)"),
        (sympy.Mul(-1, a + b, c, evaluate=False), "-(a + b)*c"),
        (a**b, "a^b"),
        (a ** (b**c), "a^(b^c)"),
        (sympy.Pow(a**b, c, evaluate=False), "(a^b)^c"),
        ((a * b) ** c, "(a*b)^c"),
        (a ** (-b), "a^(-b)"),
        (1 / a, "1/a"),
        (a**-2, "1/a^2"),
        (-1 / a, "-1/a"),
        (sympy.sqrt(a), "SQRT(a)"),
        (1 / sympy.sqrt(a), "1/SQRT(a)"),
        (a ** sympy.Rational(1, 3), "a^(1/3)"),
        (a / 3, "a/3"),
        (sympy.Rational(3, 2) * a, "3*a/2"),
        (-a / 3, "-a/3"),
        (sympy.Float(0.1) * a, "0.1*a"),
        (sympy.Float(2.0) * a, "2*a"),
        (a + sympy.Float(1e-7), "a + 1e-07"),
        (a - 3, "a - 3"),
        (sympy.Integer(-3) ** a, "(0 - 3)^a"),  # PySD reads (-3)^a as -(3^a)
        (sympy.Pow(-2, 2, evaluate=False), "(0 - 2)^2"),
        (sympy.exp(a), "EXP(a)"),
        (sympy.log(a), "LN(a)"),
        (sympy.Abs(a), "ABS(a)"),
        (sympy.E, "EXP(1)"),
        (sympy.Min(a, b), "MIN(a, b)"),
        (sympy.Max(a, b, c), "MAX(a, MAX(b, c))"),
        (sympy.atan(a), "ARCTAN(a)"),
        (sympy.Eq(a, b), "a = b"),
        (sympy.Ne(a, 0), "a <> 0"),
        (a + b >= c, "a + b >= c"),
        (sympy.And(a > 1, b < 2), "a > 1 :AND: b < 2"),
        (sympy.Or(sympy.And(a > 1, b < 2), c > 3), "c > 3 :OR: (a > 1 :AND: b < 2)"),
        (sympy.Not(sympy.And(a > 1, b < 2)), ":NOT: (a > 1 :AND: b < 2)"),
        (sympy.Piecewise((a, a > b), (b, True)), "IF THEN ELSE(a > b, a, b)"),
        (
            sympy.Piecewise((1, a > 2), (2, a > 1), (3, True)),
            "IF THEN ELSE(a > 2, 1, IF THEN ELSE(a > 1, 2, 3))",
        ),
        (sympy.Piecewise((1, a > 2)), "IF THEN ELSE(a > 2, 1, :NA:)"),
        (fn.STEP(5, 2), "STEP(5, 2)"),
        (fn.PULSE_TRAIN(1, 0.5, 2, 6), "PULSE TRAIN(1, 0.5, 2, 6)"),
        (fn.DELAY_N(a, 4, b, 3), "DELAY N(a, 4, b, 3)"),
        (fn.SMOOTH3I(a, 3, 4), "SMOOTH3I(a, 3, 4)"),
        (fn.DELAY_FIXED(a, 1, 0), "DELAY FIXED(a, 1, 0)"),
        (fn.TIME + fn.TIME_STEP, "Time + TIME STEP"),
        (fn.INITIAL_TIME * fn.FINAL_TIME - fn.SAVEPER, "FINAL TIME*INITIAL TIME - SAVEPER"),
        (fn.LOOKUP(sympy.Symbol("effect"), a), "effect(a)"),
        (
            fn.WITH_LOOKUP(a, sympy.Tuple(0, 1.5), sympy.Tuple(-1, 2)),
            "WITH LOOKUP(a, ([(0,-1)-(1.5,2)],(0,-1),(1.5,2)))",
        ),
    ],
)
def test_expression_text(expr: sympy.Basic, expected: str) -> None:
    assert text(expr) == expected


def test_names_are_quoted_only_when_vensim_needs_it() -> None:
    names = {"x": "Bed occupancy", "y": "A&E attendances", "z": "4 hour target"}
    printed = expr_to_vensim(sympy.Symbol("x") + sympy.Symbol("y") * sympy.Symbol("z"), names.get)
    assert printed == 'Bed occupancy + "A&E attendances"*"4 hour target"'
    assert quote_name('say "hi"') == '"say \\"hi\\""'
    assert quote_name('"already"') == '"already"'


def test_linear_lookups_are_called_through_lookup_extrapolate() -> None:
    call = fn.LOOKUP(sympy.Symbol("table"), a)
    assert expr_to_vensim(call, str, extrapolating={"table"}) == "LOOKUP EXTRAPOLATE(table, a)"


def test_numbers_print_exactly() -> None:
    for value in (0.1, 1 / 3, 2.0**-40, 6.02214076e23, -123.456, 1e15 + 0.5):
        assert float(number_to_vensim(value)) == value
    assert number_to_vensim(sympy.Rational(-2, 7)) == "-2/7"
    with pytest.raises(ValueError, match="no literal"):
        number_to_vensim(float("nan"))
    with pytest.raises(ValueError, match="no literal"):
        text(a + sympy.oo)


def test_functions_vensim_lacks_are_refused() -> None:
    with pytest.raises(ValueError, match="Vensim"):
        text(sympy.floor(a))


# --------------------------------------------------------------------------- whole models


def _small_model(**time: float) -> Model:
    return Model(
        "small",
        TimeSpec(**({"start": 0, "stop": 12, "dt": 0.25} | time)),
        (
            Stock(
                name="Patients",
                initial=Equation.of(100),
                inflows=("Admissions",),
                outflows=("Discharges", "Deaths"),
                units="people",
                limits=(0, None),
                doc="In a bed | or ~ waiting.",
                source="KH03 (NHS England)",
                sector="acute",
            ),
            Flow(name="Admissions", equation=Equation.of(10), units="people/month"),
            Flow(
                name="Discharges",
                equation=Equation(symbol("Patients") / symbol("LOS")),
                sector="acute",
            ),
            Flow(name="Deaths", equation=Equation.of(0)),
            Constant(name="LOS", value=7.5, units="month", limits=(1, 30)),
            Lookup(name="Effect", xs=(0, 1, 2), ys=(1, 0.5, 0.25), units="dmnl"),
            Lookup(name="Trend", xs=(0, 1), ys=(0, 2), extrapolation=Extrapolation.LINEAR),
        ),
        sectors=(Sector("acute", "Hospital beds"),),
    )


def test_model_text_has_every_part() -> None:
    mdl = model_to_vensim(_small_model())
    assert mdl.startswith("{UTF-8}\n")
    assert "Patients= INTEG (\n\tAdmissions - Discharges - Deaths,\n\t\t100)" in mdl
    assert "\t~\tpeople [0,?]\n" in mdl
    assert "\t~\tmonth [1,30]\n" in mdl
    assert "In a bed ｜ or ～ waiting." in mdl
    assert f"\t{SOURCE_PREFIX}KH03 (NHS England)\n" in mdl
    assert "Effect(\n\t[(0,0.25)-(2,1)],(0,1),(1,0.5),(2,0.25))" in mdl
    assert ".acute\n" in mdl and "Hospital beds" in mdl
    # unsectored variables come before the first sector group, the clock comes last
    assert mdl.index("Admissions=") < mdl.index(".acute") < mdl.index("Patients=")
    assert mdl.index("Patients=") < mdl.index(".Control")
    for line in ("FINAL TIME =\n\t12", "INITIAL TIME =\n\t0", "TIME STEP =\n\t0.25"):
        assert line in mdl
    assert "SAVEPER =\n\tTIME STEP" in mdl
    assert "SAVEPER =\n\t1\n" in model_to_vensim(_small_model(saveper=1))


def test_identifier_names() -> None:
    model = Model(
        "ids",
        variables=(
            Constant(name="A&E arrivals", value=1),
            Auxiliary(name="4 hour", equation=Equation(2 * symbol("A&E arrivals"))),
        ),
    )
    mdl = model_to_vensim(model, names="identifier")
    assert "a_e_arrivals=\n\t1" in mdl
    assert "v_4_hour=\n\t2*a_e_arrivals" in mdl
    assert '"4 hour"=\n\t2*"A&E arrivals"' in model_to_vensim(model)


def test_subscript_ranges_and_dimensions() -> None:
    model = Model(
        "subs",
        variables=(Constant(name="Beds", value=3, dims=("Region",)),),
        subscripts=(Subscript("Region", ("North", "South")),),
    )
    mdl = model_to_vensim(model)
    assert "Region:\n\tNorth, South\n" in mdl
    assert "Beds[Region]=\n\t3" in mdl


def test_split_source_inverts_the_printed_documentation() -> None:
    mdl = model_to_vensim(_small_model())
    block = mdl[mdl.index("Patients=") :].split("~")[2].split("|")[0]
    assert split_source(block) == ("In a bed ｜ or ～ waiting.", "KH03 (NHS England)")


@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_whole_model_runs_in_pysd(tmp_path) -> None:
    path = tmp_path / "small.mdl"
    path.write_text(model_to_vensim(_small_model()), encoding="utf-8")
    frame = pysd.read_vensim(str(path)).run(progress=False)
    expected = 100.0
    for value in frame["Patients"].to_numpy()[:5]:
        assert value == pytest.approx(expected, rel=1e-12)
        expected += 0.25 * (10 - expected / 7.5)


# --------------------------------------------------------------------------- values via PySD

VALUES = {
    "Alpha": sympy.Rational(5, 2),
    "B&x": sympy.Rational(-3, 2),
    "3 c": sympy.Integer(3),
    "delta": sympy.Rational(1, 2),
    "Echo (e)": sympy.Rational(7, 4),
}
SUBS = {symbol(name): value for name, value in VALUES.items()}
A, B, C, D, E = SUBS
TABLE = symbol("Curve")

HAND_PICKED = [
    A - (B - C),
    A - B - C,
    A / (B * C),
    A / (B / C),
    (A / B) / C,
    B**2,
    -(B**2),
    -(B**3) / C,
    A ** (B**C),
    sympy.Pow(A**D, C, evaluate=False),
    (A * D) ** B,
    C ** (-A),
    A**-1,
    A**-2,
    A ** sympy.Rational(-1, 2),
    A ** sympy.Rational(1, 3),
    sympy.sqrt(A),
    2**A,
    sympy.Pow(-2, 2, evaluate=False),
    sympy.Integer(-1) ** C,
    sympy.Rational(1, 3) * A,
    -A / 3,
    sympy.Float(0.1) * B,
    A * sympy.Float(1e-7) + sympy.Float(1e20) / C,
    (A + B) * (C - D),
    -(A + B) * C,
    1 / (A + B),
    sympy.exp(-A),
    sympy.log(A) / sympy.log(C),
    sympy.Abs(B - A),
    sympy.Min(A, B, C),
    sympy.Max(A, B, C, D),
    sympy.sin(A) + sympy.cos(B) * sympy.tan(D),
    sympy.asin(D) - sympy.acos(D) + sympy.atan(B),
    sympy.pi * A,
    sympy.E**B,
    sympy.Piecewise((A, A > B), (B, True)),
    sympy.Piecewise((1, A > 3), (2, sympy.Eq(C, 3)), (3, True)),
    sympy.Piecewise((1, sympy.And(A > 1, sympy.Or(B > 0, C >= 3))), (0, True)),
    sympy.Piecewise((1, sympy.Or(sympy.And(A > 1, B > 0), C <= 3)), (0, True)),
    sympy.Piecewise((1, sympy.Not(sympy.And(A > 1, B < 0))), (0, True)),
    sympy.Piecewise((1, sympy.Ne(A - B, 4)), (0, True)),
    1 - sympy.Piecewise((A, A + B > C - D), (D, True)),
    fn.INTEGER(B * C / 2),
    fn.MODULO(-7, C),
    fn.QUANTUM(A * 3, 2),
    fn.ZIDZ(A, B - B),
    fn.ZIDZ(A, B),
    fn.XIDZ(A, C - 3, E),
    fn.WITH_LOOKUP(A, sympy.Tuple(0, 1, 3), sympy.Tuple(0, 10, 5)),
    fn.LOOKUP(TABLE, A + D),
    fn.LOOKUP(TABLE, -A),
    fn.INITIAL(A * 2),
]


def _reference(expr: sympy.Basic) -> float:
    """The value of an IR expression at the constants above, evaluated to 30 digits."""

    def lookup(node: sympy.Basic) -> sympy.Expr:
        x = float(node.args[1].xreplace(SUBS))
        return sympy.Float(float(np.interp(x, [0, 2, 4], [1, 3, 2])))

    def sd_function(node: sympy.Basic) -> sympy.Expr:
        if isinstance(node, fn.WITH_LOOKUP):
            x = float(node.args[0].xreplace(SUBS))
            xs, ys = ([float(v) for v in values] for values in node.args[1:])
            return sympy.Float(float(np.interp(x, xs, ys)))
        args = [sympy.N(arg.xreplace(SUBS), 30) for arg in node.args]
        if isinstance(node, fn.INTEGER):
            return sympy.Integer(int(args[0]))
        if isinstance(node, (fn.MODULO, fn.QUANTUM)):
            quantum = args[1] * int(args[0] / args[1])
            return args[0] - quantum if isinstance(node, fn.MODULO) else quantum
        if isinstance(node, (fn.ZIDZ, fn.XIDZ)):
            fallback = sympy.Integer(0) if isinstance(node, fn.ZIDZ) else args[2]
            return fallback if abs(args[1]) < 1e-6 else args[0] / args[1]
        if isinstance(node, fn.INITIAL):
            return args[0]
        raise AssertionError(node)

    expr = expr.replace(lambda n: isinstance(n, fn.LOOKUP), lookup)
    expr = expr.replace(lambda n: isinstance(n, fn.SDFunction), sd_function)
    return float(sympy.N(expr.xreplace(SUBS), 30))


def _random_expression(rng: random.Random, depth: int, conditional: bool = True) -> sympy.Expr:
    """A random tree of operators; conditions compare trees without IF THEN ELSE inside."""
    leaves = [
        A,
        B,
        C,
        D,
        E,
        sympy.Integer(rng.randint(-3, 4)),
        sympy.Rational(rng.randint(1, 9), 4),
    ]
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(leaves)
    left = _random_expression(rng, depth - 1, conditional)
    right = _random_expression(rng, depth - 1, conditional)
    choice = rng.randrange(10 if conditional else 8)
    if choice == 0:
        return left + right
    if choice == 1:
        return left - right
    if choice == 2:
        return left * right
    if choice == 3:
        return left / right
    if choice == 4:
        return left ** rng.choice([2, 3, -1, -2])
    if choice == 5:
        return -left
    if choice == 6:
        return rng.choice([sympy.Min, sympy.Max])(left, right, rng.choice(leaves))
    if choice == 7:
        return sympy.Abs(left) ** sympy.Rational(1, rng.choice([2, 3]))
    x, y = (_random_expression(rng, 2, conditional=False) for _ in range(2))
    condition = rng.choice([x > y, sympy.Eq(x, y), sympy.Ne(x, y), x <= y])
    if choice == 8:
        condition = rng.choice([sympy.And, sympy.Or])(condition, y > rng.choice(leaves))
    else:
        condition = sympy.Not(condition)
    return sympy.Piecewise((left, condition), (right, True))


def _finite_everywhere(expr: sympy.Expr) -> bool:
    """Whether every subexpression is a finite real number (PySD raises on x/0)."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Expr):
            try:
                value = complex(sympy.N(node.xreplace(SUBS), 20))
            except TypeError:
                return False
            if not (np.isfinite(value) and value.imag == 0):
                return False
    return True


def _random_expressions(count: int, depth: int, evaluate: bool) -> list[sympy.Expr]:
    """Seeded random trees: sympy-simplified ones, and unevaluated ones (nested as built)."""
    rng = random.Random(20240611 + depth)
    found: list[sympy.Expr] = []
    while len(found) < count:
        try:
            with sympy.evaluate(evaluate):
                expr = _random_expression(rng, depth)
            value = _reference(expr)
        except (TypeError, ValueError, ZeroDivisionError):
            continue  # complex or undefined at these values
        if expr.is_Number or not _finite_everywhere(expr):
            continue
        if np.isfinite(value) and abs(value) < 1e12:
            found.append(expr)
    return found


EXPRESSIONS = (
    HAND_PICKED
    + _random_expressions(40, 3, evaluate=True)
    + _random_expressions(120, 4, evaluate=False)
)


@pytest.fixture(scope="module")
def pysd_values(tmp_path_factory) -> dict[str, float]:
    """Every expression as an auxiliary ``e<i>`` of one model, run by PySD at time 0."""
    variables = [Constant(name=name, value=float(value)) for name, value in VALUES.items()]
    variables.append(Lookup(name="Curve", xs=(0, 2, 4), ys=(1, 3, 2)))
    variables += [
        Auxiliary(name=f"e{i}", equation=Equation(expr)) for i, expr in enumerate(EXPRESSIONS)
    ]
    model = Model("values", TimeSpec(0, 1, 1), tuple(variables))
    path = tmp_path_factory.mktemp("printer") / "values.mdl"
    path.write_text(model_to_vensim(model), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always")
        frame = pysd.read_vensim(str(path)).run(progress=False)
    assert any("extrapolating" in str(w.message) for w in caught)  # Curve(-Alpha)
    return {f"e{i}": float(frame[f"e{i}"].iloc[0]) for i in range(len(EXPRESSIONS))}


@pytest.mark.parametrize("index", range(len(EXPRESSIONS)))
def test_printed_expression_has_the_same_value_in_pysd(index: int, pysd_values) -> None:
    expr = EXPRESSIONS[index]
    expected = _reference(expr)
    assert pysd_values[f"e{index}"] == pytest.approx(expected, rel=1e-9, abs=1e-12), (
        f"{expr} printed as {expr_to_vensim(expr, str)}"
    )
