"""A self-contained report of a results folder: what was run, the answer in plain words and
what it rests on, the key parameters, the tables with paired differences, the figures.

A report states only what the results hold: counts of seeds and points come from the runs,
never from a study's description.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from . import plots
from .answers import (ANSWERED, best_lines, comparison, decision_metrics, decision_words,
                      difference_table, rests_on, strategy_words, varied_table)
from .numbers import interval, number
from .results import HEADLINE, OUTPUT_RANGE, Results, StudyResults, mean_interval

KEY_PARAMETERS = ("horizon", "cohort", "strategy.budget", "desk.base_capacity", "desk.fcr",
                  "churn.base", "acquisition.base_rate")
STUDY_OUTPUTS = ("cohort_retention", "nps", "profit_total")


def _lookup(scenario: dict, dotted: str):
    node = scenario
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _key_parameters(scenario: dict, varied=()) -> pd.DataFrame:
    """The base scenario's key parameters, leaving out those the study varied."""
    return pd.DataFrame([(k, number(_lookup(scenario, k))) for k in KEY_PARAMETERS
                         if k not in varied], columns=["parameter", "value"])


def _figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plots.plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _what_was_run(res, seeds: int) -> str:
    """Counted from the results (a description written beside the study may be stale)."""
    if isinstance(res, Results):
        return (f"{len(res.labels)} strateg{'y' if len(res.labels) == 1 else 'ies'} "
                f"({', '.join(res.labels)}), {seeds} seeds each, on the "
                f"{res.manifest['engine']} engine.")
    study = res.manifest["study"]
    n_points = len(res.point_labels())
    reference = (f" (the design's {len(res.points)} and the reference strategy "
                 f"{study['reference']})" if res.reference is not None else "")
    return (f"The study {res.manifest.get('study_file', '')}: a {study['design']['kind']} "
            f"design, {n_points} points{reference} x {seeds} seeds = {n_points * seeds:,} runs.")


def _results_sections(res: Results):
    scenario = res.manifest["scenarios"][0]
    table, reference = comparison(res, HEADLINE)
    tables = [("Results at the horizon", difference_table(table, reference)),
              *_decision_section(res)]
    figures = [("Retention of the customers active at week 0", plots.retention_figure(res)),
               ("Outcomes over time", plots.panels_figure(res))]
    return _key_parameters(scenario), None, tables, figures


def _study_sections(res: StudyResults):
    scenario = res.manifest["scenarios"][0]
    varied = [p["path"] for p in res.manifest["study"]["parameters"]]
    table, reference = comparison(res, STUDY_OUTPUTS)
    rows = []
    for point, group in res.runs.groupby("point"):
        row = {"point": res.point_labels()[point]}
        for output in STUDY_OUTPUTS:
            m, lo, hi = mean_interval(group[output].to_numpy(), bounds=OUTPUT_RANGE.get(output))
            row[f"{output} [95% CI]"] = interval(m, lo, hi)
        rows.append(row)
    tables = [("Outcomes at the horizon by point", pd.DataFrame(rows))]
    if len(res.points) <= 40:  # a readable table; large designs are read through figures
        tables.append((f"Paired differences to {reference}",
                       difference_table(table[table["variant"] != reference], reference,
                                        means=False)))
    if len(res.points) <= 40:
        tables += _decision_section(res)
    figures = [(name.replace("_", " "), fig) for name, fig in plots.study_figures(res)]
    return _key_parameters(scenario, varied), varied_table(res), tables, figures


def _decision_section(res) -> list[tuple[str, pd.DataFrame]]:
    """The decision metrics against the reference (none when only one strategy ran)."""
    table, reference = decision_metrics(res)
    if table.empty:
        return []
    return [(f"Decision metrics against {reference} (paired by seed; mean [95% CI over "
             "seeds]; return = (extra revenue - extra other cost) / extra spend)",
             decision_words(table))]


def write_report(res: Results | StudyResults, path: str | Path) -> Path:
    """Write an HTML (figures embedded) or Markdown report; the suffix decides."""
    path = Path(path)
    seeds = int(res.steps.groupby(_unit(res))["seed"].nunique().min())
    build = _study_sections if isinstance(res, StudyResults) else _results_sections
    params, varied, tables, figures = build(res)
    summary = {"What was run": [_what_was_run(res, seeds)],
               "The strategies": strategy_words(res.manifest["scenarios"][0],
                                                _budget_varied(res)),
               "The answer": best_lines(res, ANSWERED) or
               ["One strategy only: nothing is compared (see the table)."],
               "What it rests on": rests_on(res, seeds)}
    provenance = (f"engine {res.manifest.get('engine')}, "
                  f"root seed {res.manifest.get('root_seed')}, "
                  f"{seeds} seeds, cxsim {res.manifest['versions'].get('cxsim')}, "
                  f"commit {res.manifest.get('git_commit')}, created {res.manifest.get('created')}")
    if path.suffix == ".md":
        text = _markdown(summary, params, varied, tables, figures, provenance, path.parent)
    else:
        text = _html(summary, params, varied, tables, figures, provenance)
    path.write_text(text, encoding="utf-8")
    return path


def _budget_varied(res) -> bool:
    return isinstance(res, StudyResults) and any(
        p["path"] == "strategy.budget" for p in res.manifest["study"]["parameters"])


def _unit(res) -> str:
    return "variant" if isinstance(res, Results) else "point"


def _parameter_tables(params, varied):
    tables = [("Key parameters of the base scenario", params)]
    if varied is not None:
        tables.insert(0, ("Varied parameters (the values run)", varied))
    return tables


def _markdown(summary, params, varied, tables, figures, provenance, folder: Path) -> str:
    parts = ["# cxsim report", "", f"*{provenance}*", ""]
    for title, lines in summary.items():
        parts += [f"## {title}", ""] + [f"- {line}" for line in lines] + [""]
    for title, table in _parameter_tables(params, varied) + tables:
        parts += [f"## {title}", "", table.to_markdown(index=False, disable_numparse=True), ""]
    for i, (title, fig) in enumerate(figures):
        name = f"report-figure-{i + 1}.png"
        plots.save(fig, folder / name)
        parts += [f"## {title}", "", f"![{title}]({name})", ""]
    return "\n".join(parts)


def _html(summary, params, varied, tables, figures, provenance) -> str:
    body = ["<h1>cxsim report</h1>", f"<p><i>{html.escape(provenance)}</i></p>"]
    for title, lines in summary.items():
        body += [f"<h2>{html.escape(title)}</h2><ul>"]
        body += [f"<li>{html.escape(line)}</li>" for line in lines] + ["</ul>"]
    for title, table in _parameter_tables(params, varied) + tables:
        body += [f"<h2>{html.escape(title)}</h2>", table.to_html(index=False, border=0)]
    for title, fig in figures:
        body += [f"<h2>{html.escape(title)}</h2>",
                 f'<img alt="{html.escape(title)}" style="max-width:100%" '
                 f'src="data:image/png;base64,{_figure_png(fig)}">']
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:14px}td,th{padding:4px 10px;"
             "border-bottom:1px solid #ddd;text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>cxsim report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
