"""One model, two engines: the same trajectories whatever runs them and however.

Mesa and batch agree on every bundled scenario; a run's numbers do not depend on the order
customers are stepped in, on the other runs of its batch, on the thread count or on the
process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib

import numba
import numpy as np
import pytest
from mesa.agent import AgentSet

from simulation import layout as L
from simulation import simulate
from simulation.mesa_engine import JourneyModel
from simulation.scenario import apply_overrides, load_scenario
from simulation.study import load_study
from simulation.studies.robust_file import load_robust

from .conftest import (BASELINE, FLOAT_COLUMNS, ROOT, SCENARIOS, assert_frames_identical,
                       by_run)

SMALL = ["cohort=150", "horizon=60", "start.burn_in_weeks=20"]  # warm: a short burn-in
BUNDLED = sorted(SCENARIOS.glob("*.toml"))


def bundled_variants(path) -> list:
    """A scenario file is one variant; a study file contributes each of its points, a robust
    study two of its worlds under two of its policies."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if "uncertainties" in data:
        loaded = load_robust(path, worlds=2)
        return [apply_overrides(loaded.world_scenario(world, policy), SMALL)
                for world in range(2) for policy in ("reactive", "proactive")]
    if "parameters" in data:
        loaded = load_study(path)
        return [apply_overrides(loaded.variant(i), SMALL) for i in range(len(loaded.points))]
    return [load_scenario(path, SMALL)]


def assert_engines_agree(batch, mesa, where: str) -> None:
    a, b = by_run(batch.steps), by_run(mesa.steps)
    assert len(a) == len(b), where
    assert_frames_identical(a, b, ["seed", *L.INTEGER_COLUMNS])
    for column in FLOAT_COLUMNS:
        np.testing.assert_allclose(b[column], a[column], rtol=1e-9, atol=1e-12,
                                   err_msg=f"{where}: {column}")


def check_engine_identity(path, n_seeds: int) -> None:
    variants = bundled_variants(path)
    # seed s runs point s mod (number of points): every point of a study meets some seed
    for point, variant in enumerate(variants):
        seeds = [s for s in range(n_seeds) if s % len(variants) == point]
        if not seeds:
            continue
        batch = simulate(variant, seeds=seeds, root_seed=17, engine="batch")
        mesa = simulate(variant, seeds=seeds, root_seed=17, engine="mesa")
        assert_engines_agree(batch, mesa, f"{path.name} point {point}")


def test_every_bundled_file_is_covered():
    assert BASELINE in BUNDLED and len(BUNDLED) >= 2
    for path in BUNDLED:
        assert bundled_variants(path)


def test_engines_agree_on_the_baseline_for_20_seeds():
    check_engine_identity(BASELINE, 20)


@pytest.mark.parametrize("path", [p for p in BUNDLED if p != BASELINE], ids=lambda p: p.stem)
def test_engines_agree_on_each_bundled_study_for_20_seeds(path):
    """20 seeds per file, spread over a study's points (seed s runs point s mod points)."""
    check_engine_identity(path, 20)


def test_engines_agree_under_stress_on_every_strategy(small):
    stressed = apply_overrides(small, ["touchpoints.*.failure_rate*=4", "desk.base_capacity=10",
                                       "horizon=50"])
    variants = [stressed.with_strategy(s) for s in ("none", "reactive", "proactive", "mix=0.3")]
    batch = simulate(variants, seeds=[0, 1], engine="batch")
    mesa = simulate(variants, seeds=[0, 1], engine="mesa")
    assert batch.steps["backlog"].max() > 0 and batch.steps["burnout"].max() > 0
    assert (batch.steps["variant"] == mesa.steps["variant"]).all()
    assert_engines_agree(batch, mesa, "stressed")


# ---------------------------------------------------------------- order independence

def run_model(scenario, order=None, reseed=None):
    """A JourneyModel run; ``order(agentset, agents)`` replaces the shuffle when given.

    Returns (model data, agent data, the orders customers were stepped in).
    """
    orders = []
    original = AgentSet.shuffle_do

    def ordered_shuffle_do(self, method, *args, **kwargs):
        agents = order(self, list(self))
        orders.append([agent.index for agent in agents])
        for agent in agents:
            getattr(agent, method)(*args, **kwargs)
        return self

    def recording_shuffle_do(self, method, *args, **kwargs):
        agents = list(self)
        self.random.shuffle(agents)
        orders.append([agent.index for agent in agents])
        for agent in agents:
            getattr(agent, method)(*args, **kwargs)
        return self

    AgentSet.shuffle_do = ordered_shuffle_do if order else recording_shuffle_do
    try:
        model = JourneyModel(scenario, seed=3)
        if reseed is not None:
            model.random.seed(reseed)
        while model.running:
            model.step()
    finally:
        AgentSet.shuffle_do = original
    return (model.datacollector.get_model_vars_dataframe(),
            model.datacollector.get_agent_vars_dataframe(), orders)


