"""The findings generator says only what its data say.

The wording rules (``docs/findings_wording.py``) are checked on constructed data, then the whole
generator (``docs/make_findings.py``) runs every study small (4 seeds, 150 customers) and each
comparison on the page it writes is checked against its own interval, and a few statements
against numbers recomputed here from the study stores.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from simulation.results import compare_runs, load_results, mean_interval

#: the first test of the page builds it (every study, small): allow for a busy machine
pytestmark = pytest.mark.timeout(600)

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS))
wording = importlib.import_module("findings_wording")
make_findings = importlib.import_module("make_findings")

NUM = r"[+\-]?[0-9.,]*[0-9](?:e[+\-]?[0-9]+)?[kM]?"
HIGHER_LOWER = re.compile(rf"is (higher|lower) than [^()]*? \(by ({NUM}) \[({NUM}), ({NUM})\]\)")
SPANS_ZERO = re.compile(rf"is not distinguishable from [^()]*? \(difference ({NUM}) "
                        rf"\[({NUM}), ({NUM})\]; the interval spans zero\)")


# ------------------------------------------------------------------------------ wording

def test_compare_words_a_difference_by_its_interval():
    rng = np.random.default_rng(1)
    above = 1.0 + rng.normal(0, 0.1, 50)
    assert wording.compare(above, "B").startswith("is higher than B (by +")
    assert wording.compare(-above, "B").startswith("is lower than B (by -")
    spans = np.array([-1.0, 1.0, -0.5, 0.6])
    text = wording.compare(spans, "B")
    assert text.startswith("is not distinguishable from B (difference")
    assert text.endswith("the interval spans zero)")
    assert wording.compare(np.zeros(5), "B") == "equals B in every seed"


def test_compare_prints_the_interval_it_judged():
    values = np.array([0.02, 0.05, 0.03, 0.04])
    mean, low, high = mean_interval(values)
    text = wording.compare(values, "B")
    m, lo, hi = map(wording.parse_number, HIGHER_LOWER.search(text).groups()[1:])
    assert (m, lo, hi) == pytest.approx((mean, low, high), rel=5e-3)


def test_seeds_differ_counts_unequal_pairs():
    assert wording.seeds_differ([1, 2, 3, 4], [1, 2, 0, 5]) == "2 of 4 seeds differ"
    assert wording.seeds_differ([1.0, 2.0], [1.0, 2.0]) == "0 of 2 seeds differ"


def test_numbers_spans_trends_and_weeks():
    assert wording.number(3_591_234.0) == "3.59M"
    assert wording.number(14_400.0, signed=True) == "+14.4k"
    assert wording.parse_number("3.59M") == 3.59e6
    assert wording.parse_number("-14.4k") == -14_400
    assert wording.number(1_934.6) == "1,935" and wording.number(-186.2, signed=True) == "-186"
    assert wording.parse_number("1,935") == 1935
    assert wording.span([0.2, 0.1, 0.15]) == "0.1 to 0.2"
    assert wording.span([0.5, 0.5]) == "0.5"
    assert wording.trend([1, 2, 3]) == "rises at every step"
    assert wording.trend([3, 2, 2]) == "never rises"
    assert wording.trend([1, 3, 2]) == "rises and falls"
    assert wording.week_ranges([7, 1, 2, 3, 9, 10]) == "1–3, 7 and 9–10"
    assert wording.by_value([(0.5, 1.0), (1.0, 1.0), (2.0, 0.5)], "x") == \
        "1 at x 0.5 and 1; 0.5 at x 2"


# ------------------------------------------------------------------------- the whole page

SEEDS = 4


@pytest.fixture(scope="module")
def small_page(tmp_path_factory):
    """Every section of the page, generated from 4 seeds of 150 customers per study."""
    folder = tmp_path_factory.mktemp("findings")
    page = make_findings.main(["--seeds", str(SEEDS), "--set", "cohort=150",
                               "--out", str(folder / "docs"), "--store", str(folder / "store")])
    return page.read_text(encoding="utf-8"), folder


def test_page_is_complete_and_says_it_is_small(small_page):
    text, folder = small_page
    assert "{{" not in text
    assert f"generated with {SEEDS} seeds per study and the overrides cohort=150" in text
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (folder / "docs" / link).is_file(), link


def test_every_comparison_on_the_page_agrees_with_its_interval(small_page):
    text = small_page[0].replace("\n", " ")
    decided = HIGHER_LOWER.findall(text)
    undecided = SPANS_ZERO.findall(text)
    assert len(decided) + len(undecided) >= 20  # the page compares a lot; the regexes see it
    for word, *numbers in decided:
        mean, low, high = map(wording.parse_number, numbers)
        assert low <= mean <= high
        assert (low > 0) if word == "higher" else (high < 0), (word, numbers)
    for numbers in undecided:
        mean, low, high = map(wording.parse_number, numbers)
        assert low <= 0 <= high, numbers


def test_seed_counts_on_the_page_are_the_runs(small_page):
    text, folder = small_page
    res = load_results(folder / "store" / "desk_overload")
    for capacity in (60, 75, 90):
        ret = {n: make_findings.values(res, make_findings.point_of(
            res, **{"desk.base_capacity": capacity, "strategy.name": n}), "cohort_retention")
            for n in ("capacity_only", "capacity_and_staff")}
        differ = int((ret["capacity_only"] != ret["capacity_and_staff"]).sum())
        start = f"at base capacity {capacity}, the retention of capacity and staff care"
        sentence = text.replace("\n", " ").split(start)[1].split("burnout at the horizon")[0]
        assert f"; {differ} of {SEEDS} seeds differ, and" in sentence
    for total in re.findall(r"\d+ of (\d+) seeds differ", text):
        assert int(total) == SEEDS


def test_headline_numbers_are_recomputed_from_the_store(small_page):
    text, folder = small_page
    res = load_results(folder / "store" / "headline")
    names = {make_findings.point_of(res, **{"strategy.name": n}): n
             for n in ("none", "reactive", "proactive", "balanced")}
    runs = res.runs.assign(variant=res.runs["point"].map(names))
    factor = compare_runs(runs[runs["variant"].isin(["reactive", "proactive"])],
                          ["cohort_retention"], "reactive")["narrowing"].dropna().iloc[0]
    assert f"reactive, {factor:.2g} times compared with two independent samples" in \
        text.replace("\n", " ")
    none = runs[runs["variant"] == "none"]["cohort_retention"]
    row = next(line for line in text.splitlines() if line.startswith("| none "))
    assert wording.interval(none) in row


def test_the_robust_section_is_recomputed_from_its_store(small_page):
    from simulation.studies.metrics import robustness
    from simulation.studies.robust import read_robust

    text, folder = small_page
    info, worlds, outcomes = read_robust(folder / "store" / "robust_headline")
    assert text.index("## How sure is the verdict") < text.index("## 1.")
    assert set(outcomes["seeds"]) == {SEEDS} and len(worlds) == make_findings.QUICK_WORLDS
    retention = robustness(outcomes, info["study"].objectives).query(
        "output == 'cohort_retention'").set_index("policy")
    leader = retention["best_share"].idxmax()
    assert f"`{leader}` keeps the most customers in {retention.loc[leader, 'best_share']:.0%} " \
           "of the worlds" in text.replace("\n", " ")
