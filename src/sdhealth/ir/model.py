"""The intermediate representation: a model as frozen data.

Front-ends (YAML, ``.mdl``, XMILE, causal-loop diagrams) build a :class:`Model`; compilation,
analysis and backends read it. Nothing here mutates: "changing" a model means building a new
one with :func:`dataclasses.replace` (see :meth:`Model.replace_variable`).

The kind of a variable is its type (:class:`Stock`, :class:`Flow`, :class:`Auxiliary`,
:class:`Constant`, :class:`Lookup`), never a string. Every equation is an :class:`Equation`:
a sympy expression plus the text the modeller wrote and where it was written, so errors can
point at a file, line and column and writers can give the text back unchanged.

Variables refer to each other through sympy symbols named by the variable's key
(:func:`sdhealth.ir.names.canonical`); :func:`symbol` makes them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import sympy

from sdhealth.ir.names import canonical

__all__ = [
    "SourceLocation",
    "Equation",
    "TimeSpec",
    "Extrapolation",
    "Variable",
    "Stock",
    "Flow",
    "Auxiliary",
    "Constant",
    "Lookup",
    "Subscript",
    "DeclaredLink",
    "Definition",
    "DataMode",
    "Data",
    "Sector",
    "Report",
    "Model",
    "symbol",
    "key_of",
]


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol that stands for the variable called ``name`` in equations.

    >>> symbol("Teacup  Temperature")
    teacup temperature
    """
    return sympy.Symbol(canonical(name))


def key_of(sym: sympy.Symbol) -> str:
    """The variable key a symbol refers to (the inverse of :func:`symbol`)."""
    return sym.name


@dataclass(frozen=True)
class SourceLocation:
    """Where something was written: 1-based line and column; any part may be unknown.

    ``indent`` matters only for a location where a multi-line text starts: the number of
    columns before the text on its later lines (a YAML block's indentation), so that
    :meth:`shifted` finds characters on those lines at their real column.
    """

    path: str | None = None
    line: int | None = None
    column: int | None = None
    indent: int = 0

    def shifted(self, text: str, offset: int) -> SourceLocation:
        """The location of character ``offset`` of ``text``, if ``text`` starts here.

        >>> SourceLocation("m.yaml", 3, 9, indent=4).shifted("a +\\nb", 4)
        SourceLocation(path='m.yaml', line=4, column=5, indent=0)
        """
        if self.line is None:
            return self
        before = text[:offset]
        newlines = before.count("\n")
        if newlines == 0:
            column = None if self.column is None else self.column + offset
            return SourceLocation(self.path, self.line, column)
        column = offset - before.rfind("\n") + self.indent
        return SourceLocation(self.path, self.line + newlines, column)


@dataclass(frozen=True)
class DeclaredLink:
    """A causal link into a variable whose polarity the modeller declared: ``source -> it``.

    ``source`` is the source variable's name, ``polarity`` +1 or -1 and ``location`` where
    the declaration is written. The location is left out of equality (and hashing), like a
    comment's position: two models that declare the same links are equal wherever they do.
    :func:`sdhealth.analysis.polarity.check_polarity` checks the declaration against the
    equations.
    """

    source: str
    polarity: int
    location: SourceLocation | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.polarity not in (1, -1) or isinstance(self.polarity, bool):
            raise ValueError(f"link from {self.source!r}: polarity must be +1 or -1")


