"""Declared link polarities checked against the equations: :func:`check_polarity`.

Polarity is a contract. A modeller declares the sign of a causal link ``x -> y`` in the model
(``links:`` under a flow or auxiliary, stored as :class:`~sdhealth.ir.model.DeclaredLink`) or
in a hand-written causal-loop diagram; this module recomputes the sign of
:math:`\\partial y / \\partial x` from the equations and reports each disagreement. Loop
polarities are products of link polarities, so checked links keep R/B labels honest.

How a declared link is recomputed:

1. **A differentiable form** of ``y``'s equation (:mod:`sdhealth.cld.forms`)
   replaces the SD builtins by functions with numeric implementations and derivatives.
2. **The link must exist**: ``x`` is an inflow (+) or outflow (-) of stock ``y``, or the form
   reads ``x``. The form keeps exactly what :mod:`sdhealth.cld.derivatives` counts as links
   (not a stock's initial value, ``INITIAL(x)``, a lookup's table or a delay's initial
   output), except a delay time or order, whose effect's sign depends on the state and is not
   checked; :func:`~sdhealth.cld.derivatives.link_signs` tells such a link from no link at
   all. sympy then takes the partial derivative.
3. **Provably constant sign**: sympy's assumptions decide the derivative's sign with the
   constants at their values, ``TIME`` non-negative (when the run starts at or after 0), and
   every variable known to be non-negative taken as positive -- its interior: at 0 itself a
   power or a ratio of it may be undefined, and by continuity a sign that holds for every
   positive value holds at 0 wherever the derivative is defined. Stocks declared
   ``non_negative``, variables whose ``limits`` start at or above 0, and flows and auxiliaries
   whose equations are provably non-negative on those terms (inferred recursively) are known
   non-negative.
4. **State-dependent sign**: otherwise the model is run once (by default with the native
   backend, falling back to PySD for models it cannot compile) and the derivative is
   evaluated at every saved time with the run's values (a derivative of time alone needs no
   run: it is evaluated on the save grid).
   Times where it is exactly 0 -- within 1e-12 of its largest magnitude along the run, to
   absorb rounding -- count as no sign.
   The result is always +, always -, or mixed, with the time ranges of each sign; where the
   sign flips between two saved times the boundary is the linearly interpolated crossing.

Findings (code ``polarity``), located where the link is declared:

- error: the sign is constant (proven, or at every saved time of the run) and opposite to the
  declared one -- ``link 'Occupancy' -> 'Admissions' is declared + but the equation gives -``;
- error: ``declared link 'A' -> 'B' has no counterpart in the equations``;
- warning: the sign is mixed -- ``... is declared + but the equation gives mixed: + from 0 to
  14.5, - from 14.5 to 60``;
- warning: the derivative is 0 (the link has no effect), the link is only a delay time, the
  equation uses something without a numeric form, or the run failed.

The run happens only when a declared link needs it, and never with ``simulate=False`` (then
state-dependent links are not compared). :mod:`sdhealth.backends` is imported when a run is
needed, not with this module, so importing the checks does not import PySD.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import sympy

from sdhealth.cld.derivatives import (
    NONNEGATIVE_TIME,
    LinkSign,
    bounded_sign,
    link_signs,
    nonnegative_under,
)
from sdhealth.cld.diagram import CausalLoopDiagram
from sdhealth.cld.forms import FormBuilder, UnsupportedForm, numeric_function
from sdhealth.cld.operating_point import initial_values
from sdhealth.errors import BackendError, Issue, SdhealthError, Severity
from sdhealth.ir import functions as fn
from sdhealth.ir.model import Constant, Lookup, Model, SourceLocation, Stock, Variable
from sdhealth.ir.names import canonical

__all__ = ["check_polarity", "sign_ranges", "ZERO_TOLERANCE"]

_SIGN = {1: "+", -1: "-"}

#: Relative size below which a derivative's value along the run counts as exactly 0.
ZERO_TOLERANCE = 1e-12


@dataclass(frozen=True)
class _Claim:
    """One declared link: names as shown, the declared polarity and where it is written.

    ``in_model``: declared in the model (not in a diagram), whose path locates it when the
    declaration has no location of its own.
    """

    source: str
    target: str
    polarity: int
    location: SourceLocation | None
    in_model: bool

    @property
    def source_key(self) -> str:
        return canonical(self.source)

    @property
    def target_key(self) -> str:
        return canonical(self.target)

    def describe(self) -> str:
        return f"link '{self.source}' -> '{self.target}' is declared {_SIGN[self.polarity]}"


class _Kind(StrEnum):
    CONSTANT = "constant"  # a proven sign: polarity
    STATE = "state"  # depends on the state: derivative
    ZERO = "zero"  # the derivative is 0
    TIMING = "timing"  # only a delay time or order
    MISSING = "missing"  # no such link in the equations
    UNSUPPORTED = "unsupported"  # no numeric form: reason


@dataclass(frozen=True)
class _Verdict:
    """What the equations say about a link before any run."""

    kind: _Kind
    polarity: int = 0
    derivative: sympy.Expr | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Profile:
    """A link's sign along the run: ``sign`` (+1, -1, 0 for none) unless ``mixed`` says how
    it changes; ``failure`` when the run failed."""

    sign: int = 0
    mixed: str = ""
    failure: str = ""


def check_polarity(
    model: Model,
    declared: CausalLoopDiagram | None = None,
    *,
    simulate: bool = True,
    backend: str = "native",
) -> list[Issue]:
    """Every disagreement between declared link polarities and the equations.

    Parameters
    ----------
    model
        The model as loaded; its variables' ``declared_links`` are checked.
    declared
        Optionally a causal-loop diagram whose node names are the model's variables; each of
        its declared (not derived) links with a polarity is checked as well.
    simulate
        Run the model when a declared link's sign depends on the state. Without a run such
        links are not compared.
    backend
        The registered backend that runs it: the compiled native backend by default (it
        agrees with PySD to 1e-9 and is far faster); a model it cannot compile is run by PySD.

    Returns
    -------
    list of Issue
        Code ``polarity``, in declaration order (the model's, then the diagram's); see the
        module docstring for the messages and severities.

    Examples
    --------
    >>> from sdhealth.ir import Constant, Equation, Flow, Stock, symbol
    >>> from sdhealth.ir.model import DeclaredLink
    >>> drain = Flow(name="Drain", equation=Equation(symbol("Level") / symbol("Drain time")),
    ...              declared_links=(DeclaredLink("Level", 1), DeclaredLink("Drain time", 1)))
    >>> model = Model("m", variables=(
    ...     Stock(name="Level", initial=Equation.of(10), outflows=("Drain",), non_negative=True),
    ...     drain, Constant(name="Drain time", value=2.0)))
    >>> [issue.message for issue in check_polarity(model)]
    ["link 'Drain time' -> 'Drain' is declared + but the equation gives -"]
    """
    claims = [*_model_claims(model)]
    if declared is not None:
        claims.extend(_diagram_claims(model, declared))
    if not claims:
        return []
    checker = _Recomputer(model)
    verdicts = [checker.verdict(claim) for claim in claims]
    pending = [
        (claim, verdict)
        for claim, verdict in zip(claims, verdicts, strict=True)
        if verdict.kind is _Kind.STATE
    ]
    profiles: dict[_Claim, _Profile] = {}
    if simulate and pending:
        profiles = _profiles_along_run(model, checker, pending, backend)
    found = [
        _finding(model, claim, verdict, profiles.get(claim))
        for claim, verdict in zip(claims, verdicts, strict=True)
    ]
    return [issue for issue in found if issue is not None]


# ------------------------------------------------------------------------ declarations


def _model_claims(model: Model) -> Iterator[_Claim]:
    for variable in model.variables:
        for link in variable.declared_links:
            source = model[link.source].name if link.source in model else link.source
            location = link.location or variable.location
            yield _Claim(source, variable.name, link.polarity, location, in_model=True)


def _diagram_claims(model: Model, diagram: CausalLoopDiagram) -> Iterator[_Claim]:
    """The diagram's declared links that carry a polarity, named as in the model if there."""
    for source, target, data in diagram.graph.edges(data=True):
        if not data.get("declared", True) or data.get("polarity") not in _SIGN:
            continue
        where = data.get("location")  # a reader may record where the link is written
        location = where if isinstance(where, SourceLocation) else None
        source_name = model[source].name if source in model else source
        target_name = model[target].name if target in model else target
        yield _Claim(source_name, target_name, data["polarity"], location, in_model=False)


