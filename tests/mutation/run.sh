#!/usr/bin/env bash
# Mutation run over the model's rules and random streams (see docs/mutation.md).
#
#   tests/mutation/run.sh FOLDER FILE...     e.g. .mutation/rng simulation/rng.py
#   tests/mutation/run.sh --runner FILE...   prints the test command a mutant must fail
#
# mutmut 2 writes each mutant into the source file it mutates, so the run works on a copy of
# the package and its tests in FOLDER (the working tree is never touched) and keeps its
# results there (.mutmut-cache; read them with tests/mutation/summary.py). A folder that
# already has results resumes where it stopped. The rules run as plain Python
# (NUMBA_DISABLE_JIT=1, with tests/mutation/plugin.py): a mutant then costs seconds, not a
# recompile.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
shift
# Quickest killers first (-x stops at the first failure). Left out for speed: the Mesa
# reference run (the batch runs cover the same rules) and the Poisson check at mean 499
# (19 s without the compiler; the means 120 and 800 bracket the same code).
# test_rng and test_rng_exact check only rng's functions: they run when rng.py is mutated.
tests="tests/test_reference.py tests/test_week_rules.py tests/test_rules.py tests/test_rules_edges.py"
case " $* " in *rng.py*) tests="$tests tests/test_rng_exact.py tests/test_rng.py" ;; esac
# A part over the spending plan and triggers (the middle of rules.py) adds their tests
# (MUTATION_PHASES=1); they run a few weeks of a company, not the customers.
if [ "${MUTATION_PHASES:-0}" = 1 ]; then
    tests="$tests tests/test_phases.py"
fi
# The diagnostic recorders (the end of rules.py) are exercised only with diagnostics on: a
# part over them runs these quick tests of the records first (MUTATION_RECORDS=1).
if [ "${MUTATION_RECORDS:-0}" = 1 ]; then
    d=tests/test_diagnostics.py
    tests="$d::test_a_sample_takes_the_customers_whose_own_draw_falls_below_the_share
        $d::test_the_sample_is_independent_of_every_draw_of_the_model
        $d::test_a_capped_table_drops_whole_weeks_alike_on_both_engines
        $d::test_a_decisions_cycle_holds_what_its_episodes_say_happened_since_the_last
        $d::test_episodes_reproduce_failures_contacts_self_service_and_resolution
        $d::test_every_ending_occurs_and_outcomes_are_consistent
        $d::test_an_episode_row_holds_the_issue_and_the_customers_state_in_its_ranges
        $d::test_a_decision_row_holds_the_customers_state_in_its_ranges
        $d::test_decisions_reproduce_churned $d::test_segment_columns_add_up_to_the_totals
        $d::test_recording_changes_no_trajectory
        $d::test_engines_record_the_same_diagnostics_on_every_bundled_file[baseline]
        $d::test_sampling_keeps_a_share_of_the_customers_and_their_rows_whole $tests"
fi
skip="--deselect tests/test_reference.py::test_mesa_engine_reproduces_a_stored_table"
skip="$skip --deselect tests/test_rng.py::test_poisson_mean_and_variance[499.0]"
# A mutant that makes a loop run far longer fails on the per-test time limit (60 s; the
# slowest test takes 5 s alone) instead of holding the run for mutmut's limit of ten
# times the whole selection.
runner="$root/.venv/bin/python -m tests.mutation.pytest_failing -x -q --assert=plain -p no:cacheprovider"
runner="$runner -p tests.mutation.plugin -p pytest_timeout --timeout=60 $tests $skip"
if [ "$work" = "--runner" ]; then
    echo "$runner"
    exit 0
fi
if [ ! -e "$work/.mutmut-cache" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    (cd "$root" && tar --exclude=__pycache__ -cf - simulation scenarios tests) | tar -xf - -C "$work"
    cp "$root/tests/mutation/mutmut_config.py" "$work/"
    # the copy's own pytest configuration: without one pytest takes the project's (two
    # folders up) and its folder as the root, and the --deselect ids above would not match
    printf '[pytest]\n' > "$work/pytest.ini"
    date -u +%FT%TZ > "$work/started"
fi
cd "$work"
export PYTHONPATH="$PWD" NUMBA_DISABLE_JIT=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
paths=$(IFS=,; echo "$*")
nice -n 10 "$root/.venv/bin/mutmut" run --paths-to-mutate "$paths" --runner "$runner" \
    --tests-dir tests --no-progress --simple-output || true  # survivors give a non-zero exit
date -u +%FT%TZ > finished
