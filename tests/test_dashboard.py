"""The dashboard's page rendered without a browser (``solara.render``, as Mesa tests its
own pages): the controls build the model, the buttons step and reset it, the panels draw
what the model holds."""

from __future__ import annotations

import time

import numpy as np
import pytest

solara = pytest.importorskip("solara", reason="the dashboard extra is not installed")
import ipyvuetify as v  # noqa: E402
import ipywidgets  # noqa: E402

from simulation import layout as L  # noqa: E402
from simulation.dashboard.app import dashboard  # noqa: E402
from simulation.dashboard.comparison import THESE_SETTINGS, comparison_variants  # noqa: E402
from simulation.dashboard.components import journey_caption  # noqa: E402
from simulation.dashboard.drawing import JourneyMapFigure, LivePanelsFigure  # noqa: E402
from simulation.dashboard.model import LiveJourneyModel, controls, initial_values  # noqa: E402
from simulation.scenario import apply_overrides  # noqa: E402


@pytest.fixture(scope="module")
def little(small):
    return apply_overrides(small, ["cohort=150", "horizon=12"])


@pytest.fixture
def page(little):
    """(the reactive model, the render context) of a freshly rendered page."""
    params = controls(little)
    model = solara.reactive(LiveJourneyModel(**initial_values(params)))

    @solara.component
    def Page():
        with solara.AppLayout():
            dashboard(model, params)

    _, rc = solara.render(Page(), handle_error=False)
    yield model, rc
    rc.close()


def button(rc, label: str):
    return rc.find(v.Btn, children=[label]).widget


def control(rc, kind, label: str):
    return rc.find(kind, label=label).widget


def caption(rc, name: str) -> str:
    return rc.find(class_=f"cxsim-{name}").widget.children[0]


def drawings(rc) -> list[bytes]:
    """The PNG frames the page shows now (the panels' images)."""
    return [found.value for found in rc.find(ipywidgets.Image).widgets]


def test_the_controls_start_at_the_scenario_and_build_it(little):
    model = LiveJourneyModel(**initial_values(controls(little)))
    assert model.scenario == little
    assert model.seed_index == 0


def test_each_control_reaches_the_scenario(little):
    model = LiveJourneyModel(little, strategy="mix", mix=0.25, budget=900, failure_scale=2.0,
                             desk_capacity=40, cohort=120, seed=7)
    sc = model.scenario
    assert (sc.strategy.mix, sc.strategy.budget, sc.desk.base_capacity, sc.cohort) == \
        (0.25, 900, 40, 120)
    assert [t.failure_rate for t in sc.touchpoints] == \
        pytest.approx([2.0 * t.failure_rate for t in little.touchpoints], abs=1e-15)
    assert model.seed_index == 7
    assert LiveJourneyModel(little, strategy="reactive", mix=0.9).scenario.strategy.name == \
        "reactive"  # the mix slider only counts for the 'mix' strategy


def test_step_advances_the_model_and_the_plots_show_its_weeks(page):
    model, rc = page
    first = model.value
    frames = drawings(rc)
    assert len(frames) == 2  # the journey map and the live plots
    for _ in range(3):
        button(rc, "Step").click()
    assert model.value is first and model.value.steps == 3
    assert caption(rc, "weeks") == "Weeks 0–3 shown: 4 weekly values per plot."
    redrawn = drawings(rc)
    assert all(a != b for a, b in zip(frames, redrawn))


def test_changing_controls_then_reset_builds_the_model_they_describe(page, little):
    model, rc = page
    button(rc, "Step").click()
    control(rc, v.Select, "Strategy").v_model = "proactive"
    control(rc, v.Slider, "Cohort size (customers)").v_model = 300
    control(rc, v.Slider, "Desk base capacity (contacts/week)").v_model = 35
    assert model.value.scenario.strategy.name == "balanced"  # nothing changes until Reset
    button(rc, "Reset").click()
    rebuilt = model.value
    assert rebuilt.steps == 0
    assert rebuilt.scenario.strategy.name == "proactive"
    assert rebuilt.scenario.cohort == 300 and rebuilt.row[L.O_ACTIVE] == rebuilt.row[
        L.O_COHORT_ACTIVE] == rebuilt.company[L.COHORT_SIZE]
    assert (rebuilt.ist[L.JOIN_STEP, :rebuilt.n_customers] <= 0).sum() == 300  # started with
    assert rebuilt.scenario.desk.base_capacity == 35
    assert caption(rc, "settings").startswith("This run: proactive strategy")
    assert caption(rc, "weeks") == "Weeks 0–0 shown: 1 weekly values per plot."