# ----------------------------------------------------------------------- recomputation


class _Recomputer:
    """Signs of links of one model: existence, proven signs, derivatives to evaluate."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.forms = FormBuilder(model)
        self.known_nonnegative: dict[str, bool] = {}
        self.signs: dict[str, dict[str, LinkSign]] = {}
        self.positive = {v.key: sympy.Symbol(v.key, positive=True) for v in model.variables}
        clock = model.time
        self.clock: dict[sympy.Basic, sympy.Basic] = {
            fn.TIME_STEP: sympy.Float(clock.dt),
            fn.INITIAL_TIME: sympy.Float(clock.start),
            fn.FINAL_TIME: sympy.Float(clock.stop),
            fn.SAVEPER: sympy.Float(clock.save_every),
        }
        self.constants: dict[sympy.Basic, sympy.Basic] = {
            self.forms.real(v.key): sympy.Float(v.value)
            for v in model.variables
            if isinstance(v, Constant)
        }
        self.constants.update(self.clock)

    @functools.cached_property
    def operating_point(self) -> dict[str, float]:
        return initial_values(self.model)

    def link_into(self, target: Variable, source_key: str) -> LinkSign | None:
        """How ``target``'s equation reads ``source_key`` (None: not during a run)."""
        if target.key not in self.signs:
            expr = target.equations()[0].expr
            self.signs[target.key] = link_signs(self.model, expr, values=self.operating_point)
        return self.signs[target.key].get(source_key)

    def verdict(self, claim: _Claim) -> _Verdict:
        """What the equations say about one declared link (before any run)."""
        if claim.source_key not in self.model or claim.target_key not in self.model:
            return _Verdict(_Kind.MISSING, reason=self._strangers(claim))
        target = self.model[claim.target_key]
        if isinstance(target, Stock):
            return _stock_verdict(target, claim.source_key)
        if isinstance(target, Constant | Lookup) or not target.equations():
            return _Verdict(_Kind.MISSING)
        try:
            form = self.forms.derivative_form(target.equations()[0].expr)
        except UnsupportedForm as exc:
            if self.link_into(target, claim.source_key) is None:
                return _Verdict(_Kind.MISSING)
            return _Verdict(_Kind.UNSUPPORTED, reason=str(exc))
        source = self.forms.real(claim.source_key)
        if source not in form.free_symbols:
            # the form keeps exactly the reads during a run that are not delay times
            sign = self.link_into(target, claim.source_key)
            return _Verdict(_Kind.MISSING if sign is None else _Kind.TIMING)
        derivative = sympy.diff(form, source)
        proven = self.proven_sign(derivative)
        if proven is None:
            return _Verdict(_Kind.STATE, derivative=derivative)
        if proven == 0:
            return _Verdict(_Kind.ZERO)
        return _Verdict(_Kind.CONSTANT, polarity=proven)

    def _strangers(self, claim: _Claim) -> str:
        names = [name for name in (claim.source, claim.target) if name not in self.model]
        verb = "is not a variable" if len(names) == 1 else "are not variables"
        return f"{' and '.join(repr(name) for name in names)} {verb} of the model"

    def proven_sign(self, expr: sympy.Basic) -> int | None:
        """+1, -1 or 0 where sympy proves the sign over the known ranges, else None."""
        if expr == 0:
            return 0
        return bounded_sign(expr, self.bounds(expr))

    def bounds(self, expr: sympy.Basic) -> dict[sympy.Basic, sympy.Basic]:
        """What to put in for the symbols of ``expr`` (module docstring, step 3)."""
        found: dict[sympy.Basic, sympy.Basic] = {}
        for symbol in expr.free_symbols:
            if symbol in self.constants:
                found[symbol] = self.constants[symbol]
            elif symbol == fn.TIME and self.model.time.start >= 0:
                found[symbol] = NONNEGATIVE_TIME
            elif symbol.name in self.positive and self.nonnegative(symbol.name):
                found[symbol] = self.positive[symbol.name]
        return found

    def nonnegative(self, key: str) -> bool:
        """Whether variable ``key`` is known never to be negative (module docstring)."""
        if key not in self.known_nonnegative:
            self.known_nonnegative[key] = False  # a cycle proves nothing
            self.known_nonnegative[key] = self._infer_nonnegative(self.model[key])
        return self.known_nonnegative[key]

    def _infer_nonnegative(self, variable: Variable) -> bool:
        low = variable.limits[0]
        if (low is not None and low >= 0) or (
            isinstance(variable, Stock) and variable.non_negative
        ):
            return True
        if isinstance(variable, Constant):
            return variable.value >= 0
        if isinstance(variable, Stock | Lookup) or not variable.equations():
            return False
        try:
            form = self.forms.value_form(variable.equations()[0].expr)
        except UnsupportedForm:
            return False
        return nonnegative_under(form, self.bounds(form))


