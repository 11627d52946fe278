"""Figures show the results' numbers: the plotted arrays equal the computed ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulation import load_scenario, simulate
from simulation import plots
from simulation.results import StudyResults, step_bands
from simulation.scenario import resolve_path


@pytest.fixture(scope="module")
def compared():
    sc = load_scenario(resolve_path("baseline"), ["cohort=150", "horizon=30"])
    return simulate([sc.with_strategy(s) for s in ("none", "reactive", "proactive")], seeds=6)


@pytest.mark.parametrize("kind", ["ci", "spread"])
def test_retention_curves_are_the_band_means_and_bounds(compared, kind):
    fig = plots.retention_figure(compared, kind)
    ax = fig.axes[0]
    bands = step_bands(compared.steps, "cohort_retention", kind)
    assert [line.get_label() for line in ax.lines] == [f"{v} (mean)" for v in compared.labels]
    for line, collection, label in zip(ax.lines, ax.collections, compared.labels):
        b = bands[bands["variant"] == label]
        np.testing.assert_array_equal(line.get_xdata(), b["step"].to_numpy())
        np.testing.assert_allclose(line.get_ydata(), b["mean"].to_numpy())
        ys = np.concatenate([p.vertices[:, 1] for p in collection.get_paths()])
        assert ys.min() == pytest.approx(b["low"].min()) and ys.max() == pytest.approx(b["high"].max())
        assert plots.BAND_LABEL[kind] in collection.get_label()
    assert ax.get_xlabel() == "week" and "share" in ax.get_ylabel()
    assert " vs ".join(compared.labels) in ax.get_title()
    plots.plt.close(fig)


def test_spread_band_is_the_10_90_percentiles(compared):
    bands = step_bands(compared.steps, "nps", "spread")
    last = compared.steps[(compared.steps["variant"] == "reactive") & (compared.steps["step"] == 30)]
    row = bands[(bands["variant"] == "reactive") & (bands["step"] == 30)].iloc[0]
    assert row["low"] == pytest.approx(np.percentile(last["nps"], 10))
    assert row["high"] == pytest.approx(np.percentile(last["nps"], 90))


def test_ci_band_is_the_t_interval(compared):
    bands = step_bands(compared.steps, "trust", "ci")
    last = compared.steps[(compared.steps["variant"] == "none") & (compared.steps["step"] == 20)]
    row = bands[(bands["variant"] == "none") & (bands["step"] == 20)].iloc[0]
    trust = last["trust"].to_numpy()
    low, high = stats.t.interval(0.95, len(trust) - 1, loc=trust.mean(), scale=stats.sem(trust))
    assert (row["mean"], row["low"], row["high"]) == pytest.approx((trust.mean(), low, high))


def test_cumulative_profit_panel_is_the_running_sum(compared):
    fig = plots.panels_figure(compared)
    ax = fig.axes[5]
    profit = compared.steps[compared.steps["variant"] == "proactive"]
    weekly = profit["profit"].where(profit["step"] > 0, 0.0)  # row 0 is no week lived
    expected = weekly.groupby(profit["seed"]).cumsum().groupby(profit["step"]).mean()
    np.testing.assert_allclose(ax.lines[2].get_ydata(), expected.to_numpy())
    assert "currency" in ax.get_ylabel()
    plots.plt.close(fig)


def test_frontier_marks_the_best_point():
    rng = np.random.default_rng(3)
    points = pd.DataFrame({"point": range(3), "label": ["a", "b", "c"],
                           "strategy.mix": [0.0, 0.5, 1.0]})
    runs = pd.DataFrame({"point": np.repeat(range(3), 20), "seed": np.tile(range(20), 3),
                         "cohort_retention": np.repeat([0.5, 0.8, 0.7], 20) + rng.normal(0, .01, 60),
                         "profit_total": np.repeat([3.0, 2.0, 1.0], 20) + rng.normal(0, .1, 60)})
    res = StudyResults(points=points, runs=runs, steps=pd.DataFrame({"step": [156]}),
                       manifest={"study": {"design": {"kind": "grid"}}})
    fig = plots.frontier_figure(res, "strategy.mix")
    retention_ax, profit_ax = fig.axes
    means = runs.groupby("point")["cohort_retention"].mean().to_numpy()
    np.testing.assert_allclose(retention_ax.lines[0].get_ydata(), means)
    best = np.asarray(retention_ax.collections[-1].get_offsets(), dtype=float)[0]
    np.testing.assert_allclose(best, [0.5, means[1]])
    assert np.asarray(profit_ax.collections[-1].get_offsets(), dtype=float)[0, 0] == 0.0
    plots.plt.close(fig)


def test_heatmap_cells_are_the_point_means():
    rng = np.random.default_rng(5)
    grid = [(b, m) for b in (500.0, 1000.0) for m in (0.0, 0.5, 1.0)]
    points = pd.DataFrame({"point": range(6), "label": [str(g) for g in grid],
                           "strategy.budget": [g[0] for g in grid],
                           "strategy.mix": [g[1] for g in grid]})
    runs = pd.DataFrame({"point": np.repeat(range(6), 10), "seed": np.tile(range(10), 6),
                         "cohort_retention": rng.uniform(0.5, 0.9, 60)})
    res = StudyResults(points=points, runs=runs, steps=pd.DataFrame({"step": [52]}),
                       manifest={"study": {"design": {"kind": "grid"}}})
    fig = plots.heatmap_figure(res, ["strategy.budget", "strategy.mix"])
    image = fig.axes[0].images[0].get_array()
    means = runs.groupby("point")["cohort_retention"].mean().to_numpy().reshape(2, 3)
    np.testing.assert_allclose(np.asarray(image), means)
    assert fig.axes[0].get_xlabel() == "strategy.mix"
    assert fig.axes[0].get_ylabel() == "strategy.budget"
    plots.plt.close(fig)
