"""Stella's random numbers (RANDOM, NORMAL, EXPRND, LOGNORMAL) on the native backend.

Stella's generator is undocumented (xmile-semantics.md, section 6), so these tests check what
the documentation promises -- a new number every DT, a seed makes the sequence repeatable, the
distributions -- and that the numbers are sdhealth's own counter-based stream, computed the
same way in Python (:func:`sdhealth.ir.functions.uniform_draw`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd
from sdhealth.errors import ModelSyntaxError, SdhealthError
from sdhealth.ir import functions as fn

XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <sim_specs method="{method}"><start>0</start><stop>{stop}</stop><dt>{dt}</dt></sim_specs>
  <dimensions><dim name="Ward"><elem name="a"/><elem name="b"/><elem name="c"/></dim></dimensions>
  <model><variables>
{variables}
  </variables></model>
</xmile>
"""


def _run(tmp_path: Path, variables: str, stop: float = 8, dt: float = 1, method: str = "Euler"):
    path = tmp_path / "random.xmile"
    path.write_text(
        XMILE.format(variables=variables, stop=stop, dt=dt, method=method), encoding="utf-8"
    )
    return sd.load(path), path


def test_a_seeded_draw_is_the_documented_stream_once_per_dt(tmp_path):
    """RANDOM(2, 4, 5) at step k is 2 + 2 * uniform_draw(5, 2k); with DT 0.25 a step is a
    quarter. Under RK4 the saved numbers are the same (the draw belongs to the DT a time is
    in: the stages at t and t + DT/2 see step k's, the one at t + DT step k+1's)."""
    variables = """
    <aux name="u"><eqn>RANDOM(2, 4, 5)</eqn></aux>
    <stock name="total"><eqn>0</eqn><inflow>adding</inflow></stock>
    <flow name="adding"><eqn>u</eqn></flow>"""
    model, _ = _run(tmp_path, variables, stop=2, dt=0.25)
    result = model.run()
    expected = [2 + 2 * fn.uniform_draw(5, 2 * k) for k in range(9)]
    assert result["u"].tolist() == expected  # bit for bit
    assert result["total"].iloc[-1] == pytest.approx(0.25 * sum(expected[:-1]))
    rk4 = model.run(method="rk4")
    assert rk4["u"].tolist() == expected
    weights = [(5 * a + b) / 6 for a, b in zip(expected, expected[1:], strict=False)]
    assert rk4["total"].iloc[-1] == pytest.approx(0.25 * sum(weights))


def test_seeds_repeat_and_unseeded_calls_are_each_their_own(tmp_path):
    variables = """
    <aux name="first"><eqn>RANDOM(0, 1, 42)</eqn></aux>
    <aux name="same seed"><eqn>RANDOM(0, 1, 42)</eqn></aux>
    <aux name="free"><eqn>RANDOM(0, 1)</eqn></aux>
    <aux name="also free"><eqn>RANDOM(0, 1)</eqn></aux>
    <aux name="difference"><eqn>RANDOM(0, 1) - RANDOM(0, 1)</eqn></aux>
    <aux name="per ward"><dimensions><dim name="Ward"/></dimensions><eqn>RANDOM(0, 1)</eqn></aux>"""
    model, path = _run(tmp_path, variables)
    result = model.run()
    assert result["first"].tolist() == result["same seed"].tolist()
    assert result["free"].nunique() == 9  # a new number every DT
    assert not np.allclose(result["free"], result["also free"])
    assert (result["difference"] != 0).all()
    wards = result[["per ward[a]", "per ward[b]", "per ward[c]"]].to_numpy()
    assert len({tuple(column) for column in wards.T}) == 3  # each element its own numbers
    again = sd.load(path).run()
    assert again.equals(result)  # repeatable from run to run
    written = tmp_path / "written.xmile"
    model.to_xmile(written)
    assert sd.load(written).run().equals(result)  # and through a round trip


@pytest.mark.parametrize(
    ("equation", "mean", "sd_"),
    [
        ("RANDOM(2, 4)", 3.0, 2 / math.sqrt(12)),
        ("NORMAL(10, 2)", 10.0, 2.0),
        ("EXPRND(3)", 3.0, 3.0),
        ("LOGNORMAL(10, 5)", 10.0, 5.0),  # the values' own mean and standard deviation
        ("POISSON(3)", 3.0, math.sqrt(3)),
        ("POISSON(1000)", 1000.0, math.sqrt(1000)),  # the normal approximation above 700
    ],
)
def test_the_distributions(tmp_path, equation, mean, sd_):  # noqa: D103
    model, _ = _run(tmp_path, f'<aux name="x"><eqn>{equation}</eqn></aux>', stop=40_000)
    values = model.run()["x"].to_numpy()
    standard_error = sd_ / math.sqrt(values.size)
    assert abs(values.mean() - mean) < 5 * standard_error
    assert values.std() == pytest.approx(sd_, rel=0.05)
    if equation.startswith("RANDOM"):
        assert values.min() >= 2 and values.max() < 4
    if equation.startswith("POISSON"):
        assert (values == np.round(values)).all() and values.min() >= 0
    if equation == "POISSON(3)":
        assert (values == 0).mean() == pytest.approx(math.exp(-3), abs=0.005)


def test_what_cannot_draw_these_numbers_says_so(tmp_path):
    model, _ = _run(tmp_path, '<aux name="x"><eqn>NORMAL(0, 1, 7)</eqn></aux>')
    with pytest.raises(SdhealthError, match="Stella's NORMAL has no Vensim function"):
        model.run(backend="pysd")
    with pytest.raises(SdhealthError, match="Stella's NORMAL has no Vensim function"):
        model.to_yaml(tmp_path / "x.yaml")
    with pytest.raises(ModelSyntaxError, match="EXPRND takes 1 or 2 arguments"):
        _run(tmp_path, '<aux name="x"><eqn>EXPRND(1, 2, 3)</eqn></aux>')[0]
