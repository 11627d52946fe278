"""Per-customer diagnostics: they change no trajectory, both engines record the same rows,
and the tables add up to the weekly columns they explain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulation import layout as L
from simulation import load_results, load_scenario, simulate
from simulation.diagnose import diagnose
from simulation.diagnostics import SEGMENT_COLUMNS, Diagnostics

from .conftest import BASELINE, assert_frames_identical
from .test_engines import BUNDLED, bundled_variants

# a launch: the episodes' identities with the weekly columns are exact only when no issue
# straddles week 0 (a warm start's burn-in is covered in test_start_and_frontline.py)
SMALL = ["cohort=200", "horizon=50", "start.mode=launch"]
#: a busy desk, frequent failures, early silent exits: every kind of ending happens
STRESSED = SMALL + ["touchpoints.*.failure_rate*=3", "desk.base_capacity=6",
                    "churn.silent_effort=1"]


@pytest.fixture(scope="module")
def stressed():
    sc = load_scenario(BASELINE, STRESSED)
    return simulate(sc, seeds=[0, 1, 2], diagnostics=True)


def _model_columns(steps: pd.DataFrame) -> pd.DataFrame:
    return steps[["variant", "seed", *L.STEP_COLUMNS]]


def test_recording_changes_no_trajectory(stressed):
    sc = load_scenario(BASELINE, STRESSED)
    plain = simulate(sc, seeds=[0, 1, 2], events=True)
    recorded = simulate(sc, seeds=[0, 1, 2], events=True,
                        diagnostics=Diagnostics(sample=0.5, max_rows=300))
    assert _model_columns(plain.steps).equals(_model_columns(recorded.steps))
    assert _model_columns(plain.steps).equals(_model_columns(stressed.steps))
    assert plain.events.equals(recorded.events)
    assert recorded.manifest["diagnostics"]["dropped"]["episodes"] > 0  # the cap bit


def test_every_ending_occurs_and_outcomes_are_consistent(stressed):
    ep = stressed.episodes
    assert set(ep["outcome"]) == {"open", "self_service", "desk", "left", "faded"}
    horizon = 50
    assert (ep.loc[ep["outcome"] == "open", "closed"] == horizon).all()
    assert (ep["weeks_open"] == ep["closed"] - ep["opened"]).all()
    assert (ep["weeks_open"] >= 0).all()
    assert (ep["voiced"] == (ep["desk_contacts"] > 0)).all()
    desk = ep[ep["outcome"] == "desk"]
    assert (desk["served"] >= 1).all() and (desk["desk_contacts"] >= 1).all()
    # a served contact was a contact: never more services than contacts
    assert (ep["served"] <= ep["desk_contacts"]).all()
    # voice is decided once per issue: a contact beyond the first follows an unresolved service
    assert (ep["desk_contacts"] <= 1 + ep["served"]).all()
    assert (ep.loc[ep["outcome"] == "desk", "desk_contacts"] == ep.loc[
        ep["outcome"] == "desk", "served"]).all()
    assert (ep["gave_up"] <= 1).all()
    # a given-up issue is lived with: never resolved by the desk, never self-served later
    assert not ep.loc[ep["gave_up"] == 1, "outcome"].isin(["desk", "self_service"]).any()
    # an issue that faded was lived with: never voiced, or given up
    faded = ep[ep["outcome"] == "faded"]
    assert ((faded["desk_contacts"] == 0) | (faded["gave_up"] == 1)).all()
    # self-service is the first response: it closes an issue in the week it opened
    assert (ep.loc[ep["outcome"] == "self_service", "weeks_open"] == 0).all()
    assert ep.loc[ep["outcome"] == "open", "satisfaction_after"].isna().all()
    assert ep.loc[ep["outcome"] != "open", "satisfaction_after"].between(0, 1).all()
    # one episode opens per customer and week, at most one decision per customer and week
    assert not ep.duplicated(["variant", "seed", "customer", "opened"]).any()
    dec = stressed.decisions
    assert not dec.duplicated(["variant", "seed", "customer", "week"]).any()
    silent = dec[dec["kind"] == "silent_exit"]
    assert len(silent) > 0 and silent["left"].all() and silent["peak_end"].isna().all()


def test_episodes_reproduce_failures_contacts_self_service_and_resolution(stressed):
    steps, ep = stressed.steps, stressed.episodes
    for seed, weeks in steps.groupby("seed"):
        mine = ep[ep["seed"] == seed]
        assert mine["desk_contacts"].sum() == weeks["contacts"].sum()
        assert mine["served"].sum() == weeks["served"].sum()
        weeks = weeks.set_index("step")
        np.testing.assert_array_equal(
            mine.groupby("opened").size().reindex(weeks.index, fill_value=0),
            weeks["failures"])
        self_served = mine[mine["outcome"] == "self_service"].groupby("closed").size()
        resolved = mine[mine["outcome"] == "desk"].groupby("closed").size()
        np.testing.assert_array_equal(
            self_served.reindex(weeks.index, fill_value=0), weeks["self_served"])
        np.testing.assert_array_equal(
            resolved.reindex(weeks.index, fill_value=0),
            np.rint(weeks["resolution_rate"] * weeks["served"]).astype(int))


def test_decisions_reproduce_churned(stressed):
    steps, dec = stressed.steps, stressed.decisions
    for seed, weeks in steps.groupby("seed"):
        left = dec[(dec["seed"] == seed) & dec["left"]].groupby("week").size()
        np.testing.assert_array_equal(left.reindex(weeks["step"], fill_value=0),
                                      weeks["churned"])


def test_an_episode_row_holds_the_issue_and_the_customers_state_in_its_ranges(stressed):
    """An issue's severity is a uniform draw in [0, 1), or the largest of them when a second
    failure worsened it; satisfaction before lies in [0, 1] (a missing field would be NaN)."""
    ep = stressed.episodes
    assert len(ep) > 0
    assert ((ep["severity"] >= 0.0) & (ep["severity"] < 1.0)).all()
    assert ep["satisfaction_before"].between(0.0, 1.0).all()
    # the largest of two uniform draws has mean 2/3: worsened issues lift the mean above 1/2
    # (the stressed run has about 2,100 episodes: the mean's standard error is about 0.006,
    # and the mean lands at 0.53, 4.5 of them above 1/2)
    assert 0.5 < ep["severity"].mean() < 2.0 / 3.0


def test_a_decision_row_holds_the_customers_state_in_its_ranges(stressed):
    """Satisfaction and trust lie in [0, 1] and effort is at least 0 in every row; a
    decision's peak-end satisfaction and probability lie in [0, 1], a silent exit has no
    peak-end (NaN) and the silent-exit rate as its probability."""
    dec = stressed.decisions
    assert len(dec) > 0
    for column in ("satisfaction", "trust"):
        assert dec[column].between(0.0, 1.0).all(), column
    assert (dec["effort"] >= 0.0).all()
    decision = dec[dec["kind"] == "decision"]
    assert decision["peak_end"].between(0.0, 1.0).all()
    assert decision["churn_probability"].between(0.0, 1.0).all()
    silent = dec[dec["kind"] != "decision"]
    assert silent["peak_end"].isna().all()
    assert silent["churn_probability"].between(0.0, 1.0).all()


def test_segment_columns_add_up_to_the_totals(stressed):
    steps = stressed.steps
    names = stressed.manifest["diagnostics"]["segments"]
    for column in ("active", "arrivals", "cohort_active"):
        total = sum(steps[f"{column}:{n}"] for n in names)
        assert (total == steps[column]).all(), column
    revenue = sum(steps[f"revenue:{n}"] for n in names)
    np.testing.assert_allclose(revenue, steps["revenue"], rtol=1e-12)
    # NPS weighted by each segment's customers of the week (active minus newcomers)
    weights = {n: steps[f"active:{n}"] - steps[f"arrivals:{n}"] for n in names}
    nps = sum(steps[f"nps:{n}"] * weights[n] for n in names) / sum(weights.values())
    np.testing.assert_allclose(nps, steps["nps"], rtol=1e-12, atol=1e-9)
    first = steps[steps["step"] == 0]
    for n in names:
        assert (first[f"cohort_retention:{n}"] == 1.0).all()


def _assert_records_identical(a, b, where):
    int_cols = list(L.INTEGER_COLUMNS) + [f"{c}:{n}" for c in ("active", "arrivals",
                                                               "cohort_active")
                                          for n in a.manifest["diagnostics"]["segments"]]
    assert_frames_identical(a.steps, b.steps, ["seed", *int_cols])
    float_seg = [c for c in a.steps.columns if ":" in c and c not in int_cols]
    for c in float_seg:
        np.testing.assert_allclose(b.steps[c], a.steps[c], rtol=1e-9, atol=1e-12, err_msg=c)
    for table in ("episodes", "decisions"):
        x, y = getattr(a, table), getattr(b, table)
        assert len(x) == len(y), f"{where}: {table}"
        for c in x.columns:
            if x[c].dtype.kind == "f":
                np.testing.assert_allclose(y[c], x[c], rtol=1e-9, atol=1e-12,
                                           err_msg=f"{where}: {table}.{c}")
            else:
                assert (x[c].to_numpy() == y[c].to_numpy()).all(), f"{where}: {table}.{c}"
    assert a.manifest["diagnostics"]["dropped"] == b.manifest["diagnostics"]["dropped"]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_engines_record_the_same_diagnostics_on_every_bundled_file(path):
    """Two seeds per file, on a study's first and last points."""
    variants = bundled_variants(path)
    for point in sorted({0, len(variants) - 1}):
        options = Diagnostics(sample=0.6)
        batch = simulate(variants[point], seeds=[3, 4], diagnostics=options)
        mesa = simulate(variants[point], seeds=[3, 4], engine="mesa", diagnostics=options)
        _assert_records_identical(batch, mesa, f"{path.name} point {point}")


