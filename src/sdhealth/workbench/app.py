"""The workbench's web application: a Starlette app over one model (``sdhealth serve``).

The page (``static/index.html``) talks to a small JSON API:

``GET /api/model``
    The model's name, clock, constants (value, units, slider range, documentation and
    source), variables, check findings (``path:line:col``) and scenarios.
``POST /api/run``
    ``{"params": {name: value}, "scenario": name or null, "variables": [names]}``: one run on
    the native backend, with the base run (no parameters, no scenario) beside it.
``POST /api/compare``
    ``{"scenarios": [names], "variables": [names]}``: each scenario's run (``"base"`` is the
    model as written), on one time axis.
``POST /api/scenarios``
    ``{"name", "params", "overwrite"}``: the current settings saved as a scenario YAML in the
    output folder, atomically; an existing file is only replaced with ``"overwrite": true``
    (else status 409, so the page can ask).

Every refusal is a JSON ``{"error": message}`` with status 400 (bad input), 404 (unknown
scenario), 409 (exists) or 422 (the model cannot run); never a traceback. Requests whose
``Host`` is not the loopback name the server was started on, and writes whose ``Origin`` is
another site's, are refused (403): a page elsewhere cannot drive the local model folder.
"""

from __future__ import annotations

import json
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from sdhealth.errors import Issue, SdhealthError
from sdhealth.experiments.scenarios import Scenario, load_scenario
from sdhealth.io.atomic import write_text_atomic
from sdhealth.ir.model import Constant, Lookup
from sdhealth.model import Model, check, load

__all__ = ["Workbench", "create_app", "slider_range"]

STATIC = Path(__file__).with_name("static")
#: Host names a request may carry (with any port): the loopback ones.
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def slider_range(constant: Constant) -> tuple[float, float]:
    """A slider's range for ``constant``: its declared limits, else a range around its value
    (0 to twice a positive value, twice a negative value to 0, 0 to 1 around 0).

    >>> slider_range(Constant(name="beds", value=100.0))
    (0.0, 200.0)
    >>> slider_range(Constant(name="share", value=0.3, limits=(0.0, 1.0)))
    (0.0, 1.0)
    """
    value = float(constant.value)
    low, high = constant.limits
    default_low = 0.0 if value >= 0 else 2 * value
    default_high = 2 * value if value > 0 else 0.0 if value < 0 else 1.0
    low = default_low if low is None else float(low)
    high = default_high if high is None else float(high)
    if not low < high:
        high = low + (abs(low) or 1.0)
    return low, high


def _issue(issue: Issue) -> dict[str, Any]:
    return {
        "severity": issue.severity.value,
        "message": str(issue),
        "path": issue.path,
        "line": issue.line,
        "column": issue.column,
    }


class BadRequest(SdhealthError):
    """Input the page sent that cannot be used (status 400)."""


