"""The band panel's numbers: the live run's settings and the named strategies, many seeds
each, on the batch engine."""

from __future__ import annotations

import threading

from ..results import Results
from ..scenario import NAMED_STRATEGIES, Scenario
from ..simulate import simulate

#: the label of the live run's own settings in the comparison
THESE_SETTINGS = "these settings"

# numba's parallel kernels must not run from two Python threads at once (several browser
# tabs could ask together)
_batch_lock = threading.Lock()


def comparison_variants(scenario: Scenario) -> tuple[list[Scenario], list[str]]:
    """The live settings first, then each named strategy that differs from them (same
    budget, journey, desk and cohort)."""
    variants, labels = [scenario], [THESE_SETTINGS]
    for name in NAMED_STRATEGIES:
        other = scenario.with_strategy(name)
        if other != scenario:
            variants.append(other)
            labels.append(name)
    return variants, labels


def run_comparison(scenario: Scenario, seeds: int, root_seed: int = 0) -> Results:
    """Seeds 0 .. seeds-1 of every comparison variant, with common random numbers."""
    variants, labels = comparison_variants(scenario)
    with _batch_lock:
        return simulate(variants, seeds=seeds, root_seed=root_seed, labels=labels)
