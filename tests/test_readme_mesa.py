"""README's "Using cxsim from Mesa" example runs as written and says what it shows."""

from __future__ import annotations

import re

import numpy as np

from simulation import layout as L
from simulation import load_scenario, simulate

from .conftest import BASELINE, ROOT


def section_code(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_batch_run_example_runs_and_ends_at_the_final_week(capsys):
    names = {}
    exec(compile(section_code("Using cxsim from Mesa"), "README.md", "exec"), names)
    final = names["final"]
    assert len(final) == 4 and (final["Step"] == 52).all()  # one row per run, week 52
    assert "cohort_retention" in capsys.readouterr().out
    for _, row in final.iterrows():
        sc = load_scenario(BASELINE, ["cohort=500", "horizon=52"]).with_strategy(row["strategy"])
        week = simulate(sc, seeds=[int(row["seed"])]).steps.iloc[-1]
        for column in L.STEP_COLUMNS:
            got = row["Step" if column == "step" else column]
            assert np.isclose(got, week[column], rtol=0, atol=1e-9), column
