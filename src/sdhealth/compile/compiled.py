"""The model as a run computes it: :class:`CompiledModel`, made once by :func:`compile_model`.

A model as read (the IR of a file) says *what* the modeller wrote: arrays, data read from
files, ``DELAY N`` with an order read from a variable, ``SAMPLE IF TRUE``, ``SMOOTH``. A run
needs it lowered to scalars and stocks. The steps, in order, each a module of this package:

1. :func:`~sdhealth.compile.external_data.read_external` -- ``GET DIRECT DATA``/lookups/
   constants read from their files into the model;
2. :func:`~sdhealth.compile.flatten.flatten` -- subscripted variables become one variable
   per element (``name[a,b]``);
3. :func:`~sdhealth.compile.variable_orders.fix_variable_orders` -- a ``DELAY N``/``SMOOTH N``
   order read from a constant becomes that number;
4. :func:`~sdhealth.compile.sampling.lower_sampling` -- ``SAMPLE IF TRUE`` becomes a stock;
5. :func:`~sdhealth.compile.expand.expand_stateful` -- delays, smooths, trends and forecasts
   become the stocks and flows they stand for.

:class:`CompiledModel` holds the model after step 2 (``flat``: what a compiled model's cache
key is made of, cheap to make) and the model after step 5 (``expanded``: made when first
asked for, so a backend that finds its machine code in a cache never expands). The native
backend compiles ``expanded`` and loop dominance scores the loops of the same ``expanded``
model: nothing above this package expands stateful builtins itself.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sdhealth.compile.expand import expand_stateful
from sdhealth.compile.external_data import read_external
from sdhealth.compile.flatten import flatten
from sdhealth.compile.sampling import lower_sampling
from sdhealth.compile.variable_orders import fix_variable_orders
from sdhealth.ir.model import Model

__all__ = ["CompiledModel", "compile_model", "identity_cached"]

_T = TypeVar("_T")
_CACHE_SIZE = 32


def identity_cached(function: Callable[[Model], _T]) -> Callable[[Model], _T]:
    """``functools.lru_cache`` that finds the very same model object by identity first.

    Hashing a ``Model`` hashes every equation (57 ms for the 1000-stock benchmark chain, more
    than its run), so a model run again is found by ``id``; the entry keeps the model alive, so
    its id is not reused while cached. Equal but distinct models still share the result.
    """
    equal = functools.lru_cache(maxsize=_CACHE_SIZE)(function)
    same: OrderedDict[int, tuple[Model, _T]] = OrderedDict()

    @functools.wraps(function)
    def cached(model: Model) -> _T:
        hit = same.get(id(model))
        if hit is not None and hit[0] is model:
            same.move_to_end(id(model))
            return hit[1]
        result = equal(model)
        same[id(model)] = (model, result)
        if len(same) > _CACHE_SIZE:
            same.popitem(last=False)
        return result

    return cached


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A model lowered for running (module docstring). Made by :func:`compile_model`.

    ``source`` is the model as read; ``flat`` has its external data read and its arrays
    flattened; :attr:`expanded` is the scalar stock-and-flow model a run integrates.
    """

    source: Model
    flat: Model

    @functools.cached_property
    def expanded(self) -> Model:
        """The scalar stock-and-flow model: orders fixed, ``SAMPLE IF TRUE`` a stock,
        stateful builtins expanded (made on first use, then kept)."""
        return expand_stateful(lower_sampling(fix_variable_orders(self.flat)))


@identity_cached
def _compiled(model: Model) -> CompiledModel:
    return CompiledModel(model, flatten(read_external(model)))


def compile_model(model: Model | CompiledModel) -> CompiledModel:
    """``model`` lowered for running (kept for the 32 models used last: models are frozen
    and hashed by content, so the same model is lowered once). A compiled model is returned
    as it is.

    >>> from sdhealth.ir import Constant, Equation, Flow, Stock, symbol
    >>> from sdhealth.ir import functions as fn
    >>> m = Model("m", variables=(
    ...     Stock(name="S", initial=Equation.of(0), inflows=("In",)),
    ...     Flow(name="In", equation=Equation.of(fn.SMOOTH(symbol("K"), 2))),
    ...     Constant(name="K", value=1.0)))
    >>> compiled = compile_model(m)
    >>> compiled.flat is m, len(compiled.expanded.stocks)
    (True, 2)
    """
    if isinstance(model, CompiledModel):
        return model
    return _compiled(model)
