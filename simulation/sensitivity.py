"""Global sensitivity of study outputs to the varied parameters (SALib Sobol and Morris)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .study import LoadedStudy, unit_sample


def analyse(loaded: LoadedStudy, runs: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """Indices per output and parameter, with confidence intervals.

    The model output at each design point is the mean over the study's seeds, so seed noise
    is averaged before the decomposition (common random numbers keep points comparable).
    A ``warning`` column says where an index comes from too small a sample to trust.
    """
    study = loaded.study
    kind = study.design.kind
    if kind not in ("sobol", "morris"):
        raise ValueError(f"sensitivity needs a sobol or morris design (this study is {kind})")
    names = [p.path for p in study.parameters]
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    design = runs[runs["point"] < loaded.design_size]  # not the reference strategy's point
    means = design.groupby("point")[outputs].mean().sort_index()
    if len(means) != loaded.design_size:
        raise ValueError(f"sensitivity needs every point: {len(means)} of "
                         f"{loaded.design_size} are finished (resume the sweep first)")
    rows = []
    for output in outputs:
        y = means[output].to_numpy(dtype=float)
        if kind == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, seed=study.design.seed)
            for i, name in enumerate(names):
                rows.append({"output": output, "parameter": name,
                             "S1": res["S1"][i], "S1_conf": res["S1_conf"][i],
                             "ST": res["ST"][i], "ST_conf": res["ST_conf"][i]})
        else:
            from SALib.analyze import morris

            x = unit_sample(study)
            res = morris.analyze(problem, x, y, num_levels=study.design.levels,
                                 seed=study.design.seed)
            for i, name in enumerate(names):
                rows.append({"output": output, "parameter": name,
                             "mu_star": res["mu_star"][i], "mu_star_conf": res["mu_star_conf"][i],
                             "sigma": res["sigma"][i]})
    table = pd.DataFrame(rows).replace([np.inf, -np.inf], np.nan)
    table["warning"] = [_doubt(row, kind) for row in table.to_dict("records")]
    return table


def _doubt(row: dict, kind: str) -> str:
    """Why an index is not to be trusted yet ('' when there is no sign of trouble).

    A first-order index cannot exceed the total one, and neither can exceed 1; when the
    estimates say otherwise (S1 outside the confidence interval of ST, or above 1), or an
    interval is as wide as its estimate, the sample is too small for the decomposition
    (more design samples, not more seeds, help).
    """
    if kind == "morris":
        if row["mu_star"] > 0 and row["mu_star_conf"] >= row["mu_star"]:
            return "CI as wide as mu*: too few trajectories"
        return ""
    problems = []
    if row["S1"] - row["ST"] > row["ST_conf"]:
        problems.append("S1 > ST beyond the CI of ST")
    if max(row["S1"], row["ST"]) > 1:
        problems.append("an index above 1")
    if row["ST"] > 0.01 and row["ST_conf"] >= row["ST"]:
        problems.append("CI of ST as wide as ST")
    if abs(row["S1"]) > 0.01 and row["S1_conf"] >= abs(row["S1"]):
        problems.append("CI of S1 as wide as S1")
    return "; ".join(problems) + (": too few samples" if problems else "")