def test_a_capped_table_drops_whole_weeks_alike_on_both_engines():
    sc = load_scenario(BASELINE, STRESSED)
    capped = Diagnostics(max_rows=150)
    batch = simulate(sc, seeds=[5], diagnostics=capped)
    mesa = simulate(sc, seeds=[5], engine="mesa", diagnostics=capped)
    _assert_records_identical(batch, mesa, "capped")
    full = simulate(sc, seeds=[5], diagnostics=True)
    dropped = batch.manifest["diagnostics"]["dropped"]
    for table, last in (("episodes", "opened"), ("decisions", "week")):
        kept, every = getattr(batch, table), getattr(full, table)
        assert len(kept) + dropped[table] == len(every)
        assert 0 < len(kept) <= 150 and dropped[table] > 0
        # the kept rows are the full table's rows of the weeks before the overflow, as they
        # stand at the horizon
        before = every[every[last] < every[last].iloc[len(kept)]]
        assert len(before) == len(kept)
        pd.testing.assert_frame_equal(kept, before.reset_index(drop=True))


def test_sampling_keeps_a_share_of_the_customers_and_their_rows_whole():
    sc = load_scenario(BASELINE, SMALL)
    full = simulate(sc, seeds=[0, 1, 2, 3], diagnostics=True)
    part = simulate(sc, seeds=[0, 1, 2, 3], diagnostics=Diagnostics(sample=0.25))
    for table in ("episodes", "decisions"):
        whole, sampled = getattr(full, table), getattr(part, table)
        keys = sampled[["seed", "customer"]].drop_duplicates()
        chosen = whole.merge(keys, on=["seed", "customer"])
        pd.testing.assert_frame_equal(sampled, chosen)
    # the sampled share of the customers who decided: binomial, 4 sigma
    n = full.decisions.groupby("seed")["customer"].nunique().sum()
    k = part.decisions.groupby("seed")["customer"].nunique().sum()
    assert abs(k / n - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)