def _stock_verdict(stock: Stock, source_key: str) -> _Verdict:
    if source_key in {canonical(name) for name in stock.inflows}:
        return _Verdict(_Kind.CONSTANT, polarity=1)
    if source_key in {canonical(name) for name in stock.outflows}:
        return _Verdict(_Kind.CONSTANT, polarity=-1)
    return _Verdict(_Kind.MISSING)


# ----------------------------------------------------------------------- along a run


def _profiles_along_run(
    model: Model,
    checker: _Recomputer,
    pending: Sequence[tuple[_Claim, _Verdict]],
    backend: str,
) -> dict[_Claim, _Profile]:
    """Each pending link's sign along one base run (a failed run is a failure profile)."""
    derivatives: dict[_Claim, sympy.Basic] = {}
    for claim, verdict in pending:
        if verdict.derivative is None:
            continue
        try:
            derivatives[claim] = verdict.derivative.xreplace(checker.constants)
        except (TypeError, ValueError):  # sympy cannot order zoo (a zero constant divides)
            derivatives[claim] = verdict.derivative
    needed = sorted(
        {s.name for d in derivatives.values() for s in d.free_symbols if s.name in checker.positive}
    )
    try:
        times = _save_grid(model)
    except SdhealthError as exc:  # a clock no run can have, or too large a run
        return {claim: _Profile(failure=str(exc)) for claim in derivatives}
    columns: dict[str, np.ndarray] = {}
    if needed:
        try:
            times, columns = _run(model, needed, backend)
        except SdhealthError as exc:
            return {claim: _Profile(failure=str(exc)) for claim in derivatives}
    columns[fn.TIME.name] = times
    return {
        claim: _profile(times, _evaluate(derivative, columns, times))
        for claim, derivative in derivatives.items()
    }


