"""The model's numbers, pinned: fresh runs equal the stored reference tables bit for bit.

Engine identity cannot catch a wrong rule (both engines run the same rules), and most tests
check directions and bounds; these tables catch any change to what the model computes.
If a change to the model is meant to move them, regenerate them with ``make reference`` and
commit them with a message that says why (see ``tests/reference/make_reference.py``).

Columns added to the outputs later are not compared until the tables are regenerated; a
stored column that a run no longer produces is a failure.
"""

from __future__ import annotations

import numpy as np
import pytest

from .reference.cases import CASES, read_reference, run_case


def assert_matches_reference(case: str, fresh, float_tolerance: float = 0.0,
                             seed: int | None = None) -> None:
    """``fresh`` equals the stored table (its rows of ``seed`` only, when given)."""
    stored = read_reference(case)
    if seed is not None:
        stored = stored[stored["seed"] == seed].reset_index(drop=True)
    missing = [c for c in stored.columns if c not in fresh.columns]
    if missing:
        pytest.fail(f"{case}: columns no longer produced: {missing}")
    if len(fresh) != len(stored):
        pytest.fail(f"{case}: {len(fresh)} rows, stored {len(stored)}")
    for column in stored.columns:
        want, got = stored[column].to_numpy(), fresh[column].to_numpy()
        if want.dtype.kind == "f" and float_tolerance > 0.0:
            bad = np.flatnonzero(~np.isclose(got, want, rtol=float_tolerance, atol=1e-12))
        else:
            bad = np.flatnonzero(got != want)
        if bad.size:
            r = bad[0]
            pytest.fail(f"{case}: {column} differs in {bad.size} rows, first at seed "
                        f"{stored['seed'][r]} step {stored['step'][r]}: "
                        f"{got[r]!r} (stored {want[r]!r})")


@pytest.mark.parametrize("case, seed", [(case, seed) for case, (_, seeds) in CASES.items()
                                        for seed in seeds])
def test_batch_engine_reproduces_the_stored_tables_bit_for_bit(case, seed):
    """Seed by seed (a run alone equals the same run in a batch), quickest first."""
    assert_matches_reference(case, run_case(case, seeds=[seed]), seed=seed)


def test_mesa_engine_reproduces_a_stored_table():
    """Integers exact, floats within the engines' agreement (1e-9): Mesa sums in its own
    order of operations."""
    assert_matches_reference("balanced_small", run_case("balanced_small", engine="mesa"),
                             float_tolerance=1e-9)


def test_the_comparison_fails_on_a_one_bit_change_and_on_a_missing_column():
    fresh = read_reference("balanced_small")
    changed = fresh.copy()
    changed.loc[17, "trust"] = np.nextafter(changed.loc[17, "trust"], 2.0)
    with pytest.raises(pytest.fail.Exception, match="trust differs in 1 rows"):
        assert_matches_reference("balanced_small", changed)
    with pytest.raises(pytest.fail.Exception, match="no longer produced"):
        assert_matches_reference("balanced_small", fresh.drop(columns=["served"]))
    fresh["a_new_column"] = 1.0  # outputs added later are not compared
    assert_matches_reference("balanced_small", fresh)
