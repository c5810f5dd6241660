"""Flattening of subscripted variables (sdhealth.compile.flatten), checked against PySD.

Each model is built by hand in the IR, flattened, compiled and run by the native backend and
run by the PySD backend (which runs the arrays themselves through PySD's xarray code); the
results must have the same columns in the same order and agree to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy.core.symbol import Str

from sdhealth.backends.base import RunSpec, get_backend
from sdhealth.compile.flatten import element_name, flatten
from sdhealth.errors import SimulationError, UnsupportedByBackend
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Definition,
    Equation,
    Lookup,
    Model,
    Stock,
    Subscript,
    TimeSpec,
    Variable,
    symbol,
)

RANGES = (
    Subscript("Region", ("North", "South", "East")),
    Subscript("Coast", ("South", "East")),
    Subscript("Age", ("young", "old")),
    Subscript("Band", ("high", "low"), mappings=("Age",)),
)
SPEC = RunSpec(start=0.0, stop=8.0, dt=0.25)


def ref(name: str, *subscripts: str) -> fn.SUBSCRIPT:
    """``name[subscripts]`` as the IR writes it."""
    return fn.SUBSCRIPT(symbol(name), *(Str(s) for s in subscripts))


def call(function: str, *args: sympy.Basic) -> fn.VENSIM_CALL:
    return fn.VENSIM_CALL(Str(function), *args)


def array(kind: type[Variable], name: str, dims: tuple[str, ...], *pieces, **fields) -> Variable:
    """A subscripted variable from ``(subscripts, expression)`` pieces (stocks: a triple)."""
    definitions = []
    for piece in pieces:
        subscripts, expr, *initial = piece
        definitions.append(
            Definition(
                tuple(subscripts),
                Equation(sympy.sympify(expr)),
                initial=Equation(sympy.sympify(initial[0])) if initial else None,
            )
        )
    first = definitions[0]
    if kind is Stock:
        fields.setdefault("initial", first.initial)
    elif kind is Constant:
        fields.setdefault("value", float(first.equation.expr))
    else:
        fields.setdefault("equation", first.equation)
    return kind(name=name, dims=dims, definitions=tuple(definitions), **fields)


def model(*variables: Variable) -> Model:
    return Model("flat", TimeSpec(0.0, 8.0, 0.25), variables, subscripts=RANGES)


def run_both(m: Model):
    native = get_backend("native").run(m, SPEC, {})
    pysd = get_backend("pysd").run(m, SPEC, {})
    return native, pysd


def assert_agree(m: Model) -> dict[str, np.ndarray]:
    """Run on both backends; same columns, same order, values within 1e-9 relative."""
    native, pysd = run_both(m)
    assert native.columns == pysd.columns
    np.testing.assert_array_equal(native.times, pysd.times)
    np.testing.assert_allclose(native.values, pysd.values, rtol=1e-9, atol=1e-12)
    return {c: native.values[:, j] for j, c in enumerate(native.columns)}


def test_one_dimension_with_fixed_element_and_sum() -> None:
    m = model(
        array(Constant, "pop", ("Region",), (("North",), 10), (("South",), 20), (("East",), 5)),
        array(Auxiliary, "growth", ("Region",), (("Region",), ref("pop", "Region") * fn.TIME)),
        Auxiliary(name="total", equation=Equation(call("SUM", ref("growth", "Region!")))),
        Auxiliary(name="north share", equation=Equation(ref("pop", "North") / 35)),
    )
    flat = flatten(m)
    assert flat.names == (
        "pop[North]",
        "pop[South]",
        "pop[East]",
        "growth[North]",
        "growth[South]",
        "growth[East]",
        "total",
        "north share",
    )
    values = assert_agree(m)
    np.testing.assert_allclose(values["total"], 35 * np.arange(0, 8.25, 0.25))


def test_two_dimensions_and_reductions() -> None:
    m = model(
        array(
            Auxiliary,
            "rate",
            ("Region", "Age"),
            (("Region", "young"), 1 + fn.TIME),
            (("Region", "old"), 2 * fn.TIME - 3),
        ),
        array(
            Auxiliary,
            "by region",
            ("Region",),
            (("Region",), call("PROD", ref("rate", "Region", "Age!"))),
        ),
        array(
            Auxiliary, "lowest", ("Age",), (("Age",), call("VMIN", ref("rate", "Region!", "Age")))
        ),
        Auxiliary(name="highest", equation=Equation(call("VMAX", ref("rate", "Region!", "Age!")))),
    )
    values = assert_agree(m)
    assert "rate[East,old]" in values
    t = np.arange(0, 8.25, 0.25)
    np.testing.assert_allclose(values["by region[South]"], (1 + t) * (2 * t - 3))
    np.testing.assert_allclose(values["highest"], np.maximum(1 + t, 2 * t - 3))


def test_subrange_definitions_and_except() -> None:
    m = model(
        array(Constant, "base", ("Region",), (("North",), 1), (("South",), 2), (("East",), 3)),
        array(
            Auxiliary,
            "coastal",
            ("Region",),
            (("Coast",), ref("base", "Coast") * 10),
            (("North",), ref("base", "North")),
        ),
        Auxiliary(
            name="special",
            dims=("Region",),
            equation=Equation(ref("base", "Region") + fn.TIME),
            definitions=(
                Definition(
                    ("Region",), Equation(ref("base", "Region") + fn.TIME), excepts=(("East",),)
                ),
                Definition(("East",), Equation(sympy.Integer(-1))),
            ),
        ),
    )
    values = assert_agree(m)
    np.testing.assert_allclose(values["coastal[East]"], 30.0)
    np.testing.assert_allclose(values["special[East]"], -1.0)
    np.testing.assert_allclose(values["special[South]"], 2 + np.arange(0, 8.25, 0.25))


def test_mapping_and_range_numbers() -> None:
    m = model(
        array(Auxiliary, "by band", ("Band",), (("Band",), call("", Str("Band")) * 100 + fn.TIME)),
        array(Auxiliary, "by age", ("Age",), (("Age",), ref("by band", "Band"))),
    )
    values = assert_agree(m)
    np.testing.assert_allclose(values["by age[young]"], values["by band[high]"])
    np.testing.assert_allclose(values["by band[low]"] - values["by band[high]"], 100)


def test_subscripted_stock_with_subscripted_flows() -> None:
    m = model(
        array(
            Constant, "inflow rate", ("Region",), (("North",), 3), (("South",), 1), (("East",), 2)
        ),
        array(
            Stock,
            "patients",
            ("Region",),
            (
                ("Region",),
                ref("inflow rate", "Region") - ref("patients", "Region") / 4,
                ref("inflow rate", "Region") * 2,
            ),
        ),
        Auxiliary(name="all patients", equation=Equation(call("SUM", ref("patients", "Region!")))),
    )
    flat = flatten(m)
    assert isinstance(flat["patients[East]"], Stock)
    assert flat["patients[East]"].inflows == ("patients[East] net flow",)
    values = assert_agree(m)
    assert values["patients[North]"][0] == 6.0
    assert values["patients[North]"][-1] == pytest.approx(12 - 6 * (1 - 0.25 / 4) ** 32, rel=1e-12)


def test_subscripted_smooth_becomes_one_cascade_per_element() -> None:
    m = model(
        array(Auxiliary, "signal", ("Region",), (("Region",), fn.STEP(call("", Str("Region")), 2))),
        array(
            Auxiliary, "smoothed", ("Region",), (("Region",), fn.SMOOTH(ref("signal", "Region"), 3))
        ),
    )
    values = assert_agree(m)
    assert values["smoothed[East]"][-1] > values["smoothed[South]"][-1] > 0


def test_subscripted_lookup_is_one_table_per_element() -> None:
    lookup = Lookup(
        name="effect",
        dims=("Age",),
        xs=(0.0, 10.0),
        ys=(0.0, 1.0),
        definitions=(
            Definition(("young",), points=((0.0, 10.0), (0.0, 1.0))),
            Definition(("old",), points=((0.0, 10.0), (1.0, 3.0))),
        ),
    )
    m = model(
        lookup,
        array(
            Auxiliary, "effect now", ("Age",), (("Age",), fn.LOOKUP(ref("effect", "Age"), fn.TIME))
        ),
    )
    values = assert_agree(m)
    np.testing.assert_allclose(values["effect now[old]"], 1 + 2 * np.arange(0, 8.25, 0.25) / 10)


def test_unsupported_array_function_names_function_and_variable() -> None:
    m = model(
        array(Constant, "pop", ("Region",), (("North",), 1), (("South",), 2), (("East",), 3)),
        array(Auxiliary, "order", ("Region",),
              (("Region",), call("VECTOR LOOKUP", ref("pop", "Region!"), 1, 0, 3, 0))),
    )  # fmt: skip
    with pytest.raises(UnsupportedByBackend) as caught:
        flatten(m)
    assert "'order'" in str(caught.value) and "VECTOR LOOKUP" in str(caught.value)


def test_vector_sort_order_rank_and_reorder() -> None:
    m = model(
        array(Auxiliary, "score", ("Region",), (("North",), 5 - fn.TIME), (("South",), 2),
              (("East",), fn.TIME)),
        array(Auxiliary, "order", ("Region",),
              (("Region",), call("VECTOR SORT ORDER", ref("score", "Region"), 1))),
        array(Auxiliary, "rank", ("Region",),
              (("Region",), call("VECTOR RANK", ref("score", "Region"), 0))),
        array(Auxiliary, "sorted", ("Region",),
              (("Region",),
               call("VECTOR REORDER", ref("score", "Region"), ref("order", "Region")))),
    )  # fmt: skip
    values = assert_agree(m)
    assert values["sorted[North]"][0] == 0.0 and values["rank[North]"][0] == 1.0


def native_values(m: Model) -> dict[str, np.ndarray]:
    """Run on the native backend alone (for what PySD cannot run)."""
    result = get_backend("native").run(m, SPEC, {})
    return {c: result.values[:, j] for j, c in enumerate(result.columns)}


def test_vector_elm_map_counts_from_the_element_named_over_the_whole_variable() -> None:
    """SDEverywhere's ``vector`` model, whose outputs Vensim printed: an offset counts from
    the element the first argument names, over the whole variable with the last subscript
    fastest (``d[A2, B1]`` + 1 is ``d[A2, B2]``), and a whole array counts from its first."""
    m = model(
        array(Constant, "a", ("Region",), (("North",), 0), (("South",), 1), (("East",), 1)),
        array(Constant, "b", ("Age",), (("young",), 1), (("old",), 2)),
        array(Constant, "d", ("Region", "Age"),
              *(((r, g), v) for (r, g), v in zip(
                  [(r, g) for r in ("North", "South", "East") for g in ("young", "old")],
                  (1, 4, 2, 5, 3, 6), strict=True))),
        array(Auxiliary, "c", ("Region",),
              (("Region",), 10 + call("VECTOR ELM MAP", ref("b", "young"), ref("a", "Region")))),
        array(Auxiliary, "f", ("Region", "Age"),
              (("Region", "Age"), call("VECTOR ELM MAP", ref("d", "Region", "young"),
                                       ref("a", "Region")))),
        array(Auxiliary, "whole", ("Region",),
              (("Region",),
               call("VECTOR ELM MAP", ref("a", "Region"), 2 - 2 * ref("a", "Region")))),
    )  # fmt: skip
    values = native_values(m)
    assert [values[f"c[{r}]"][0] for r in ("North", "South", "East")] == [11, 12, 12]
    f = [values[f"f[{r},{g}]"][0] for r in ("North", "South", "East") for g in ("young", "old")]
    assert f == [1, 1, 5, 5, 6, 6]  # Vensim's 1,1,5,5,6,6
    assert [values[f"whole[{r}]"][0] for r in ("North", "South", "East")] == [1, 0, 0]
    outside = array(
        Auxiliary,
        "outside",
        ("Region",),
        (("Region",), call("VECTOR ELM MAP", ref("b", "old"), ref("a", "Region"))),
    )
    with pytest.raises(SimulationError, match=r"'outside\[South\]' became not a number .* 0"):
        native_values(model(*m.variables, outside))  # b[old] + 1 is past the end: Vensim's :NA:


def test_sorting_a_computed_vector_with_a_direction_set_at_run_time() -> None:
    m = model(
        array(Auxiliary, "score", ("Region",), (("North",), 5 - fn.TIME), (("South",), 2),
              (("East",), fn.TIME)),
        Constant(name="ascending", value=1.0),
        array(Auxiliary, "order", ("Region",),
              (("Region",), call("VECTOR SORT ORDER", ref("score", "Region") * -1,
                                 symbol("ascending")))),
        array(Auxiliary, "rank", ("Region",),
              (("Region",), call("VECTOR RANK", ref("score", "Region") + 1,
                                 symbol("ascending") - 1))),
    )  # fmt: skip
    values = native_values(m)
    # at time 0 the scores are 5, 2, 0: negated, ascending, North comes first
    assert [values[f"order[{r}]"][0] for r in ("North", "South", "East")] == [0, 1, 2]
    # direction 0 is descending: North's 6 ranks first
    assert [values[f"rank[{r}]"][0] for r in ("North", "South", "East")] == [1, 2, 3]
    # at time 8: 5 - 8 = -3, 2, 8: negated 3, -2, -8, so East, South, North
    assert [values[f"order[{r}]"][-1] for r in ("North", "South", "East")] == [2, 1, 0]


def test_vector_select_sums_the_selected_elements() -> None:
    m = model(
        array(Constant, "pop", ("Region",), (("North",), 1), (("South",), 2), (("East",), 3)),
        array(Constant, "chosen", ("Region",), (("North",), 1), (("South",), 0), (("East",), 1)),
        Auxiliary(name="picked", equation=Equation(
            call("VECTOR SELECT", ref("chosen", "Region!"), ref("pop", "Region!"), -1, 0, 0)
            + fn.TIME)),
    )  # fmt: skip
    values = assert_agree(m)
    np.testing.assert_allclose(values["picked"], 4 + np.arange(0, 8.25, 0.25))


def test_scalar_model_is_returned_unchanged() -> None:
    m = Model("s", variables=(Constant(name="a", value=1.0),))
    assert flatten(m) is m
    assert element_name("x", ()) == "x"


def test_native_columns_and_parameters_of_elements() -> None:
    m = model(
        array(Constant, "pop", ("Region",), (("North",), 10), (("South",), 20), (("East",), 5)),
        Auxiliary(name="total", equation=Equation(call("SUM", ref("pop", "Region!")))),
    )
    spec = RunSpec(start=0.0, stop=1.0, dt=0.5, return_columns=("pop", "total"))
    result = get_backend("native").run(m, spec, {"pop[South]": 100.0})
    assert result.columns == ("pop[North]", "pop[South]", "pop[East]", "total")
    assert result.values[-1].tolist() == [10.0, 100.0, 5.0, 115.0]


def test_functions_pysd_lacks_are_refused_by_name_not_raised_from_its_code() -> None:
    """PySD translates VECTOR ELM MAP into a call that raises NotImplementedError at run
    time: its backend refuses the model by name instead, and the fallback from native says
    that neither can run it."""
    m = model(
        array(Constant, "a", ("Region",), (("North",), 0), (("South",), 1), (("East",), 1)),
        array(Auxiliary, "c", ("Region",),
              (("Region",), call("VECTOR ELM MAP", ref("a", "North"), ref("a", "Region")))),
    )  # fmt: skip
    with pytest.raises(UnsupportedByBackend, match="no function for 'c': VECTOR ELM MAP"):
        get_backend("pysd").run(m, SPEC, {})
    assert native_values(m)["c[South]"][0] == 1.0
