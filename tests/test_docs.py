"""docs/model.md documents every scenario field with the default the code uses.

Walks every pydantic model reachable from ``Scenario`` (Touchpoint, Segment, Lever,
CapacityLever, ...) and checks that each field's TOML path appears in the documentation, and
that each scalar default is the one written in the default column (the third) of the
parameter-table row whose first cell is that path. List items are written with ``*``
(``touchpoints.*.quality``), the notation of ``--set``. Also checks that the baseline's
touchpoint and segment tables (section 3.5) match ``scenarios/baseline.toml``. No simulation
is run.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from simulation.scenario import Scenario

DOC = Path(__file__).resolve().parent.parent / "docs" / "model.md"
REQUIRED = object()


def _models_in(annotation) -> list[tuple[type[BaseModel], bool]]:
    """Pydantic model classes inside a type annotation, each with whether it is a list item."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    found = []
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        for model, in_list in _models_in(arg):
            found.append((model, in_list or origin in (list, tuple)))
    return found


def schema_fields(model: type[BaseModel] = Scenario, prefix: str = "",
                  instance: BaseModel | None = None):
    """(TOML path, default) of every field, recursively; REQUIRED when there is no default.

    Defaults of nested models come from the parent's default instance where there is one
    (``levers.reliability.scale`` from ``Levers().reliability``), else from the class.
    """
    for name, field in model.model_fields.items():
        path = prefix + name
        if instance is not None:
            default = getattr(instance, name)
        elif field.is_required():
            default = REQUIRED
        else:
            default = field.get_default(call_default_factory=True)
        yield path, default
        for sub, in_list in _models_in(field.annotation):
            if in_list:
                yield from schema_fields(sub, path + ".*.")
            else:
                yield from schema_fields(sub, path + ".",
                                         default if isinstance(default, sub) else None)


def _table_rows(text: str) -> dict[str, list[str]]:
    """First cell (a path in backticks) -> the row's cells, for every Markdown table row."""
    rows = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        first = cells[0]
        if first.startswith("`") and first.endswith("`") and first.count("`") == 2:
            rows.setdefault(first.strip("`"), cells)
    return rows


def _number(cell: str) -> float:
    return float(cell.strip("`").replace(",", "").replace("_", "").replace("−", "-"))


def _check_default(path: str, default, rows: dict[str, list[str]], problems: list[str]):
    if isinstance(default, dict):  # an allocation: each share on its own row
        for key, value in default.items():
            _check_default(f"{path}.{key}", value, rows, problems)
        return
    if default is REQUIRED or default is None or isinstance(default, (BaseModel, list)):
        return
    row = rows.get(path)
    if row is None or len(row) < 3:
        problems.append(f"{path}: no parameter-table row (| `{path}` | symbol | default | ...)")
        return
    cell = row[2]
    if isinstance(default, bool):
        ok = cell.strip("`").lower() == str(default).lower()
    elif isinstance(default, (int, float)):
        try:
            ok = math.isclose(_number(cell), float(default), rel_tol=1e-12, abs_tol=1e-15)
        except ValueError:
            ok = False
    else:
        ok = str(default) in cell
    if not ok:
        problems.append(f"{path}: the code's default is {default!r}, docs/model.md says {cell!r}")


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_walk_reaches_every_model():
    paths = {path for path, _ in schema_fields()}
    for expected in ("psychology.loss_aversion", "touchpoints.*.quality", "segments.*.voice",
                     "journey.scheduled.*.every", "levers.reliability.scale",
                     "levers.capacity.cost_per_slot", "strategy.budget", "camps.reactive"):
        assert expected in paths
    defaults = dict(schema_fields())
    assert defaults["levers.reliability.depreciation"] == Scenario.model_fields[
        "levers"].default.reliability.depreciation
    assert defaults["touchpoints.*.name"] is REQUIRED


def test_every_scenario_field_is_documented(doc_text):
    missing = [path for path, _ in schema_fields() if f"`{path}`" not in doc_text]
    assert not missing, "fields missing from docs/model.md: " + ", ".join(missing)


def test_documented_defaults_match_the_code(doc_text):
    rows = _table_rows(doc_text)
    problems: list[str] = []
    for path, default in schema_fields():
        _check_default(path, default, rows, problems)
    assert not problems, "docs/model.md has drifted from simulation/scenario.py:\n" + \
        "\n".join(problems)


def test_the_baseline_tables_match_the_bundled_file(doc_text, baseline):
    """Section 3.5 lists the baseline's touchpoints and segments with their values."""
    rows = {}
    for line in doc_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    touchpoint_columns = ("stage", "channel", "quality", "variability", "failure_rate",
                          "complexity", "salience", "decision")
    segment_columns = ("share", "weekly_value", "self_service", "voice", "abandon",
                       "expectation", "trust", "satisfaction", "churn_bias", "effort_weight")
    problems = []
    for items, columns in ((baseline.touchpoints, touchpoint_columns),
                           (baseline.segments, segment_columns)):
        for item in items:
            row = rows.get(item.name)
            if row is None:
                problems.append(f"{item.name}: no row in section 3.5")
                continue
            for cell, column in zip(row[1:], columns):
                value = getattr(item, column)
                if isinstance(value, bool):
                    ok = cell == ("yes" if value else "no")
                elif isinstance(value, float):
                    ok = math.isclose(_number(cell), value, rel_tol=1e-12)
                else:
                    ok = cell == str(value)
                if not ok:
                    problems.append(f"{item.name}.{column}: baseline.toml has {value!r}, "
                                    f"docs/model.md says {cell!r}")
    assert not problems, "\n".join(problems)
