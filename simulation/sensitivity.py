"""Global sensitivity of study outputs to the varied parameters (SALib Sobol and Morris)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .study import LoadedStudy, unit_sample


def analyse(loaded: LoadedStudy, runs: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """Indices per output and parameter, with confidence intervals.

    The model output at each design point is the mean over the study's seeds, so seed noise
    is averaged before the decomposition (common random numbers keep points comparable).
    """
    study = loaded.study
    kind = study.design.kind
    if kind not in ("sobol", "morris"):
        raise ValueError(f"sensitivity needs a sobol or morris design (this study is {kind})")
    names = [p.path for p in study.parameters]
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    means = runs.groupby("point")[outputs].mean().sort_index()
    if len(means) != len(loaded.points):
        raise ValueError(f"sensitivity needs every point: {len(means)} of "
                         f"{len(loaded.points)} are finished (resume the sweep first)")
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
    return pd.DataFrame(rows).replace([np.inf, -np.inf], np.nan)
