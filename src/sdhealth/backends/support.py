"""Which Vensim functions some backend can run: the ``unsupported-function`` check.

A Vensim function without its own IR class is kept by name (``VENSIM_CALL``). The native
backend compiles a few of them; PySD runs the ones its Python builder knows (its
``functionspace`` and the structures of its Vensim translator). A function neither knows
(``NPV``, ``LOOKUP INVERT`` ...) used to crash a run with PySD's ``NotImplementedError``; a
PySD function given too few arguments (``RANDOM NORMAL(0, 1)``) failed its translation. Both
are found here, before any run, with the file, line and column of the call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import sympy

from sdhealth.errors import Issue, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Equation, Model, SourceLocation, Variable

__all__ = ["NATIVE_CALLS", "pysd_calls", "pysd_lacks", "unsupported_functions"]

#: ``VENSIM_CALL`` names the native backend compiles (printer, array expansion, external data,
#: sampling); kept in step with :mod:`sdhealth.backends.native` and :mod:`sdhealth.compile`.
NATIVE_CALLS = frozenset(
    "SINH|COSH|TANH|ACTIVE INITIAL|GAME|GET TIME VALUE|SUM|PROD|VMIN|VMAX|VMIN XMILE|"
    "VMAX XMILE|VECTOR SELECT|INVERT MATRIX|VECTOR SORT ORDER|VECTOR RANK|VECTOR REORDER|"
    "VECTOR ELM MAP|RANK|"
    "ALLOCATE BY PRIORITY|ELMCOUNT|GET DIRECT CONSTANTS|GET DIRECT DATA|GET DIRECT LOOKUPS|"
    "SAMPLE IF TRUE".split("|")
)

#: What to write instead, for the functions modellers reach for most.
_HINTS = {
    "NPV": "accumulate the discounted stream in a stock instead",
    "LOOKUP INVERT": "tabulate the inverse as a lookup of its own instead",
}

_PLACEHOLDER = re.compile(r"%\((\d+)\)s")


@functools.cache
def pysd_calls() -> dict[str, int]:
    """PySD's runnable Vensim functions: name (upper case, spaces) -> fewest arguments.

    >>> pysd_calls()["RANDOM NORMAL"], "NPV" in pysd_calls()
    (4, False)
    """
    from pysd.builders.python.python_functions import functionspace
    from pysd.translators.vensim.vensim_structures import structures

    calls = {name.upper().replace("_", " "): 0 for name in structures if callable(structures[name])}
    for name, (template, _imports) in functionspace.items():
        indices = [int(i) for i in _PLACEHOLDER.findall(template)]
        calls[name.upper().replace("_", " ")] = max(indices) + 1 if indices else 0
    return calls


def pysd_lacks(model: Model) -> str | None:
    """What in ``model`` PySD has no function for (``"'order': VECTOR ELM MAP"``), or None:
    the calls only the native backend runs (PySD's translator would write a call that raises
    ``NotImplementedError`` at run time)."""
    known = pysd_calls()
    for variable in model.variables:
        for equation in variable.equations():
            if equation is None or getattr(equation, "expr", None) is None:
                continue
            for call in _calls(equation.expr):
                if call.args[0].name not in known:
                    return f"{variable.name!r}: {call.args[0].name}"
    return None


def _calls(expr: sympy.Basic) -> Iterator[fn.VENSIM_CALL]:
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, fn.VENSIM_CALL) and node.args[0].name:
            yield node


def _call_location(equation: Equation, name: str) -> SourceLocation | None:
    """Where ``name(`` first appears in the equation's text (or where the equation starts)."""
    if equation.location is None or equation.text is None:
        return equation.location
    pattern = r"\s*[\s_]\s*".join(re.escape(word) for word in name.split()) + r"\s*\("
    found = re.search(pattern, equation.text, flags=re.IGNORECASE)
    return equation.location.shifted(equation.text, found.start()) if found else equation.location


def _problem(call: fn.VENSIM_CALL) -> str | None:
    name, given = call.args[0].name, len(call.args) - 1
    pysd = pysd_calls()
    if name not in pysd and name not in NATIVE_CALLS:
        hint = _HINTS.get(name, "rewrite the equation without it")
        return f"neither backend (native or PySD) can run the function {name}; {hint}"
    needed = pysd.get(name, 0)
    if name not in NATIVE_CALLS and given < needed:
        return (
            f"{name} needs at least {needed} arguments, got {given}; "
            "give them in Vensim's order (see the Vensim reference)"
        )
    return None


def _issues_of(model: Model, variable: Variable) -> Iterator[Issue]:
    for equation in variable.equations():
        if equation is None or getattr(equation, "expr", None) is None:
            continue
        for call in dict.fromkeys(_calls(equation.expr)):
            problem = _problem(call)
            if problem is None:
                continue
            where = _call_location(equation, call.args[0].name) or variable.location
            where = where or SourceLocation()
            yield Issue(
                Severity.ERROR,
                "unsupported-function",
                f"{variable.name!r}: {problem}",
                where.path or model.path,
                where.line,
                where.column,
                variable.name,
            )


def unsupported_functions(model: Model) -> list[Issue]:
    """``unsupported-function`` errors: calls no backend can run, located at the call.

    >>> from sympy.core.symbol import Str
    >>> from sdhealth.ir import Auxiliary, Equation, Model
    >>> call = fn.VENSIM_CALL(Str("NPV"), 1, 0.05, 0, 1)
    >>> m = Model("m", variables=(Auxiliary(name="value", equation=Equation(call)),))
    >>> [issue.code for issue in unsupported_functions(m)]
    ['unsupported-function']
    """
    return [issue for variable in model.variables for issue in _issues_of(model, variable)]