@dataclass
class Workbench:
    """One model, its scenarios and where saved scenarios go."""

    path: Path
    scenario_paths: tuple[Path, ...] = ()
    output: Path | None = None
    model: Model | None = None
    issues: list[Issue] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    _base: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls,
        path: str | Path,
        scenarios: tuple[str | Path, ...] = (),
        output: str | Path | None = None,
    ) -> Workbench:
        """Load the model (a model that does not load opens with its findings listed) and
        its scenarios: those given, else the YAML files of ``<model>/scenarios/`` beside it."""
        path = Path(path)
        found = tuple(Path(p) for p in scenarios)
        if not found:
            folder = path.with_suffix("") / "scenarios"
            found = tuple(sorted(folder.glob("*.yaml"))) if folder.is_dir() else ()
        bench = cls(path, found, Path(output) if output else path.parent / "scenarios")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                bench.model = load(path)
            except SdhealthError:  # a file that does not read: its finding, located
                bench.issues = check(path)
                return bench
            bench.issues = bench.model.check()
        for scenario_path in found:
            scenario = load_scenario(scenario_path)
            bench.scenarios[scenario.name] = scenario
        if not any(i.is_error for i in bench.issues):
            threading.Thread(target=bench.warm, daemon=True).start()
        return bench

    def warm(self) -> None:
        """Load the compiled kernel now (a batch of two runs does), so that every slider move
        runs at its speed (milliseconds for the NHS model); until it is in, runs are
        interpreted (:mod:`sdhealth.backends.native.interpreter`), as for a single run."""
        import numpy as np

        from sdhealth.backends.base import RunSpec, get_backend

        model = self.model
        if model is None:
            return
        try:
            spec = RunSpec.from_time(model.time)
            get_backend("native").run_batch(model.ir, spec, [], np.zeros((2, 0)), parallel=False)
        except SdhealthError:
            pass  # the runs themselves will say what is wrong

    def constants(self) -> list[Constant]:
        if self.model is None:
            return []
        return [
            v for v in self.model.ir.variables
            if isinstance(v, Constant) and not v.internal and not v.dims
        ]  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """What the page shows: the model, its constants (with slider ranges), the variables
        a run can plot (lookups have no values over time), its stocks, findings and
        scenarios."""
        model = self.model
        constants = []
        for constant in self.constants():
            low, high = slider_range(constant)
            constants.append({
                "name": constant.name, "value": float(constant.value), "units": constant.units,
                "min": low, "max": high, "doc": constant.doc, "source": constant.source,
            })  # fmt: skip
        described: dict[str, Any] = {
            "name": self.path.stem, "path": str(self.path), "time": None,
            "constants": constants, "variables": [], "stocks": [],
            "issues": [_issue(i) for i in self.issues], "scenarios": list(self.scenarios),
        }  # fmt: skip
        if model is None:
            return described
        time = model.time
        described["name"] = model.name
        described["time"] = {
            "start": time.start,
            "stop": time.stop,
            "dt": time.dt,
            "units": time.units,
        }
        shown = [v for v in model.ir.variables if not v.internal and not isinstance(v, Lookup)]
        described["variables"] = [v.name for v in shown]
        described["stocks"] = [v.name for v in model.ir.stocks if not v.internal]
        return described

    def runnable(self) -> Model:
        if self.model is None or any(i.is_error for i in self.issues):
            raise _Refused(422, "the model has errors: fix them and restart the workbench")
        return self.model

    def params(self, given: Any) -> dict[str, float]:
        """Parameter values from the page: known constants, finite numbers."""
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise BadRequest("'params' must be an object of constant names and numbers")
        names = {c.name for c in self.constants()}
        values = {}
        for name, value in given.items():
            if name not in names:
                raise BadRequest(f"{name!r} is not a constant of the model")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"{name!r}: {value!r} is not a number")
            if not math.isfinite(value):
                raise BadRequest(f"{name!r}: {value!r} is not a finite number")
            values[name] = float(value)
        return values

    def variables(self, given: Any) -> list[str]:
        model = self.runnable()
        if given is None:
            return [v.name for v in model.ir.stocks if not v.internal][:6]
        if not isinstance(given, list) or not all(isinstance(n, str) for n in given):
            raise BadRequest("'variables' must be a list of names")
        for name in given:
            if name not in model.ir:
                raise BadRequest(f"{name!r} is not a variable of the model")
        return given

    def scenario(self, name: Any) -> Scenario | None:
        if name is None or name == "base":
            return None
        if name not in self.scenarios:
            raise _Refused(404, f"no scenario named {name!r}")
        return self.scenarios[name]

    def base(self, names: list[str]):
        """The base run's series (the model as written), kept per list of variables."""
        key = tuple(names)
        if key not in self._base:
            if len(self._base) > 32:
                self._base.clear()
            self._base[key] = self.series({}, None, names)
        return self._base[key]

    def series(self, params: dict[str, float], scenario: Scenario | None, names: list[str]):
        model = self.runnable()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = model.run(params=params, scenario=scenario, return_columns=names)
        return [float(t) for t in frame.index], {
            name: [_number(x) for x in frame[name].tolist()] for name in frame.columns
        }

    def save(self, name: Any, params: dict[str, float], overwrite: bool) -> Path:
        """The settings as a scenario file in the output folder (atomically)."""
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("a scenario needs a name")
        stem = _SAFE_NAME.sub("_", name.strip()).strip("_")
        if not stem:
            raise BadRequest(f"{name!r} has no letters or digits to name a file with")
        assert self.output is not None
        folder = self.output.resolve()
        target = (folder / f"{stem}.yaml").resolve()
        if target.parent != folder:  # never outside the output folder
            raise BadRequest(f"{name!r} cannot name a file in {folder}")
        if target.exists() and not overwrite:
            raise _Refused(409, f"{target.name} exists: overwrite it?")
        model = self.runnable()
        lines = [f"scenario: {_yaml_text(name.strip())}", f"model: {_yaml_text(model.name)}"]
        if params:
            lines.append("params:")
            lines += [f"  {_yaml_text(k)}: {v!r}" for k, v in params.items()]
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, "\n".join(lines) + "\n")
        self.scenarios[name.strip()] = load_scenario(target)
        return target


