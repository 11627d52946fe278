"""The page: Mesa's SolaraViz with the dashboard's controls and panels.

``cxsim dashboard`` serves ``Page`` with ``solara run``; the scenario it starts from is
named in the environment variable ``CXSIM_DASHBOARD_SCENARIO`` (a path or a bundled name).
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import SolaraViz

from ..scenario import load_scenario, resolve_path
from .components import BandPanel, JourneyMap, LivePlots
from .model import LiveJourneyModel, controls, initial_values

SCENARIO_ENV = "CXSIM_DASHBOARD_SCENARIO"
TITLE = "cxsim: a customer journey, live"
PLAY_INTERVAL_MS = 10


def dashboard(model, params: dict):
    """SolaraViz over ``model`` (an instance or a solara.Reactive holding one)."""
    return SolaraViz(model, components=[JourneyMap, LivePlots, BandPanel], model_params=params,
                     name=TITLE, play_interval=PLAY_INTERVAL_MS)


@solara.component
def Page():
    """One browser session: its own model, built from the scenario the server was given."""
    params = solara.use_memo(
        lambda: controls(load_scenario(resolve_path(os.environ.get(SCENARIO_ENV, "baseline")))),
        [])
    model = solara.use_memo(lambda: LiveJourneyModel(**initial_values(params)), [])
    dashboard(model, params)