def test_the_band_panel_runs_the_batch_engine_and_goes_stale_on_new_settings(page):
    model, rc = page
    control(rc, v.Slider, "Seeds per strategy").v_model = 10
    button(rc, "Step").click()
    button(rc, "Run 10 seeds on the batch engine").click()
    deadline = time.monotonic() + 120
    while len(drawings(rc)) < 3:  # the bands' figure appears
        assert time.monotonic() < deadline, "the band panel did not finish in 120 s"
        time.sleep(0.2)
    control(rc, v.Select, "Strategy").v_model = "none"
    button(rc, "Reset").click()
    assert len(drawings(rc)) == 2
    rc.find(v.Alert, children=["The settings changed since the bands were run: "
                               "run them again."]).assert_single()


def test_the_comparison_puts_these_settings_first_and_each_other_strategy_once(little):
    variants, labels = comparison_variants(little)  # little's strategy is 'balanced'
    assert labels == [THESE_SETTINGS, "none", "reactive", "proactive", "service"]
    assert variants[0] == little and variants[3] == little.with_strategy("proactive")
    _, labels = comparison_variants(little.with_strategy("mix=0.3"))
    assert labels == [THESE_SETTINGS, "none", "reactive", "proactive", "balanced", "service"]


def test_the_journey_map_sizes_discs_by_customers_and_colours_them_by_failures(little):
    figure = JourneyMapFigure(little)
    customers = np.array([0, 10, 100, 0, 20, 5, 15, 0])
    failures = np.array([0, 1, 2, 0, 4, 0, 3, 0])
    figure.update(customers, failures)
    sizes = figure.discs.get_sizes()
    np.testing.assert_allclose(sizes - sizes.min(), 4000.0 * customers / customers.sum())
    np.testing.assert_allclose(figure.discs.get_array(), failures / np.maximum(customers, 1))
    assert figure.png()[:4] == b"\x89PNG"


def test_the_journey_caption_gives_the_counts_the_map_draws(little):
    model = LiveJourneyModel(little, failure_scale=3.0)
    for _ in range(2):
        model.step()
    text = journey_caption(model)
    customers, failures = model.customers_at(), model.failures
    # everyone active is at a touchpoint except this week's newcomers (they move next week)
    assert customers.sum() == model.row[L.O_ACTIVE] - model.row[L.O_ARRIVALS] > 0
    assert failures.sum() > 0
    assert text.startswith(f"Week 2: desk backlog {int(model.row[L.O_BACKLOG]):,}, ")
    for k, t in enumerate(little.touchpoints):
        assert f"{t.name} {customers[k]:,} ({failures[k]})" in text


def test_the_live_plots_hold_every_week_and_grow_their_scale(little):
    model = LiveJourneyModel(little, desk_capacity=0, strategy="none")
    figure = LivePanelsFigure(model.horizon)
    for _ in range(6):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    figure.update(frame, "t")
    drawn = {column: line for column, line in figure.lines}
    assert "contacts" in drawn and "backlog" in drawn
    for column, line in figure.lines:  # a week's flows from week 1 (row 0 is the start)
        first = 1 if column in L.WEEKLY_FLOW_COLUMNS else 0
        np.testing.assert_array_equal(line.get_xdata(), np.arange(first, 7))
        np.testing.assert_array_equal(line.get_ydata(), frame[column].to_numpy()[first:])
    assert drawn["contacts"].get_xdata()[0] == 1 and drawn["backlog"].get_xdata()[0] == 0
    desk = figure.axes[2]
    assert desk.get_ylim()[1] >= frame[["contacts", "backlog"]].to_numpy().max()


@pytest.mark.parametrize("args, message", [
    (["no_such_scenario.toml"], "no_such_scenario.toml: no such file"),
    (["baseline", "--port", "0"], "0 is not in the range 1<=x<=65535"),
])
def test_the_dashboard_command_refuses_bad_input_in_one_line(args, message):
    import subprocess

    from .conftest import CXSIM

    done = subprocess.run([CXSIM, "dashboard", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
