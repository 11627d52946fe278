"""The optimiser: the simplex map, a constructed case with a known best split, resuming a
killed search, and one-line errors for bad optimisation files."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from simulation.scenario import ScenarioError
from simulation.studies.optimise import draws_for, load_optimisation, optimise, simplex

from .conftest import CXSIM, ROOT

#: a world where only reliability helps: failures are frequent, reliability is bought week by
#: week (depreciation 1) and the other two searched levers have no effect (ceiling 0), so
#: every unit moved to reliability raises retention and profit: the best split is all of it
CONSTRUCTED = f"""
scenario = "{ROOT / 'scenarios' / 'baseline.toml'}"
overrides = ["cohort=200", "horizon=26", "start.mode=\\"launch\\"",
             "touchpoints.*.failure_rate*=4", "strategy.budget=300",
             "levers.reliability.depreciation=1.0", "levers.reliability.scale=300.0",
             "levers.reliability.ceiling=0.9",
             "levers.consistency.ceiling=0.0", "levers.relationship.ceiling=0.0"]
trials = 24
batch = 8
seeds = 8
finalists = 3
fresh_seeds = 8
confirm_seeds = 12
compare = ["none", "proactive"]
[goal]
kind = "profit"
[search]
levers = ["reliability", "consistency", "relationship"]
"""


def test_the_simplex_map_gives_shares_summing_to_one_and_inverts():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shares = simplex(rng.uniform(1e-9, 1.0, size=10))
        assert shares.min() >= 0 and shares.sum() == pytest.approx(1.0)
    target = [0.3, 0.0, 0.7]
    np.testing.assert_allclose(simplex(draws_for(target)), target, atol=1e-12)
    np.testing.assert_allclose(simplex([1.0, 1.0]), [0.5, 0.5])


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optimise")
    path = folder / "constructed.toml"
    path.write_text(CONSTRUCTED, encoding="utf-8")
    return path, folder / "out"


def test_the_optimiser_finds_the_known_best_split_and_confirms_it(constructed):
    path, out = constructed
    summary = optimise(load_optimisation(path), out)
    split = summary["winner"]["strategy"]["allocation"]
    assert split["reliability"] >= 0.85, split  # the corner: all of the budget
    confirm = summary["confirmation"]
    assert confirm["optimised_minus"]["proactive"]["diff_low"] > 0  # it beats the camp
    assert set(confirm["goal"]) == {"optimised", "none", "proactive"}
    assert (out / "optuna.journal").is_file() and (out / "trials.csv").is_file()
    written = json.loads((out / "optimisation.json").read_text())
    assert written["winner"] == summary["winner"]
    assert len(written["finalists"]) == 3


def test_a_search_resumes_from_its_journal_and_refuses_another_study(constructed, tmp_path):
    path, _ = constructed
    out = tmp_path / "resumed"
    first = optimise(load_optimisation(path, trials=8), out)
    assert first["trials"] == 8
    again = optimise(load_optimisation(path, trials=12), out, resume=True)
    assert again["trials"] == 12  # the first eight kept, four more asked
    with pytest.raises(ScenarioError, match="holds a different optimisation"):
        optimise(load_optimisation(path, trials=12, seeds=5), out, resume=True)
    with pytest.raises(ScenarioError, match="not an optimisation folder"):
        optimise(load_optimisation(path), tmp_path / "nothing", resume=True)
    assert not (tmp_path / "nothing").exists()  # a failed resume writes nothing


@pytest.mark.parametrize("change, expected", [
    ('trials = 0', "trials: Input should be greater than or equal to 1"),
    ('[goal]\nkind = "speed"', "goal.kind: Input should be 'profit', 'retention' or"),
    ('[search.phased]\nswitch_week = { low = 4, high = 30 }',
     "search.phased: the switch week and its ramp must end before the horizon"),
    ('[search.trigger]\nobserve = "queue"\nenter = {low=1, high=2}\ngap = {low=0, high=1}\n'
     'share = {low=0, high=0.5}\nlevers = ["capacity"]', "search.trigger.observe: Input should be"),
    ('reference = "nobody"', "compare: 'nobody' is not a strategy"),
    ('[goal]\nkind = "weighted"\nweights = { happiness = 1.0 }',
     "goal.weights: unknown outputs happiness"),
])
def test_bad_optimisation_files_get_one_line_and_exit_2(tmp_path, change, expected):
    text = CONSTRUCTED.replace('[goal]\nkind = "profit"\n', "").replace(
        '[search]\nlevers = ["reliability", "consistency", "relationship"]\n', "")
    text = text.replace("trials = 24\n", "") if change.startswith("trials") else text
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n" + change + "\n[search]\n" if "[search" not in change
                    else text + "\n" + change + "\n", encoding="utf-8")
    done = subprocess.run([CXSIM, "optimise", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()
