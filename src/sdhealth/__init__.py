"""sdhealth: system-dynamics modelling for health and care systems.

Models are written in YAML (or Vensim ``.mdl``) with equations in Vensim's expression syntax,
checked (names, algebraic loops, lookups, units), and run by PySD or a compiled backend.

>>> import sdhealth as sd
>>> model = sd.load("models/teacup.yaml")                     # doctest: +SKIP
>>> df = model.run(policies=[sd.step("Room Temperature", to=20, at=10)])  # doctest: +SKIP

Layers (a module imports its own layer and those below, never above; no import cycles;
``docs/architecture.md`` has the picture and ``tests/test_layers.py`` keeps it so):

7. :mod:`sdhealth.cli` -- the command line;
6. ``sdhealth`` -- the public names;
5. :mod:`sdhealth.model` -- the user facade (``Model``, ``CausalLoopDiagram``, ``load``,
   ``check``), and :mod:`sdhealth.benchmarks`;
4. :mod:`sdhealth.experiments` (policies, scenarios, sweeps, Monte Carlo, sensitivity,
   calibration, Dask), :mod:`sdhealth.analysis` (checks, units, polarity, loops, dominance),
   :mod:`sdhealth.cld` (causal-loop diagrams as data) and :mod:`sdhealth.report` (plots);
3. :mod:`sdhealth.backends` -- the native (numba) and PySD backends behind one contract;
2. :mod:`sdhealth.compile` -- the IR made runnable (expanded, flattened, ordered);
1. :mod:`sdhealth.io` -- readers and writers (YAML, Vensim, XMILE, results);
0. :mod:`sdhealth.ir` and :mod:`sdhealth.errors` -- the model as frozen data; error types.
"""

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
from sdhealth.model import CausalLoopDiagram, Model, check, load  # noqa: E402
from sdhealth.version import __version__  # noqa: E402

# The experiment layer pulls in scipy and SALib (seconds of import time); its names are loaded on
# first use (PEP 562) so `import sdhealth` and the CLI stay quick.
_LAZY = {
    "Summary": "sdhealth.experiments.summaries",
    "save_dataset": "sdhealth.io.results",
    "load_dataset": "sdhealth.io.results",
    "monte_carlo": "sdhealth.experiments.montecarlo",
    "MonteCarloResult": "sdhealth.experiments.montecarlo",
    "Distribution": "sdhealth.experiments.distributions",
    "Uniform": "sdhealth.experiments.distributions",
    "Normal": "sdhealth.experiments.distributions",
    "TruncatedNormal": "sdhealth.experiments.distributions",
    "Triangular": "sdhealth.experiments.distributions",
    "LogNormal": "sdhealth.experiments.distributions",
    "Beta": "sdhealth.experiments.distributions",
    "oat": "sdhealth.experiments.sensitivity",
    "sobol": "sdhealth.experiments.sensitivity",
    "morris": "sdhealth.experiments.sensitivity",
    "calibrate": "sdhealth.experiments.calibration",
    "CalibrationResult": "sdhealth.experiments.calibration",
    "read_calibration_spec": "sdhealth.experiments.calibration_spec",
    "write_fitted": "sdhealth.experiments.calibration",
    "loop_dominance": "sdhealth.analysis.dominance",
    "LoopDominance": "sdhealth.analysis.dominance",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sdhealth' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    "Summary",
    "save_dataset",
    "load_dataset",
    "monte_carlo",
    "MonteCarloResult",
    "Distribution",
    "Uniform",
    "Normal",
    "TruncatedNormal",
    "Triangular",
    "LogNormal",
    "Beta",
    "oat",
    "sobol",
    "morris",
    "calibrate",
    "CalibrationResult",
    "read_calibration_spec",
    "write_fitted",
    "loop_dominance",
    "LoopDominance",
    "SdhealthError",
    "ModelSyntaxError",
    "ModelError",
    "UnknownNameError",
    "SimulationError",
    "BackendError",
    "Issue",
    "Severity",
]
