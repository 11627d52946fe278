"""Scenario schema, TOML loading and --set overrides (simulation.scenario)."""

from __future__ import annotations

import pytest

from simulation.scenario import (LEVERS, PROACTIVE_LEVERS, REACTIVE_LEVERS, Scenario,
                                 ScenarioError, apply_overrides, bundled_scenarios,
                                 load_scenario, resolve_path, spend_warning)

from .conftest import BASELINE


def write(tmp_path, text, name="scenario.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str, count: int = 1) -> str:
    text = BASELINE.read_text(encoding="utf-8")
    assert text.count(old) >= count, old
    return text.replace(old, new, count)


def one_problem(excinfo) -> str:
    problems = excinfo.value.problems
    assert len(problems) == 1, problems
    return problems[0]


def test_baseline_loads_with_its_documented_shape(baseline):
    assert baseline.horizon == 156 and baseline.cohort == 2000
    assert len(baseline.touchpoints) == 8 and len(baseline.segments) == 3
    assert baseline.journey.entry == "signup"
    assert baseline.strategy.label == "balanced"
    assert sum(s.share for s in baseline.segments) == pytest.approx(1.0)
    assert any(t.decision for t in baseline.touchpoints)


def test_resolve_path_finds_bundled_scenarios_by_name():
    assert resolve_path("baseline") == BASELINE.resolve()
    assert "baseline" in [entry[0] for entry in bundled_scenarios()]


def test_overrides_set_values_and_keep_the_rest(baseline):
    sc = load_scenario(BASELINE, ["cohort=300", "desk.base_capacity=40",
                                  "touchpoints.billing.quality=0.5"])
    assert (sc.cohort, sc.desk.base_capacity) == (300, 40)
    billing = next(t for t in sc.touchpoints if t.name == "billing")
    assert billing.quality == 0.5
    assert sc.horizon == baseline.horizon and sc.desk.fcr == baseline.desk.fcr


def test_star_overrides_every_list_item_and_star_equals_multiplies(baseline):
    sc = load_scenario(BASELINE, ["touchpoints.*.failure_rate*=2", "touchpoints.0.salience=3"])
    for old, new in zip(baseline.touchpoints, sc.touchpoints):
        assert new.failure_rate == pytest.approx(2 * old.failure_rate)
    assert sc.touchpoints[0].salience == 3
    zero = load_scenario(BASELINE, ["touchpoints.*.failure_rate=0"])
    assert all(t.failure_rate == 0 for t in zero.touchpoints)
    # *= reaches a value the file leaves at its default
    assert load_scenario(BASELINE, ["desk.fcr*=0.5"]).desk.fcr == pytest.approx(0.375)


def test_apply_overrides_on_a_scenario_object(small):
    sc = apply_overrides(small, ["strategy.budget=0", "cohort*=2"])
    assert sc.strategy.budget == 0 and sc.cohort == 600
    assert small.cohort == 300  # the original is untouched (frozen)


def test_the_strategy_given_last_wins(baseline):
    assert baseline.with_strategy("mix=0.3").strategy.mix == 0.3
    assert baseline.with_strategy("0.7").strategy.mix == 0.7
    sc = baseline.with_strategy("mix=0.3").with_strategy("proactive")
    assert (sc.strategy.name, sc.strategy.mix) == ("proactive", None)
    assert load_scenario(BASELINE, ["strategy.mix=0.4"]).strategy.label == "mix=0.4"


def test_allocations_of_the_camps(baseline):
    reactive = baseline.with_strategy("reactive").allocation()
    proactive = baseline.with_strategy("proactive").allocation()
    assert set(reactive) == set(LEVERS)
    assert all(reactive[lever] == 0 for lever in PROACTIVE_LEVERS)
    assert all(proactive[lever] == 0 for lever in REACTIVE_LEVERS)
    assert sum(reactive.values()) == pytest.approx(1.0)
    assert sum(proactive.values()) == pytest.approx(1.0)
    assert baseline.with_strategy("mix=0").allocation() == pytest.approx(reactive)
    assert baseline.with_strategy("mix=1").allocation() == pytest.approx(proactive)
    mixed = baseline.with_strategy("mix=0.3").allocation()
    for lever in LEVERS:
        assert mixed[lever] == pytest.approx(0.7 * reactive[lever] + 0.3 * proactive[lever])
    balanced = baseline.with_strategy("balanced").allocation()
    assert balanced == pytest.approx(baseline.with_strategy("mix=0.5").allocation())
    none = baseline.with_strategy("none")
    assert none.budget() == 0.0 and not any(none.allocation().values())


def test_named_custom_allocation_is_a_strategy(tmp_path):
    path = write(tmp_path, BASELINE.read_text() + "\n[allocations.desk_only]\ncapacity = 1.0\n")
    sc = load_scenario(path, ["strategy.name=desk_only"])
    assert sc.allocation()["capacity"] == 1.0 and sum(sc.allocation().values()) == 1.0


def test_partial_lever_override_keeps_its_defaults(tmp_path):
    path = write(tmp_path, BASELINE.read_text() + "\n[levers.reliability]\nscale = 1000.0\n")
    sc = load_scenario(path)
    assert sc.levers.reliability.scale == 1000.0
    assert sc.levers.reliability.depreciation == Scenario.model_fields["levers"].default \
        .reliability.depreciation


# ------------------------------------------------------------------ invalid scenarios

@pytest.mark.parametrize("old, new, where, allowed", [
    ("horizon = 156", "horizon = = 156", "line 5", "invalid TOML"),
    ("horizon = 156", "horizon = 156\nhorizn = 3", "horizn", "unknown key"),
    ("quality = 0.62", "quality = 1.62", "touchpoints.help_centre.quality", "less than or equal to 1"),
    ("onboarding_call = { app_use = 1.0 }", "onboarding_call = { app_use = 0.9 }",
     "journey.transitions.onboarding_call", "must sum to 1"),
    ("help_centre = { app_use = 1.0 }", "help_centre = { app_usee = 1.0 }",
     "journey.transitions.help_centre.app_usee", "known: signup"),
    ('entry = "signup"', 'entry = "sign_up"', "journey.entry", "known: signup"),
    ("share = 0.15", "share = 0.25", "segments", "shares must sum to 1"),
    ("cohort = 2000", "cohort = 0", "cohort", "greater than or equal to 1"),
    ('name = "balanced"', 'name = "balancd"', "strategy.name", "allowed: none, reactive"),
    ("capacity = 0.40", "capacity = 0.60", "camps.reactive", "shares must sum to at most 1 (they sum to 1.2)"),
])
def test_an_invalid_file_is_one_line_naming_file_field_and_what_is_allowed(
        tmp_path, old, new, where, allowed):
    path = write(tmp_path, edited(old, new))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    line = one_problem(excinfo)
    assert line.startswith(f"{path}: ")
    assert where in line and allowed in line


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(tmp_path / "nope.toml")
    assert one_problem(excinfo) == f"{tmp_path / 'nope.toml'}: no such file"


def test_every_problem_gets_its_own_line(tmp_path):
    text = edited("cohort = 2000", "cohort = -1").replace("horizon = 156", "horizon = 0")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(write(tmp_path, text))
    assert len(excinfo.value.problems) == 2
    assert any("horizon" in p for p in excinfo.value.problems)
    assert any("cohort" in p for p in excinfo.value.problems)


@pytest.mark.parametrize("override, fragment", [
    ("nonsense", "expected dotted.path=value"),
    ("desk.base_capacityy=5", "desk.base_capacityy: unknown key"),
    ("desk.base_capacity=-3", "desk.base_capacity: Input should be greater than or equal to 0"),
    ("touchpoints.nope.quality=1", "no item 'nope' in that list (allowed: an index 0 to 7, "
                                   "a name (signup, onboarding_call"),
    ("segments.9.share=1", "(allowed: an index 0 to 2, a name (digital_native, mainstream"),
    ("desk.nope*=2", "no value to multiply at desk.nope (fields here: base_capacity"),
    ("horizon.x=3", "horizon is not a table"),
    ("desk.fcr*=abc", "*= needs a finite number"),
    ("desk.fcr*=nan", "*= needs a finite number"),
])
def test_a_bad_override_is_one_line(override, fragment):
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(BASELINE, [override])
    line = one_problem(excinfo)
    assert fragment in line
    assert override.split("=")[0].rstrip("*") in line


def test_an_override_can_mend_an_invalid_file(tmp_path):
    path = write(tmp_path, edited("share = 0.15", "share = 0.25"))
    sc = load_scenario(path, ["segments.premium.share=0.15"])
    assert sum(s.share for s in sc.segments) == pytest.approx(1.0)


# ------------------------------------------------------------- every problem, at once

def test_field_and_cross_field_problems_are_reported_together(tmp_path):
    text = (edited("quality = 0.62", "quality = 1.62")
            .replace("onboarding_call = { app_use = 1.0 }", "onboarding_call = { app_use = 0.9 }")
            .replace("share = 0.15", "share = 0.25"))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(write(tmp_path, text))
    problems = excinfo.value.problems
    assert len(problems) == 3, problems
    for fragment in ("touchpoints.help_centre.quality: Input should be less than or equal to 1",
                     "journey.transitions.onboarding_call: probabilities must sum to 1",
                     "segments: shares must sum to 1 (they sum to 1.1)"):
        assert sum(fragment in p for p in problems) == 1, (fragment, problems)


def _numeric_fields(model=Scenario, prefix=""):
    """(path, field) of every int or float field reachable from ``model``."""
    import typing

    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        plain = args[0] if typing.get_origin(annotation) in (typing.Union, type(int | None)) \
            and len(args) == 1 else annotation
        if plain in (int, float):
            yield prefix + name, field
        for arg in (plain, *typing.get_args(plain)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _numeric_fields(inner, f"{prefix}{name}.")


def test_every_number_has_a_finite_range():
    import annotated_types as at

    unbounded = []
    fields = list(_numeric_fields())
    assert len(fields) > 80  # the walk reaches the nested tables
    for path, field in fields:
        kinds = {type(m) for m in field.metadata}
        if not (kinds & {at.Ge, at.Gt} and kinds & {at.Le, at.Lt}):
            unbounded.append(path)
    assert not unbounded, unbounded


def _float_paths(baseline) -> list[str]:
    """A --set path for every float field the baseline holds (list items by name)."""
    data = baseline.model_dump(exclude_none=True)
    paths = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, where + [key])
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, where + [item.get("name", str(i)) if isinstance(item, dict)
                                    else str(i)])
        elif isinstance(node, float):
            paths.append(".".join(where))

    walk(data, [])
    return paths


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_infinities_are_refused_in_every_field(baseline, value):
    paths = _float_paths(baseline)
    assert len(paths) > 100
    for path in paths:
        with pytest.raises(ScenarioError) as excinfo:
            apply_overrides(baseline, [f"{path}={value}"])
        line = one_problem(excinfo)
        assert f"{path}: " in line and "finite number" in line, line


