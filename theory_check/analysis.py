"""Fits and verdicts, computed from the results tables only.

For each sweep and estimator: the slope b of ``log MSE = a + b log(rate)`` fitted on the point
means (one point per value of the varied parameter) with a t interval, so that the scatter of the
points about the line (lack of fit) widens the interval as much as the seed noise does; the
seed bootstrap over all rows is kept beside it for comparison. Then each point's mean MSE / rate
with its interval, checked against the constant the experiment file states before the run; the
span of the sweep (decades of rate, number of points), below which an exponent is indicative
only; the ratio of MSE to a reference prediction (Theorem 3.1's degrees-of-freedom count).

A verdict is data (:class:`Verdict`: a status from :data:`STATUSES`, the claim, the numbers
behind it), computed by one function per claim (:func:`sharp_claim`, :func:`bound_claim`,
:func:`outside_claim`, :func:`reference_claim`, :func:`baseline_claim`); its prose is rendered
last (:func:`render_verdict`). The rules cannot refute by extrapolation: a bound is "violated"
only where a measured point's MSE / rate exceeds the constant with confidence, or where a row
breaks the proof's deterministic chain (``proof.in_order`` false), never from a fitted exponent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.special

from .experiments import Figure

def t_quantile(q: float, df):
    """Student-t quantile ``scipy.stats.t.ppf(q, df)`` (NaN where df <= 0), computed by the
    same special function without importing scipy.stats, which costs a sweep process about
    0.75 s of CPU (a third of a small sweep's framework cost).

    Parameters
    ----------
    q : float
        Probability in (0, 1).
    df : float or array-like
        Degrees of freedom.

    Returns
    -------
    float or ndarray
        Of the shape of ``df``.
    """
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return scipy.special.stdtrit(np.where(df > 0, df, np.nan), q)[()]


def _slope_and_stderr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error, with the arithmetic of
    ``scipy.stats.linregress`` (so the same bits), whose module import this avoids."""
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=1).flat
    slope = ssxym / ssxm
    if x.size == 2:
        return slope, 0.0
    r = 0.0 if ssym == 0.0 else min(max(ssxym / np.sqrt(ssxm * ssym), -1.0), 1.0)
    return slope, np.sqrt((1 - r**2) * ssym / ssxm / (x.size - 2))


#: Distance of a fitted exponent from the predicted one that still counts as agreement.
EXPONENT_TOLERANCE = 0.1
#: Band of MSE / degrees-of-freedom prediction that counts as "sharp" (issue 2).
REFERENCE_BAND = (0.8, 1.25)
#: Level of every interval.
CONFIDENCE = 0.95
#: A verdict that fits an exponent needs the sweep to span this many decades of rate, per
#: scale, and this many points; a narrower sweep's verdict is "indicative only" (issue 12.3).
MIN_DECADES = {"default": 0.6, "paper": 1.0}
MIN_POINTS = 5
#: Band of MSE / asymptotic reference (claim "reference", issue 11.1).
ASYMPTOTIC_BAND = (0.9, 1.1)
N_BOOTSTRAP = 2000
#: Where a sweep has several points, the "smallest rates" on which attainment is judged: the
#: points whose log rate lies in this lower fraction of the sweep's log-rate range.
LOWER_PART = 0.5

#: The status of a verdict, one of a fixed vocabulary, and what each means.
STATUSES = {
    "sharp": "the sharp prediction holds: exponent against it within 1 ± 0.1 and MSE / prediction "
             "in its band (or the asymptotic reference within its band at every point)",
    "tight": "the constant holds and MSE / rate is flat (local growth within ±0.1) over the "
             "smallest rates of the sweep: the rate is attained",
    "holds": "the constant holds at every point; MSE / rate flat or falling over the smallest "
             "rates (a falling rate), or the constant alone (a rate that grows along the sweep)",
    "pre-asymptotic": "the constant holds; MSE / rate still rises over the smallest rates, but "
                      "slower than over the largest: approaching its limit",
    "rising": "the constant holds; MSE / rate rises over the smallest rates without slowing: "
              "extend the sweep",
    "unresolved": "the intervals are too wide to tell (or two readings the sweep cannot separate)",
    "violated": "a measured point's MSE / rate exceeds the constant with confidence, or a row "
                "breaks the proof's deterministic chain",
    "not-confirmed": "a sharp prediction is off: its exponent or its constant outside the band",
    "indicative": "the sweep spans too little rate for a claim about the limit; described only",
    "outside": "the sweep is outside the theorem's assumptions; described, never judged",
    "no-fit": "nothing to fit: every run failed, or the rate does not vary",
    "baseline": "an estimator no theorem covers here; described only",
}
#: Rates that carry σ: under noise of infinite variance (σ a scale) they predict nothing.
SIGMA_FREE_RATES = ("rate_sqrt",)

#: Fixed so that the same tables give the same intervals.
BOOTSTRAP_SEED = 20261127