def test_stepping_order_changes_nothing(small):
    sc = apply_overrides(small, ["cohort=200", "horizon=40", "touchpoints.*.failure_rate*=3",
                                 "desk.base_capacity=15"])
    model_a, agents_a, orders_a = run_model(sc)
    model_b, agents_b, orders_b = run_model(sc, reseed=987654)
    model_c, agents_c, orders_c = run_model(
        sc, order=lambda agentset, agents: sorted(agents, key=lambda a: -a.index))
    # the orders really differ (the last week's: the reseed comes after the burn-in) ...
    assert orders_a[-1] != orders_b[-1] and orders_a[-1] != orders_c[-1]
    assert orders_c[-1] == sorted(orders_c[-1], reverse=True)
    assert sorted(orders_a[-1]) == sorted(orders_b[-1]) == sorted(orders_c[-1])
    # ... and the collected data do not
    assert model_b.equals(model_a) and model_c.equals(model_a)
    assert agents_b.equals(agents_a) and agents_c.equals(agents_a)
    assert model_a["backlog"].max() > 0  # the desk queue, where order could matter, was used


def test_unpatched_model_equals_the_recorded_one(small):
    """The recording shuffle above is the model's own: same data as an untouched run."""
    sc = apply_overrides(small, ["cohort=100", "horizon=20"])
    model = JourneyModel(sc, seed=3)
    while model.running:
        model.step()
    assert model.datacollector.get_model_vars_dataframe().equals(run_model(sc)[0])


# ------------------------------------------------------------ batch, threads, processes

def test_a_run_alone_equals_the_same_run_in_a_batch_of_1000(small):
    sc = apply_overrides(small, SMALL)
    alone = simulate(sc, seeds=[7], root_seed=4).steps
    crowd = simulate(sc, seeds=range(1000), root_seed=4).steps
    assert_frames_identical(by_run(alone), by_run(crowd[crowd["seed"] == 7]),
                            ["seed", *L.STEP_COLUMNS])
    # and as one arm of a multi-variant batch
    arms = simulate([sc.with_strategy("none"), sc], seeds=[3, 7], root_seed=4,
                    labels=["none", "this"]).steps
    mine = arms[(arms["variant"] == "this") & (arms["seed"] == 7)]
    assert_frames_identical(by_run(alone), by_run(mine), ["seed", *L.STEP_COLUMNS])
    # a different run is different
    other = crowd[crowd["seed"] == 8]
    assert (by_run(other)["satisfaction"] != by_run(alone)["satisfaction"]).any()


STRATEGIES = ("none", "reactive", "proactive", "balanced")


def test_strategies_from_one_start_share_their_burn_in_and_nothing_else(small):
    """Strategies compared from a warm start reach week 0 in the same state: the engine
    simulates their burn-in once per seed and goes on from copies. Every run equals the
    same run simulated alone, customer by customer, and only the shared weeks are saved."""
    from simulation.batch import run_batch
    from simulation.compiled import compile_scenario, stack
    from simulation.rng import run_keys
    from simulation.simulate import start_classes

    sc = apply_overrides(small, SMALL)
    variants = [sc.with_strategy(s) for s in STRATEGIES]
    compiled = [compile_scenario(v) for v in variants]
    assert start_classes(compiled) == [0, 0, 0, 0]
    seeds = 5
    keys = np.repeat(run_keys(4, range(seeds))[None, :], len(variants), axis=0).T.ravel()
    variant = np.tile(np.arange(len(variants)), seeds)  # seed-major: a seed's runs together
    grouped = run_batch(stack(compiled), keys, variant, events_per_run=400,
                        group_start=np.arange(0, len(keys) + 1, len(variants)))
    alone = run_batch(stack(compiled), keys, variant, events_per_run=400)
    np.testing.assert_array_equal(grouped.out, alone.out)
    np.testing.assert_array_equal(grouped.events, alone.events)
    np.testing.assert_array_equal(grouped.customers, alone.customers)
    assert (alone.burn_in_steps > 0).all()
    shared = alone.burn_in_steps.reshape(seeds, len(variants))
    assert (shared == shared[:, :1]).all()  # the same burn-in in every arm of a seed
    assert grouped.burn_in_steps.sum() == shared[:, 0].sum()
    assert grouped.agent_steps.sum() == alone.agent_steps.sum() - shared[:, 1:].sum()
    # simulate() finds the groups itself: the four arms together equal each alone
    together = simulate(variants, seeds=range(seeds), root_seed=4, labels=list(STRATEGIES))
    for name, v in zip(STRATEGIES, variants):
        one = simulate(v, seeds=range(seeds), root_seed=4).steps
        assert_frames_identical(by_run(one), by_run(together.steps[
            together.steps["variant"] == name]), ["seed", *L.STEP_COLUMNS])