@pytest.mark.parametrize("override, fragment", [
    ("desk.base_capacity=1e30", "desk.base_capacity"),
    ("desk.base_capacity=100000001", "less than or equal to 100000000"),
    ("strategy.budget=1e13", "less than or equal to 1000000000000"),
    ("churn.base=50", "less than or equal to 20"),
    ("psychology.loss_aversion=1e9", "less than or equal to 10"),
    ("touchpoints.billing.variability=3", "less than or equal to 1"),
    ("levers.capacity.cost_per_slot=1e-300", "greater than or equal to 0.01"),
    ("journey.scheduled.0.every=100000", "less than or equal to 5200"),
])
def test_numbers_far_outside_what_a_field_means_are_refused(override, fragment):
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(BASELINE, [override])
    line = one_problem(excinfo)
    assert line.startswith(f"--set {override}: ") and fragment in line, line


def test_a_problem_is_blamed_on_whoever_gave_the_value(tmp_path):
    path = write(tmp_path, edited("quality = 0.62", "quality = 1.62"))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path, ["desk.fcr=1.5", "segments.premium.share=0.5"])
    problems = excinfo.value.problems
    assert len(problems) == 3, problems
    assert any(p.startswith(f"{path}: touchpoints.help_centre.quality: ") for p in problems)
    assert any(p.startswith("--set desk.fcr=1.5: desk.fcr: ") for p in problems)
    # a cross-field problem a --set caused is that override's
    assert any(p.startswith("--set segments.premium.share=0.5: segments: shares must sum to 1")
               for p in problems)


