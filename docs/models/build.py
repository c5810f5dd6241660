"""Build the model library's documentation pages: ``docs/models/*.md`` and their pictures.

Run from anywhere (paths are found from this file)::

    python docs/models/build.py            # every page
    python docs/models/build.py homer_burnout elective_recovery

For each model it writes ``docs/models/<model>.md`` with the model's description, its
causal-loop picture (``img/<model>_cld.png``), its loop table, a plot of the runs that show
its behaviour (``img/<model>_runs.png``), a table of the numbers behind the plot, and the
parameters with their sources; and ``docs/models/index.md`` linking the pages. For
``nhs_england`` the picture shows only the brief's eight named loops (B1-B4, R1-R4; the model
has hundreds of loops), the base run is drawn against the calibration figures of
``shared/health/REFERENCE_MODEL.md`` (the bands ``tests/models/test_nhs_england.py`` asserts),
and the policy experiments P1-P6 (``models/nhs_england/scenarios``) are plotted side by side.
Every run uses the native backend. Files are written atomically; the pages are generated
whole, so edit this script (or the models' own descriptions), not the pages.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import networkx as nx  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import sdhealth as sd  # noqa: E402
from sdhealth.analysis.loops import Loop, loop_table, trace_loop  # noqa: E402
from sdhealth.experiments.scenarios import load_scenario  # noqa: E402
from sdhealth.io.atomic import write_text_atomic, write_with  # noqa: E402
from sdhealth.ir.model import Constant, Lookup  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
PAGES = ROOT / "docs" / "models"
IMAGES = PAGES / "img"
BACKEND = "native"
LAYOUT_SEED = 3

#: Runs of one experiment: label -> parameter values (applied to that run only).
Runs = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class TeachingPage:
    """What a teaching model's page shows: its runs, the columns plotted, its sources, and what
    its reinforcing loops are (``loop_notes``: loop enumeration lists every cycle of the
    equations' links, including ones that only book-keep how a shared quantity is split)."""

    stem: str
    summary: str
    runs: Runs
    columns: tuple[str, ...]
    finding: str
    sources: tuple[str, ...]
    loop_notes: str
    extra: Callable[[Figure, sd.Model, dict[str, pd.DataFrame]], None] | None = None
    table_times: tuple[float, ...] = ()


def _closed_form_overlay(figure: Figure, model: sd.Model, runs: dict[str, pd.DataFrame]) -> None:
    """Draw the goal-gap closed form L* + (L0 - L*) exp(-t / tau) on the waiting-list panel."""
    import numpy as np

    axes = figure.axes[0]
    start = model["Initial waiting list"].value
    target = model["Target waiting list"].value
    for label, params in TEACHING["elective_recovery"].runs.items():
        tau = params.get("Recovery time", model["Recovery time"].value)
        times = runs[label].index.to_numpy()
        exact = target + (start - target) * np.exp(-times / tau)
        axes.plot(times, exact, "k:", linewidth=1)
    axes.plot([], [], "k:", linewidth=1, label="closed form")
    axes.axhline(target, color="grey", linewidth=0.8)
    axes.legend(fontsize=7)


TEACHING: dict[str, TeachingPage] = {
    "wolstenholme_patient_flow": TeachingPage(
        stem="wolstenholme_patient_flow",
        summary=(
            "acute beds blocked by downstream capacity; intermediate care vs extra beds "
            "(Wolstenholme 1999)"
        ),
        runs={
            "base": {},
            "+20 acute beds": {"Acute beds": 220},
            "+20 intermediate care places": {"Intermediate care places": 30},
        },
        columns=(
            "Patients waiting for admission",
            "Patients awaiting placement",
            "Bed occupancy",
            "Patient days waited",
        ),  # fmt: skip
        finding=(
            "Twenty extra acute beds fill with medically fit patients waiting for a community "
            "place and only postpone the growth of the admission queue; twenty intermediate-care "
            "places, turning over every three weeks, unblock the beds and cut the year's total "
            "patient-days waited several times more (Wolstenholme 1999: flows give more leverage "
            "than capacities)."
        ),
        sources=(
            "Wolstenholme E. (1999) A patient flow perspective of U.K. Health Services: exploring "
            "the case for new 'intermediate care' initiatives. System Dynamics Review "
            "15(3):253-271.",
        ),
        loop_notes=(
            "**R1 is book-keeping, not a reinforcing mechanism.** Medically fit patients leave "
            "the queue for placement by one outflow split in two: intermediate care takes "
            "whom it can first, and long-term care takes the remainder (`Placements in long "
            "term care = MIN(Patients awaiting placement / Time to arrange placement - "
            "Placements in intermediate care, ...)`). Loop enumeration sees three cycles "
            "through that split: B6 (more waiting -> more intermediate-care placements -> "
            "fewer waiting), B7 (the same through long-term care) and R1 (more intermediate-care "
            "placements -> fewer left for long-term care -> more waiting). Whenever long-term "
            "care is not full, R1's effect is exactly minus B6's: the total placement rate is "
            "`Patients awaiting placement / Time to arrange placement` whoever takes the "
            "patient, so R1 and B6 cancel and B7 is what drains the queue. Only when "
            "long-term care is full does R1 vanish (its MIN switches to the free places) and "
            "B6 act alone. Writing the two placements as shares of one outflow would remove "
            "the cycle from the diagram without changing a single number."
        ),
        table_times=(90, 180, 365),
    ),
    "lane_ae_bed_cut": TeachingPage(
        stem="lane_ae_bed_cut",
        summary=(
            "emergencies have priority for beds, so a bed cut cancels electives "
            "(Lane, Monefeldt & Rosenhead 2000)"
        ),
        runs={"base (500 beds)": {}, "10% bed cut (450 beds)": {"Beds": 450}},
        columns=(
            "Mean emergency wait for a bed",
            "Bed occupancy",
            "Cancelled elective admissions",
            "Elective waiting list",
        ),  # fmt: skip
        finding=(
            "A 10% bed cut raises the emergency patients' mean wait for a bed by about 8% "
            "(averaged over the week), because emergencies have priority, while elective "
            "cancellations go from a handful to about a third of bookings and the elective "
            "list keeps growing (Lane, Monefeldt & Rosenhead 2000)."
        ),
        sources=(
            "Lane D.C., Monefeldt C., Rosenhead J.V. (2000) Looking in the wrong place for "
            "healthcare improvements: a system dynamics study of an accident and emergency "
            "department. Journal of the Operational Research Society 51(5):518-531.",
            "Bagust A., Place M., Posnett J.W. (1999) Dynamics of bed use in accommodating "
            "emergency admissions: stochastic simulation model. BMJ 319:155-158.",
        ),
        loop_notes=(
            "**R1 is cancelled exactly by B8 and moves no bed.** R1 reads: higher occupancy -> "
            "longer time to find a bed -> fewer emergency admissions -> fewer emergency "
            "inpatients -> more free beds -> more beds left for electives -> fewer cancellations "
            "-> more elective inpatients -> higher occupancy. But a patient whose admission is "
            "slowed does not disappear: they wait in A&E, and `Beds left for electives = "
            "MAX(0, Free beds - Emergency patients awaiting a bed)` holds a bed for every "
            "waiting emergency patient. B8 is the same chain through the waiting patients "
            "(fewer admissions -> more patients awaiting a bed -> fewer beds left for "
            "electives). A delayed admission moves one patient from the inpatients to the "
            "waiting patients, which changes Free beds and Emergency patients awaiting a bed "
            "by the same amount, so the beds left for electives -- and every elective flow -- "
            "are unchanged: R1 and B8 cancel whenever no MAX clips. The emergency priority of "
            "Lane et al. is the point of this formulation, and the reinforcing cycle is the "
            "trace of that priority in the link graph, not a mechanism."
        ),
        table_times=(91, 182, 364),
    ),
    "homer_burnout": TeachingPage(
        stem="homer_burnout",
        summary=(
            "overwork, burnout and productivity: a reinforcing spiral with a threshold (Homer 1985)"
        ),
        runs={
            "no surge": {},
            "20% surge for 12 weeks": {"Surge size": 0.2},
            "60% surge for 12 weeks": {"Surge size": 0.6},
        },
        columns=("Backlog", "Hours worked", "Burnout", "Productivity"),
        finding=(
            "A 20% surge is absorbed: the team works longer, burnout rises and eases, and "
            "productivity returns to normal. A 60% surge pushes burnout past the point where "
            "even maximum hours cannot keep up with normal work: the backlog keeps growing, "
            "hours stay at their cap and productivity stays collapsed long after the surge "
            "has ended (Homer 1985's reinforcing burnout spiral)."
        ),
        sources=(
            "Homer J.B. (1985) Worker burnout: a dynamic model with implications for prevention "
            "and control. System Dynamics Review 1(1):42-62.",
        ),
        loop_notes=(
            "**R1 is Homer's burnout spiral, a real mechanism.** A larger backlog raises work "
            "pressure and hours; long hours build burnout; burnout cuts productivity, so less "
            "work is completed and the backlog grows further. Its strength depends on the "
            "state: while hours are below their cap and burnout is low, B4 (more hours clear "
            "the backlog) dominates and a surge is absorbed; once hours sit at their maximum "
            "B4 is cut and R1 carries the team into the lasting collapse shown below. B2 and "
            "B3 are the first-order adjustments of burnout and hours toward their indicated "
            "levels, B1 the completion of work from the backlog."
        ),
        table_times=(22, 52, 104),
    ),
    "elective_recovery": TeachingPage(
        stem="elective_recovery",
        summary="goal-gap recovery of a waiting list toward its target: first-order goal seeking",
        runs={
            "recovery time 9 months": {"Recovery time": 9},
            "recovery time 18 months (base)": {},
            "recovery time 36 months": {"Recovery time": 36},
        },
        columns=("Waiting list", "Treatments", "Mean wait"),
        finding=(
            "The list approaches its target exponentially with the recovery time as its time "
            "constant (dotted: the closed form L* + (L0 - L*) exp(-t / tau)); a shorter "
            "recovery time needs a larger burst of extra activity at the start."
        ),
        sources=(
            "Sterman J.D. (2000) Business Dynamics, ch. 8.2: first-order negative feedback "
            "(goal seeking) and its exponential decay to the goal.",
            "NHS England RTT statistics (via Nuffield Trust QualityWatch and the Health "
            "Foundation) for the 2023 list of about 7.6m.",
        ),
        loop_notes=(
            "Both loops are balancing and the model has no reinforcing loop: B2 is the goal "
            "gap (a longer list -> a larger gap to the target -> more extra activity -> more "
            "treatments -> a shorter list), B1 the first-order drain of follow-up patients. "
            "With one goal-seeking loop in charge, the list's path is the exponential closed "
            "form drawn below."
        ),
        extra=_closed_form_overlay,
        table_times=(9, 18, 36, 72),
    ),
}

# --- the NHS England reference model ---------------------------------------------------------

NHS = "nhs_england"
SCENARIOS = MODELS / NHS / "scenarios"

#: The brief's loops: polarity and variables the drawn loop must contain (as in
#: tests/models/test_nhs_england.py, which asserts that such loops exist).
NHS_LOOPS: dict[str, tuple[int, tuple[str, ...], str]] = {
    "B1": (-1, ("Bed occupancy", "Bed pressure", "Elective overnight admissions",
                "Elective inpatients"), "Elective throttling"),
    "B2": (-1, ("Medically fit awaiting supported discharge",
                "Perceived supported discharge delays", "Care posts required",
                "Social care workforce", "Care capacity adequacy",
                "Supported discharges"), "Discharge pull through social care"),
    "B3": (-1, ("Nurse vacancy rate", "Perceived nurse vacancy rate", "Training intake",
                "Nurse course completions", "Nurse FTE"), "Recruitment and training"),
    "B4": (-1, ("RTT waiting list", "Mean RTT wait", "Perceived RTT wait",
                "Waiting list initiative share", "Elective capacity multiplier"),
           "Waiting-time rationing and supply response"),
    "R1": (1, ("Bed occupancy", "ED patients awaiting a bed", "ED crowding", "Handover time",
               "Ambulance handover queue", "Cat 2 mean response time", "Emergency inpatients"),
           "Exit-block gridlock"),
    "R2": (1, ("Bed occupancy", "Early discharge pressure", "Readmissions",
               "ED patients awaiting a bed", "Emergency inpatients"),
           "Premature discharge and readmission"),
    "R3": (1, ("Nurse FTE", "Available nurse FTE", "Workload pressure", "Staff fatigue",
               "Nurse leavers"), "Burnout and attrition"),
    "R4": (1, ("RTT waiting list", "Deterioration to emergency admission", "Emergency inpatients",
               "Bed occupancy", "Elective overnight admissions"),
           "Untreated elective need becomes emergency demand"),
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A calibration figure: a band over a time window and/or observed points (time, value)."""

    column: str
    band: tuple[float, float, float, float] | None = None  # (t0, t1, low, high)
    points: tuple[tuple[float, float], ...] = ()
    label: str = ""
    scale: float = 1.0


#: Calibration figures (month 0 = January 2023). Bands are those asserted in
#: tests/models/test_nhs_england.py; points are the dated figures of REFERENCE_MODEL.md.
NHS_TARGETS: tuple[Target, ...] = (
    Target("RTT waiting list", (13, 20, 7.45e6, 7.75e6),
           ((4, 7.47e6), (5, 7.6e6), (6, 7.68e6), (7, 7.75e6), (8, 7.77e6), (9, 7.71e6),
            (12, 7.58e6), (13, 7.54e6), (18, 7.62e6), (19, 7.64e6)),
           "NHSE RTT (Nuffield, HF); peak 7.77m Sep 2023", 1e6),
    Target("Bed occupancy", (0, 24, 0.92, 0.95), ((18, 0.926),),
           "G&A occupancy 92-95% (NHS Confed 2022; RCEM Jul 2024)"),
    Target("Medically fit patients awaiting discharge", (0, 24, 12_000, 14_000),
           ((0, 13_469), (11, 13_000)), "NCTR 12-14k (HF; NHS Confed)"),
    Target("Mean discharge delay", (0, 24, 1.1, 1.6), ((-1, 1.3),),
           "1.3 days from fit to discharge (HF Dec 2022)"),
    Target("Handover hours lost", (0, 11, 1.5e6 / 12, 2.2e6 / 12), ((-1, 2.0e6 / 12),),
           "about 2m hours a year lost to handovers (AACE 2022/23)"),
    Target("Twelve hour waits from decision to admit", (0, 24, 25_000, 50_000),
           ((9, 44_600), (18, 36_806)), "12-hour trolley waits (RCEM; Nuffield)"),
    Target("Share waiting under 18 weeks", (12, 20, 0.57, 0.59), ((13, 0.576), (19, 0.583)),
           "57.6% Feb 2024, 58.3% Aug 2024 (HF; NHSE)"),
    Target("Waiting over 52 weeks", (0, 12, 300_000, 450_000), ((0, 370_000),),
           "about 370,000 over 52 weeks, Jan 2023 (NHSE RTT) [verify]"),
    Target("Nurse FTE", (13, 15, 366_438 * 0.98, 366_438 * 1.02), ((14, 366_438),),
           "366,438 nurse FTE Mar 2024 (Nuffield)"),
    Target("Nurse leaver rate", None, ((-6, 0.115),), "11.5% a year, 2022 (Nuffield)"),
    Target("Sickness absence", None, ((-1, 0.056),), "5.6% in 2022 (Nuffield)"),
    Target("Care vacancy rate", (0, 3, 0.094, 0.106), ((-9, 0.106), (3, 0.099)),
           "10.6% 2021/22 -> 9.9% 2022/23 (Skills for Care)"),
    Target("Staff fatigue", None, (), "calibrated to absence and leaving (no direct data)"),
)  # fmt: skip

#: P1-P6: (experiment, scenario files, indicators the literature speaks about).
NHS_EXPERIMENTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("P1 beds vs downstream capacity", ("P1_extra_beds", "P1_care_packages"),
     ("Medically fit patients awaiting discharge", "Bed occupancy", "Handover hours lost")),
    ("P2 10% bed cut", ("P2_bed_cut",),
     ("Elective overnight admissions", "Mean wait for a bed", "RTT waiting list")),
    ("P3 admission avoidance", ("P3_admission_avoidance",),
     ("Emergency bed occupancy", "Bed occupancy", "Time to admit")),
    ("P4 social-care capacity", ("P4_care_capacity", "P4_zero_delayed_discharges"),
     ("Delayed discharges awaiting social care", "Medically fit patients awaiting discharge",
      "Bed occupancy")),
    ("P5 overtime vs retention", ("P5_overtime_surge", "P5_retention"),
     ("RTT waiting list", "Staff fatigue", "Nurse FTE")),
    ("P6 COVID shock, missing demand", ("P6_covid_low_return", "P6_covid_high_return"),
     ("RTT waiting list", "Share waiting under 18 weeks", "Deferred elective need")),
)  # fmt: skip

NHS_SOURCES = (
    "The sdhealth reference-model brief, shared/health/REFERENCE_MODEL.md: structure, loops, "
    "parameters, calibration figures and the policy experiments, with their sources.",
    "Wolstenholme E. (1999) System Dynamics Review 15(3):253-271; Wolstenholme E., Monk D., "
    "McKelvie D., Arnold S. (2007) Coping but not coping in health and social care. System "
    "Dynamics Review 23(4):371-389.",
    "Lane D.C., Monefeldt C., Rosenhead J.V. (2000) Journal of the Operational Research "
    "Society 51(5):518-531.",
    "Brailsford S.C. et al. (2004) JORS 55:34-45; Lattimer V. et al. (2004) Emergency "
    "Medicine Journal 21:685-691.",
    "Bagust A., Place M., Posnett J.W. (1999) BMJ 319:155-158.",
    "Gaughan J., Gravelle H., Siciliani L. (2015) Testing the bed-blocking hypothesis. "
    "Journal of Health Economics 40:31-41.",
    "Homer J.B. (1985) System Dynamics Review 1(1):42-62.",
    "Howlett N., Wood R. (2022) Value in Health 25(11).",
    "Figures: NHS England RTT, A&E and SitRep statistics; Nuffield Trust QualityWatch; Health "
    "Foundation; NHS Confederation; RCEM; AACE; Skills for Care; NHS Digital (dates in the "
    "parameter table).",
)


# --- Markdown pieces -------------------------------------------------------------------------


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _number(value: float) -> str:
    if value != value:  # NaN
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def parameters_markdown(model: sd.Model) -> str:
    """A Markdown table of the constants and lookups: value, units, meaning and source."""
    lines = ["| parameter | value | units | meaning | source |", "|---|---|---|---|---|"]
    for variable in model.ir.variables:
        if isinstance(variable, Constant):
            value = _number(variable.value)
        elif isinstance(variable, Lookup):
            value = "lookup"
        else:
            continue
        lines.append(
            f"| {_cell(variable.name)} | {value} | {_cell(variable.units)} | "
            f"{_cell(variable.doc)} | {_cell(variable.source)} |"
        )
    return "\n".join(lines)


def stocks_markdown(model: sd.Model) -> str:
    """A Markdown table of the stocks (not those made by compiling delays and smooths)."""
    lines = ["| stock | units | meaning |", "|---|---|---|"]
    for stock in model.ir.stocks:
        if not stock.internal:
            lines.append(f"| {_cell(stock.name)} | {_cell(stock.units)} | {_cell(stock.doc)} |")
    return "\n".join(lines)


def runs_markdown(
    runs: Mapping[str, pd.DataFrame], columns: Sequence[str], times: Sequence[float]
) -> str:
    """A Markdown table: one row per run, one column per (variable, time)."""
    header = ["run"] + [f"{c} @ {t:g}" for c in columns for t in times]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, frame in runs.items():
        cells = [_number(float(frame[c].loc[t])) for c in columns for t in times]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def _code(text: str) -> str:
    return "```text\n" + text + "\n```"


def _sources(sources: Sequence[str]) -> str:
    return "\n".join(f"- {source}" for source in sources)


# --- pictures --------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> None:
    write_with(path, lambda tmp: figure.savefig(tmp, format="png", dpi=90, bbox_inches="tight"))


def _runs_figure(
    runs: Mapping[str, pd.DataFrame], columns: Sequence[str], title: str, time_units: str
) -> Figure:
    ncols = 2 if len(columns) > 3 else len(columns)
    nrows = -(-len(columns) // ncols)
    figure = Figure(figsize=(5.5 * ncols, 3.4 * nrows), layout="constrained")
    axes_list = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for axes, column in zip(axes_list, columns, strict=False):
        for label, frame in runs.items():
            axes.plot(frame.index, frame[column], label=label)
        axes.set_title(column, fontsize=10)
        axes.set_xlabel(time_units)
        axes.grid(alpha=0.3)
    for axes in axes_list[len(columns) :]:
        axes.set_visible(False)
    axes_list[min(1, len(columns) - 1)].legend(fontsize=8)
    figure.suptitle(title)
    return figure


def _draw_cld(model: sd.Model, loops: Sequence[Loop], path: Path, nodes: set[str] | None) -> None:
    cld = model.cld()
    if nodes is not None:
        cld = sd.CausalLoopDiagram(nx.DiGraph(cld.graph.subgraph(nodes)), name=cld.name)
    cld.draw(path, loops=tuple(loops))


# --- teaching pages --------------------------------------------------------------------------


def build_teaching_page(page: TeachingPage) -> str:
    """Write the page, picture and plot of one teaching model; return its index line."""
    model = sd.load(MODELS / f"{page.stem}.yaml")
    loops = model.loops(max_loops=100)
    variables = {node for node, kind in model.cld().graph.nodes(data="kind") if kind != "constant"}
    _draw_cld(model, loops, IMAGES / f"{page.stem}_cld.png", variables)
    runs = {
        label: model.run(params=dict(params), backend=BACKEND)
        for label, params in page.runs.items()
    }
    figure = _runs_figure(runs, page.columns, model.name, model.time.units)
    if page.extra is not None:
        page.extra(figure, model, runs)
    _save(figure, IMAGES / f"{page.stem}_runs.png")
    issues = sd.check(model)
    text = f"""# {model.name}

<!-- Generated by docs/models/build.py from models/{page.stem}.yaml; do not edit. -->

Model file: [`models/{page.stem}.yaml`](../../models/{page.stem}.yaml). Tests:
`tests/models/test_teaching_models.py`. `sdhealth check`: {len(issues) or "no"} issues.

{model.ir.doc.strip()}

## Causal-loop diagram

![causal-loop diagram of {model.name}](img/{page.stem}_cld.png)

Links are drawn green (+) or red (&minus;); circled labels mark the loops below. Constants
are left out of the picture (they lie on no loop); the parameter table lists them.

## Feedback loops

{_code(loop_table(loops))}

{page.loop_notes}

## Stocks

{stocks_markdown(model)}

## Behaviour

{page.finding}

![runs of {model.name}](img/{page.stem}_runs.png)

{runs_markdown(runs, page.columns, page.table_times)}

Time in {model.time.units}s (dt = {model.time.dt:g}); the numbers are the model's, from the
runs above (native backend).

## Parameters and sources

{parameters_markdown(model)}

## Sources

{_sources(page.sources)}
"""
    write_text_atomic(PAGES / f"{page.stem}.md", text)
    return f"- [{model.name}]({page.stem}.md): {page.summary}."


# --- the NHS England page --------------------------------------------------------------------


def named_nhs_loops(model: sd.Model) -> list[Loop]:
    """The shortest loop matching each of the brief's loops, renamed B1-B4, R1-R4."""
    named = []
    for loop_id, (polarity, chain, _) in NHS_LOOPS.items():
        loop = trace_loop(model.cld(), chain)  # the chain in causal order, by shortest paths
        if loop is not None and loop.polarity == polarity:
            named.append(dataclasses.replace(loop, id=loop_id))
    return named


def _nhs_base_figure(base: pd.DataFrame) -> Figure:
    rows = -(-len(NHS_TARGETS) // 3)
    figure = Figure(figsize=(16, 3 * rows), layout="constrained")
    axes_list = figure.subplots(rows, 3).ravel()
    for spare in axes_list[len(NHS_TARGETS) :]:
        spare.set_visible(False)
    for axes, target in zip(axes_list, NHS_TARGETS, strict=False):
        series = base[target.column].loc[-12:48] / target.scale
        axes.plot(series.index, series, color="#1f4e79", label="model")
        if target.band is not None:
            t0, t1, low, high = target.band
            axes.fill_between([t0, t1], low / target.scale, high / target.scale, color="#f0a030",
                              alpha=0.3, label="calibration band")  # fmt: skip
        if target.points:
            times, values = zip(*target.points, strict=True)
            axes.plot(times, [v / target.scale for v in values], "o", color="#b22222", ms=4,
                      label="observed")  # fmt: skip
        unit = " (millions)" if target.scale == 1e6 else ""
        axes.set_title(f"{target.column}{unit}", fontsize=10)
        axes.text(0.01, 0.02, target.label, transform=axes.transAxes, fontsize=7, va="bottom")
        axes.set_xlabel("month (0 = Jan 2023)")
        axes.grid(alpha=0.3)
    axes_list[0].legend(fontsize=8)
    figure.suptitle("NHS England base run against the calibration figures")
    return figure


def _nhs_policy_figure(base: pd.DataFrame, runs: Mapping[str, pd.DataFrame]) -> Figure:
    figure = Figure(figsize=(26, 10), layout="constrained")
    grid = figure.subplots(3, len(NHS_EXPERIMENTS))
    for column, (title, scenarios, indicators) in enumerate(NHS_EXPERIMENTS):
        for row, indicator in enumerate(indicators):
            axes = grid[row][column]
            axes.plot(base.index, base[indicator], color="black", linewidth=1.2, label="base")
            for scenario in scenarios:
                axes.plot(runs[scenario].index, runs[scenario][indicator], label=scenario)
            axes.set_title(indicator, fontsize=9)
            axes.grid(alpha=0.3)
            if row == 0:
                axes.annotate(title, (0.5, 1.18), xycoords="axes fraction", ha="center",
                              fontsize=11, fontweight="bold")  # fmt: skip
                axes.legend(fontsize=7)
            if row == 2:
                origin = "Feb 2020" if title.startswith("P6") else "Jan 2023"  # P6 starts in 2020
                axes.set_xlabel(f"month (0 = {origin})")
    return figure


def _nhs_policy_table(base: pd.DataFrame, runs: Mapping[str, pd.DataFrame]) -> str:
    times = (24, 60, 96)
    lines = [
        "| experiment | scenario | indicator | "
        + " | ".join(f"base @ {t} | change @ {t}" for t in times) + " |",
        "|---|---|---|" + "---|---|" * len(times),
    ]  # fmt: skip
    for title, scenarios, indicators in NHS_EXPERIMENTS:
        for scenario in scenarios:
            for indicator in indicators:
                cells = []
                for t in times:
                    before, after = (
                        float(base[indicator].loc[t]),
                        float(runs[scenario][indicator].loc[t]),
                    )
                    change = f"{after / before - 1:+.1%}" if before else _number(after - before)
                    cells += [_number(before), change]
                lines.append(f"| {title} | {scenario} | {indicator} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scenario_list() -> str:
    lines = []
    for path in sorted(SCENARIOS.glob("P*.yaml")):
        scenario = load_scenario(path)
        lines.append(
            f"- **{path.stem}** ({scenario.name}): {' '.join(scenario.description.split())}"
        )
    return "\n".join(lines)


def _targets_markdown() -> str:
    lines = [
        "| indicator | band (months) | observed points (month: value) | source |",
        "|---|---|---|---|",
    ]
    for target in NHS_TARGETS:
        band = ""
        if target.band is not None:
            t0, t1, low, high = target.band
            band = f"{_number(low)}-{_number(high)} ({t0:g}-{t1:g})"
        points = ", ".join(f"{t:g}: {_number(v)}" for t, v in target.points)
        lines.append(f"| {target.column} | {band} | {points} | {_cell(target.label)} |")
    return "\n".join(lines)


def _p6_worst_case_markdown(worst: pd.DataFrame) -> str:
    """P6's worst case set beside Howlett & Wood's projection, with the reason for the gap."""
    autumn, summer = slice(31, 33), slice(40, 42)
    rows = [
        ("RTT waiting list, autumn 2022 (max, months 31-33)",
         f"{worst['RTT waiting list'].loc[autumn].max() / 1e6:.1f}m", "13.6m (12.4-15.6m)"),
        ("share under 18 weeks, summer 2023 (months 40-42)",
         f"{worst['Share waiting under 18 weeks'].loc[summer].mean():.1%}", "42.2% (37.4-46.2%)"),
        ("waiting over 52 weeks, summer 2023",
         f"{worst['Waiting over 52 weeks'].loc[summer].mean() / 1e6:.2f}m", "1.6m (0.8-3.1m)"),
        ("share leaving the list untreated, summer 2023",
         f"{worst['Share leaving the list untreated'].loc[summer].mean():.1%}",
         "29.0% (21.3-36.8%)"),
    ]  # fmt: skip
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    peak = worst["RTT waiting list"].loc[:60].max() / 1e6
    return f"""### P6 worst case against Howlett & Wood (2022)

Both P6 files keep the observed 2020-21 shock (capacity 0.6 of January 2023 for a year, half of
incident need deferred). The brief's ERM protocol taken literally (capacity -20%, so above
the halved referrals) makes the list fall to 0.7-2.3m during 2020, where it rose from 4.4m to
4.95m, and it then peaks near 8m whatever share returns (measured with this model).

`P6_covid_high_return` takes Howlett & Wood's assumptions from their data of November 2021
(month 21): 75% of the missed referrals return over about a year, elective capacity is held
at 90% of 2019 whatever the staffing, no extra sessions are added as waits grow, and
referrals do not fall as waits lengthen (demand is an assumption of theirs, not a feedback).

| indicator | model | Howlett & Wood (95% interval) |
|---|---|---|
{table}

The list heads toward their figure and reaches their interval only after autumn 2022 (peak
{peak:.1f}m by month 60). In this model removals and deterioration are
rates per waiting patient by wait band (under 18 weeks, 18-52, over 52), so the returning
patients start leaving the list at once, where a patient-level simulation's reneging grows
only as each patient's own wait lengthens. The tests accept 13m +-20% for the list in autumn
2022, a peak within their interval, and the published intervals for the other figures (the
share under 18 weeks only as "below 50%").
"""


def build_nhs_page() -> str:
    """Write the NHS England page, its pictures and plots; return its index line."""
    model = sd.load(MODELS / f"{NHS}.yaml")
    every_loop = model.loops()
    named = named_nhs_loops(model)
    nodes = {v for loop in named for v in loop.variables}
    _draw_cld(model, named, IMAGES / f"{NHS}_cld.png", nodes)
    columns = sorted(
        {t.column for t in NHS_TARGETS}
        | {c for e in NHS_EXPERIMENTS for c in e[2]}
        | {"Share leaving the list untreated"}
    )
    base = model.run(backend=BACKEND, return_columns=columns)
    runs = {
        path.stem: model.run(backend=BACKEND, scenario=path, return_columns=columns)
        for path in sorted(SCENARIOS.glob("P*.yaml"))
    }
    _save(_nhs_base_figure(base), IMAGES / f"{NHS}_base.png")
    _save(_nhs_policy_figure(base, runs), IMAGES / f"{NHS}_policies.png")
    kinds = {kind: sum(1 for lp in every_loop if lp.kind == kind) for kind in ("R", "B")}
    named_rows = "\n".join(
        f"| {loop.id} | {NHS_LOOPS[loop.id][2]} | {loop.length} | {loop.path} |" for loop in named
    )
    stocks = [s for s in model.ir.stocks if not s.internal]
    text = f"""# {model.name}

<!-- Generated by docs/models/build.py from models/{NHS}.yaml; do not edit. -->

Model file: [`models/{NHS}.yaml`](../../models/{NHS}.yaml) ({len(stocks)} stocks, {len(every_loop)}
feedback loops: {kinds["R"]} reinforcing, {kinds["B"]} balancing). Scenarios:
[`models/{NHS}/scenarios/`](../../models/{NHS}/scenarios/). Tests:
`tests/models/test_nhs_england.py`. Run it with `sdhealth run models/{NHS}.yaml`.

{model.ir.doc.strip()}

## Causal-loop diagram: the brief's loops

The model's full diagram has too many links to read; this picture shows only the variables on
the brief's eight named loops, each drawn as the shortest loop of the model that carries the
brief's causal chain (`sdhealth loops models/{NHS}.yaml` lists all {len(every_loop)}).

![the brief's loops in the NHS England model](img/{NHS}_cld.png)

| loop | name | links | path |
|---|---|---|---|
{named_rows}

{_code(loop_table(named))}

## Stocks

{stocks_markdown(model)}

## Base run against the calibration figures

Month 0 is January 2023. Shaded: the bands the tests assert; dots: published figures (a dot
before month 0 is a 2022 figure the model starts from).

![base run against calibration figures](img/{NHS}_base.png)

{_targets_markdown()}

## Policy experiments P1-P6

Each column is one experiment of the brief; black is the base run.

![policy experiments P1-P6 side by side](img/{NHS}_policies.png)

{_scenario_list()}

Changes against the base run (native backend):

{_nhs_policy_table(base, runs)}

{_p6_worst_case_markdown(runs["P6_covid_high_return"])}

## Parameters and sources

{parameters_markdown(model)}

## Sources

{_sources(NHS_SOURCES)}
"""
    write_text_atomic(PAGES / f"{NHS}.md", text)
    return (
        f"- [{model.name}]({NHS}.md): the calibrated whole-system model (elective, urgent and "
        "emergency care, discharge, social care, nursing workforce) with policy experiments P1-P6."
    )


# --- the index -------------------------------------------------------------------------------


def build_index(lines: Sequence[str]) -> None:
    text = (
        "# The model library\n\n<!-- Generated by docs/models/build.py; do not edit. -->\n\n"
        "Each page shows the model's causal-loop diagram, its feedback loops, runs that show its "
        "behaviour, its parameters with their sources, and the literature it follows. Rebuild "
        "the pages with `python docs/models/build.py`.\n\n## Reference model\n\n"
        + lines[0]
        + "\n\n## Teaching models\n\n"
        + "\n".join(lines[1:])
        + "\n"
    )
    write_text_atomic(PAGES / "index.md", text)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the pages named in ``argv`` (default: all) and the index."""
    wanted = list(argv if argv is not None else sys.argv[1:]) or [NHS, *TEACHING]
    IMAGES.mkdir(parents=True, exist_ok=True)
    lines = {}
    for name in wanted:
        lines[name] = build_nhs_page() if name == NHS else build_teaching_page(TEACHING[name])
    if set(lines) == {NHS, *TEACHING}:
        build_index([lines[NHS], *(lines[name] for name in TEACHING)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
