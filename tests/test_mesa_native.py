"""The Mesa engine as a Mesa user drives it: ``mesa.batch_run`` sweeps, seeds and reporters."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest

from simulation import layout as L
from simulation import load_scenario, simulate
from simulation.mesa_engine import JourneyModel
from simulation.scenario import ScenarioError, apply_overrides

from .conftest import BASELINE, FLOAT_COLUMNS

MODEL_ONLY = {"customer_reporters": False}


def batch_run(parameters: dict, **kwargs) -> pd.DataFrame:
    rows = mesa.batch_run(JourneyModel, parameters, number_processes=1,
                          display_progress=False, **kwargs)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def few(small):
    return apply_overrides(small, ["cohort=60", "horizon=6"])


def assert_equals_simulate(frame: pd.DataFrame, steps: pd.DataFrame) -> None:
    """Every output column: integers exactly, floats to 1e-9 (the engines' promise)."""
    for column in L.STEP_COLUMNS:
        got = frame["Step" if column == "step" else column].to_numpy()
        want = steps[column].to_numpy()
        if column in FLOAT_COLUMNS:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=column)
        else:
            np.testing.assert_array_equal(got.astype(np.int64), want.astype(np.int64),
                                          err_msg=column)


def test_batch_run_on_the_baseline_ends_at_the_horizon_and_equals_simulate():
    """The issue's first move: the week of the third yearly renewal (156) is collected."""
    frame = batch_run({"scenario": str(BASELINE), "seed": [0], "strategy": ["none"],
                       "cohort": 300, **MODEL_ONLY}, data_collection_period=1)
    assert frame["Step"].tolist() == list(range(157))
    sc = load_scenario(BASELINE, ["cohort=300"]).with_strategy("none")
    steps = simulate(sc, seeds=[0]).steps.sort_values("step").reset_index(drop=True)
    assert_equals_simulate(frame, steps)
    assert (frame["seed"] == 0).all()


def test_batch_run_default_period_gives_the_final_week(few):
    frame = batch_run({"scenario": [few], "seed": [3], **MODEL_ONLY})
    assert frame["Step"].tolist() == [few.horizon]
    final = simulate(few, seeds=[3]).steps.iloc[[-1]].reset_index(drop=True)
    assert_equals_simulate(frame, final)


def test_a_model_without_a_seed_draws_one_and_the_drawn_seed_reruns_it(few):
    frame = batch_run({"scenario": [few], **MODEL_ONLY}, iterations=3)
    final = frame[frame["Step"] == few.horizon].reset_index(drop=True)
    assert len(final) == 3
    assert final["seed"].nunique() == 3  # three replicates, three seeds
    assert final[["satisfaction", "trust", "mood"]].drop_duplicates().shape[0] == 3
    for _, row in final.iterrows():  # each drawn seed is the batch engine's run of that index
        again = simulate(few, seeds=[int(row["seed"])]).steps.iloc[-1]
        assert row["active"] == again["active"]
        assert row["satisfaction"] == pytest.approx(again["satisfaction"], abs=1e-9)


def test_an_explicit_seed_gives_the_same_run_every_time(few):
    frame = batch_run({"scenario": [few], "seed": 5, **MODEL_ONLY}, iterations=2)
    first, second = (g.drop(columns=["RunId", "iteration"]).reset_index(drop=True)
                     for _, g in frame.groupby("iteration"))
    pd.testing.assert_frame_equal(first, second)


def test_scenario_fields_are_swept_as_keywords(few):
    launch = apply_overrides(few, ["start.mode=launch"])  # week 0's customers: the cohort
    frame = batch_run({"scenario": [launch], "seed": 1, "cohort": [30, 90], "horizon": [2, 4],
                       **MODEL_ONLY}, data_collection_period=1)
    for (cohort, horizon), run in frame.groupby(["cohort", "horizon"]):
        assert run["Step"].max() == horizon
        assert run.loc[run["Step"] == 0, "active"].item() == cohort
    assert frame.groupby(["cohort", "horizon"]).ngroups == 4


def test_keywords_equal_the_same_fields_set_on_the_scenario(few):
    model = JourneyModel(few, seed=0, cohort=70, horizon=5, mix=0.3, budget=1500,
                         overrides={"desk.base_capacity": 12,
                                    "touchpoints.*.failure_rate*": 2,
                                    "touchpoints.delivery.quality": 0.5})
    expected = apply_overrides(few, ["touchpoints.*.failure_rate*=2", "desk.base_capacity=12",
                                     "touchpoints.delivery.quality=0.5", "cohort=70",
                                     "horizon=5", "strategy.mix=0.3", "strategy.budget=1500"])
    assert model.scenario == expected
    assert JourneyModel(few, seed=0, strategy="proactive").scenario == \
        few.with_strategy("proactive")


def test_a_bad_keyword_value_names_the_field(few):
    with pytest.raises(ScenarioError, match="cohort"):
        JourneyModel(few, seed=0, cohort=0)
    with pytest.raises(ScenarioError, match="desk.base_capacity"):
        JourneyModel(few, seed=0, overrides={"desk.base_capacity": -3})
    with pytest.raises(ValueError, match="strategy or mix"):
        JourneyModel(few, seed=0, strategy="reactive", mix=0.2)


def test_the_overrides_mapping_changes_the_run(few):
    closed = batch_run({"scenario": [few], "seed": 2, "overrides": [{"desk.base_capacity": 0}],
                        "strategy": "none", **MODEL_ONLY}, data_collection_period=1)
    assert (closed["served"] == 0).all() and closed["backlog"].max() > 0


def test_customer_reporters_can_be_switched_off(few):
    with_customers = batch_run({"scenario": [few], "seed": 1})
    without = batch_run({"scenario": [few], "seed": 1, **MODEL_ONLY})
    assert len(without) == 1
    assert len(with_customers) == with_customers["AgentID"].nunique() > 1
    assert "AgentID" not in without and "customer_mood" not in without
    shared = [c for c in without.columns if c != "customer_reporters"]
    assert (with_customers[shared].iloc[0] == without[shared].iloc[0]).all()


def test_the_journey_map_counts_failures_at_each_touchpoint(few):
    """Every visit fails at failure rate 1 without reliability spending, none at rate 0."""
    always = JourneyModel(few, seed=0, strategy="none",
                          overrides={"touchpoints.*.failure_rate": 1.0})
    never = JourneyModel(few, seed=0, strategy="none",
                         overrides={"touchpoints.*.failure_rate": 0.0})
    for _ in range(3):
        visitors = always.active_ids()  # everyone active when the week starts visits
        always.step()
        never.step()
        visits = np.bincount(always.ist[L.TOUCHPOINT, visitors],
                             minlength=len(always.failures))
        np.testing.assert_array_equal(always.failures, visits)
        assert never.failures.sum() == 0


def test_the_model_stops_on_the_call_after_its_horizon(few):
    model = JourneyModel(few, seed=0, customer_reporters=False)
    for week in range(1, few.horizon + 1):
        model.step()
        assert model.running and model.week == week
    rows = len(model.datacollector.get_model_vars_dataframe())
    model.step()
    assert not model.running
    assert len(model.datacollector.get_model_vars_dataframe()) == rows == few.horizon + 1