def test_results_folder_round_trip_and_diagnose(tmp_path, stressed):
    folder = stressed.save(tmp_path / "r")
    back = load_results(folder)
    pd.testing.assert_frame_equal(back.episodes, stressed.episodes)
    pd.testing.assert_frame_equal(back.decisions, stressed.decisions)
    pd.testing.assert_frame_equal(back.steps, stressed.steps)
    report = diagnose(back)
    entry = report["variants"]["balanced"]
    assert set(entry["segments"]) == set(stressed.manifest["diagnostics"]["segments"])
    # the share of problems that never reached the desk, computed by hand for seed 0..2
    ep = stressed.episodes
    by_hand = ep.groupby("seed")["desk_contacts"].apply(lambda c: (c == 0).mean())
    assert entry["all"]["problems_never_at_desk"]["mean"] == pytest.approx(by_hand.mean())
    assert entry["all"]["problems_never_at_desk"]["seeds"] == 3
    churn = entry["all"]["churn_by_effort_quartile"]["quartiles"]
    assert len(churn) == 4


@pytest.mark.parametrize("column", SEGMENT_COLUMNS)
def test_segment_columns_are_named_per_segment(stressed, column):
    for name in ("digital_native", "mainstream", "premium"):
        assert f"{column}:{name}" in stressed.steps.columns


def test_bad_diagnostics_options_are_refused():
    with pytest.raises(ValueError, match="sample"):
        Diagnostics(sample=0.0)
    with pytest.raises(ValueError, match="max_rows"):
        Diagnostics(max_rows=0)