@dataclass(frozen=True)
class Equation:
    """A parsed equation: the sympy expression, the modeller's text and where it begins.

    ``references`` lists every variable name the text mentions as ``(key, offset)`` pairs, the
    offset being the index of the name's first character in ``text``; checks use it to point
    at the exact line and column of, say, a misspelt name.
    """

    expr: sympy.Expr
    text: str | None = None
    location: SourceLocation | None = None
    references: tuple[tuple[str, int], ...] = ()

    def location_of(self, key: str) -> SourceLocation | None:
        """Where the first mention of variable ``key`` starts (or where the equation starts)."""
        if self.location is None:
            return None
        for ref_key, offset in self.references:
            if ref_key == key and self.text is not None:
                return self.location.shifted(self.text, offset)
        return self.location

    @classmethod
    def of(cls, value: float | int | sympy.Expr) -> Equation:
        """An equation built in code (no source text)."""
        return cls(sympy.sympify(value) if isinstance(value, (int, float)) else value)

    @functools.cached_property
    def free_keys(self) -> frozenset[str]:
        """Keys of the variables this equation reads (builtin symbols excluded; remembered)."""
        return frozenset(
            s.name
            for s in self.expr.free_symbols
            if isinstance(s, sympy.Symbol) and not s.name.startswith("@")
        )


#: The integration methods a model may ask for (the values of ``backends.base.Method``).
INTEGRATION_METHODS = ("euler", "rk2", "rk4")


@dataclass(frozen=True)
class TimeSpec:
    """The simulation clock. ``saveper`` defaults to ``dt``; times are in ``units``.

    ``method`` is the integration method the model file asks for (``"euler"``, ``"rk2"``,
    ``"rk4"``: an XMILE ``<sim_specs method="RK4">``, a YAML ``time: {method: rk4}``); a run
    uses it unless told otherwise.

    ``equations`` holds clock settings a Vensim model computes (``FINAL TIME = IF THEN ELSE(
    ..)``) as ``(setting, equation)`` pairs, ``setting`` one of ``"initial time"``, ``"final
    time"``, ``"time step"``, ``"saveper"``; the number fields then hold a stand-in value.
    """

    start: float = 0.0
    stop: float = 100.0
    dt: float = 1.0
    saveper: float | None = None
    units: str = "month"
    equations: tuple[tuple[str, Equation], ...] = ()
    method: str = "euler"

    def equation(self, setting: str) -> Equation | None:
        """The equation of clock ``setting`` (``"final time"``...), or ``None`` for a number."""
        return dict(self.equations).get(setting)

    def __post_init__(self) -> None:
        if not self.dt > 0:
            raise ValueError(f"time step dt must be positive, got {self.dt}")
        if not self.stop >= self.start:
            raise ValueError(f"stop ({self.stop}) is before start ({self.start})")
        if self.saveper is not None and not self.saveper > 0:
            raise ValueError(f"saveper must be positive, got {self.saveper}")
        if self.method not in INTEGRATION_METHODS:
            raise ValueError(
                f"unknown integration method {self.method!r}; use one of "
                f"{', '.join(INTEGRATION_METHODS)}"
            )

    @property
    def save_every(self) -> float:
        return self.dt if self.saveper is None else self.saveper


class Extrapolation(StrEnum):
    """What a lookup returns outside its x-range: Vensim holds the end values by default."""

    HOLD = "hold"
    LINEAR = "linear"


class DataMode(StrEnum):
    """How a Vensim data equation (``:=``) fills the times between its data points.

    ``PLAIN`` is a data equation without a keyword (Vensim interpolates).
    """

    PLAIN = ""
    INTERPOLATE = "interpolate"
    LOOK_FORWARD = "look forward"
    HOLD_BACKWARD = "hold backward"
    RAW = "raw"


@dataclass(frozen=True)
class Definition:
    """One Vensim equation of a subscripted variable: ``x[a1, B] :EXCEPT: [a1, b2] = ...``.

    Vensim defines an arrayed variable by one or more equations, each for the elements its
    left-hand side names (elements or whole ranges, one per dimension). ``equation`` is the
    value (a stock's net rate); ``initial`` is a stock's initial value; ``points`` holds the
    ``(xs, ys)`` of one element of a subscripted lookup; ``excepts`` lists the ``:EXCEPT:``
    subscript tuples. A variable with definitions is printed from them (see
    :attr:`Variable.definitions`).

    External data keeps the Vensim call in ``equation`` (``VENSIM_CALL("GET DIRECT DATA",
    path, ...)``): ``data`` is set for a data equation (``x :INTERPOLATE: := GET ...``), and a
    :class:`Lookup`'s definition with an ``equation`` but no ``points`` reads its points from
    a file (``x(GET DIRECT LOOKUPS(...))``).
    """

    subscripts: tuple[str, ...]
    equation: Equation | None = None
    initial: Equation | None = None
    points: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    excepts: tuple[tuple[str, ...], ...] = ()
    data: DataMode | None = None