def test_values_are_shown_short():
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(BASELINE, ["desk.fcr*=2.4"])
    assert one_problem(excinfo).endswith("(got 1.8)")  # not 1.7999999999999998
    long = "x" * 100_000
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(BASELINE, [f'strategy.name="{long}"'])
    line = one_problem(excinfo)
    assert len(line) < 300 and "(100,002 characters)" in line, line


def test_a_deeply_nested_file_or_value_is_one_line(tmp_path):
    path = write(tmp_path, "x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    assert one_problem(excinfo) == f"{path}: invalid TOML: nested too deeply"
    tables = write(tmp_path, "[" + ".".join(["a"] * 5000) + "]\n", "tables.toml")
    with pytest.raises(ScenarioError) as excinfo:  # parses, but deeper than any scenario
        load_scenario(tables)
    assert one_problem(excinfo).startswith(f"{tables}: invalid TOML: nested too deeply")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(BASELINE, ["description=" + "[" * 50_000 + "]" * 50_000])
    assert "nested too deeply" in one_problem(excinfo)


# ----------------------------------------------------------- the company and its cohort

def test_scale_company_scales_the_company_with_the_cohort(baseline):
    kept = load_scenario(BASELINE, ["cohort=300"])
    assert (kept.desk.base_capacity, kept.strategy.budget) == (90, 2000.0)
    assert kept.company_sized_for is None
    scaled = load_scenario(BASELINE, ["cohort=300"], scale_company=True)
    assert scaled.company_sized_for == 2000
    assert scaled.desk.base_capacity == round(90 * 0.15)
    assert scaled.strategy.budget == pytest.approx(300.0)
    assert scaled.acquisition.base_rate == pytest.approx(0.6)
    assert scaled.levers.reliability.scale == pytest.approx(0.15 * baseline.levers.reliability
                                                           .scale)
    assert scaled.touchpoints == baseline.touchpoints and scaled.churn == baseline.churn
    # a value given explicitly stays as given; *= applies to the scaled value
    explicit = load_scenario(BASELINE, ["cohort=300", "desk.base_capacity=60",
                                        "strategy.budget*=2"], scale_company=True)
    assert explicit.desk.base_capacity == 60
    assert explicit.strategy.budget == pytest.approx(600.0)
    # an unchanged cohort changes nothing
    assert load_scenario(BASELINE, scale_company=True) == baseline.model_copy(
        update={"company_sized_for": 2000})


def test_a_budget_out_of_proportion_is_warned_about(baseline):
    assert spend_warning(baseline) is None  # about 10% of revenue
    warning = spend_warning(load_scenario(BASELINE, ["cohort=300"]))
    assert warning is not None and "64% of the starting weekly revenue" in warning
    assert "--scale-company" in warning
    assert spend_warning(load_scenario(BASELINE, ["cohort=300"], scale_company=True)) is None