def _save_grid(model: Model) -> np.ndarray:
    """The saved times of a base run; a ``RunSizeError`` (or ``RunSettingsError``) for a
    clock that cannot run, before anything is allocated."""
    from sdhealth.compile.run_size import ensure_run_fits, measure_run

    clock = model.time
    ensure_run_fits(measure_run(clock.start, clock.stop, clock.dt, clock.saveper, columns=1))
    count = int(np.floor((clock.stop - clock.start) / clock.save_every + 1e-9)) + 1
    return clock.start + clock.save_every * np.arange(count)


def _run(
    model: Model, keys: Sequence[str], backend: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One base run: the saved times and the columns of ``keys``."""
    from sdhealth.backends.base import RunSpec, get_backend

    spec = RunSpec.from_time(model.time, return_columns=tuple(keys))
    try:
        result = get_backend(backend).run(model, spec, {})
    except BackendError:
        if backend == "pysd":
            raise
        result = get_backend("pysd").run(model, spec, {})
    values = np.asarray(result.values, dtype=float)
    columns = {canonical(name): values[:, j] for j, name in enumerate(result.columns)}
    return np.asarray(result.times, dtype=float), columns


def _evaluate(
    derivative: sympy.Basic, columns: Mapping[str, np.ndarray], times: np.ndarray
) -> np.ndarray:
    """The derivative's value at each saved time (NaN where it cannot be computed), by
    :func:`~sdhealth.cld.forms.numeric_function` (no model text becomes code)."""
    if any(s.name not in columns for s in derivative.free_symbols):
        return np.full(times.shape, np.nan)
    function, names = numeric_function(derivative)
    with np.errstate(all="ignore"):
        values = function(*(columns[name] for name in names))
    return np.broadcast_to(np.asarray(values, dtype=float), times.shape)


def _profile(times: np.ndarray, values: np.ndarray) -> _Profile:
    """One sign throughout (0: none), else ``mixed: + from a to b, - from b to c``."""
    ranges = sign_ranges(times, values)
    if len(ranges) <= 1:
        return _Profile(sign=ranges[0][0] if ranges else 0)
    parts = [f"{_SIGN[sign]} from {_time(start)} to {_time(end)}" for sign, start, end in ranges]
    return _Profile(mixed="mixed: " + ", ".join(parts))


def sign_ranges(times: np.ndarray, values: np.ndarray) -> list[tuple[int, float, float]]:
    """Maximal time ranges of one sign, ``(sign, start, end)``; zeros and NaN count as none.

    Ranges of the same sign separated only by zeros merge. Where the sign flips between two
    neighbouring times, both ranges meet at the linearly interpolated crossing.

    >>> sign_ranges(np.arange(5.0), np.array([2.0, 1.0, -1.0, 0.0, -3.0]))
    [(1, 0.0, 1.5), (-1, 1.5, 4.0)]
    """
    finite = np.isfinite(values)
    scale = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
    signs = np.where(finite & (np.abs(values) > ZERO_TOLERANCE * scale), np.sign(values), 0)
    ranges: list[list[float]] = []
    previous = -2
    for index in np.flatnonzero(signs):
        sign, now = int(signs[index]), float(times[index])
        if ranges and ranges[-1][0] == sign:
            ranges[-1][2] = now
        else:
            start = now
            if ranges and previous == index - 1:
                before, after = float(values[previous]), float(values[index])
                step = now - float(times[previous])
                start = float(times[previous]) + before / (before - after) * step
                ranges[-1][2] = start
            ranges.append([sign, start, now])
        previous = int(index)
    return [(int(sign), start, end) for sign, start, end in ranges]


def _time(value: float) -> str:
    return f"{round(value, 3):g}"


# --------------------------------------------------------------------------- findings


def _issue(
    severity: Severity,
    message: str,
    location: SourceLocation | None,
    variable: str,
    model_path: str | None,
    in_model: bool,
) -> Issue:
    """A ``polarity`` issue at the declaration (in the model's file when it has no location)."""
    where = location or SourceLocation()
    path = where.path or (model_path if in_model else None)
    return Issue(severity, "polarity", message, path, where.line, where.column, variable)


def _finding(
    model: Model, claim: _Claim, verdict: _Verdict, profile: _Profile | None
) -> Issue | None:
    """The issue for one claim, or None when the equations agree (or cannot be asked)."""
    declared = claim.describe()
    message: str | None = None
    severity = Severity.WARNING
    if verdict.kind is _Kind.CONSTANT and verdict.polarity != claim.polarity:
        message = f"{declared} but the equation gives {_SIGN[verdict.polarity]}"
        severity = Severity.ERROR
    elif verdict.kind is _Kind.MISSING:
        message = (
            f"declared link '{claim.source}' -> '{claim.target}' has no counterpart in the "
            "equations" + (f" ({verdict.reason})" if verdict.reason else "")
        )
        severity = Severity.ERROR
    elif verdict.kind is _Kind.ZERO:
        message = f"{declared} but the equation gives 0 (the link has no effect)"
    elif verdict.kind is _Kind.TIMING:
        message = (
            f"{declared} but '{claim.source}' is only a delay time or order in "
            f"'{claim.target}', whose effect's sign depends on the state; it is not checked"
        )
    elif verdict.kind is _Kind.UNSUPPORTED:
        message = f"{declared} but its sign cannot be checked: {verdict.reason}"
    elif verdict.kind is _Kind.STATE and profile is not None:
        message, severity = _run_message(claim, profile)
    if message is None:
        return None
    return _issue(severity, message, claim.location, claim.target, model.path, claim.in_model)


def _run_message(claim: _Claim, profile: _Profile) -> tuple[str | None, Severity]:
    """The message and severity for a link whose sign was followed along the run."""
    declared = claim.describe()
    if profile.failure:
        text = f"{declared}; its sign depends on the state, but the run to check it failed: "
        return text + profile.failure, Severity.WARNING
    if profile.mixed:
        return f"{declared} but the equation gives {profile.mixed}", Severity.WARNING
    if profile.sign == 0:
        return f"{declared} but the equation gives 0 throughout the run", Severity.WARNING
    if profile.sign != claim.polarity:
        text = f"{declared} but the equation gives {_SIGN[profile.sign]} throughout the run"
        return text, Severity.ERROR
    return None, Severity.WARNING
