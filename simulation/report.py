"""A self-contained report of a results folder: the question, key parameters, tables, figures."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from . import plots
from .results import HEADLINE, Results, StudyResults, mean_interval

KEY_PARAMETERS = ("horizon", "cohort", "strategy.budget", "desk.base_capacity", "desk.fcr",
                  "churn.base", "acquisition.base_rate")


def _lookup(scenario: dict, dotted: str):
    node = scenario
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plots.plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _results_sections(res: Results):
    scenario = res.manifest["scenarios"][0]
    question = scenario.get("description") or "A simulated customer journey."
    if len(res.labels) > 1:
        question += f" Compared at equal budget: {', '.join(res.labels)}."
    params = pd.DataFrame([(k, _lookup(scenario, k)) for k in KEY_PARAMETERS],
                          columns=["parameter", "value"])
    table = res.compare(HEADLINE)
    table = table.assign(**{"mean [95% CI]": [f"{m:,.4g} [{lo:,.4g}, {hi:,.4g}]" for m, lo, hi
                                              in zip(table["mean"], table["ci_low"],
                                                     table["ci_high"])]})
    columns = ["variant", "output", "mean [95% CI]"]
    if "diff" in table:
        table["difference to " + res.labels[0] + " [95% CI, paired]"] = [
            "" if pd.isna(d) else f"{d:+,.4g} [{lo:+,.4g}, {hi:+,.4g}]"
            for d, lo, hi in zip(table["diff"], table["diff_low"], table["diff_high"])]
        columns.append("difference to " + res.labels[0] + " [95% CI, paired]")
    figures = [("Retention of the customers active at week 0", plots.retention_figure(res)),
               ("Outcomes over time", plots.panels_figure(res))]
    return question, params, [("Results at the horizon", table[columns])], figures


def _study_sections(res: StudyResults):
    study = res.manifest["study"]
    question = study.get("description") or "A parameter study."
    scenario = res.manifest["scenarios"][0]
    params = pd.DataFrame([(k, _lookup(scenario, k)) for k in KEY_PARAMETERS],
                          columns=["parameter", "value"])
    rows = []
    for point, group in res.runs.groupby("point"):
        label = res.points.set_index("point").loc[point, "label"]
        row = {"point": label}
        for output in ("cohort_retention", "nps", "profit_total"):
            m, lo, hi = mean_interval(group[output].to_numpy())
            row[f"{output} [95% CI]"] = f"{m:,.4g} [{lo:,.4g}, {hi:,.4g}]"
        rows.append(row)
    figures = [(name.replace("_", " "), fig) for name, fig in plots.study_figures(res)]
    return question, params, [("Outcomes at the horizon by point", pd.DataFrame(rows))], figures


def write_report(res: Results | StudyResults, path: str | Path) -> Path:
    """Write an HTML (figures embedded) or Markdown report; the suffix decides."""
    path = Path(path)
    sections = _study_sections(res) if isinstance(res, StudyResults) else _results_sections(res)
    question, params, tables, figures = sections
    seeds = res.steps["seed"].nunique()
    provenance = (f"engine {res.manifest.get('engine')}, root seed {res.manifest.get('root_seed')}, "
                  f"{seeds} seeds, cxsim {res.manifest['versions'].get('cxsim')}, "
                  f"commit {res.manifest.get('git_commit')}, created {res.manifest.get('created')}")
    if path.suffix == ".md":
        text = _markdown(question, params, tables, figures, provenance, path.parent)
    else:
        text = _html(question, params, tables, figures, provenance)
    path.write_text(text, encoding="utf-8")
    return path


def _markdown(question, params, tables, figures, provenance, folder: Path) -> str:
    parts = ["# cxsim report", "", f"**Question.** {question}", "", f"*{provenance}*", "",
             "## Key parameters", "", params.to_markdown(index=False), ""]
    for title, table in tables:
        parts += [f"## {title}", "", table.to_markdown(index=False), ""]
    for i, (title, fig) in enumerate(figures):
        name = f"report-figure-{i + 1}.png"
        plots.save(fig, folder / name)
        parts += [f"## {title}", "", f"![{title}]({name})", ""]
    return "\n".join(parts)


def _html(question, params, tables, figures, provenance) -> str:
    body = [f"<h1>cxsim report</h1><p><b>Question.</b> {html.escape(question)}</p>",
            f"<p><i>{html.escape(provenance)}</i></p>", "<h2>Key parameters</h2>",
            params.to_html(index=False, border=0)]
    for title, table in tables:
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
