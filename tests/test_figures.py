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
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count(f"shaded: {plots.BAND_LABEL[kind]}") == 1  # once, not per variant
    assert ax.get_xlabel() == "week" and "share" in ax.get_ylabel()
    assert " vs ".join(compared.labels) in ax.get_title()
    plots.plt.close(fig)


def test_spread_band_is_the_10_90_percentiles(compared):
    bands = step_bands(compared.steps, "nps", "spread")
    last = compared.steps[(compared.steps["variant"] == "reactive") & (compared.steps["step"] == 30)]
    row = bands[(bands["variant"] == "reactive") & (bands["step"] == 30)].iloc[0]
    assert row["low"] == pytest.approx(np.percentile(last["nps"], 10))
    assert row["high"] == pytest.approx(np.percentile(last["nps"], 90))


@pytest.mark.parametrize("column", ["trust", "profit"])
def test_ci_band_is_the_interval_of_the_mean_within_the_range(compared, column):
    """Trust (0-1) gets the bounded interval; profit, unbounded, the plain t interval."""
    bands = step_bands(compared.steps, column, "ci")
    last = compared.steps[(compared.steps["variant"] == "none") & (compared.steps["step"] == 20)]
    row = bands[(bands["variant"] == "none") & (bands["step"] == 20)].iloc[0]
    values = last[column].to_numpy()
    mean = values.mean()
    half = stats.t.ppf(0.975, len(values) - 1) * stats.sem(values)
    if column == "trust":  # the t interval on the logit scale (delta method), mapped back
        z = np.log(mean / (1 - mean))
        dz = half / (mean * (1 - mean))
        low, high = 1 / (1 + np.exp(-(z - dz))), 1 / (1 + np.exp(-(z + dz)))
    else:
        low, high = mean - half, mean + half
    assert (row["mean"], row["low"], row["high"]) == pytest.approx((mean, low, high))


def test_invisible_bands_are_not_in_the_legend(compared):
    """One seed: every band has zero width, so the legend lists the lines only and the
    title says the interval is narrower than the lines."""
    one = compared.steps[compared.steps["seed"] == 0]
    res = type(compared)(steps=one, manifest=compared.manifest)
    fig = plots.retention_figure(res)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [f"{v} (mean)" for v in compared.labels]
    assert "narrower than the lines" in fig.axes[0].get_title()
    plots.plt.close(fig)


def test_cumulative_profit_panel_is_the_running_sum(compared):
    fig = plots.panels_figure(compared)
    ax = fig.axes[5]
    profit = compared.steps[compared.steps["variant"] == "proactive"]
    weekly = profit["profit"].where(profit["step"] > 0, 0.0)  # row 0 is no week lived
    expected = weekly.groupby(profit["seed"]).cumsum().groupby(profit["step"]).mean()
    np.testing.assert_allclose(ax.lines[2].get_ydata(), expected.to_numpy())
    assert "currency" in ax.get_ylabel()
    plots.plt.close(fig)


def test_a_weekly_flow_is_drawn_from_week_1_and_a_state_from_week_0(compared):
    """Row 0 is the start, before any week: its contacts are 0 because no week has passed,
    not because none were made, so the contacts panel starts at week 1 (its means those of
    weeks 1 ..); trust is a state, measured at week 0 too."""
    fig = plots.panels_figure(compared)
    trust, contacts = fig.axes[2], fig.axes[4]
    assert "contacts" in contacts.get_ylabel() and "trust" in trust.get_ylabel()
    proactive = compared.steps[compared.steps["variant"] == "proactive"]
    weekly = proactive[proactive["step"] > 0].groupby("step")["contacts"].mean()
    np.testing.assert_array_equal(contacts.lines[2].get_xdata(), weekly.index.to_numpy())
    np.testing.assert_allclose(contacts.lines[2].get_ydata(), weekly.to_numpy())
    assert trust.lines[2].get_xdata()[0] == 0
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
    labels = [t.get_text() for t in profit_ax.get_legend().get_texts()]
    assert any("an end of the possible range" in t for t in labels)  # best at mix 0
    labels = [t.get_text() for t in retention_ax.get_legend().get_texts()]
    assert not any("range" in t for t in labels)  # best in the middle
    plots.plt.close(fig)


def test_frontier_draws_the_reference_and_flags_a_best_point_at_the_edge():
    rng = np.random.default_rng(4)
    points = pd.DataFrame({"point": range(3), "label": ["a", "b", "c"],
                           "desk.base_capacity": [60.0, 90.0, 120.0]})
    runs = pd.DataFrame({"point": np.repeat(range(4), 20), "seed": np.tile(range(20), 4),
                         "cohort_retention": np.repeat([0.5, 0.6, 0.7, 0.65], 20)
                         + rng.normal(0, .01, 80),
                         "profit_total": np.repeat([1.0, 2.0, 3.0, 9.0], 20)})
    res = StudyResults(points=points, runs=runs, steps=pd.DataFrame({"step": [52]}),
                       manifest={"study": {"design": {"kind": "grid"}}},
                       reference=pd.Series({"point": 3, "label": "none (reference)"}))
    fig = plots.frontier_figure(res, "desk.base_capacity")
    retention_ax, profit_ax = fig.axes
    reference = [line for line in profit_ax.lines if line.get_label().startswith("none")][0]
    np.testing.assert_allclose(reference.get_ydata(), [9.0, 9.0])  # above every point
    assert len(retention_ax.lines[0].get_xdata()) == 3  # the reference is no point on the line
    labels = [t.get_text() for t in retention_ax.get_legend().get_texts()]
    assert any("edge of the range studied" in t for t in labels)
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
    # coloured by the strategy's effect: the difference to mix 0 in the same row
    np.testing.assert_allclose(np.asarray(image), means - means[:, :1])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert plots._short(means[1, 2]) in texts[5]  # the cell still prints the mean
    assert fig.axes[0].get_xlabel() == "strategy.mix"
    assert fig.axes[0].get_ylabel() == "strategy.budget"
    plots.plt.close(fig)


def test_heatmap_without_a_strategy_parameter_shows_the_means():
    grid = [(b, c) for b in (0.5, 1.0) for c in (60, 90)]
    points = pd.DataFrame({"point": range(4), "label": [str(g) for g in grid],
                           "churn.effort": [g[0] for g in grid],
                           "desk.base_capacity": [g[1] for g in grid]})
    runs = pd.DataFrame({"point": np.repeat(range(4), 5), "seed": np.tile(range(5), 4),
                         "cohort_retention": np.linspace(0.5, 0.9, 20)})
    res = StudyResults(points=points, runs=runs, steps=pd.DataFrame({"step": [52]}),
                       manifest={"study": {"design": {"kind": "grid"}}})
    fig = plots.heatmap_figure(res, ["churn.effort", "desk.base_capacity"])
    means = runs.groupby("point")["cohort_retention"].mean().to_numpy().reshape(2, 2)
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), means)
    plots.plt.close(fig)


def test_morris_axis_of_money_has_no_offset_text():
    table = pd.DataFrame({"output": ["profit_total"] * 2, "parameter": ["a", "b"],
                          "mu_star": [2.5e6, 1.2e6], "mu_star_conf": [1e5, 3e6],
                          "sigma": [1.0, 1.0], "warning": ["", "CI as wide as mu*"]})
    fig = plots.sensitivity_figure(table, "morris")
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.xaxis.get_offset_text().get_text() == ""
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b (!)"]
    assert "too small to trust" in fig._suptitle.get_text()
    plots.plt.close(fig)