def test_only_strategies_share_a_start(small):
    """Anything a run reads before week 0 (a rule's parameter, the burn-in's strategy, the
    journey) puts a variant in a class of its own; diagnostics record run by run."""
    from simulation.batch import run_batch
    from simulation.compiled import compile_scenario, stack
    from simulation.simulate import start_classes

    sc = apply_overrides(small, SMALL)
    others = [sc.with_strategy("proactive"),
              apply_overrides(sc, ["churn.base=-3.1"]),
              apply_overrides(sc, ["start.strategy.name=proactive"]),
              apply_overrides(sc, ["touchpoints.*.failure_rate*=1.1"]),
              apply_overrides(sc, ["strategy.budget=900"]),
              apply_overrides(sc, ["churn.base=-3.1"]).with_strategy("none")]
    assert start_classes([compile_scenario(v) for v in [sc, *others]]) == [0, 0, 1, 2, 3, 0, 1]
    stacked = stack([compile_scenario(sc)] * 2)
    with pytest.raises(ValueError, match="every group must be one run"):
        run_batch(stacked, np.arange(2, dtype=np.uint64), np.arange(2),
                  group_start=np.array([0, 2]), diagnostics=True)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
def test_one_thread_equals_two_threads(small):
    sc = apply_overrides(small, SMALL)
    variants = [sc.with_strategy(s) for s in ("reactive", "proactive")]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(variants, seeds=range(16), root_seed=6).steps
        numba.set_num_threads(2)
        two = simulate(variants, seeds=range(16), root_seed=6).steps
    finally:
        numba.set_num_threads(before)
    assert one.equals(two)


HASH_SCRIPT = """
import hashlib, sys
import numpy as np
from simulation import layout as L, load_scenario, simulate
sc = load_scenario(sys.argv[1], ["cohort=150", "horizon=60", "start.burn_in_weeks=20"])
res = simulate([sc.with_strategy(s) for s in ("reactive", "proactive")], seeds=range(12),
               root_seed=9)
table = np.ascontiguousarray(res.steps[list(L.STEP_COLUMNS)].to_numpy(dtype=np.float64))
print(hashlib.sha256(table.tobytes()).hexdigest())
"""


def steps_hash(steps) -> str:
    table = np.ascontiguousarray(steps[list(L.STEP_COLUMNS)].to_numpy(dtype=np.float64))
    return hashlib.sha256(table.tobytes()).hexdigest()


def test_bit_identical_across_processes():
    procs = []
    for threads, hashseed in (("1", "1"), ("2", "2")):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, PYTHONHASHSEED=hashseed)
        procs.append(subprocess.Popen([sys.executable, "-c", HASH_SCRIPT, str(BASELINE)],
                                      cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    sc = load_scenario(BASELINE, SMALL)
    here = steps_hash(simulate([sc.with_strategy(s) for s in ("reactive", "proactive")],
                               seeds=range(12), root_seed=9).steps)
    hashes = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        hashes.append(out.strip())
    assert hashes == [here, here]


@pytest.mark.timeout(900)  # a cold compile of every kernel, slow on a busy machine
def test_bit_identical_whatever_vector_instructions_the_compiler_uses(tmp_path):
    """Compiled for a plain x86-64 processor (SSE2, no FMA, no AVX) instead of this host's
    full feature set: the same numbers to the last bit, so a cluster of mixed machines
    reproduces a manifest exactly. (Compiles everything afresh: about half a minute.)"""
    env = dict(os.environ, NUMBA_CPU_NAME="x86-64", NUMBA_CPU_FEATURES="+sse2",
               NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", HASH_SCRIPT, str(BASELINE)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    sc = load_scenario(BASELINE, SMALL)
    here = steps_hash(simulate([sc.with_strategy(s) for s in ("reactive", "proactive")],
                               seeds=range(12), root_seed=9).steps)
    assert done.stdout.strip() == here
