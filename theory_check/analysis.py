"""Fits and verdicts, computed from the results tables only.

For each sweep and estimator: the slope b of ``log MSE = a + b log(rate)`` (least squares over
every (point, seed) row, with a bootstrap interval that resamples seeds), the constant
``C = max over points of mean MSE / rate``, the ratio of MSE to a reference prediction (Theorem
3.1's degrees-of-freedom count), and a verdict against the claim the figure makes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .experiments import Figure

#: Distance of a fitted exponent from the predicted one that still counts as agreement.
EXPONENT_TOLERANCE = 0.1
#: Band of MSE / degrees-of-freedom prediction that counts as "sharp" (issue 2).
REFERENCE_BAND = (0.8, 1.25)
#: Band of MSE / asymptotic reference (claim "reference", issue 11.1).
ASYMPTOTIC_BAND = (0.9, 1.1)
N_BOOTSTRAP = 2000
#: Fixed so that the same tables give the same intervals.
BOOTSTRAP_SEED = 20261127

VERDICT_COLUMNS = [
    "theorem", "sweep", "estimator", "predicted_exponent", "fitted_exponent", "ci_low",
    "ci_high", "constant", "verdict", "figure", "claim", "role", "varied", "x_min", "x_max",
    "n_points", "n_seeds", "n_ok", "n_not_converged", "n_error", "reference_ratio_min",
    "reference_ratio_max", "constant_first", "constant_last", "mse_ratio_to_estimator",
    "best_log_exponent", "log_exponent_fits", "assumption",
]


def fit_exponent(rate, mse, seeds, *, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED):
    """Slope of log(mse) on log(rate), with a 95% bootstrap interval over seeds.

    Parameters
    ----------
    rate, mse : array of shape (m,)
        Positive predicted rates and observed errors, one per (point, seed) row.
    seeds : array of shape (m,)
        The seed of each row; resampling whole seeds keeps each seed's points together.

    Returns
    -------
    b, ci_low, ci_high : float
        NaN when the rate does not vary over the rows.
    """
    x, y = np.log(np.asarray(rate, float)), np.log(np.asarray(mse, float))
    seeds = np.asarray(seeds)
    if x.size < 2 or np.ptp(x) == 0:
        return np.nan, np.nan, np.nan
    labels, idx = np.unique(seeds, return_inverse=True)
    # Per-seed sufficient statistics: a bootstrap sample is a count vector over seeds.
    stats = np.zeros((labels.size, 5))
    for col, values in enumerate((np.ones_like(x), x, y, x * x, x * y)):
        np.add.at(stats[:, col], idx, values)

    def slope(totals):
        n, sx, sy, sxx, sxy = np.moveaxis(totals, -1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (n * sxy - sx * sy) / (n * sxx - sx * sx)

    b = float(slope(stats.sum(axis=0)))
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(labels.size, np.full(labels.size, 1 / labels.size), size=n_boot)
    boot = slope(counts @ stats)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return b, np.nan, np.nan
    low, high = np.percentile(boot, [2.5, 97.5])
    return b, float(low), float(high)


def point_table(rows: pd.DataFrame, varied: str, rate: str, reference: str | None) -> pd.DataFrame:
    """Per (estimator, value of the varied parameter): mean and spread of MSE over seeds."""
    agg = {
        "n_seeds": ("seed", "nunique"),
        "mse_mean": ("mse", "mean"),
        "mse_q10": ("mse", lambda s: s.quantile(0.1)),
        "mse_q90": ("mse", lambda s: s.quantile(0.9)),
        "rate": (rate, "mean"),
    }
    if reference and reference in rows:
        agg["reference"] = (reference, "mean")
    table = rows.groupby(["estimator", varied], sort=True).agg(**agg).reset_index()
    table["constant"] = table["mse_mean"] / table["rate"]
    if "reference" in table:
        table["reference_ratio"] = table["mse_mean"] / table["reference"]
    return table.rename(columns={varied: "x"}).assign(varied=varied)


def claim_verdict(claim: str, b: float, ratio_range, direction: float = -1.0,
                  constant: float = np.nan) -> str:
    """The theorem's verdict for its own estimator (see THEORY.md, "What validated means").

    ``direction`` is −1 when the rate falls along the sweep (n, N: the asymptotic direction of
    the theorems) and +1 when it grows (σ, r, α). On a falling rate, an upper bound needs MSE to
    fall at least as fast, b ≥ 1 − tol. On a growing rate the exponent says nothing about the
    bound: MSE ≤ 4α² on K while the rate grows, so MSE / rate stays bounded whatever b is; the
    verdict then reports the constant and, when MSE / rate rises along the sweep, says so.
    """
    if not np.isfinite(b):
        return "no fit (rate constant over the sweep or too few rows)"
    tol = EXPONENT_TOLERANCE
    if claim == "sharp":
        if abs(b - 1) > tol:
            return f"rate not confirmed: exponent {b:.2f}, predicted 1"
        low, high = ratio_range
        if np.isfinite(low) and not (REFERENCE_BAND[0] <= low and high <= REFERENCE_BAND[1]):
            return (f"rate confirmed, constant off: MSE / DoF in [{low:.2f}, {high:.2f}], "
                    f"outside [{REFERENCE_BAND[0]}, {REFERENCE_BAND[1]}]")
        return "sharp: rate and constant confirmed"
    if claim not in ("upper_bound", "tight"):
        raise ValueError(f"claim must be one of sharp, upper_bound, tight, got {claim!r}")
    if direction > 0:
        text = f"bound holds with C = {constant:.2g} over the sweep"
        if b - 1 > tol:
            text += f"; MSE / rate rises along it (MSE ∝ rate^{b:.2f}): the rate's shape in this parameter is not attained"
        elif claim == "tight" and abs(b - 1) <= tol:
            text = "tight: MSE follows the rate"
        return text
    if claim == "tight" and abs(b - 1) <= tol:
        return "tight: MSE follows the rate"
    if b >= 1 - tol:
        return ("bound holds" if claim == "upper_bound"
                else f"bound holds but not tight here: MSE ∝ rate^{b:.2f}")
    return f"bound violated: MSE / rate grows as the rate falls (MSE ∝ rate^{b:.2f})"


def reference_verdict(points: pd.DataFrame, rows: pd.DataFrame, varied: str) -> str:
    """Claim ``reference`` (issue 11.1): the figure's rate column is itself a sharp prediction
    (Theorem 3.1's asymptotic risk), checked point by point within :data:`ASYMPTOTIC_BAND`;
    the figure's reference (the DoF count) is checked within :data:`REFERENCE_BAND`, and the
    verdict says at which points it fails, with the SNR s_r/((kN)^¼σ) there when recorded."""
    pts = points.sort_values("x")
    low, high = ASYMPTOTIC_BAND
    ratio = pts["constant"]
    off = pts[(ratio < low) | (ratio > high)]
    text = (f"asymptotic reference holds: MSE / reference in [{ratio.min():.2f}, {ratio.max():.2f}] "
            f"at all {len(pts)} points" if off.empty else
            f"asymptotic reference off at {varied} = {', '.join(f'{x:g}' for x in off['x'])}: "
            f"MSE / reference in [{ratio.min():.2f}, {ratio.max():.2f}]")
    text += f", band [{low}, {high}]"
    if "reference_ratio" not in pts:
        return text
    dof = pts["reference_ratio"]
    fails = pts[(dof < REFERENCE_BAND[0]) | (dof > REFERENCE_BAND[1])]
    if fails.empty:
        return text + f"; DoF count holds at every point (MSE / DoF in [{dof.min():.2f}, {dof.max():.2f}])"
    snr = rows.groupby(varied)["meta.snr_min"].mean() if "meta.snr_min" in rows else None
    where = ", ".join(f"{x:g}" + (f" (s_r/threshold {snr[x]:.2g})" if snr is not None else "")
                      for x in fails["x"])
    return (text + f"; DoF count fails (MSE / DoF outside [{REFERENCE_BAND[0]}, {REFERENCE_BAND[1]}], "
            f"from {dof.min():.2f} to {dof.max():.2f}) at {varied} = {where}")


def assumption_label(rows: pd.DataFrame) -> str:
    """The rows' noise-assumption labels (issue 11.3): "within", the "outside: ..." labels
    joined, or "" for rows that do not record one."""
    if "assumption" not in rows:
        return ""
    labels = sorted(set(rows["assumption"].dropna().astype(str)) - {""})
    outside = [label for label in labels if label != "within"]
    return "; ".join(outside) if outside else ("within" if labels else "")


def rate_direction(points: pd.DataFrame) -> float:
    """+1 if the rate grows with the varied parameter over the sweep, −1 if it falls."""
    if len(points) < 2:
        return -1.0
    ordered = points.sort_values("x")
    return 1.0 if ordered["rate"].iloc[-1] > ordered["rate"].iloc[0] else -1.0


def baseline_verdict(b: float) -> str:
    """What a baseline's fitted exponent says (no theorem covers it)."""
    if not np.isfinite(b):
        return "no fit"
    if b > 1 + EXPONENT_TOLERANCE:
        return f"changes faster than the rate (exponent {b:.2f})"
    if b >= 1 - EXPONENT_TOLERANCE:
        return f"follows the rate (exponent {b:.2f})"
    if b >= 0.25:
        return f"changes slower than the rate (exponent {b:.2f})"
    return f"does not follow the rate: plateau (exponent {b:.2f})"


def log_exponent_fits(rows: pd.DataFrame, exponents) -> tuple[float, str]:
    """Compare rate_sqrt · log(nN)^p for each p: the best p leaves MSE / rate flattest.

    Returns the best p and a text ``p: exponent, spread`` for each p, where spread is the
    standard deviation of log(MSE / rate_p) over the sweep's point means.
    """
    means = rows.groupby(["n", "N", "r"], as_index=False).agg(mse=("mse", "mean"),
                                                              rate=("rate_sqrt", "mean"))
    if (means["n"] * means["N"]).nunique() < 2:  # log(nN) is constant: p cannot be told apart
        return np.nan, ""
    parts, spreads = [], {}
    for p in exponents:
        rate_p = means["rate"] * np.log(means["n"] * means["N"]) ** p
        b, _, _ = fit_exponent(rate_p, means["mse"], np.zeros(len(means)), n_boot=1)
        spreads[p] = float(np.std(np.log(means["mse"] / rate_p)))
        parts.append(f"p={p:g}: b={b:.2f}, spread={spreads[p]:.3f}")
    best = min(spreads, key=spreads.get) if spreads else np.nan
    return best, "; ".join(parts)


def failed_verdict(rows: pd.DataFrame, varied: str) -> str:
    """The verdict of an estimator none of whose runs gave an MSE: how many failed, and the
    first failure's message (in sweep order), which a "no fit" would hide."""
    failed = rows.sort_values([varied, "seed"], kind="stable") if "seed" in rows else rows
    message = failed["message"].dropna().astype(str) if "message" in failed else pd.Series()
    message = message[message != ""]
    first = message.iloc[0] if len(message) else "no message recorded"
    return f"no fit: every run failed ({len(rows)} of {len(rows)}); first failure: {first}"


def analyze(results: pd.DataFrame, figures: list[Figure]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verdict rows and per-point summaries of every sweep figure.

    Parameters
    ----------
    results : DataFrame
        All result rows (the tables written by the runs).
    figures : list of Figure
        Figure definitions; runner figures are skipped.

    Returns
    -------
    verdicts : DataFrame with :data:`VERDICT_COLUMNS`
    points : DataFrame, one row per (figure, sweep, estimator, point)
    """
    verdicts, points = [], []
    for fig in figures:
        for sweep in fig.sweeps:
            rows = results[(results["experiment_name"] == sweep.name)
                           & results["estimator"].isin(fig.estimators)] if len(results) else results
            if rows.empty:
                continue
            varied = rows["sweep"].iloc[0]
            ok = rows[rows["status"] == "ok"]
            table = point_table(ok, varied, fig.rate, fig.reference) if len(ok) else pd.DataFrame()
            if len(table):
                points.append(table.assign(figure=fig.figure, sweep=sweep.name))
            est_means = table[table["estimator"] == fig.estimator].set_index("x")["mse_mean"] \
                if len(table) else pd.Series(dtype=float)
            for est in fig.estimators:
                mine = rows[rows["estimator"] == est]
                good = ok[ok["estimator"] == est]
                pts = table[table["estimator"] == est] if len(table) else table
                b, lo, hi = (fit_exponent(good[fig.rate], good["mse"], good["seed"])
                             if len(good) else (np.nan,) * 3)
                ratios = pts["reference_ratio"] if "reference_ratio" in pts else pd.Series(dtype=float)
                ratio_range = (ratios.min(), ratios.max()) if len(ratios) else (np.nan, np.nan)
                role = "estimator" if est == fig.estimator else "baseline"
                constant = pts["constant"].max() if len(pts) else np.nan
                if len(mine) and not len(good):
                    verdict = failed_verdict(mine, varied)
                elif role == "estimator" and sweep.claim == "reference":
                    verdict = reference_verdict(pts, good, varied)
                elif role == "estimator":
                    verdict = claim_verdict(sweep.claim, b, ratio_range, rate_direction(pts), constant)
                else:
                    verdict = baseline_verdict(b)
                assumption = assumption_label(mine)
                if assumption.startswith("outside"):
                    verdict = f"{assumption}, not a test of Theorem {fig.theorem}: {verdict}"
                row = {
                    "theorem": fig.theorem, "sweep": sweep.name, "estimator": est,
                    "predicted_exponent": 1.0, "fitted_exponent": b, "ci_low": lo, "ci_high": hi,
                    "constant": constant,
                    "verdict": verdict, "figure": fig.figure, "claim": sweep.claim, "role": role,
                    "varied": varied,
                    "x_min": pts["x"].min() if len(pts) else np.nan,
                    "x_max": pts["x"].max() if len(pts) else np.nan,
                    "n_points": len(pts), "n_seeds": good["seed"].nunique(),
                    "n_ok": len(good),
                    "n_not_converged": int((mine["status"] == "not_converged").sum()),
                    "n_error": int((mine["status"] == "error").sum()),
                    "reference_ratio_min": ratio_range[0], "reference_ratio_max": ratio_range[1],
                    "constant_first": pts["constant"].iloc[0] if len(pts) else np.nan,
                    "constant_last": pts["constant"].iloc[-1] if len(pts) else np.nan,
                    "mse_ratio_to_estimator": (
                        float(np.exp(np.mean(np.log(pts.set_index("x")["mse_mean"] / est_means))))
                        if len(pts) and len(est_means) else np.nan),
                    "best_log_exponent": np.nan, "log_exponent_fits": "",
                    "assumption": assumption,
                }
                if fig.log_exponents and role == "estimator" and len(good):
                    row["best_log_exponent"], row["log_exponent_fits"] = log_exponent_fits(
                        good, fig.log_exponents)
                verdicts.append(row)
    verdict_table = pd.DataFrame(verdicts, columns=VERDICT_COLUMNS)
    point_summary = pd.concat(points, ignore_index=True) if points else pd.DataFrame()
    return verdict_table, point_summary