def _yaml_text(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (JSON's escaping is YAML's)."""
    return json.dumps(text)


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class _Refused(SdhealthError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _LocalOnly:
    """Refuse (403) a request whose ``Host`` is not a loopback name, or a write whose
    ``Origin`` is not this server (a page on another site posting into the model folder)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            origin = headers.get("origin")
            refused = None
            if name not in LOOPBACK:
                refused = f"requests must come to a loopback address, not {host!r}"
            elif origin is not None and scope["method"] not in ("GET", "HEAD"):
                if origin.rstrip("/") not in {f"http://{host}", f"https://{host}"}:
                    refused = f"writes from {origin!r} are refused"
            if refused is not None:
                response = JSONResponse({"error": refused}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def create_app(bench: Workbench) -> Starlette:
    """The Starlette application serving ``bench`` (module docstring)."""

    def handled(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except _Refused as error:
                return JSONResponse({"error": str(error)}, status_code=error.status)
            except BadRequest as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            except SdhealthError as error:
                return JSONResponse({"error": str(error)}, status_code=422)

        return endpoint

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def model(request: Request) -> Response:
        return JSONResponse(bench.describe())

    async def run(request: Request) -> Response:
        body = await _body(request)
        params = bench.params(body.get("params"))
        names = bench.variables(body.get("variables"))
        scenario = bench.scenario(body.get("scenario"))
        times, series = bench.series(params, scenario, names)
        _, base = bench.base(names)
        return JSONResponse({"time": times, "series": series, "base": base})

    async def compare(request: Request) -> Response:
        body = await _body(request)
        wanted = body.get("scenarios")
        if not isinstance(wanted, list) or not wanted:
            raise BadRequest("'scenarios' must be a list of scenario names")
        names = bench.variables(body.get("variables"))
        runs, times = {}, []
        for name in wanted:
            times, runs[str(name)] = bench.series({}, bench.scenario(name), names)
        return JSONResponse({"time": times, "runs": runs})

    async def save(request: Request) -> Response:
        body = await _body(request)
        params = bench.params(body.get("params"))
        target = bench.save(body.get("name"), params, bool(body.get("overwrite", False)))
        return JSONResponse({"saved": str(target), "scenarios": list(bench.scenarios)})

    routes = [
        Route("/", index),
        Route("/api/model", handled(model)),
        Route("/api/run", handled(run), methods=["POST"]),
        Route("/api/compare", handled(compare), methods=["POST"]),
        Route("/api/scenarios", handled(save), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_LocalOnly)])
