"""Runner of ``experiments/misspecification.yaml``: misspecified α and r̂, and the
cross-validated choice, against the oracle (the generator's α and r) and the best α of a grid.

The sweeps (``conf/experiment/misspec_linear.yaml``, ``misspec_relu.yaml``) run every variant
of ``conf/estimator/misspec_*.yaml`` on the same draws. Variant names encode what was changed:
``<estimator>_a<m>`` α = m × the generator's α (``a1_4`` = ¼), ``_r1``/``_r4`` r̂ = r/2 and 2r,
``_cv`` cross-validated; the plain name is the oracle. This module turns the rows into a table,
a figure (MSE against the α multiplier, one panel per model and family) and the report section.
It is a runner, not a sweep figure: its question is a comparison across estimators at one
point, not an exponent against a rate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .results import load_results

SWEEPS = {"misspec_linear": "convex_linear", "misspec_relu": "relu_mle"}
#: Paper-scale grids (the default scale is the configs' own).
PAPER = {"seed": "range(20)"}
#: The target of issue 11: cross-validation within this factor of the best grid α's MSE.
CV_TARGET = 1.5


def variant(name: str, base: str) -> tuple[str, float]:
    """``(kind, value)`` of a variant name: ("alpha", m), ("rank", scale), ("cv", nan),
    ("oracle", 1)."""
    if name == base:
        return "oracle", 1.0
    rest = name[len(base):]
    if rest == "_cv":
        return "cv", np.nan
    m = re.fullmatch(r"_a(\d+)(?:_(\d+))?", rest)
    if m:
        return "alpha", float(m.group(1)) / float(m.group(2) or 1)
    m = re.fullmatch(r"_r(\d+)", rest)
    if m:
        return "rank", float(m.group(1))
    raise ValueError(f"unknown variant {name!r} of {base!r}")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (sweep, model, estimator): mean and 10–90 % quantiles of the MSE over the
    seeds, the post-activation MSE where recorded, counts and the chosen α. Non-converged
    solves count with the estimate they returned (that is what a user of the estimator gets),
    and are counted in ``n_not_converged``; errors have no estimate."""
    rows = []
    for (sweep, model, est), g in results.groupby(["experiment_name", "model", "estimator"]):
        base = SWEEPS[sweep] if est.startswith(SWEEPS[sweep]) else "data_svd"
        kind, value = variant(est, base)
        ok = g[g["status"] != "error"]
        rows.append({
            "sweep": sweep, "model": model, "estimator": est, "base": base, "kind": kind,
            "value": value, "mse": ok["mse"].mean(), "mse_q10": ok["mse"].quantile(0.1),
            "mse_q90": ok["mse"].quantile(0.9),
            "mse_relu": ok["mse_relu"].mean() if "mse_relu" in ok else np.nan,
            "n_ok": int((g["status"] == "ok").sum()), "n_not_converged": int((g["status"] == "not_converged").sum()),
            "n_error": int((g["status"] == "error").sum()),
            "alpha_chosen": (g["solver.alpha"].median() if "solver.alpha" in g and kind == "cv"
                             else np.nan),
            "rank_chosen": (g["solver.rank"].median() if "solver.rank" in g and kind == "cv"
                            else np.nan),
            "wall_time": g["wall_time"].sum(),
        })
    return pd.DataFrame(rows)


def cv_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Per sweep and family: the oracle's, the best grid α's and the CV's MSE and their ratios."""
    out = []
    for (sweep, model), g in table[table["base"] != "data_svd"].groupby(["sweep", "model"]):
        grid = g[g["kind"].isin(["alpha", "oracle"])]
        best = grid.loc[grid["mse"].idxmin()]
        oracle = g[g["kind"] == "oracle"].iloc[0]
        cv = g[g["kind"] == "cv"].iloc[0]
        svd = table[(table["sweep"] == sweep) & (table["model"] == model)
                    & (table["estimator"] == "data_svd")]
        out.append({
            "sweep": sweep, "model": model, "oracle_mse": oracle["mse"],
            "best_alpha_multiple": best["value"], "best_mse": best["mse"],
            "cv_mse": cv["mse"], "cv_alpha_median": cv["alpha_chosen"],
            "cv_over_best": cv["mse"] / best["mse"], "cv_over_oracle": cv["mse"] / oracle["mse"],
            "within_target": bool(cv["mse"] <= CV_TARGET * best["mse"]),
            "data_svd_mse": svd["mse"].iloc[0] if len(svd) else np.nan,
        })
    return pd.DataFrame(out)


