"""Importing Vensim ``.mdl`` files through PySD's translator into the IR (sdhealth.io.mdl)."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path

import pytest
import sympy
from sympy.core.symbol import Str

import sdhealth as sd
from sdhealth.errors import ModelError, ModelSyntaxError
from sdhealth.ir import functions as fn
from sdhealth.ir.model import (
    Auxiliary,
    Constant,
    Data,
    DataMode,
    Extrapolation,
    Flow,
    Lookup,
    Stock,
)
from sdhealth.ir.vensim import model_to_vensim

CONTROL = """
FINAL TIME = 4 ~ Month ~ |
INITIAL TIME = 0 ~ Month ~ |
SAVEPER = TIME STEP ~ Month ~ |
TIME STEP = 0.5 ~ Month ~ |
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.mdl"
    path.write_text("{UTF-8}\n" + textwrap.dedent(body) + CONTROL, encoding="utf-8")
    return path


def test_stock_flows_units_docs_limits_and_clock(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        Beds = INTEG(admissions - discharges, 100) ~ bed [0,?] ~ NHS beds.
            Source: KH03 |
        admissions = 5 ~ bed/Month ~ |
        discharges = Beds / stay ~ bed/Month ~ |
        stay = 4 ~ Month ~ |
        """,
    )
    model = sd.load(path).ir
    beds = model["Beds"]
    assert isinstance(beds, Stock)
    assert (beds.inflows, beds.outflows) == (("admissions",), ("discharges",))
    assert (beds.units, beds.limits, beds.doc, beds.source) == (
        "bed",
        (0.0, None),
        "NHS beds.",
        "KH03",
    )
    assert isinstance(model["discharges"], Flow) and isinstance(model["stay"], Constant)
    assert model["discharges"].equation.expr == sympy.Symbol("beds") / sympy.Symbol("stay")
    assert (model.time.start, model.time.stop, model.time.dt, model.time.units) == (
        0,
        4,
        0.5,
        "Month",
    )
    result = sd.load(path).run(backend="pysd")
    assert result["Beds"].iloc[1] == pytest.approx(100 + 0.5 * (5 - 25))


def test_a_rate_that_is_not_a_sum_of_flows_becomes_an_internal_flow(tmp_path: Path) -> None:
    model = sd.load(write(tmp_path, "S = INTEG(2 * S, 1) ~ ~ |\n")).ir
    net = model["S net flow"]
    assert isinstance(net, Flow) and net.internal and model["S"].inflows == ("S net flow",)
    assert net.equation.expr == 2 * sympy.Symbol("s")


def test_an_internal_flow_stays_internal_through_yaml(tmp_path: Path) -> None:
    """The import's net flow is written (the stock needs it) and read back still hidden."""
    model = sd.load(write(tmp_path, "S = INTEG(2 * S, 1) ~ ~ |\n"))
    model.to_yaml(tmp_path / "s.yaml")
    assert "internal: true" in (tmp_path / "s.yaml").read_text()
    back = sd.load(tmp_path / "s.yaml")
    assert back.ir["S net flow"].internal and back.ir["S"].inflows == ("S net flow",)
    assert list(back.run().columns) == list(model.run().columns)


def test_logic_if_then_else_and_builtins(tmp_path: Path) -> None:
    model = sd.load(
        write(
            tmp_path,
            """
            a = IF THEN ELSE(Time > 1 :AND: b <> 2, STEP(3, 1), MIN(b, 4)) ~ ~ |
            b = 2 ~ ~ |
            c = (Time > 1) * 5 + ZIDZ(b, 0) + PULSE TRAIN(1, 1, 2, 4) ~ ~ |
            """,
        )
    ).ir
    b, time = sympy.Symbol("b"), fn.TIME
    condition = sympy.And(time > 1, sympy.Ne(b, 2))
    assert model["a"].equation.expr == sympy.Piecewise(
        (fn.STEP(3, 1), condition), (sympy.Min(b, 4), True)
    )
    expected = 5 * sympy.Piecewise((1, time > 1), (0, True)) + fn.ZIDZ(b, 0)
    assert model["c"].equation.expr == expected + fn.PULSE_TRAIN(1, 1, 2, 4)


def test_delays_smooths_trend_and_initial(tmp_path: Path) -> None:
    model = sd.load(
        write(
            tmp_path,
            """
            x = 1 + Time ~ ~ |
            d1 = DELAY1(x, 2) ~ ~ |
            d3i = DELAY3I(x, 2, 5) ~ ~ |
            dn = DELAY N(x, 2, 0, 4) ~ ~ |
            df = DELAY FIXED(x, 1, 0) ~ ~ |
            s = SMOOTH(x, 2) ~ ~ |
            s3i = SMOOTH3I(x, 2, 1) ~ ~ |
            tr = TREND(x, 2, 0) ~ ~ |
            i = INITIAL(x) ~ ~ |
            """,
        )
    ).ir
    x = sympy.Symbol("x")
    expected = {
        "d1": fn.DELAY1(x, 2),
        "d3i": fn.DELAY3I(x, 2, 5),
        "dn": fn.DELAY_N(x, 2, 0, 4),
        "df": fn.DELAY_FIXED(x, 1, 0),
        "s": fn.SMOOTH(x, 2),
        "s3i": fn.SMOOTH3I(x, 2, 1),
        "tr": fn.TREND(x, 2, 0),
        "i": fn.INITIAL(x),
    }
    for name, expr in expected.items():
        assert model[name].equation.expr == expr, name


def test_lookups_named_inline_and_extrapolated(tmp_path: Path) -> None:
    model = sd.load(
        write(
            tmp_path,
            """
            table([(0,0)-(2,10)], (0,0), (1,5), (2,10)) ~ ~ |
            steep(GET XLS LOOKUPS('x.xlsx', 'a', '1', 'B2')) ~ ~ |
            """.replace("steep(GET XLS LOOKUPS('x.xlsx', 'a', '1', 'B2')) ~ ~ |", "")
            + """
            y = table(Time) + WITH LOOKUP(Time, ([(0,0)-(4,4)], (0,1), (4,3))) ~ ~ |
            """,
        )
    ).ir
    table = model["table"]
    assert isinstance(table, Lookup) and table.xs == (0, 1, 2) and table.ys == (0, 5, 10)
    assert table.extrapolation is Extrapolation.HOLD
    time = fn.TIME
    assert model["y"].equation.expr == fn.LOOKUP(sympy.Symbol("table"), time) + fn.WITH_LOOKUP(
        time, sympy.Tuple(0.0, 4.0), sympy.Tuple(1.0, 3.0)
    )
    assert sd.load(model.path).run(backend="pysd")["y"].iloc[-1] == pytest.approx(10 + 3)


def test_subscripts_definitions_and_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        age: young, old ~ ~ |
        pop[age] = INTEG(births[age] - deaths[age], 10) ~ person ~ |
        births[young] = 2 ~~|
        births[old] = 0 ~ ~ |
        deaths[age] = pop[age] * rate[age] ~ ~ |
        rate[age] = 0.1, 0.2 ~ ~ |
        total = SUM(pop[age!]) ~ ~ |
        """,
    )
    model = sd.load(path).ir
    assert model.subscripts[0].elements == ("young", "old")
    pop = model["pop"]
    assert isinstance(pop, Stock) and pop.dims == ("age",)
    rate = model["rate"]
    assert [d.subscripts for d in rate.definitions] == [("young",), ("old",)]
    assert [d.equation.expr for d in rate.definitions] == [0.1, 0.2]
    assert pop.definitions[0].equation.expr == fn.SUBSCRIPT(
        sympy.Symbol("births"), Str("age")
    ) - fn.SUBSCRIPT(sympy.Symbol("deaths"), Str("age"))
    assert model["total"].equation.expr == fn.VENSIM_CALL(
        Str("SUM"), fn.SUBSCRIPT(sympy.Symbol("pop"), Str("age!"))
    )
    result = sd.load(path).run(backend="pysd")
    assert result["pop[young]"].iloc[1] == pytest.approx(10 + 0.5 * (2 - 1))
    assert result["pop[old]"].iloc[1] == pytest.approx(10 - 0.5 * 2)
    assert result["total"].iloc[1] == pytest.approx(result["pop[young]"].iloc[1] + 9)


def test_macros_are_inlined_once_per_call(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        :MACRO: ACCUMULATE(input, start)
        ACCUMULATE = INTEG(input * scale, start) ~ ~ |
        scale = 2 ~ ~ |
        :END OF MACRO:
        a = ACCUMULATE(1, 10) ~ ~ |
        b = ACCUMULATE(3, 0) ~ ~ |
        """,
    )
    model = sd.load(path)
    stocks = [s for s in model.ir.stocks if s.internal]
    assert len(stocks) == 2  # each call keeps its own state
    result = model.run(backend="pysd")
    assert result["a"].iloc[-1] == pytest.approx(10 + 2 * 1 * 4)
    assert result["b"].iloc[-1] == pytest.approx(2 * 3 * 4)


