"""Results as CSV tables for spreadsheets, one row per run and one per run and week, with
the varied parameters' values in every row (as NetLogo BehaviorSpace's table output has)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .results import OUTPUT_RANGE, Results, StudyResults, mean_interval


def export_tables(res: Results | StudyResults) -> dict[str, pd.DataFrame]:
    """The tables an export writes, by file name."""
    if isinstance(res, Results):
        return {"runs.csv": res.summary(), "steps.csv": res.steps}
    parameters = res.points
    if res.reference is not None:  # the reference strategy's point: no parameter values
        parameters = pd.concat([parameters, res.reference.to_frame().T], ignore_index=True)
    parameters = parameters.astype({"point": int}).rename(columns={"label": "point_label"})
    tables = {"points.csv": _point_means(res, parameters)}
    for name, frame in (("runs.csv", res.runs), ("steps.csv", res.steps)):
        tables[name] = parameters.merge(frame, on="point", how="right", validate="one_to_many")
    return tables


def _point_means(res: StudyResults, parameters: pd.DataFrame) -> pd.DataFrame:
    """Per point: its parameter values, seeds, and the mean and 95% CI of every output."""
    outputs = [c for c in res.runs.columns if c not in ("point", "seed", "step")]
    rows = []
    for point, group in res.runs.groupby("point"):
        row = {"point": point, "seeds": group["seed"].nunique()}
        for output in outputs:
            row[output], row[f"{output}_ci_low"], row[f"{output}_ci_high"] = mean_interval(
                group[output].to_numpy(dtype=float), bounds=OUTPUT_RANGE.get(output))
        rows.append(row)
    return parameters.merge(pd.DataFrame(rows), on="point")


def write_csv(res: Results | StudyResults, folder: str | Path) -> list[Path]:
    """Write the tables into ``folder`` (created); each file appears whole or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in export_tables(res).items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            frame.to_csv(tmp, index=False)
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(folder / name)
    return written