VERDICT_COLUMNS = [
    "theorem", "sweep", "estimator", "predicted_exponent", "fitted_exponent", "ci_low",
    "ci_high", "constant", "verdict", "status", "reason", "figure", "claim", "role", "varied",
    "x_min", "x_max",
    "n_points", "n_seeds", "n_ok", "n_not_converged", "n_error", "reference_ratio_min",
    "reference_ratio_max", "constant_first", "constant_last", "mse_ratio_to_estimator",
    "best_log_exponent", "log_exponent_fits", "boot_low", "boot_high", "band_margin",
    "rate_decades", "span_ok", "constant_at", "constant_bound", "snr_min", "snr_max", "assumption",
    "constant_low", "constant_high", "constant_source", "exponent_against", "claim_exponent",
    "claim_ci_low", "claim_ci_high", "local_growth", "local_growth_low", "local_growth_high",
    "upper_growth", "shape", "n_out_of_order",
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


def fit_point_means(rate, mse, level: float = CONFIDENCE):
    """Slope of log(mean MSE) on log(rate) over a sweep's points, with a t interval.

    The interval comes from the residual scatter of the point means about the fitted line, with
    m − 2 degrees of freedom (m points): it covers the seed noise of each mean *and* the lack of
    fit of the power law, which a bootstrap over seeds (:func:`fit_exponent`) does not see.

    Parameters
    ----------
    rate, mse : array of shape (m,)
        One positive predicted rate and one mean MSE per point of the sweep.

    Returns
    -------
    b, ci_low, ci_high : float
        b is NaN when the rate does not vary; the interval is NaN with fewer than 3 points.
    """
    x, y = np.log(np.asarray(rate, float)), np.log(np.asarray(mse, float))
    if x.size < 2 or np.ptp(x) == 0:
        return np.nan, np.nan, np.nan
    slope, stderr = _slope_and_stderr(x, y)
    if x.size < 3:
        return float(slope), np.nan, np.nan
    half = t_quantile(0.5 + level / 2, x.size - 2) * stderr
    return float(slope), float(slope - half), float(slope + half)


def band_margin(claim: str, ci_low: float, ci_high: float, predicted: float = 1.0) -> float:
    """How far the exponent's interval sits inside the ±tolerance band the claim needs (> 0:
    inside by that much; < 0: it reaches that far outside). "sharp" and "tight" need the
    two-sided band; an upper bound only needs b ≥ predicted − tolerance."""
    low, high = predicted - EXPONENT_TOLERANCE, predicted + EXPONENT_TOLERANCE
    if claim in ("sharp", "tight"):
        return float(min(ci_low - low, high - ci_high))
    return float(ci_low - low)


def rate_decades(rates) -> float:
    """Decades of rate a sweep covers, log10(max / min) over its points."""
    rates = np.asarray(rates, float)
    rates = rates[np.isfinite(rates) & (rates > 0)]
    return float(np.log10(rates.max() / rates.min())) if rates.size else np.nan


def span_text(decades: float, n_points: int, scale: str) -> str:
    """"" when the sweep is wide enough for an exponent at ``scale``, else why it is not."""
    need = MIN_DECADES.get(scale, MIN_DECADES["paper"])
    if np.isfinite(decades) and decades >= need and n_points >= MIN_POINTS:
        return ""
    return (f"indicative only ({decades:.2f} decades of rate, {n_points} points; an exponent "
            f"needs ≥ {need:g} decades and ≥ {MIN_POINTS} points at the {scale} scale)")


#: Columns a run may carry with Theorem 3.1's signal-to-noise ratio s_r / (σ (kN)^¼), s_r the
#: r-th singular value of Z*: the first one present is used (Model S records meta.snr_min;
#: older rows lack it, and the verdict then says so).
SNR_COLUMNS = ("meta.snr_min", "snr_thm31", "meta.snr")


def snr_range(rows: pd.DataFrame) -> tuple[float, float]:
    """Smallest and largest SNR s_r / (σ (kN)^¼) over the rows, NaN when not recorded."""
    for col in SNR_COLUMNS:
        if col in rows and rows[col].notna().any():
            return float(rows[col].min()), float(rows[col].max())
    if "meta.s_r" in rows and rows["meta.s_r"].notna().any():
        k = rows["meta.k"] if "meta.k" in rows else np.minimum(rows["n"], rows["d"])
        snr = rows["meta.s_r"] / (rows["sigma"] * (k * rows["N"]) ** 0.25)
        return float(snr.min()), float(snr.max())
    return np.nan, np.nan


def sigma_scaling_text(rows: pd.DataFrame) -> str:
    """For a σ sweep of Model A/R: the spread of MSE / (ασ·√(r(n+N)/(nN))) over the points with
    σ ≥ α, where the rate's α² term no longer dominates α(α+β)."""
    if not {"meta.alpha", "rate_sqrt", "sigma"} <= set(rows):
        return ""
    high = rows[rows["sigma"] >= rows["meta.alpha"]]
    if high["sigma"].nunique() < 2:
        return ""
    scaled = high["mse"] / (high["meta.alpha"] * high["sigma"] * high["rate_sqrt"])
    means = scaled.groupby(high["sigma"]).mean()
    return (f"; over σ ≥ α, MSE/(ασ√(r(n+N)/(nN))) stays in [{means.min():.2f}, "
            f"{means.max():.2f}]")


def sigma_sweep_note(points: pd.DataFrame, rows: pd.DataFrame, theorem: str) -> str:
    """What the data say about MSE along a σ sweep of Theorem 4.4 or 4.9 (issue 21.2): MSE / σ²
    at the smallest σ (≈ 1 when the estimator returns ≈ Y, the noise itself: a Y inside K is its
    own projection), and on the hard family the spread of MSE / (ασ√rate) over σ ≥ α.

    ``points``: :func:`ratio_points` of the sweep; ``rows``: its kept rows."""
    if theorem not in ("4.4", "4.9") or points.empty:
        return ""
    first = points.sort_values("x").iloc[0]
    per_sigma2 = first["mse_mean"] / first["x"] ** 2
    text = f"at σ = {first['x']:g} MSE / σ² = {per_sigma2:.2f}"
    if abs(per_sigma2 - 1) <= 0.1:
        text += " (the error is the noise itself: the estimator returns ≈ Y, as when Y lies in K)"
    constant = "α(α+β)" if theorem == "4.4" else "α(α+σ) (the suite's choice, not the paper's)"
    text += f"; the rate's constant {constant} keeps an α² term that σ does not scale"
    hard = "model" in rows and rows["model"].astype(str).str.contains("hadamard").any()
    return text + (sigma_scaling_text(rows) if hard else "")


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
    if "meta.snr_min" in rows:  # s_r / (kN)^¼σ: figures mark where it crosses the threshold 1
        agg["snr_min"] = ("meta.snr_min", "mean")
    table = rows.groupby(["estimator", varied], sort=True).agg(**agg).reset_index()
    table["constant"] = table["mse_mean"] / table["rate"]
    if "reference" in table:
        table["reference_ratio"] = table["mse_mean"] / table["reference"]
    return table.rename(columns={varied: "x"}).assign(varied=varied)


def ratio_points(rows: pd.DataFrame, varied: str, rate: str, level: float = CONFIDENCE) -> pd.DataFrame:
    """Per value of the varied parameter: MSE / rate over the seeds, with a t interval.

    Parameters
    ----------
    rows : DataFrame
        One estimator's kept rows (columns ``mse``, ``rate``, ``varied``).

    Returns
    -------
    DataFrame, one row per point, sorted by ``x``: ``x``, ``k`` (seeds), ``rate``, ``mse_mean``,
    ``ratio`` (mean MSE / rate), ``cv2`` (squared coefficient of variation of MSE over the
    seeds, NaN with one seed), ``ratio_low``, ``ratio_high`` (the point's own t interval with
    k − 1 degrees of freedom; NaN with one seed).
    """
    grouped = rows.groupby(varied, sort=True)
    pts = pd.DataFrame({"k": grouped["mse"].count(), "rate": grouped[rate].mean(),
                        "mse_mean": grouped["mse"].mean(), "mse_sd": grouped["mse"].std(ddof=1)})
    pts = pts.rename_axis("x").reset_index()
    pts["ratio"] = pts["mse_mean"] / pts["rate"]
    pts["cv2"] = (pts["mse_sd"] / pts["mse_mean"]) ** 2
    with np.errstate(invalid="ignore"):
        half = (t_quantile(0.5 + level / 2, pts["k"] - 1) * pts["mse_sd"]
                / np.sqrt(pts["k"]) / pts["rate"])
    pts["ratio_low"] = pts["ratio"] - half
    pts["ratio_high"] = pts["ratio"] + half
    return pts.drop(columns="mse_sd")


def growth_fit(part: pd.DataFrame, level: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """Growth g of MSE / rate as the rate falls, d log(MSE / rate) / d log(1 / rate), over the
    points of ``part`` (:func:`ratio_points` rows), with its interval.

    A weighted least-squares line through the log point means, each weighted by its seeds over
    the squared coefficient of variation pooled over ``part`` (the delta-method variance of a log
    mean; pooled over the part only, since seed noise shrinks along a sweep as n grows). When
    the points scatter about the line more than the seed noise allows (Pearson χ² / (m − 2) > 1)
    the variance is inflated by that factor, as a quasi-likelihood fit does, so that lack of fit
    widens the interval; the quantile is Student's t with the pooled seed degrees of freedom.

    Returns
    -------
    g, low, high, se : float
        NaN interval when there is no seed variance and fewer than 3 points.
    """
    u = -np.log(part["rate"].to_numpy(float))
    y = np.log(part["ratio"].to_numpy(float))
    noisy = part[(part["k"] > 1) & np.isfinite(part["cv2"])]
    pooled_df = int((noisy["k"] - 1).sum())
    pooled_cv2 = float(((noisy["k"] - 1) * noisy["cv2"]).sum() / pooled_df) if pooled_df else np.nan
    if u.size < 2 or np.ptp(u) == 0:
        return np.nan, np.nan, np.nan, np.nan
    has_noise = np.isfinite(pooled_cv2) and pooled_cv2 > 0 and pooled_df > 0
    w = part["k"].to_numpy(float) / pooled_cv2 if has_noise else np.ones_like(u)
    u_bar, y_bar = np.average(u, weights=w), np.average(y, weights=w)
    sxx = np.sum(w * (u - u_bar) ** 2)
    g = float(np.sum(w * (u - u_bar) * (y - y_bar)) / sxx)
    resid = y - y_bar - g * (u - u_bar)
    var = 1.0 / sxx
    if u.size > 2:
        scale = float(np.sum(w * resid**2) / (u.size - 2))
        var *= max(1.0, scale) if has_noise else scale
    elif not has_noise:
        return g, np.nan, np.nan, np.nan
    df = pooled_df if has_noise else u.size - 2
    se = float(np.sqrt(var))
    half = float(t_quantile(0.5 + level / 2, df)) * se
    return g, g - half, g + half, se


def curvature_fit(points: pd.DataFrame, level: float = CONFIDENCE) -> tuple[float, float, float]:
    """Curvature c of log(MSE / rate) against u = log(1 / rate) over a whole sweep, from a
    weighted quadratic fit, with its interval: c < 0 when the ratio's growth slows as the rate
    falls.

    Each point is weighted by its own seeds over its own squared coefficient of variation (seed
    noise shrinks by orders of magnitude along an n sweep, so one pooled value would drown the
    precise points in the noisy ones); a point with one seed takes the sweep's pooled value.
    Lack of fit (Pearson χ² / (m − 3) > 1) inflates the variance; the quantile is Student's t
    with the fewest seeds' degrees of freedom (or m − 3, if smaller once inflated).

    Returns
    -------
    c, low, high : float
        NaN with fewer than 4 points or no seed variance.
    """
    pts = points[np.isfinite(points["ratio"]) & (points["ratio"] > 0)]
    noisy = pts[(pts["k"] > 1) & (pts["cv2"] > 0)]
    if len(pts) < 4 or noisy.empty:
        return np.nan, np.nan, np.nan
    pooled = float(((noisy["k"] - 1) * noisy["cv2"]).sum() / (noisy["k"] - 1).sum())
    cv2 = pts["cv2"].where((pts["k"] > 1) & (pts["cv2"] > 0), pooled).to_numpy(float)
    sqrt_w = np.sqrt(pts["k"].to_numpy(float) / cv2)
    u = -np.log(pts["rate"].to_numpy(float))
    u = u - u.mean()
    design = np.column_stack([np.ones_like(u), u, u * u])
    y = np.log(pts["ratio"].to_numpy(float))
    q, r = np.linalg.qr(design * sqrt_w[:, None])
    coef = scipy.linalg.solve_triangular(r, q.T @ (y * sqrt_w))
    resid = (y - design @ coef) * sqrt_w
    scale = float(resid @ resid / (len(u) - 3)) if len(u) > 3 else 1.0
    r_inv = scipy.linalg.solve_triangular(r, np.eye(3))
    se = float(np.sqrt((r_inv @ r_inv.T)[2, 2] * max(1.0, scale)))
    df = int(noisy["k"].min()) - 1
    if scale > 1:
        df = min(df, len(u) - 3)
    half = float(t_quantile(0.5 + level / 2, max(df, 1))) * se
    return float(coef[2]), float(coef[2] - half), float(coef[2] + half)


@dataclass(frozen=True)
class Trend:
    """How MSE / rate moves where a falling rate is smallest (:func:`falling_trend`).

    ``kind``: "flat" (the growth's interval within ±0.1), "falling" (interval below 0),
    "rising" (interval above 0), "unresolved" (otherwise). ``growth`` and its interval are over
    the smallest rates; ``upper`` over the rest of the sweep; ``slowing`` when the sweep's
    curvature (:func:`curvature_fit`) is negative with confidence."""

    kind: str
    growth: float = np.nan
    low: float = np.nan
    high: float = np.nan
    upper: float = np.nan
    slowing: bool = False

    def text(self) -> str:
        return (f"local growth of MSE / rate {self.growth:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"
                " over the smallest rates")


def falling_trend(points: pd.DataFrame, level: float = CONFIDENCE) -> Trend:
    """Where MSE / rate goes as the rate falls, judged on the part of the sweep with the smallest
    rates (its lower :data:`LOWER_PART` of log rate, at least two points), not extrapolated.

    Parameters
    ----------
    points : DataFrame
        :func:`ratio_points` of one estimator on one sweep.
    """
    pts = points[np.isfinite(points["ratio"]) & (points["ratio"] > 0)].sort_values("rate")
    if len(pts) < 3:
        return Trend("unresolved")
    log_rate = np.log(pts["rate"].to_numpy(float))
    cut = log_rate.min() + LOWER_PART * np.ptp(log_rate)
    n_lower = max(2, int(np.sum(log_rate <= cut + 1e-12)))
    lower, upper = pts.iloc[:n_lower], pts.iloc[n_lower:]
    g, low, high, _ = growth_fit(lower, level)
    if not np.isfinite(low):
        return Trend("unresolved", g)
    g_up = growth_fit(upper, level)[0] if len(upper) >= 2 else np.nan
    slowing = bool(curvature_fit(pts, level)[2] < 0)
    tol = EXPONENT_TOLERANCE
    kind = ("flat" if -tol <= low and high <= tol else "falling" if high < 0
            else "rising" if low > 0 else "unresolved")
    return Trend(kind, g, low, high, g_up, slowing)


def growing_shape(points: pd.DataFrame) -> str:
    """The shape of MSE / rate along a sweep whose rate grows: "rising", "falling", "flat",
    "peaked" or "dipped", where a turn counts only when the turning point's interval clears
    both ends' intervals (:func:`ratio_points`; a point without an interval counts as exact)."""
    pts = points.sort_values("x")
    if len(pts) < 2:
        return "flat"
    mean = pts["ratio"].to_numpy(float)
    low = np.where(np.isfinite(pts["ratio_low"]), pts["ratio_low"], mean)
    high = np.where(np.isfinite(pts["ratio_high"]), pts["ratio_high"], mean)
    top, bottom = int(np.argmax(mean)), int(np.argmin(mean))
    if 0 < top < len(pts) - 1 and low[top] > high[0] and low[top] > high[-1]:
        return "peaked"
    if 0 < bottom < len(pts) - 1 and high[bottom] < low[0] and high[bottom] < low[-1]:
        return "dipped"
    if low[-1] > high[0]:
        return "rising"
    if high[-1] < low[0]:
        return "falling"
    return "flat"


def confident_excess(points: pd.DataFrame, bound: float) -> pd.Series | None:
    """The point whose MSE / rate exceeds ``bound`` with confidence (its whole interval above
    it), the one with the largest lower end; None when there is none (or no bound)."""
    if not np.isfinite(bound):
        return None
    above = points[points["ratio_low"] > bound]
    return above.loc[above["ratio_low"].idxmax()] if len(above) else None


@dataclass(frozen=True)
class Verdict:
    """One verdict as data; :func:`render_verdict` writes its sentence.

    ``status`` is a key of :data:`STATUSES`; ``head`` and ``reason`` are the verdict's short
    words ("bound holds", "C = 0.5 holds at every point …"); ``detail`` the context after them.
    Numbers: the exponent ``exponent`` [``exponent_low``, ``exponent_high``] fitted against
    ``exponent_against``; the local growth of MSE / rate over the smallest rates (``growth``,
    its interval, and ``upper_growth`` over the rest); the largest mean MSE / rate ``max_ratio``
    with its interval at ``max_at``; the constant ``bound`` and its ``bound_source``; the span
    (``decades``, ``n_points``, ``span``: empty when wide enough); the rows' ``assumption``;
    ``shape`` of MSE / rate along a growing rate; ``n_out_of_order`` rows that break the proof.
    """

    status: str
    claim: str
    head: str
    reason: str
    detail: str = ""
    theorem: str = ""
    exponent: float = np.nan
    exponent_low: float = np.nan
    exponent_high: float = np.nan
    exponent_against: str = ""
    growth: float = np.nan
    growth_low: float = np.nan
    growth_high: float = np.nan
    upper_growth: float = np.nan
    shape: str = ""
    max_ratio: float = np.nan
    max_ratio_low: float = np.nan
    max_ratio_high: float = np.nan
    max_at: str = ""
    bound: float = np.nan
    bound_source: str = ""
    decades: float = np.nan
    n_points: int = 0
    span: str = ""
    assumption: str = ""
    n_out_of_order: int = 0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {sorted(STATUSES)}, got {self.status!r}")


def render_verdict(v: Verdict) -> str:
    """The verdict's sentence, from its fields: a narrow sweep's span and an outside label
    come first, then the head, the reason and the detail."""
    text = f"{v.head}: {v.reason}" + (f"; {v.detail}" if v.detail else "")
    if v.status == "indicative" and v.span:
        text = f"{v.span}: {text}"
    if v.assumption.startswith("outside"):
        text = f"{v.assumption}, not a test of Theorem {v.theorem}: {text}"
    return text


def _interval(value: float, low: float, high: float, spec: str = ".3g") -> str:
    if not np.isfinite(low):
        return f"{value:{spec}} (no interval: one seed)"
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


def _ratio_fields(points: pd.DataFrame, varied: str) -> dict:
    """The largest mean MSE / rate, its interval and where it is, as :class:`Verdict` fields."""
    if points.empty:
        return {}
    top = points.loc[points["ratio"].idxmax()]
    return dict(max_ratio=float(top["ratio"]), max_ratio_low=float(top["ratio_low"]),
                max_ratio_high=float(top["ratio_high"]), max_at=f"{varied} = {top['x']:g}")


def _violated(excess: pd.Series, varied: str, **fields) -> Verdict:
    """The verdict of a point whose MSE / rate exceeds the constant ``fields["bound"]`` with
    confidence."""
    interval = _interval(excess["ratio"], excess["ratio_low"], excess["ratio_high"])
    return Verdict("violated", head="bound violated",
                   reason=(f"MSE / rate = {interval} at {varied} = {excess['x']:g} exceeds "
                           f"C = {fields['bound']:.3g}"), **fields)


def _held(v_fields: dict, bound: float) -> str:
    if not np.isfinite(bound):
        return "no constant registered: the bound is not checked"
    return (f"C = {bound:.3g} holds at every point (max MSE / rate "
            f"{_interval(v_fields['max_ratio'], v_fields['max_ratio_low'], v_fields['max_ratio_high'])}"
            f" at {v_fields['max_at']})")


def _unconfident(ratios: dict, bound: float) -> str:
    """Words for a largest MSE / rate above the constant whose interval still reaches below it."""
    interval = _interval(ratios["max_ratio"], ratios["max_ratio_low"], ratios["max_ratio_high"])
    return (f"max MSE / rate above C = {bound:.3g} but not with confidence ({interval} at "
            f"{ratios['max_at']})")


def chain_verdict(claim: str, n_bad: int, n_rows: int, **common) -> Verdict:
    """Rows whose proof chain is out of order (``proof.in_order`` false) fail the verdict: the
    chain is deterministic, so a break is an error of the solver or the generator."""
    return Verdict("violated", claim, head="bound violated",
                   reason=(f"{n_bad} of {n_rows} rows break the proof's chain (proof.in_order "
                           "false), an error of the solver or the generator; kept out of the fits"),
                   **common)


def sharp_claim(points: pd.DataFrame, fit, ratio_range, *, bound: float = np.nan,
                bound_source: str = "", against: str = "rate", varied: str = "x",
                span: str = "", **common) -> Verdict:
    """Claim "sharp" (Theorem 3.1): the exponent fitted against the sharp prediction (the DoF
    count where the figure has one, ``against``) with its interval inside 1 ± 0.1 and MSE /
    prediction within :data:`REFERENCE_BAND`; "violated" only on a confident excess of C.

    ``points``: :func:`ratio_points` (against the rate); ``fit``: (b, low, high) against
    ``against``; ``ratio_range``: min and max of MSE / prediction over the points."""
    b, low_ci, high_ci = fit
    fields = dict(claim="sharp", exponent=b, exponent_low=low_ci, exponent_high=high_ci,
                  exponent_against=against, bound=bound, bound_source=bound_source, span=span,
                  **_ratio_fields(points, varied), **common)
    excess = confident_excess(points, bound)
    if excess is not None:
        return _violated(excess, varied, **fields)
    if not np.isfinite(b):
        return Verdict("no-fit", head="no fit", reason="rate constant over the sweep or too few rows",
                       **fields)
    tol = EXPONENT_TOLERANCE
    interval = (f"exponent {b:.2f} [{low_ci:.2f}, {high_ci:.2f}] against {against}"
                if np.isfinite(low_ci) else f"exponent {b:.2f} (no interval) against {against}")
    low, high = ratio_range
    if abs(b - 1) > tol:
        status, head, reason = "not-confirmed", "rate not confirmed", f"{interval}, predicted 1"
    elif not (np.isfinite(low_ci) and 1 - tol <= low_ci and high_ci <= 1 + tol):
        status, head, reason = ("unresolved", "rate not resolved",
                                f"{interval} reaches outside the ±{tol:g} band")
    elif np.isfinite(low) and not (REFERENCE_BAND[0] <= low and high <= REFERENCE_BAND[1]):
        status, head, reason = ("not-confirmed", "rate confirmed, constant off",
                                f"MSE / DoF in [{low:.2f}, {high:.2f}], outside "
                                f"[{REFERENCE_BAND[0]}, {REFERENCE_BAND[1]}]")
    else:
        status, head, reason = "sharp", "sharp", "rate and constant confirmed"
    if span:
        status = "indicative"
    return Verdict(status, head=head, reason=reason, **fields)


def bound_claim(points: pd.DataFrame, claim: str, *, direction: float = -1.0,
                bound: float = np.nan, bound_source: str = "", fit=(np.nan,) * 3,
                varied: str = "x", span: str = "", note: str = "", alternative: Trend | None = None,
                alternative_name: str = "", proof_cap: float = np.nan, **common) -> Verdict:
    """Claims "upper_bound" and "tight" (Theorems 4.4, 4.9) within the theorem's assumptions.

    "violated" only where a measured point's MSE / rate exceeds ``bound`` with confidence.
    Along a falling rate (``direction`` −1: n, N, the theorems' asymptotic direction) the limit
    is judged on the smallest rates (:func:`falling_trend`): flat → "tight" (for "tight") or
    "holds", falling → "holds" (with room), rising and slowing → "pre-asymptotic", rising
    without slowing → "rising", otherwise "unresolved"; a rising ratio below the constant is
    never "violated". ``alternative``: the trend against another reading of the rate (Theorem
    4.9 without its log factor, when the sweep cannot separate them): a different kind makes
    the verdict "unresolved". Along a growing rate (σ, r, α) the constant decides and the shape
    of MSE / rate is described (:func:`growing_shape`); an exponent only where it does not turn.
    A narrow ``span`` makes any status but "violated" "indicative" along a falling rate.
    """
    if claim not in ("upper_bound", "tight"):
        raise ValueError(f"claim must be upper_bound or tight, got {claim!r}")
    b, low_ci, high_ci = fit
    ratios = _ratio_fields(points, varied)
    fields = dict(claim=claim, exponent=b, exponent_low=low_ci, exponent_high=high_ci,
                  exponent_against="rate", bound=bound, bound_source=bound_source, span=span,
                  **ratios, **common)
    excess = confident_excess(points, bound)
    if excess is not None:
        return _violated(excess, varied, **fields)
    if points.empty or not np.isfinite(b):
        return Verdict("no-fit", head="no fit", reason="rate constant over the sweep or too few rows",
                       **fields)
    held = _held(ratios, bound)
    above = np.isfinite(bound) and ratios["max_ratio"] > bound  # above C, not with confidence
    cap = (f"; the proof's own bound gives MSE / rate ≤ {proof_cap:.3g} on these rows"
           if np.isfinite(proof_cap) else "")
    if direction > 0:
        shape = growing_shape(points)
        pts = points.sort_values("x")
        top = int(np.argmax(pts["ratio"].to_numpy()))
        along = f"MSE / rate {pts['ratio'].iloc[0]:.3g} at {varied} = {pts['x'].iloc[0]:g}"
        if 0 < top < len(pts) - 1:
            along += f", {pts['ratio'].iloc[top]:.3g} at {pts['x'].iloc[top]:g}"
        along += f", {pts['ratio'].iloc[-1]:.3g} at {pts['x'].iloc[-1]:g}"
        if shape in ("peaked", "dipped"):
            along += ": no single exponent describes it"
        elif shape != "flat" and len(pts) >= 2:
            x_fit = fit_point_means(pts["x"], pts["mse_mean"])[0]
            rate_fit = fit_point_means(pts["x"], pts["rate"])[0]
            along += (f": MSE ∝ {varied}^{x_fit:.2f} where the rate grows as {varied}^"
                      f"{rate_fit:.2f}" + (" (MSE grows faster than the rate)" if x_fit > rate_fit
                                           else ""))
        detail = along + (f"; {note}" if note else "")
        if above:
            return Verdict("unresolved", head="not resolved", reason=_unconfident(ratios, bound),
                           detail=detail, shape=shape, **fields)
        status = "holds" if np.isfinite(bound) else "unresolved"
        return Verdict(status, head="bound holds" if np.isfinite(bound) else "not checked",
                       reason=f"{held}; MSE / rate {shape} along {varied}", detail=detail,
                       shape=shape, **fields)
    trend = falling_trend(points)
    trend_fields = dict(growth=trend.growth, growth_low=trend.low, growth_high=trend.high,
                        upper_growth=trend.upper)
    upper = (f", {trend.upper:+.2f} over the rest" if np.isfinite(trend.upper) else "")
    if trend.kind == "flat":
        status, head = ("tight", "tight") if claim == "tight" else ("holds", "bound holds")
        reason = f"MSE / rate flat over the smallest rates ({trend.text()}): the rate is attained"
    elif trend.kind == "falling":
        status, head = "holds", "bound holds"
        reason = (f"MSE / rate falls over the smallest rates ({trend.text()}): MSE beats the rate"
                  + (", not tight here" if claim == "tight" else ""))
    elif trend.kind == "rising" and trend.slowing:
        status, head = "pre-asymptotic", "pre-asymptotic"
        reason = (f"MSE / rate still rises over the smallest rates but slows ({trend.text()}"
                  f"{upper}); a rise below the constant is not a violation")
    elif trend.kind == "rising":
        status, head = "rising", "rising"
        reason = (f"MSE / rate rises over the smallest rates without slowing ({trend.text()}"
                  f"{upper}): extend the sweep")
    else:
        status, head = "unresolved", "not resolved"
        reason = (f"{trend.text()}" if np.isfinite(trend.low) else "too few points for a local "
                  "growth with an interval") + " does not tell flat, falling or rising apart"
    if alternative is not None and alternative.kind != trend.kind:
        status, head = "unresolved", "not resolved"
        reason = (f"MSE / rate is {trend.kind} ({trend.text()}), but {alternative.kind} against "
                  f"{alternative_name} ({alternative.text()}): this sweep cannot tell the two "
                  "apart")
    if above:
        status, head = "unresolved", "not resolved"
        held = _unconfident(ratios, bound)
    if span:
        status = "indicative"
    return Verdict(status, head=head, reason=reason, detail=held + cap + (f"; {note}" if note else ""),
                   **trend_fields, **fields)


def outside_claim(points: pd.DataFrame, claim: str, *, fit=(np.nan,) * 3, ratio_range=(np.nan, np.nan),
                  varied: str = "x", rate: str = "rate", infinite_variance: bool = False,
                  **common) -> Verdict:
    """A sweep outside the theorem's assumptions: described, never judged. Under noise of
    infinite variance a rate that carries σ (a scale there, not a standard deviation) predicts
    nothing, so MSE itself is described, not MSE / rate."""
    b, low_ci, high_ci = fit
    pts = points.sort_values("x")
    fields = dict(claim=claim, exponent=b, exponent_low=low_ci, exponent_high=high_ci,
                  exponent_against="rate", **_ratio_fields(points, varied), **common)
    if pts.empty:
        return Verdict("no-fit", head="no fit", reason="no rows", **fields)
    first, last = pts.iloc[0], pts.iloc[-1]
    if infinite_variance and rate not in SIGMA_FREE_RATES:
        reason = (f"MSE from {first['mse_mean']:.3g} at {varied} = {first['x']:g} to "
                  f"{last['mse_mean']:.3g} at {last['x']:g}; σ is a scale, not a standard "
                  "deviation, so the rate predicts nothing here")
        fields.update(max_ratio=np.nan, max_ratio_low=np.nan, max_ratio_high=np.nan, max_at="")
    else:
        top = pts.loc[pts["ratio"].idxmax()]
        reason = (f"MSE / rate from {first['ratio']:.3g} at {varied} = {first['x']:g} to "
                  f"{last['ratio']:.3g} at {last['x']:g} (largest "
                  f"{_interval(top['ratio'], top['ratio_low'], top['ratio_high'])} at {top['x']:g})")
        low, high = ratio_range
        if np.isfinite(low):
            reason += f", MSE / DoF in [{low:.2f}, {high:.2f}]"
    detail = (f"MSE ∝ rate^{b:.2f} [{low_ci:.2f}, {high_ci:.2f}]" if np.isfinite(low_ci)
              else "")
    head = "outside the theorem's assumption" if claim == "outside" else "described"
    return Verdict("outside", head=head, reason=reason, detail=detail, **fields)


def reference_claim(points: pd.DataFrame, rows: pd.DataFrame, varied: str, **common) -> Verdict:
    """Claim ``reference`` (issue 11.1): the figure's rate column is itself a sharp prediction
    (Theorem 3.1's asymptotic risk), checked point by point within :data:`ASYMPTOTIC_BAND`
    ("sharp", else "not-confirmed"); the figure's reference (the DoF count) is checked within
    :data:`REFERENCE_BAND`, and the detail says at which points it fails, with the SNR
    s_r/((kN)^¼σ) there when recorded.

    ``points``: :func:`point_table` rows of the estimator (``constant`` = MSE / reference)."""
    pts = points.sort_values("x")
    low, high = ASYMPTOTIC_BAND
    ratio = pts["constant"]
    off = pts[(ratio < low) | (ratio > high)]
    if off.empty:
        status, head = "sharp", "asymptotic reference holds"
        reason = (f"MSE / reference in [{ratio.min():.2f}, {ratio.max():.2f}] at all {len(pts)} "
                  f"points, band [{low}, {high}]")
    else:
        status = "not-confirmed"
        head = f"asymptotic reference off at {varied} = {', '.join(f'{x:g}' for x in off['x'])}"
        reason = f"MSE / reference in [{ratio.min():.2f}, {ratio.max():.2f}], band [{low}, {high}]"
    detail = ""
    if "reference_ratio" in pts:
        dof = pts["reference_ratio"]
        fails = pts[(dof < REFERENCE_BAND[0]) | (dof > REFERENCE_BAND[1])]
        if fails.empty:
            detail = f"DoF count holds at every point (MSE / DoF in [{dof.min():.2f}, {dof.max():.2f}])"
        else:
            snr = rows.groupby(varied)["meta.snr_min"].mean() if "meta.snr_min" in rows else None
            where = ", ".join(f"{x:g}" + (f" (s_r/threshold {snr[x]:.2g})" if snr is not None else "")
                              for x in fails["x"])
            detail = (f"DoF count fails (MSE / DoF outside [{REFERENCE_BAND[0]}, {REFERENCE_BAND[1]}], "
                      f"from {dof.min():.2f} to {dof.max():.2f}) at {varied} = {where}")
    top = pts.loc[ratio.idxmax()] if len(pts) else None
    return Verdict(status, "reference", head=head, reason=reason, detail=detail,
                   exponent_against="reference",
                   max_ratio=float(top["constant"]) if top is not None else np.nan,
                   max_at=f"{varied} = {top['x']:g}" if top is not None else "", **common)


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


#: A baseline whose MSE ends within this factor band of the theorem's estimator's, having
#: started outside it, is said to converge to it (issue 21.2: weight_svd 1.76× → 0.97×).
CONVERGENCE_BAND = (0.9, 1.1)


def baseline_claim(b: float, mine: pd.DataFrame, theirs: pd.DataFrame, estimator: str,
                   **common) -> Verdict:
    """A baseline: its exponent against the rate and how its MSE compares with the theorem's
    estimator's at the first and the last point (``mine``, ``theirs``: :func:`ratio_points`)."""
    head = baseline_verdict(b)
    if not np.isfinite(b):
        return Verdict("no-fit", "baseline", head="no fit", reason="rate constant over the sweep "
                       "or too few rows", **common)
    both = mine.set_index("x")["mse_mean"].div(theirs.set_index("x")["mse_mean"]).dropna() \
        if len(theirs) else pd.Series(dtype=float)
    if len(both) < 2:
        return Verdict("baseline", "baseline", head=head, reason=f"no {estimator} rows to compare",
                       exponent=b, **common)
    first, last = both.iloc[0], both.iloc[-1]
    low, high = CONVERGENCE_BAND
    reason = f"its MSE goes from {first:.2f}× to {last:.2f}× that of {estimator}"
    if low <= last <= high and not low <= first <= high:
        head = f"converges to {estimator}'s MSE"
        reason += f" (exponent {b:.2f} against the rate)"
    return Verdict("baseline", "baseline", head=head, reason=reason, exponent=b, **common)


#: How far log(nN)^½ must move, in log MSE, beyond what a change of the rate's exponent can
#: absorb (its residual from a line in log √rate, peak to peak), for a sweep to identify the log
#: factor's exponent p: twice the 0.05 of systematic effects a separating design may have
#: (issue 12.5).
MIN_LOG_SEPARATION = 0.1


def log_exponent_fits(rows: pd.DataFrame, exponents) -> tuple[float, str]:
    """Compare rate_sqrt · log(nN)^p for each p, and say whether the sweep can tell them apart.

    Over n = N sweeps log(nN) moves in lockstep with the square-root rate, so changing p only
    moves the fitted exponent: the best p is then not identified, and none is returned. The
    text gives, for each p, the exponent and the spread (standard deviation of log(MSE / rate_p)
    over the point means), then how much log(nN)^½ changes and its correlation with the rate.
    """
    means = rows.groupby(["n", "N", "r"], as_index=False).agg(mse=("mse", "mean"),
                                                              rate=("rate_sqrt", "mean"))
    if (means["n"] * means["N"]).nunique() < 2:  # log(nN) is constant: p cannot be told apart
        return np.nan, ""
    parts, spreads = [], {}
    loglog = np.log(np.log(means["n"] * means["N"]))
    for p in exponents:
        rate_p = means["rate"] * np.exp(p * loglog)
        b, _, _ = fit_point_means(rate_p, means["mse"])
        spreads[p] = float(np.std(np.log(means["mse"] / rate_p)))
        parts.append(f"p={p:g}: b={b:.2f}, spread={spreads[p]:.3f}")
    log_rate = np.log(means["rate"])
    corr = float(np.corrcoef(log_rate, loglog)[0, 1]) if np.ptp(log_rate) else 0.0
    resid = (loglog - np.polyval(np.polyfit(log_rate, loglog, 1), log_rate)
             if np.ptp(log_rate) and len(means) > 2 else loglog - loglog.mean())
    separation = float(0.5 * np.ptp(resid))
    text = "; ".join(parts) + (
        f" (log(nN)^½ changes ×{np.exp(0.5 * np.ptp(loglog)):.2f} over the sweep, correlation "
        f"{corr:.3f} with log √rate; beyond what the exponent absorbs it moves log MSE by "
        f"{separation:.3f}, identification needs ≥ {MIN_LOG_SEPARATION:g})")
    if separation < MIN_LOG_SEPARATION:
        return np.nan, "p not identified by this sweep: " + text
    return min(spreads, key=spreads.get), text


def failed_claim(rows: pd.DataFrame, varied: str, claim: str, **common) -> Verdict:
    """The verdict of an estimator none of whose runs gave an MSE: how many failed, and the
    first failure's message (in sweep order), which a "no fit" would hide."""
    failed = rows.sort_values([varied, "seed"], kind="stable") if "seed" in rows else rows
    message = failed["message"].dropna().astype(str) if "message" in failed else pd.Series()
    message = message[message != ""]
    first = message.iloc[0] if len(message) else "no message recorded"
    return Verdict("no-fit", claim, head="no fit",
                   reason=f"every run failed ({len(rows)} of {len(rows)}); first failure: {first}",
                   **common)


def out_of_order(rows: pd.DataFrame) -> pd.Series:
    """Rows whose proof chain is out of order (``proof.in_order`` false), as a boolean mask;
    rows that do not record the chain (no column, or a missing value) are not flagged."""
    if "proof.in_order" not in rows:
        return pd.Series(False, index=rows.index)
    return rows["proof.in_order"].eq(False).fillna(False).astype(bool)


def proof_cap(rows: pd.DataFrame, varied: str, rate: str) -> float:
    """The largest mean over a point of the proof's own bound (``proof.bound``, in MSE units)
    divided by the rate: what the proof guarantees for MSE / rate on these rows; NaN without it."""
    if "proof.bound" not in rows or rows["proof.bound"].isna().all():
        return np.nan
    means = rows.groupby(varied)[["proof.bound", rate]].mean()
    return float((means["proof.bound"] / means[rate]).max())


def registered_constants(figures: list[Figure]) -> dict[tuple[str, str], float]:
    """The pre-registered constant of each theorem (experiment files' ``constant.value``), keyed
    by the theorem and the rate column it multiplies.

    One theorem, one constant: figure files of the same theorem and rate that state different
    values are an error, since the claim is that a single C covers every sweep and family. A
    figure of the theorem against another rate (the heavy-tail sweeps of Theorem 4.4 use
    √(r(n+N)/(nN)), since β is not finite there) is not checked against it: C is in the units of
    its own rate.
    """
    constants: dict[tuple[str, str], tuple[float, str]] = {}
    for fig in figures:
        if not fig.constant:
            continue
        value = float(fig.constant["value"])
        seen = constants.setdefault((fig.theorem, fig.rate), (value, fig.figure))
        if seen[0] != value:
            raise ValueError(f"theorem {fig.theorem}: figure {fig.figure} pre-registers "
                             f"constant {value:g} for {fig.rate}, figure {seen[1]} {seen[0]:g}; "
                             f"one theorem, one constant")
    return {key: value for key, (value, _) in constants.items()}


def analyze(results: pd.DataFrame, figures: list[Figure],
            scale: str = "default") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verdict rows and per-point summaries of every sweep figure.

    Rows whose proof chain is out of order (:func:`out_of_order`) are kept out of the fits and
    points, counted (``n_out_of_order``), and fail the theorem's estimator's verdict.

    Parameters
    ----------
    results : DataFrame
        All result rows (the tables written by the runs).
    figures : list of Figure
        Figure definitions; runner figures are skipped.
    scale : str
        Which span an exponent needs (:data:`MIN_DECADES`).

    Returns
    -------
    verdicts : DataFrame with :data:`VERDICT_COLUMNS`
    points : DataFrame, one row per (figure, sweep, estimator, point)
    """
    verdicts, points = [], []
    constants = registered_constants(figures)
    sources = {(f.theorem, f.rate): f.constant.get("source", "") for f in figures if f.constant}
    for fig in figures:
        for sweep in fig.sweeps:
            rows = results[(results["experiment_name"] == sweep.name)
                           & results["estimator"].isin(fig.estimators)] if len(results) else results
            if rows.empty:
                continue
            varied = rows["sweep"].iloc[0]
            broken = out_of_order(rows)
            ok = rows[(rows["status"] == "ok") & ~broken]
            table = point_table(ok, varied, fig.rate, fig.reference) if len(ok) else pd.DataFrame()
            if len(table):
                points.append(table.assign(figure=fig.figure, sweep=sweep.name))
            theirs = ok[ok["estimator"] == fig.estimator]
            est_ratios = ratio_points(theirs, varied, fig.rate) if len(theirs) else pd.DataFrame()
            for est in fig.estimators:
                mine = rows[rows["estimator"] == est]
                role = "estimator" if est == fig.estimator else "baseline"
                if mine.empty and role == "baseline":
                    continue  # a baseline this sweep does not run: nothing to judge
                good = ok[ok["estimator"] == est]
                pts = table[table["estimator"] == est] if len(table) else table
                ratios_at = ratio_points(good, varied, fig.rate) if len(good) else pd.DataFrame()
                _, boot_lo, boot_hi = (fit_exponent(good[fig.rate], good["mse"], good["seed"])
                                       if len(good) else (np.nan,) * 3)
                b, lo, hi = (fit_point_means(pts["rate"], pts["mse_mean"]) if len(pts)
                             else (np.nan,) * 3)
                ratios = pts["reference_ratio"] if "reference_ratio" in pts else pd.Series(dtype=float)
                ratio_range = (ratios.min(), ratios.max()) if len(ratios) else (np.nan, np.nan)
                constant = pts["constant"].max() if len(pts) else np.nan
                at = pts.loc[pts["constant"].idxmax(), "x"] if len(pts) else np.nan
                decades = rate_decades(pts["rate"]) if len(pts) else np.nan
                span = span_text(decades, len(pts), scale)
                bound = constants.get((fig.theorem, fig.rate), np.nan) if role == "estimator" else np.nan
                source = sources.get((fig.theorem, fig.rate), "") if role == "estimator" else ""
                assumption = assumption_label(mine)
                n_bad = int(broken[mine.index].sum())
                direction = rate_direction(pts)
                common = dict(theorem=fig.theorem, assumption=assumption, decades=decades,
                              n_points=len(pts), n_out_of_order=n_bad)
                best_p, log_fits = np.nan, ""
                if fig.log_exponents and role == "estimator" and len(good):
                    best_p, log_fits = log_exponent_fits(good, fig.log_exponents)
                claim_fit = (b, lo, hi)
                against = fig.rate
                if role == "estimator" and n_bad:
                    verdict = chain_verdict(sweep.claim, n_bad, len(mine), **common)
                elif len(mine) and not len(good):
                    verdict = failed_claim(mine, varied, sweep.claim if role == "estimator"
                                           else "baseline", **common)
                elif role == "baseline":
                    verdict = baseline_claim(b, ratios_at, est_ratios, fig.estimator, **common)
                elif sweep.claim == "reference":
                    verdict = reference_claim(pts, good, varied, **common)
                    if assumption.startswith("outside"):
                        verdict = replace(verdict, status="outside")
                elif assumption.startswith("outside") or sweep.claim == "outside":
                    verdict = outside_claim(ratios_at, sweep.claim, fit=claim_fit,
                                            ratio_range=ratio_range, varied=varied, rate=fig.rate,
                                            infinite_variance="infinite variance" in assumption,
                                            **common)
                elif sweep.claim == "sharp":
                    if "reference" in pts and pts["reference"].notna().all():
                        against = fig.reference  # the sharp prediction (issue 21.2)
                        claim_fit = fit_point_means(pts["reference"], pts["mse_mean"])
                    verdict = sharp_claim(ratios_at, claim_fit, ratio_range, bound=bound,
                                          bound_source=source, against=against, varied=varied,
                                          span=span, **common)
                else:
                    note = (sigma_sweep_note(ratios_at, good, fig.theorem)
                            if varied == "sigma" and direction > 0 else "")
                    alternative = None
                    if (fig.log_exponents and direction < 0 and not np.isfinite(best_p)
                            and "rate_sqrt" in good):
                        alternative = falling_trend(ratio_points(good, varied, "rate_sqrt"))
                    verdict = bound_claim(
                        ratios_at, sweep.claim, direction=direction, bound=bound,
                        bound_source=source, fit=claim_fit, varied=varied,
                        span=span if direction < 0 else "", note=note, alternative=alternative,
                        alternative_name="the log-free rate √(r(n+N)/(nN))",
                        proof_cap=proof_cap(good, varied, fig.rate), **common)
                snr = snr_range(good) if fig.theorem == "3.1" and len(good) else (np.nan, np.nan)
                row = {
                    "theorem": fig.theorem, "sweep": sweep.name, "estimator": est,
                    "predicted_exponent": 1.0, "fitted_exponent": b, "ci_low": lo, "ci_high": hi,
                    "constant": constant, "verdict": render_verdict(verdict),
                    "status": verdict.status, "reason": verdict.reason,
                    "figure": fig.figure, "claim": sweep.claim, "role": role, "varied": varied,
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
                        float(np.exp(np.mean(np.log(pts.set_index("x")["mse_mean"]
                                                    / est_ratios.set_index("x")["mse_mean"]))))
                        if len(pts) and len(est_ratios) else np.nan),
                    "best_log_exponent": best_p, "log_exponent_fits": log_fits,
                    "boot_low": boot_lo, "boot_high": boot_hi,
                    # On a growing rate an upper bound rests on the constant, not the exponent.
                    "band_margin": (band_margin(sweep.claim, claim_fit[1], claim_fit[2])
                                    if sweep.claim in ("sharp", "tight") or direction < 0
                                    else np.nan),
                    "rate_decades": decades, "span_ok": not span, "constant_at": at,
                    "constant_bound": bound, "snr_min": snr[0], "snr_max": snr[1],
                    "assumption": assumption,
                    "constant_low": verdict.max_ratio_low, "constant_high": verdict.max_ratio_high,
                    "constant_source": verdict.bound_source, "exponent_against": against,
                    "claim_exponent": claim_fit[0], "claim_ci_low": claim_fit[1],
                    "claim_ci_high": claim_fit[2], "local_growth": verdict.growth,
                    "local_growth_low": verdict.growth_low, "local_growth_high": verdict.growth_high,
                    "upper_growth": verdict.upper_growth, "shape": verdict.shape,
                    "n_out_of_order": n_bad,
                }
                verdicts.append(row)
    verdict_table = pd.DataFrame(verdicts, columns=VERDICT_COLUMNS)
    point_summary = pd.concat(points, ignore_index=True) if points else pd.DataFrame()
    return verdict_table, point_summary
