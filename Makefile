# Two commands do all set-up on a machine with Python >= 3.11, pip and make:
#   make demo   creates .venv, installs, runs the headline study, writes results and plots
#   make test   creates .venv if needed, installs, runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test study-ci findings bench bench-robust reference mutation clean calibrate-example

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

DEMO := results/demo-$(shell date +%Y%m%d-%H%M%S)

# The headline study: none vs reactive vs proactive vs balanced at equal budget (1,000 seeds,
# retention curves), then the reactive-proactive frontier (mix 0..1, 300 seeds per point here;
# `cxsim sweep scenarios/mix_sweep.toml` runs the full 1,000).
demo: $(STAMP)
	$(BIN)/cxsim sweep scenarios/headline.toml --out $(DEMO)/headline
	$(BIN)/cxsim report $(DEMO)/headline
	$(BIN)/cxsim sweep scenarios/mix_sweep.toml --seeds 300 --out $(DEMO)/frontier
	$(BIN)/cxsim report $(DEMO)/frontier
	@echo "demo results and figures: $(DEMO)"
	@echo "watch a run live in the browser: $(BIN)/cxsim dashboard   (then open http://localhost:8765/)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Parameter studies in CI: the reduced headline's robust claims and the exact metamorphic ones.
CI_OUT := results/ci-$(shell date +%Y%m%d-%H%M%S)
study-ci: $(STAMP)
	$(BIN)/cxsim check scenarios/ci_metamorphic.toml --out $(CI_OUT)/metamorphic
	$(BIN)/cxsim check scenarios/ci_headline.toml --out $(CI_OUT)/headline

# The bundled calibration (scenarios/calibration/, README "Bring your own data"): fits the
# baseline to the first two years of a cohort's retention and contacts, forecasts the third
# and reports the forecast's error on it. A few minutes on two cores.
calibrate-example: $(STAMP)
	$(BIN)/cxsim calibrate scenarios/calibration/example.toml --holdout-after 104 \
		--out results/calibrate-example-$(shell date +%Y%m%d-%H%M%S)

# Regenerates docs/findings.md and its figures from every study in scenarios/.
findings: $(STAMP)
	$(BIN)/python docs/make_findings.py

# Regenerates the stored reference tables that tests/test_reference.py compares bit for bit.
# Commit new tables on their own, saying which change to the model moved them and why.
reference: $(STAMP)
	$(BIN)/python tests/reference/make_reference.py

# Mutation run over the rules and the random streams (not part of `make test`; an hour or
# more on two cores): four processes side by side, each in its own folder under .mutation/
# (rules.py in three parts of about as many mutants, and rng.py), so that no part is left
# running alone at the end; then the score and the mutants not killed. docs/mutation.md has
# the last run and every survivor.
MUTATION_STAMP := $(VENV)/.installed-mutation
$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,mutation]"
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	rm -rf .mutation
	desk=$$(grep -n '^# -* the service desk$$' simulation/rules.py | cut -d: -f1); \
	records=$$(grep -n '^# -* diagnostics:' simulation/rules.py | cut -d: -f1); \
	test -n "$$desk" && test -n "$$records" || { echo "rules.py: section markers not found"; exit 2; }; \
	MUTATION_LINES=1:$$desk tests/mutation/run.sh .mutation/rules-1 simulation/rules.py \
		> .mutation-rules-1.log 2>&1 & \
	MUTATION_PHASES=1 MUTATION_LINES=$$desk:$$records tests/mutation/run.sh .mutation/rules-2 \
		simulation/rules.py > .mutation-rules-2.log 2>&1 & \
	MUTATION_RECORDS=1 MUTATION_LINES=$$records:1000000 tests/mutation/run.sh .mutation/rules-3 \
		simulation/rules.py > .mutation-rules-3.log 2>&1 & \
	tests/mutation/run.sh .mutation/rng simulation/rng.py > .mutation-rng.log 2>&1 & \
	wait
	$(BIN)/python tests/mutation/summary.py .mutation/rules-1 .mutation/rules-2 .mutation/rules-3 \
		.mutation/rng

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# robust_headline at 500 worlds x 4 policies x 50 seeds, fixed and adaptive seeds side by side
# (each 10-25 minutes on 2 cores); `benchmarks/robust.py --worlds 40` scales it down
bench-robust: $(STAMP)
	$(BIN)/python benchmarks/robust.py

clean:
	rm -rf $(VENV) .pytest_cache .mutation .mutation-*.log