@dataclass(frozen=True, kw_only=True)
class Variable:
    """Fields every variable has. ``dims`` names subscript ranges (empty for scalars).

    ``internal`` marks variables made by compilation (delay stages, the parts of an expanded
    SMOOTH or DELAY), hidden from default output and from the names users are offered.

    ``definitions`` (empty for scalars) holds the equations of a subscripted variable, one per
    Vensim equation; the kind's own scalar field (``equation``, ``initial``, ``value``, the
    lookup points) then repeats the first definition for code that reads scalars only.
    """

    name: str
    units: str = ""
    doc: str = ""
    source: str = ""
    sector: str | None = None
    dims: tuple[str, ...] = ()
    limits: tuple[float | None, float | None] = (None, None)
    location: SourceLocation | None = None
    definitions: tuple[Definition, ...] = ()
    declared_links: tuple[DeclaredLink, ...] = ()
    internal: bool = False

    @property
    def key(self) -> str:
        return canonical(self.name)

    @property
    def symbol(self) -> sympy.Symbol:
        return symbol(self.name)

    def equations(self) -> tuple[Equation, ...]:
        """Every equation of this variable (to scan for names, units, builtins).

        The kind's own equations come first (``equations()[0]`` is the scalar equation where
        there is one), then those of :attr:`definitions` that differ from them.
        """
        return self._with_definitions(())

    def _with_definitions(self, own: tuple[Equation, ...]) -> tuple[Equation, ...]:
        extra = [
            equation
            for definition in self.definitions
            for equation in (definition.equation, definition.initial)
            if equation is not None
        ]
        result = list(own)
        for equation in extra:
            if equation not in result:
                result.append(equation)
        return tuple(result)


@dataclass(frozen=True, kw_only=True)
class Stock(Variable):
    """A level: ``d stock/dt = sum(inflows) - sum(outflows)``.

    ``non_negative`` declares that the stock must never go below zero: a run that drives it
    negative is a :class:`~sdhealth.errors.SimulationError` naming the stock and the time
    (sdhealth reports rather than silently clips; limit outflows explicitly if intended).
    """

    initial: Equation
    inflows: tuple[str, ...] = ()
    outflows: tuple[str, ...] = ()
    non_negative: bool = False

    def equations(self) -> tuple[Equation, ...]:
        return self._with_definitions((self.initial,))


@dataclass(frozen=True, kw_only=True)
class Flow(Variable):
    """A rate that fills or drains stocks (listed in the stocks' inflows/outflows)."""

    equation: Equation

    def equations(self) -> tuple[Equation, ...]:
        return self._with_definitions((self.equation,))


@dataclass(frozen=True, kw_only=True)
class Auxiliary(Variable):
    """A variable computed from others at every time step."""

    equation: Equation

    def equations(self) -> tuple[Equation, ...]:
        return self._with_definitions((self.equation,))


@dataclass(frozen=True, kw_only=True)
class Data(Auxiliary):
    """An auxiliary whose values are a time series read from data (``GET DIRECT DATA``).

    It is defined by :attr:`definitions` (at least one with ``data`` set); ``equation``
    repeats the first. Backends that cannot read the data refuse it by its ``VENSIM_CALL``.
    """


@dataclass(frozen=True, kw_only=True)
class Constant(Variable):
    """A parameter: one number for the whole run (changed per run with ``params=``)."""

    value: float