def test_cli_records_and_diagnoses(tmp_path):
    from click.testing import CliRunner

    from simulation.cli import main

    runner = CliRunner()
    folder = tmp_path / "diag"
    done = runner.invoke(main, ["run", str(BASELINE), "--seeds", "3", "--steps", "30",
                                "--set", "cohort=150", "--diagnostics",
                                "--diagnostics-sample", "0.5", "--out", str(folder)])
    assert done.exit_code == 0, done.output
    assert (folder / "episodes.parquet").is_file() and (folder / "decisions.parquet").is_file()
    done = runner.invoke(main, ["diagnose", str(folder), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["seeds"] == 3 and report["diagnostics"]["sample"] == 0.5
    text = runner.invoke(main, ["diagnose", str(folder)])
    assert "never reached the desk" in text.output and "segment premium" in text.output


def test_cli_refuses_diagnose_without_records_and_options_without_the_flag(tmp_path, capsys):
    from click.testing import CliRunner

    from simulation.cli import main

    runner = CliRunner()
    plain = tmp_path / "plain"
    assert runner.invoke(main, ["run", str(BASELINE), "--seeds", "2", "--steps", "5",
                                "--set", "cohort=50", "--out", str(plain)]).exit_code == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["diagnose", str(plain)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (f"{plain}: no diagnostics recorded (episodes.parquet, "
                                       "decisions.parquet); run with --diagnostics\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(BASELINE), "--diagnostics-sample", "0.5", "--out",
              str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "--diagnostics-sample/--diagnostics-max-rows need --diagnostics" in \
        capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_sample_takes_the_customers_whose_own_draw_falls_below_the_share():
    """The customers a sample records are those whose draw of the sample's stream (keyed by
    the run, the customer and week 0) falls below the share; a share of 1 takes everyone."""
    from simulation import rng, rules

    key = rng.run_keys(5, [2])[0]
    diag = np.zeros(L.N_DIAG)
    for share in (0.3, 0.5, 1.0):
        diag[L.DG_SAMPLE] = share
        chosen = [bool(rules.sampled(key, i, diag)) for i in range(2000)]
        expected = [share >= 1.0 or rng.uniform(key, i, 0, rng.DIAGNOSTIC_SAMPLE) < share
                    for i in range(2000)]
        assert chosen == expected
        assert 0 < sum(chosen) and (sum(chosen) == 2000) == (share == 1.0)


def test_the_sample_is_independent_of_every_draw_of_the_model():
    """Which customers diagnostics record must not depend on who they are: the sample's draw
    is independent of each of the model's streams (a sample keyed like the warm start's
    tenure draw, for one, would record only the newest customers). Among the customers
    whose draw of a stream falls below one half, the share sampled at 0.5 stays within four
    standard errors of one half."""
    from simulation import rng, rules

    key = rng.run_keys(3, [0])[0]
    diag = np.zeros(L.N_DIAG)
    diag[L.DG_SAMPLE] = 0.5
    customers = range(4000)
    chosen = np.array([rules.sampled(key, i, diag) for i in customers])
    streams = {name: value for name, value in vars(rng).items()
               if name.isupper() and isinstance(value, int) and 1 <= value < 32
               and name != "DIAGNOSTIC_SAMPLE"} | {"ARRIVALS + 1": rng.ARRIVALS + 1}
    assert "TENURE" in streams and "CHURN_PROPENSITY" in streams
    for name, purpose in streams.items():
        low = np.array([rng.uniform(key, i, 0, purpose) < 0.5 for i in customers])
        share = chosen[low].mean()
        assert abs(share - 0.5) < 4 * 0.5 / np.sqrt(low.sum()), (name, share)


def test_a_decisions_cycle_holds_what_its_episodes_say_happened_since_the_last():
    """A decision's ``failure_in_cycle`` says an issue opened since the customer's last
    decision, ``recovery_in_cycle`` that the desk resolved one since then: recomputed from
    the episodes table for every decision after a customer's first reported one (a week's
    failures and the desk's recoveries come before its decisions). One event must not wipe
    another: a recovery keeps the failure that opened the issue in the same cycle."""
    sc = load_scenario(BASELINE, ["cohort=300", "horizon=80", "start.burn_in_weeks=26"])
    res = simulate(sc, seeds=[0, 1], diagnostics=Diagnostics(sample=1.0))
    by_customer = ["seed", "customer"]
    d = res.decisions[res.decisions["kind"] == "decision"].sort_values([*by_customer, "week"])
    d = d.assign(since=d.groupby(by_customer)["week"].shift()).dropna(subset=["since"])
    d = d.reset_index(drop=True).rename_axis("row").reset_index()
    pairs = d[["row", *by_customer, "since", "week"]].merge(
        res.episodes[[*by_customer, "opened", "closed", "outcome"]], on=by_customer)
    pairs["opened_in"] = (pairs["opened"] > pairs["since"]) & (pairs["opened"] <= pairs["week"])
    pairs["recovered_in"] = ((pairs["outcome"] == "desk") & (pairs["closed"] > pairs["since"])
                             & (pairs["closed"] <= pairs["week"]))
    expected = pairs.groupby("row")[["opened_in", "recovered_in"]].any() \
        .reindex(d["row"], fill_value=False)
    np.testing.assert_array_equal(d["failure_in_cycle"], expected["opened_in"])
    np.testing.assert_array_equal(d["recovery_in_cycle"], expected["recovered_in"])
    assert len(d) > 1000  # decisions checked
    assert (expected["opened_in"] & expected["recovered_in"]).sum() > 20  # with both events
