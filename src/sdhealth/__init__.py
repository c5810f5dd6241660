"""sdhealth: system-dynamics modelling for health and care systems.

Models are written in YAML (or Vensim ``.mdl``) with equations in Vensim's expression syntax,
checked (names, algebraic loops, lookups, units), and run by PySD or a compiled backend.

>>> import sdhealth as sd
>>> model = sd.load("models/teacup.yaml")                     # doctest: +SKIP
>>> df = model.run(policies=[sd.step("Room Temperature", to=20, at=10)])  # doctest: +SKIP

Package layout (import direction top to bottom; see DESIGN.md):

- :mod:`sdhealth.cli`, :mod:`sdhealth.model` -- the command line and the user-facing ``Model``;
- :mod:`sdhealth.report` -- plots; :mod:`sdhealth.experiments` -- policies (and later sweeps);
- :mod:`sdhealth.analysis` -- checks, unit analysis, feedback loops;
- :mod:`sdhealth.cld` -- causal-loop diagrams (derived from models or written by hand);
- :mod:`sdhealth.backends` -- the backend contract and registry, PySD backend;
- :mod:`sdhealth.compile` -- expansion of stateful builtins, dependency order;
- :mod:`sdhealth.io` -- YAML reader/writer, Vensim expression parser, atomic writes;
- :mod:`sdhealth.ir` -- the intermediate representation; imports nothing else of sdhealth.
"""

__version__ = "0.1.0"

from sdhealth.cld import CausalLoopDiagram  # noqa: E402
from sdhealth.errors import (  # noqa: E402
    BackendError,
    Issue,
    ModelError,
    ModelSyntaxError,
    SdhealthError,
    Severity,
    SimulationError,
    UnknownNameError,
)
from sdhealth.experiments.policies import pulse, ramp, step, table  # noqa: E402
from sdhealth.experiments.scenarios import Scenario, load_scenario  # noqa: E402
from sdhealth.model import Model, check, load  # noqa: E402

__all__ = [
    "__version__",
    "load",
    "check",
    "Model",
    "CausalLoopDiagram",
    "step",
    "ramp",
    "pulse",
    "table",
    "Scenario",
    "load_scenario",
    "SdhealthError",
    "ModelSyntaxError",
    "ModelError",
    "UnknownNameError",
    "SimulationError",
    "BackendError",
    "Issue",
    "Severity",
]
