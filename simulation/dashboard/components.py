"""The page's panels as solara components. Each takes the live model, redraws when Mesa's
update counter ticks (after every step or reset), and renders one frame per week shown."""

from __future__ import annotations

import solara
import solara.lab
from mesa.visualization.utils import update_counter

from .. import layout as L
from .comparison import run_comparison
from .drawing import BandsFigure, JourneyMapFigure, LivePanelsFigure

DEFAULT_BAND_SEEDS = 100


def weeks_caption(frame) -> str:
    """What the live plots hold, in words (also what the browser test reads)."""
    return f"Weeks 0–{frame.index[-1]} shown: {len(frame)} weekly values per plot."


def settings_caption(model) -> str:
    """The live run's settings as the model holds them (the controls apply on Reset)."""
    sc = model.scenario
    return (f"This run: {sc.strategy.label} strategy, budget {sc.budget():,.0f} a week, "
            f"failure rates ×{model.controls['failure_scale']:g}, desk capacity "
            f"{sc.desk.base_capacity} contacts a week, {sc.cohort:,} customers, seed "
            f"{model.seed_index}. Changed controls apply on Reset.")


def live_title(model) -> str:
    return (f"Live run: {model.scenario.strategy.label} strategy, seed {model.seed_index}, "
            f"week {model.week} of {model.horizon}")


def _frame(figure, update, model):
    """The figure's current frame as an image, rendered once per model and week."""
    def render():
        update()
        return figure.png()

    solara.Image(solara.use_memo(render, [figure, model, model.steps]), width="100%")


def journey_caption(model) -> str:
    """This week's numbers behind the journey map."""
    customers, failures = model.customers_at(), model.failures
    here = ", ".join(f"{t.name} {customers[k]:,} ({failures[k]})"
                     for k, t in enumerate(model.scenario.touchpoints))
    return (f"Week {model.week}: desk backlog {int(model.row[L.O_BACKLOG]):,}, "
            f"{int(model.row[L.O_CONTACTS]):,} contacts. Customers at each touchpoint "
            f"(failed visits): {here}.")


@solara.component
def JourneyMap(model):
    """The touchpoint network: customers at each touchpoint and its failures this week."""
    update_counter.get()
    figure = solara.use_memo(lambda: JourneyMapFigure(model.scenario), [model])
    _frame(figure, lambda: figure.update(model.customers_at(), model.failures), model)
    solara.Text(journey_caption(model), classes=["cxsim-journey"])


@solara.component
def LivePlots(model):
    """Retention, NPS, desk contacts and backlog, burnout: the live run week by week."""
    update_counter.get()
    frame = model.datacollector.get_model_vars_dataframe()
    figure = solara.use_memo(lambda: LivePanelsFigure(model.horizon), [model])
    _frame(figure, lambda: figure.update(frame, live_title(model)), model)
    with solara.Column(gap="6px"):
        solara.Text(weeks_caption(frame), classes=["cxsim-weeks"])
        solara.Text(settings_caption(model), classes=["cxsim-settings"])


@solara.component
def BandPanel(model):
    """Runs the live settings and the named strategies for N seeds on the batch engine and
    draws their bands beside the live run."""
    update_counter.get()
    seeds, set_seeds = solara.use_state(DEFAULT_BAND_SEEDS)
    task = solara.lab.use_task(
        lambda: (model.scenario, run_comparison(model.scenario, seeds, model.root_seed)),
        dependencies=None)
    with solara.Column():
        with solara.Row():
            solara.SliderInt("Seeds per strategy", value=seeds, on_value=set_seeds, min=10,
                             max=1000, step=10)
            solara.Button(f"Run {seeds} seeds on the batch engine", color="primary",
                          on_click=task, disabled=task.pending)
        solara.ProgressLinear(task.pending)
        result = task.value if task.finished else None
        if task.error:
            solara.Error(f"The batch run failed: {task.exception}")
        elif result is not None and result[0] == model.scenario:
            Bands(model, result[1])
        elif result is not None:
            solara.Info("The settings changed since the bands were run: run them again.")
        else:
            solara.Info("Run the live settings and the named strategies for many seeds to "
                        "see where the live run falls among them.")


@solara.component
def Bands(model, results):
    figure = solara.use_memo(lambda: BandsFigure(results), [results])
    _frame(figure, lambda: figure.update(model.datacollector.get_model_vars_dataframe()),
           model)