def plot(table: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = table[["sweep", "model"]].drop_duplicates().sort_values(["sweep", "model"])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.6), squeeze=False)
    for ax, (_, (sweep, model)) in zip(axes.flat, panels.iterrows()):
        g = table[(table["sweep"] == sweep) & (table["model"] == model)]
        grid = g[g["kind"].isin(["alpha", "oracle"]) & (g["base"] != "data_svd")]
        grid = grid.sort_values("value")
        yerr = np.clip(np.vstack([grid["mse"] - grid["mse_q10"], grid["mse_q90"] - grid["mse"]]),
                       0, None)
        ax.errorbar(grid["value"], grid["mse"], yerr=yerr, marker="o", ms=4, capsize=2,
                    color="C0", label=f"{SWEEPS[sweep]}, α × m")
        styles = {("cv", True): ("C3", "--"), ("rank", True): ("C2", ":"),
                  ("rank", False): ("C4", ":")}
        for _, row in g[g["kind"].isin(["cv", "rank"]) & (g["base"] != "data_svd")].iterrows():
            color, ls = styles[row["kind"], row["kind"] == "cv" or row["value"] < 2]
            ax.axhline(row["mse"], color=color, ls=ls, lw=1.2, label=row["estimator"])
        for name, color in (("data_svd", "0.3"), ("data_svd_cv", "0.6")):
            row = g[g["estimator"] == name]
            if len(row):
                ax.axhline(row["mse"].iloc[0], color=color, ls="-.", lw=1, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("α multiple m (α = m × the generator's α)")
        ax.set_ylabel("MSE")
        ax.set_title(f"{sweep}: {model}", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown(table: pd.DataFrame, comparison: pd.DataFrame) -> str:
    lines = ["### Misspecified α and r̂, and cross-validation (issue 11.2)", "",
             "![misspecification](figures/misspecification.png)", "",
             "Cross-validated α (3-fold over the rows, default grid max|Y|·2^(0…−7)) against "
             "the oracle (the generator's α) and the best α of the grid 1/8 … 4 × α; target: "
             f"within {CV_TARGET}× of the best grid α's MSE.", "",
             "| sweep | family | oracle MSE | best m | best MSE | CV MSE | CV α (median) | "
             "CV / best | CV / oracle | data_svd MSE |", "|---|---|---|---|---|---|---|---|---|---|"]
    for _, c in comparison.iterrows():
        mark = "" if c["within_target"] else " (missed)"
        lines.append(f"| {c['sweep']} | {c['model']} | {c['oracle_mse']:.3g} | "
                     f"{c['best_alpha_multiple']:g} | {c['best_mse']:.3g} | {c['cv_mse']:.3g} | "
                     f"{c['cv_alpha_median']:.3g} | {c['cv_over_best']:.2f}{mark} | "
                     f"{c['cv_over_oracle']:.2f} | {c['data_svd_mse']:.3g} |")
    lines += ["", "Every variant (mean MSE over the seeds; r̂ = r/2, 2r in the _r1/_r4 rows):", "",
              "| sweep | family | estimator | MSE | post-activation MSE | ok | not converged |",
              "|---|---|---|---|---|---|---|"]
    for _, t in table.sort_values(["sweep", "model", "base", "kind", "value"]).iterrows():
        post = "" if not np.isfinite(t["mse_relu"]) else f"{t['mse_relu']:.3g}"
        lines.append(f"| {t['sweep']} | {t['model']} | {t['estimator']} | {t['mse']:.3g} | "
                     f"{post} | {t['n_ok']} | {t['n_not_converged']} |")
    missed = comparison[~comparison["within_target"]]
    lines += ["", "Where cross-validation misses the target: "
              + ("nowhere." if missed.empty else ", ".join(
                  f"{m.sweep}/{m.model} ({m.cv_over_best:.2f}×)" for m in missed.itertuples())
                 + ". On the hard family W* = X̃⁻¹Z* carries no structure from row to row "
                 "(d = n), so held-out rows are unpredictable and the held-out error prefers "
                 "the smallest α (an estimate near 0); row cross-validation cannot see the "
                 "in-sample denoising gain there."), ""]
    return "\n".join(lines)


def run(scale: str, results_root: Path, jobs: int) -> str:
    """Run both sweeps (rows already stored are skipped), then write
    ``tables/misspecification.csv``, ``tables/misspecification_cv.csv``,
    ``figures/misspecification.png`` and return the report section."""
    from .reproduce import run_sweep

    results_root = Path(results_root)
    raw, logs = results_root / "raw", results_root / "logs"
    overrides = [f"{k}={v}" for k, v in PAPER.items()] if scale == "paper" else []
    for sweep in SWEEPS:
        run_sweep(sweep, overrides, raw, logs, jobs)
    results = load_results(raw, list(SWEEPS))
    table = summarize(results)
    comparison = cv_comparison(table)
    tables = results_root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    table.to_csv(tables / "misspecification.csv", index=False, float_format="%.6g")
    comparison.to_csv(tables / "misspecification_cv.csv", index=False, float_format="%.6g")
    plot(table, results_root / "figures" / "misspecification.png")
    return markdown(table, comparison)
