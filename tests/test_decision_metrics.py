"""Decision metrics against a reference strategy, checked against the per-week tables by hand:
incremental profit, NPV, return on the extra spend and the payback week."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation import simulate
from simulation.decision_metrics import decision_table, paired_runs, payback_week
from simulation.scenario import load_scenario

from .conftest import BASELINE

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def results():
    sc = load_scenario(BASELINE, ["cohort=300", "horizon=40", "start.burn_in_weeks=10"],
                       scale_company=True)
    variants = [sc.with_strategy(s) for s in ("none", "reactive")]
    variants.append(load_scenario(BASELINE, [
        "cohort=300", "horizon=40", "start.burn_in_weeks=10",
        'strategy.phases=[{start=0, name="proactive", budget=100}, {start=20, name="none"}]'],
        scale_company=True))
    return simulate(variants, seeds=SEEDS, root_seed=11, labels=["none", "reactive", "cut"])


def test_payback_week_is_the_first_week_from_which_the_sum_stays_at_or_above_zero():
    assert payback_week(np.array([0.0, -5, -2, 2, 5])) == 3
    assert payback_week(np.array([0.0, 1, -1, 2])) == 3  # dipped below after week 1
    assert payback_week(np.array([0.0, 1, 2])) == 0      # never below
    assert math.isnan(payback_week(np.array([0.0, 1, -1])))  # below at the horizon


def test_decision_metrics_equal_sums_over_the_weekly_table(results):
    steps, rate = results.steps, 1.08 ** (1 / 52) - 1
    paired = paired_runs(results.summary(), "none", steps=steps).set_index(["variant", "seed"])
    assert len(paired) == 2 * len(SEEDS)
    for label in ("reactive", "cut"):
        for seed in SEEDS:
            columns = ["step", "profit", "revenue", "cost", "spend"]
            mine = steps.loc[(steps["variant"] == label) & (steps["seed"] == seed), columns]
            base = steps.loc[(steps["variant"] == "none") & (steps["seed"] == seed), columns]
            d = mine.set_index("step") - base.set_index("step")
            d = d[d.index > 0]
            row = paired.loc[(label, seed)]
            assert row.incremental_profit == pytest.approx(d["profit"].sum(), rel=1e-12)
            npv = sum(d.loc[w, "profit"] / (1 + rate) ** w for w in d.index)
            assert row.incremental_npv == pytest.approx(npv, rel=1e-12)
            assert row.incremental_spend == pytest.approx(d["spend"].sum(), rel=1e-12)
            other = d["cost"].sum() - d["spend"].sum()
            assert row.return_on_spend == pytest.approx(
                (d["revenue"].sum() - other) / d["spend"].sum(), rel=1e-9)
            total, last_below = 0.0, 0
            for w in d.index:
                total += d.loc[w, "profit"]
                last_below = w if total < 0 else last_below
            want = (float("nan") if last_below == d.index.max()
                    else (last_below + 1 if last_below else 0))
            got = row.payback_week
            assert (math.isnan(got) and math.isnan(want)) or got == want


def test_a_strategy_that_stops_spending_has_its_spend_in_the_first_phase_only(results):
    cut = results.steps[results.steps["variant"] == "cut"]
    assert (cut.loc[(cut["step"] >= 1) & (cut["step"] < 20), "spend"] == 100.0).all()
    assert (cut.loc[cut["step"] >= 20, "spend"] == 0.0).all()
    table = decision_table(results.summary(), "none", steps=results.steps).set_index("variant")
    assert table.loc["cut", "incremental_spend"] == pytest.approx(19 * 100.0)
    assert table.loc["cut", "seeds"] == len(SEEDS)
    assert 0.0 <= table.loc["reactive", "paid_back_share"] <= 1.0


def test_an_unknown_reference_is_refused(results):
    with pytest.raises(ValueError, match="reference strategy 'nobody' was not run"):
        paired_runs(results.summary(), "nobody")


def test_compare_reports_the_decision_metrics_against_its_first_strategy(tmp_path):
    import json
    import subprocess

    from simulation.results import load_results

    from .conftest import CXSIM

    out = tmp_path / "cmp"
    done = subprocess.run([CXSIM, "compare", str(BASELINE), "--set", "cohort=120", "--set",
                           "horizon=12", "--set", "start.burn_in_weeks=4", "--set",
                           'strategy.phases=[{start=0, name="reactive"}, {start=6, '
                           'name="proactive"}]', "--seeds", "3",
                           "--strategies", "none,proactive,scenario", "--json", "--out",
                           str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    told = json.loads(done.stdout)["decision_metrics"]
    # "scenario" is the scenario's own strategy: here its phases
    assert told["reference"] == "none" and set(told["variants"]) == {"proactive", "phased"}
    res = load_results(out)
    assert res.steps.loc[res.steps["variant"] == "phased", "phase"].max() == 1
    table = decision_table(res.summary(), "none", steps=res.steps).set_index("variant")
    for label in ("proactive", "phased"):
        for key in ("incremental_profit", "incremental_npv", "return_on_spend"):
            assert told["variants"][label][key] == pytest.approx(table.loc[label, key])