@dataclass(frozen=True, kw_only=True)
class Lookup(Variable):
    """A graphical function: points ``(xs[i], ys[i])`` joined by straight lines."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    extrapolation: Extrapolation = Extrapolation.HOLD

    def __post_init__(self) -> None:
        if len(self.xs) != len(self.ys):
            raise ValueError(
                f"lookup {self.name!r}: {len(self.xs)} x-values but {len(self.ys)} y-values"
            )


@dataclass(frozen=True)
class Subscript:
    """A Vensim subscript range: its elements, the subranges it contains and any mappings."""

    name: str
    elements: tuple[str, ...]
    subranges: tuple[str, ...] = ()
    mappings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """What a run summary shows: key ``indicators`` (variable names) every ``every`` time units.

    ``every`` None means the summary picks the interval (a year for monthly models).
    ``loops`` names the feedback loops a modeller wants to follow, each as a name and the
    variables the loop runs through (in any order): ``("R3 Burnout", ("Nurse FTE", ...))``.
    """

    indicators: tuple[str, ...] = ()
    every: float | None = None
    loops: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Sector:
    """A named group of variables ("elective", "workforce") with a description."""

    name: str
    doc: str = ""


@dataclass(frozen=True)
class Caveat:
    """A construct of the source file whose semantics sdhealth does not yet honour.

    ``element`` is the variable as the file names it, ``construct`` what it is (``conveyor``,
    ``queue``, ``oven``, ``non-negative stock``, ``module``), ``detail`` one sentence for the
    user. ``sd.check`` warns about each; a run refuses the model unless an approximation is
    accepted (``sd.load(path, approximate=True)``).
    """

    element: str
    construct: str
    detail: str
    location: SourceLocation | None = None


@dataclass(frozen=True)
class Model:
    """A whole model: clock, variables in definition order, subscript ranges, sectors.

    ``caveats`` lists what the file holds that sdhealth reads only in part (see
    :class:`Caveat`).

    ``source_digest`` is set by :func:`sdhealth.io.read_model` on the model it reads: a
    SHA-256 of the file's path, bytes and reader, which stands for the model's content in
    the caches of its analyses (:mod:`sdhealth.analysis.stored`) without walking the model.
    It is not an argument: a model built in code, or derived with :func:`dataclasses.replace`
    (a changed parameter, a scenario), has none, and is keyed by its content.
    """

    name: str
    time: TimeSpec = field(default_factory=TimeSpec)
    variables: tuple[Variable, ...] = ()
    subscripts: tuple[Subscript, ...] = ()
    sectors: tuple[Sector, ...] = ()
    doc: str = ""
    path: str | None = None
    report: Report = field(default_factory=Report)
    caveats: tuple[Caveat, ...] = ()
    source_digest: str = field(default="", init=False, compare=False, repr=False)

    @functools.cached_property
    def _by_key(self) -> Mapping[str, Variable]:
        return {v.key: v for v in self.variables}

    def __getitem__(self, name: str) -> Variable:
        return self._by_key[canonical(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical(name) in self._by_key

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    def of_type(self, kind: type[Variable]) -> tuple[Variable, ...]:
        """The variables of one kind, e.g. ``model.of_type(Stock)``."""
        return tuple(v for v in self.variables if isinstance(v, kind))

    @property
    def stocks(self) -> tuple[Stock, ...]:
        return tuple(v for v in self.variables if isinstance(v, Stock))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    @property
    def is_arrayed(self) -> bool:
        """Whether any variable is subscripted (its result columns are ``name[a,b]``)."""
        return any(v.dims or v.definitions for v in self.variables)

    def replace_variable(self, new: Variable) -> Model:
        """A copy with the variable of the same key replaced by ``new``."""
        if new.key not in self._by_key:
            raise KeyError(new.name)
        variables = tuple(new if v.key == new.key else v for v in self.variables)
        return replace(self, variables=variables)

    def with_variables(self, *added: Variable) -> Model:
        """A copy with ``added`` appended (keys must be new)."""
        return replace(self, variables=self.variables + added)

    def __hash__(self) -> int:
        return hash((self.name, self.time, self.variables, self.subscripts, self.sectors))