def test_data_and_external_lookups_keep_their_call_with_an_absolute_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        d :INTERPOLATE: := GET XLS DATA('d.xlsx', 'a', '1', 'B2') ~ ~ |
        L(GET XLS LOOKUPS('d.xlsx', 'a', '1', 'B3')) ~ ~ |
        y = L(Time) + d ~ ~ |
        """,
    )
    model = sd.load(path).ir
    data, table = model["d"], model["L"]
    assert isinstance(data, Data) and isinstance(table, Lookup)
    (definition,) = data.definitions
    assert definition.data is DataMode.INTERPOLATE
    assert definition.equation.expr == fn.VENSIM_CALL(
        Str("GET DIRECT DATA"), Str(str(tmp_path / "d.xlsx")), Str("a"), Str("1"), Str("B2")
    )
    text = model_to_vensim(model)
    assert f"d:INTERPOLATE::=\n\tGET DIRECT DATA('{tmp_path / 'd.xlsx'}', 'a', '1', 'B2')" in text
    assert f"L(\n\tGET DIRECT LOOKUPS('{tmp_path / 'd.xlsx'}', 'a', '1', 'B3'))" in text


def test_power_chains_and_negative_literals_follow_vensim(tmp_path: Path) -> None:
    path = write(tmp_path, "p = 2 ^ 3 ^ 2 ~ ~ |\nq = -2 ^ 2 ~ ~ |\n")
    model = sd.load(path).ir
    assert model["p"].value == 512  # 2 ^ (3 ^ 2)
    assert model["q"].value == -4  # -(2 ^ 2)


def test_malformed_mdl_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.mdl"
    path.write_text("{UTF-8}\na = 1 ~ ~ |\nx = 1 +* (\n~ ~|\n" + CONTROL, encoding="utf-8")
    with pytest.raises(ModelSyntaxError) as caught:
        sd.load(path)
    assert caught.value.path == str(path)
    assert (caught.value.line, caught.value.column) == (3, 8)
    assert "in 'x': expected a number, a name or '(', found '*'" in str(caught.value)


def test_xmile_import_runs(test_models_dir: Path) -> None:
    model = sd.load(test_models_dir / "abs" / "test_abs.xmile")
    assert isinstance(model.ir["test abs"], Auxiliary)
    result = model.run(backend="pysd")
    assert result["test abs"].iloc[0] == pytest.approx(10.0)


def test_a_macro_called_with_the_wrong_arguments_is_a_clear_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        :MACRO: DOUBLE(x)
        DOUBLE = 2 * x ~ ~ |
        :END OF MACRO:
        y = DOUBLE(3, 4) ~ ~ |
        """,
    )
    message = r"cannot import 'y': a call of macro 'double' with 2 arguments \(it takes 1\)"
    with pytest.raises(ModelError, match=message):
        sd.load(path)


