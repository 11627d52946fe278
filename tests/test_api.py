"""The Python API: ``simulate``, ``Results`` (steps, summary, save/load) and Mesa's batch_run."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulation import Results, layout as L, load_results, simulate
from simulation.mesa_engine import JourneyModel
from simulation.results import ResultsError
from simulation.scenario import apply_overrides

from .conftest import BASELINE, by_run

#: MODEL.md's per-step outputs, by name
MODEL_COLUMNS = ("seed", "step", "active", "cohort_active", "cohort_retention", "arrivals",
                 "churned", "mood", "expectation", "satisfaction", "trust", "effort", "nps",
                 "csat", "contacts", "served", "backlog", "wait", "resolution_rate", "caught",
                 "self_served", "burnout", "revenue", "cost", "profit")
SEEDS = [0, 3, 5, 11]


@pytest.fixture(scope="module")
def tiny(small):
    return apply_overrides(small, ["cohort=200", "horizon=40"])


@pytest.fixture(scope="module")
def results(tiny):
    variants = [tiny.with_strategy(s) for s in ("none", "reactive", "proactive")]
    return simulate(variants, seeds=SEEDS, root_seed=2, events=True)


def test_steps_has_one_row_per_variant_seed_and_step(results, tiny):
    steps = results.steps
    assert set(MODEL_COLUMNS) <= set(steps.columns)
    assert len(steps) == 3 * len(SEEDS) * (tiny.horizon + 1)
    assert not steps.duplicated(["variant", "seed", "step"]).any()
    assert results.labels == ["none", "reactive", "proactive"]
    for (variant, seed), run in steps.groupby(["variant", "seed"]):
        assert run["step"].tolist() == list(range(tiny.horizon + 1))
    for column in L.INTEGER_COLUMNS:
        assert steps[column].dtype.kind == "i", column


def test_seeds_as_a_count_are_0_to_n_minus_1(tiny):
    res = simulate(tiny, seeds=3)
    assert sorted(res.steps["seed"].unique()) == [0, 1, 2]
    assert res.labels == ["balanced"]


@pytest.mark.parametrize("bad", [dict(seeds=0), dict(seeds=[]), dict(seeds=[-1]),
                                 dict(engine="spark"), dict(labels=["a", "b"])])
def test_simulate_rejects_bad_arguments(tiny, bad):
    with pytest.raises(ValueError):
        simulate(tiny, **({"seeds": 2} | bad))


def test_summary_has_one_row_per_seed_with_totals(results, tiny):
    summary = results.summary()
    assert len(summary) == 3 * len(SEEDS)
    assert not summary.duplicated(["variant", "seed"]).any()
    assert {"profit_total", "profit_per_cost", "profit_npv", "spend_total", "revenue_total",
            "clv", "cohort_retention", "nps"} <= set(summary.columns)
    assert "roi" not in summary.columns  # renamed: it is not a return on the CX spend
    steps = results.steps
    for row in summary.itertuples():
        run = steps[(steps["variant"] == row.variant) & (steps["seed"] == row.seed)]
        assert row.step == tiny.horizon
        assert row.cohort_retention == run["cohort_retention"].iloc[-1]
        run = run[run["step"] > 0]  # totals are over the weeks lived, not the starting row
        assert row.profit_total == pytest.approx(run["profit"].sum())
        cost = run["cost"].sum()
        assert row.profit_per_cost == pytest.approx(row.profit_total / cost if cost > 0 else 0.0)
        assert row.spend_total == pytest.approx(run["spend"].sum())
        assert row.revenue_total == pytest.approx(run["revenue"].sum())
        rate = (1 + tiny.economics.annual_discount_rate) ** (1 / 52) - 1
        assert row.profit_npv == pytest.approx((run["profit"] / (1 + rate) ** run["step"]).sum())
        clv = (run["cohort_revenue"] / (1 + rate) ** run["step"]).sum() / tiny.cohort
        assert row.clv == pytest.approx(clv)
        assert row.clv > 0


def test_compare_pairs_runs_seed_by_seed(results):
    table = results.compare(["cohort_retention", "profit_total"], baseline="none")
    assert set(table["variant"]) == {"none", "reactive", "proactive"}
    summary = results.summary().set_index(["variant", "seed"])
    row = table[(table["variant"] == "proactive") & (table["output"] == "profit_total")].iloc[0]
    diff = (summary.loc["proactive", "profit_total"] - summary.loc["none", "profit_total"])
    assert row["diff"] == pytest.approx(diff.mean())
    # the paired t interval, computed here with scipy rather than with the code's own helper
    low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
    assert (row["diff_low"], row["diff_high"]) == pytest.approx((low, high))
    # the unpaired (Welch) half-width the narrowing factor divides by
    a, b = summary.loc["proactive", "profit_total"], summary.loc["none", "profit_total"]
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert row["unpaired_half_width"] == pytest.approx((welch.high - welch.low) / 2)
    assert row["narrowing"] == pytest.approx(row["unpaired_half_width"] / ((high - low) / 2))


def test_save_and_load_round_trip(results, tmp_path):
    folder = results.save(tmp_path / "res")
    loaded = load_results(folder)
    assert isinstance(loaded, Results)
    pd.testing.assert_frame_equal(loaded.steps, results.steps)
    pd.testing.assert_frame_equal(loaded.events.reset_index(drop=True),
                                  results.events.reset_index(drop=True))
    pd.testing.assert_frame_equal(loaded.summary(), results.summary())
    assert loaded.manifest == results.manifest
    assert loaded.manifest["labels"] == results.labels


@pytest.mark.parametrize("damage, fragment", [
    ("another_schema", "steps.parquet: columns"),
    ("fewer_rows", "steps.parquet: 1 rows where the manifest records"),
    ("same_shape_other_numbers", "steps.parquet: content differs"),
    ("missing_events", "events.parquet: missing"),
    ("foreign_manifest", "content differs"),
    ("edited_scenario", "scenarios: not valid scenarios"),
    ("older_format", "format: 1"),
])
def test_a_damaged_or_foreign_results_folder_is_refused_naming_the_file(results, tiny, tmp_path,
                                                                         damage, fragment):
    import json

    folder = results.save(tmp_path / "res")
    variants = [tiny.with_strategy(s) for s in ("none", "reactive", "proactive")]
    foreign = simulate(variants, seeds=SEEDS, root_seed=3).save(tmp_path / "other")
    manifest = json.loads((folder / "manifest.json").read_text())
    if damage == "another_schema":
        pd.DataFrame({"variant": ["x"], "seed": [0]}).to_parquet(folder / "steps.parquet")
    elif damage == "fewer_rows":
        results.steps.head(1).to_parquet(folder / "steps.parquet", index=False)
    elif damage == "same_shape_other_numbers":
        frame = results.steps.copy()
        frame["profit"] += 1.0
        frame.to_parquet(folder / "steps.parquet", index=False)
    elif damage == "missing_events":
        (folder / "events.parquet").unlink()
    elif damage == "foreign_manifest":
        (folder / "manifest.json").write_bytes((foreign / "manifest.json").read_bytes())
    elif damage == "edited_scenario":
        manifest["scenarios"][0]["cohort"] = float("inf")
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        manifest["format"] = 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=fragment):
        load_results(folder)


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match="no such results folder"):
        load_results(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match="manifest.json"):
        load_results(tmp_path / "empty")


def test_events_cover_the_cohort_and_every_newcomer(results, tiny):
    events = results.events
    steps = results.steps
    for (variant, seed), group in events.groupby(["variant", "seed"]):
        run = steps[(steps["variant"] == variant) & (steps["seed"] == seed)]
        # a warm start: customers who joined, and some who left, before week 0
        at_week_0 = (group["join_step"] <= 0) & (group["churn_step"] > 0)
        assert at_week_0.sum() == run["active"].iloc[0] == run["cohort_active"].iloc[0]
        assert (group["join_step"] > 0).sum() == run["arrivals"].sum()
        assert (group["churned"] & (group["churn_step"] > 0)).sum() == run["churned"].sum()
        assert set(group["segment"]) <= {s.name for s in tiny.segments}


def model_rows(rows: list[dict]) -> list[dict]:
    """batch_run gives one row per agent and step; keep one per run and step (model data)."""
    seen, kept = set(), []
    for row in rows:
        if (row["RunId"], row["Step"]) not in seen:
            seen.add((row["RunId"], row["Step"]))
            kept.append(row)
    return kept


def test_mesa_batch_run_works_with_a_scenario_path():
    rows = mesa.batch_run(JourneyModel, {"scenario": str(BASELINE), "seed": [1, 2]},
                          number_processes=1, iterations=1, data_collection_period=-1,
                          max_steps=3, display_progress=False)
    rows = model_rows(rows)
    assert [row["seed"] for row in rows] == [1, 2]
    for row in rows:
        assert row["Step"] == 3
        assert {"cohort_retention", "nps", "profit", "active"} <= set(row)
        assert 0 < row["cohort_retention"] <= 1
    assert rows[0]["satisfaction"] != rows[1]["satisfaction"]


def test_customer_reporters_do_not_shadow_the_model_outputs(tiny):
    model = JourneyModel(apply_overrides(tiny, ["cohort=20", "horizon=2"]))
    collector = model.datacollector
    assert collector.agent_reporters and collector.model_reporters
    assert not set(collector.agent_reporters) & set(collector.model_reporters)


def test_mesa_batch_run_with_a_scenario_object_equals_simulate(tiny):
    sc = apply_overrides(tiny, ["cohort=80", "horizon=12"])
    rows = mesa.batch_run(JourneyModel, {"scenario": [sc], "seed": [4], "root_seed": 2},
                          number_processes=1, data_collection_period=1, max_steps=1000,
                          display_progress=False)
    frame = pd.DataFrame(model_rows(rows)).sort_values("Step").reset_index(drop=True)
    # The model stops after its horizon (12 weeks) and batch_run reports every week, the
    # final one included
    assert frame["Step"].tolist() == list(range(13))
    reference = by_run(simulate(sc, seeds=[4], root_seed=2, engine="mesa").steps)
    # every model-level output, including the means that share a name with a customer's state
    for column in ("active", "cohort_retention", "mood", "satisfaction", "trust", "effort",
                   "nps", "profit"):
        np.testing.assert_array_equal(frame[column].to_numpy(),
                                      reference[column].to_numpy(), err_msg=column)