"""Structure-aware mutations of every shipped file, loaded, checked, written and run.

Property: for each mutant of each model in ``models/`` (see :mod:`mutations`), ``sd.check``
of the file, loading it, ``Model.check``, ``to_mdl`` and a short ``run`` either succeed or
raise a ``SdhealthError`` within the deadline, and a run whose results hold NaN/inf warns.
Runs are a few time steps long, except for the ``time_extreme`` mutants, which run their
own (huge, tiny, negative, non-finite) clock and must be refused with a clear error.
Mutants of the experiment files and observations in the subfolders go through their readers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import TALLY, classify
from hypothesis import assume
from hypothesis import strategies as st
from mutations import MODELS, OPERATORS, OWN_CLOCK, Mutant, Source, mutate, sources

import sdhealth as sd
from sdhealth.experiments.calibration_spec import read_calibration_spec
from sdhealth.experiments.experiment_specs import read_montecarlo_spec, read_sensitivity_spec
from sdhealth.experiments.observations import read_observations
from sdhealth.experiments.specs import load_sweep_spec

SECONDS = 5.0
#: The NHS model (about 250 equations) takes 4-6 s a case cold on a loaded 2-core machine
#: (PySD's .mdl translation, check, the exported sketch's layout, the run): a hang still fails.
SECONDS_BIG = 30.0
SOURCES = sources()
STEPS = 4
#: Where the mutant of each new failure class is kept, to replay with ``sdhealth check``.
FAILURES = Path(tempfile.gettempdir()) / "sdhealth-fuzz-failures"
BIG = 50_000  # characters: nhs_england.yaml and .mdl
#: The reader of each kind of file that is not a model (``data``: the observations CSV).
READERS = {
    "scenario": sd.load_scenario,
    "sweep": load_sweep_spec,
    "montecarlo": read_montecarlo_spec,
    "sensitivity": read_sensitivity_spec,
    "calibration": read_calibration_spec,
    "data": lambda path: read_observations(path, time_column="date", start_date="2023-01-01"),
}


def load_any(path: Path, kind: str) -> sd.Model:
    """A model file of any shipped kind (a causal-loop diagram is compiled)."""
    if kind == "cld":
        return sd.CausalLoopDiagram.from_yaml(path).compile()
    return sd.load(path)


def exercise(path: Path, kind: str, own_clock: bool) -> object:
    """Everything a modeller does with a file: load (or lint) it, check, export and run it.

    An experiment file or observations are read by their reader only.
    """
    if kind == "data":  # blank cells are missing observations (NaN), not numerical failures
        return READERS[kind](path).fillna(0.0)
    if kind in READERS:
        return READERS[kind](path)
    try:
        model = load_any(path, kind)
    except sd.SdhealthError:
        if kind != "cld":
            sd.check(path)  # the linter reports a file that does not load; it must not raise
        raise
    model.check()
    model.to_mdl(path.with_name("exported.mdl"))
    stop = None if own_clock else model.time.start + STEPS * model.time.dt
    return model.run(stop=stop)


def write_mutant(source: Source, mutant: Mutant, folder: Path) -> Path:
    """The mutant, at its source's place below ``folder`` as if it were ``models/``.

    The folders beside it link to the shipped ones, so that relative references (a sweep's
    scenarios, a calibration's data) resolve as they do for the shipped file.
    """
    home = folder / source.path.parent.relative_to(MODELS)
    home.mkdir(parents=True, exist_ok=True)
    if home != folder:
        for sibling in source.path.parent.parent.iterdir():
            link = home.parent / sibling.name
            if sibling.is_dir() and not link.exists():
                link.symlink_to(sibling)
    path = home / f"mutant{mutant.suffix}"
    path.write_bytes(mutant.data)
    return path


def run_mutant(source: Source, operator: str, mutant: Mutant, suite: str = "model") -> None:
    own_clock = operator.rpartition("/")[2] in OWN_CLOCK
    with tempfile.TemporaryDirectory() as folder:
        path = write_mutant(source, mutant, Path(folder))
        deadline = SECONDS_BIG if len(source.text) > BIG else SECONDS
        case = lambda: exercise(path, source.kind, own_clock)  # noqa: E731
        outcome = classify(case, deadline, run_result=True)
    reproducer = f"{source.name}: {mutant.description}"
    if TALLY.is_new(suite, operator, outcome):
        kept = FAILURES / f"{operator.replace('/', '-')}-{len(TALLY.failures)}{mutant.suffix}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(mutant.data)
        reproducer += f" (file kept: {kept})"
    TALLY.record(suite, operator, outcome, reproducer)


@pytest.fixture(scope="module", autouse=True)
def _warm_backends() -> None:
    """Compile the native kernel and import PySD once, outside every case's deadline."""
    teacup = sd.load(MODELS / "teacup.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SDHEALTH_NATIVE_KERNEL", "compiled")  # a small run would not load it
        teacup.run(stop=1)
    teacup.run(stop=1, backend="pysd")


def _drawn_from(operator: str, kinds: set[str]) -> list[Source]:
    """The files of ``kinds`` that ``operator`` applies to, the big models a third as often
    (they take about a second a case)."""
    applicable = [s for s in SOURCES if s.kind in OPERATORS[operator][1] & kinds]
    assert applicable, f"no file for {operator}"
    return [s for s in applicable for _ in range(1 if len(s.text) > BIG else 3)]


def _fuzz(budget, suite: str, operator: str, files: list[Source], ci: int, long: int) -> None:
    @budget.given(ci, long, st.sampled_from(files), st.integers(0, 2**32 - 1))
    def case(source: Source, seed: int) -> None:
        mutant = mutate(source, operator, seed)
        assume(mutant is not None)
        run_mutant(source, operator, mutant, suite)

    case()
    TALLY.assert_clean(suite, operator)


MODEL_KINDS = {"yaml", "cld", "mdl"}
EXPERIMENT_KINDS = set(READERS)


@pytest.mark.parametrize(
    "operator", [op for op, (_, kinds) in sorted(OPERATORS.items()) if kinds & MODEL_KINDS]
)
def test_mutants_load_check_and_run_or_raise_sdhealth_errors(budget, operator):
    files = _drawn_from(operator, MODEL_KINDS)
    if not budget.long:
        # A case of the NHS model costs 2-5 s: CI fuzzes the small models (5 cases an
        # operator) and gives the NHS files one case of the operators only they take; each
        # shipped file also gets its own mutants in test_every_shipped_file_is_fuzzed, and the
        # long campaign draws from every file.
        small = [source for source in files if len(source.text) <= BIG]
        files, ci = (small, 5) if small else (files, 1)
    else:
        ci = 0
    _fuzz(budget, "model", operator, files, ci=ci, long=150)


@pytest.mark.parametrize(
    "operator", [op for op, (_, kinds) in sorted(OPERATORS.items()) if kinds & EXPERIMENT_KINDS]
)
def test_experiment_file_mutants_read_or_raise_sdhealth_errors(budget, operator):
    _fuzz(budget, "experiment", operator, _drawn_from(operator, EXPERIMENT_KINDS), ci=6, long=120)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_every_shipped_file_is_fuzzed(source):
    """Each file below ``models/`` gets at least a few mutants, whatever hypothesis draws."""
    operators = [name for name, (_, kinds) in sorted(OPERATORS.items()) if source.kind in kinds]
    mutants = [(op, mutate(source, op, seed=0)) for op in operators[::4]]
    assert any(mutant is not None for _, mutant in mutants)
    for operator, mutant in mutants:
        if mutant is not None:
            run_mutant(source, f"{source.name}/{operator}", mutant, suite="files")
    TALLY.assert_clean("files", source.name)