def test_stella_non_negative_stocks_stop_at_zero(test_models_dir: Path) -> None:
    """OutFlow drains two stocks here (TestStock0 and TestStock1; Stella has no such flow), so
    the non-negative one is clamped at zero rather than its outflow limited (the suite's
    output keeps OutFlow at 1 and TestStock0 going on down)."""
    path = test_models_dir / "non_negative_stocks" / "test_non_negative_stocks.xmile"
    for front_end in ("sdhealth", "pysd"):
        model = sd.load(path, front_end=front_end)
        stock = model.ir["TestStock1"]
        assert isinstance(stock, Stock) and not stock.non_negative  # clamped, not an error
        (net,) = stock.inflows
        assert model.ir[net].equation.expr.has(sympy.Max)
        result = model.run(backend="pysd")
        assert result["TestStock1"].min() == 0.0
        assert result["TestStock1"].iloc[0] > 0


def test_several_excepts_print_as_one_list_that_pysd_reads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        row: r1, r2 ~ ~ |
        col: c1, c2, c3 ~ ~ |
        x[row, col] :EXCEPT: [r1, c1], [r2, c3] = 1 ~~|
        x[r1, c1] = 10 ~~|
        x[r2, c3] = 20 ~ ~ |
        """,
    )
    model = sd.load(path)
    assert [d.excepts for d in model.ir["x"].definitions][0] == (("r1", "c1"), ("r2", "c3"))
    assert "x[row,col] :EXCEPT: [r1,c1], [r2,c3]=" in model_to_vensim(model.ir)
    result = model.run(backend="pysd")
    assert [result[f"x[{c}]"].iloc[0] for c in ("r1,c1", "r1,c2", "r2,c2", "r2,c3")] == [
        10,
        1,
        1,
        20,
    ]


def test_infinite_limits_are_no_limits(tmp_path: Path) -> None:
    path = write(tmp_path, "rate = 2 ~ 1/Month [-inf, inf] ~ |\n")
    model = sd.load(path).ir
    assert model["rate"].limits == (None, None)
    assert "~1/Month~|" in model_to_vensim(model).replace("\t", "").replace("\n", "")
    bounded = dataclasses.replace(model["rate"], limits=(0.0, math.inf))
    printed = model_to_vensim(dataclasses.replace(model, variables=(bounded,)))
    assert "1/Month [0,?]" in printed


def test_an_element_used_as_a_value_compares_positions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        dimA: A, B, C ~ ~ |
        v[dimA] = IF THEN ELSE(dimA = B, 1, 0) ~ ~ |
        """,
    )
    model = sd.load(path)
    condition = model.ir["v"].definitions[0].equation.expr.args[0][1]
    assert isinstance(condition, sympy.Eq)
    assert set(condition.args) == {
        fn.VENSIM_CALL(Str(""), Str("dimA")),
        fn.VENSIM_CALL(Str(""), Str("B")),
    }
    result = model.run(backend="pysd")
    assert [result[f"v[{e}]"].iloc[0] for e in "ABC"] == [0, 1, 0]


def test_active_initial_in_a_loop_with_a_smooth_is_not_circular(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        a = ACTIVE INITIAL(s + 1, 1) ~ ~ |
        s = SMOOTH(a, 0.5) ~ ~ |
        """,
    )
    result = sd.load(path).run(backend="pysd")
    assert result["s"].iloc[0] == 1  # the smooth starts at a's initial argument
    assert list(result["a"]) == pytest.approx(list(result["s"] + 1))
    assert result["s"].iloc[1] == pytest.approx(1 + 0.5 * (2 - 1) / 0.5)


def test_clock_settings_computed_by_equations_drive_the_pysd_run(tmp_path: Path) -> None:
    path = tmp_path / "clock.mdl"
    path.write_text(
        "{UTF-8}\n"
        "x = 3 ~ ~ |\n"
        "FINAL TIME = x * 2 ~ Month ~ |\n"
        "INITIAL TIME = 0 ~ Month ~ |\n"
        "SAVEPER = TIME STEP ~ Month ~ |\n"
        "TIME STEP = IF THEN ELSE(Time < 2, 1, 0.5) ~ Month ~ |\n",
        encoding="utf-8",
    )
    model = sd.load(path)
    clock = model.ir.time
    assert clock.equation("final time").expr == 2 * sympy.Symbol("x")
    assert clock.equation("initial time") is None and clock.start == 0
    assert "FINAL TIME =\n\t2*x" in model_to_vensim(model.ir)
    result = model.run(backend="pysd")
    assert list(result.index) == [0, 1, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6]


def test_elements_no_equation_defines_are_left_out_of_the_pysd_result(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        dims: A, B, C ~ ~ |
        v[A] = 1 ~~|
        v[C] = 3 ~ ~ |
        """,
    )
    result = sd.load(path).run(backend="pysd")
    assert "v[B]" not in result.columns
    assert (result["v[A]"].iloc[-1], result["v[C]"].iloc[-1]) == (1, 3)


def test_a_range_read_from_a_file_gets_its_elements_at_import(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("north,south,east\n", encoding="utf-8")
    path = write(
        tmp_path,
        """
        region: GET DIRECT SUBSCRIPT('names.csv', ',', 'A1', 'C1', 'r ') ~ ~ |
        v[region] = 2 ~ ~ |
        """,
    )
    model = sd.load(path)
    assert model.ir.subscripts[0].elements == ("r north", "r south", "r east")
    assert model.run(backend="pysd")["v[r south]"].iloc[0] == 2


def test_a_range_file_that_is_missing_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "region: GET DIRECT SUBSCRIPT('gone.csv', ',', 'A1', 'C1', '') ~~|\n")
    with pytest.raises(ModelError, match="'region'.*gone.csv"):
        sd.load(path)
