"""Figures, drawn from the summary tables only (never from live solver objects).

Every sweep figure has one log-log panel per sweep: MSE against the varied parameter for each
estimator (mean over seeds, bars from the 10% to the 90% quantile), the theorem's rate drawn
through the data with the fitted constant, and the reference prediction (when the figure has
one, e.g. Theorem 3.1's degrees-of-freedom count) drawn as is. On a sweep whose claim is
``reference`` the rate is itself a prediction with constant 1 (the spiked-model risk), so it
is drawn as is too: a fitted constant would hide the gap the claim is about. Where the points'
``snr_min`` (s_r over the detection threshold (kN)^¼σ) crosses 1, a vertical line marks it.

The y-axis is set by what the figure is about: the theorem's estimator, its rate and reference,
and the baselines that stay within :data:`OFF_SCALE_DECADES` of them. A baseline point beyond
that (a diverging solver) is drawn at the axis edge as a triangle with its value written beside
it, so it neither flattens the other curves nor disappears.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .experiments import Figure  # noqa: E402
from .slack import CHAINS  # noqa: E402

SYMBOLS = {"n": "n", "N": "N", "r": "r", "sigma": "σ", "delta": "δ", "model.alpha": "α",
           "model.signal": "signal (entry scale of Z*)"}
#: How far (in decades) beyond the estimator's own range a baseline may reach and stay on scale.
OFF_SCALE_DECADES = 1.0
#: Room left between the outermost drawn value and the axis edge (a factor on a log axis).
MARGIN = 1.3
#: Closest two labelled x ticks may be, as a fraction of the axis' log span (≈ a label's width).
TICK_GAP = 0.1
#: Font size of a figure's title, and the width of its average character as a fraction of it
#: (DejaVu Sans, the default font, with the wide symbols of the rate formulas): how many
#: characters fit on a line of the figure's width.
TITLE_SIZE = 11
CHAR_WIDTH = 0.62


def wrapped_title(title: str, width_inches: float, size: float = TITLE_SIZE) -> str:
    """``title`` broken into lines that fit ``width_inches`` at font ``size`` (points)."""
    chars = max(20, int(width_inches * 72 / (CHAR_WIDTH * size)))
    return textwrap.fill(title, width=chars, break_long_words=False, break_on_hyphens=False)


def y_limits(core, others) -> tuple[float, float]:
    """Log-axis limits that hold every positive value of ``core`` and those of ``others`` within
    :data:`OFF_SCALE_DECADES` decades of ``core``'s range."""
    core = np.asarray(core, float)
    core = core[np.isfinite(core) & (core > 0)]
    others = np.asarray(others, float)
    others = others[np.isfinite(others) & (others > 0)]
    if core.size == 0:
        core = others
    if core.size == 0:
        return 0.1, 10.0
    reach = 10.0**OFF_SCALE_DECADES
    lo, hi = core.min(), core.max()
    near = others[(others >= lo / reach) & (others <= hi * reach)]
    lo, hi = min(lo, near.min(initial=lo)), max(hi, near.max(initial=hi))
    return lo / MARGIN, hi * MARGIN


def _series(ax, e: pd.DataFrame, color, label: str, limits: tuple[float, float]) -> None:
    """One estimator's means with 10–90% bars; points off the axis drawn at its edge, labelled."""
    lo, hi = limits
    y = e["mse_mean"].to_numpy(float)
    x = e["x"].to_numpy(float)
    inside = (y >= lo) & (y <= hi)
    ax.plot(x, np.clip(y, lo, hi), "-", color=color, lw=1.2)
    bars = np.vstack([y - e["mse_q10"].to_numpy(float), e["mse_q90"].to_numpy(float) - y])
    ax.errorbar(x[inside], y[inside], yerr=np.clip(bars[:, inside], 0, None), fmt="o-", ms=4,
                lw=0, capsize=2, color=color, label=label)
    for xi, yi in zip(x[~inside], y[~inside]):
        above = yi > hi
        edge = hi if above else lo
        ax.plot([xi], [edge], "^" if above else "v", ms=7, color=color, clip_on=False)
        ax.annotate(f"{yi:.2g}", (xi, edge), textcoords="offset points",
                    xytext=(4, -9 if above else 3), fontsize=6, color=color)


def labelled_ticks(xs, gap: float = TICK_GAP) -> list[float]:
    """The sweep values that get a tick label: left to right, each at least ``gap`` of the
    log span from the last labelled one (the last value always labelled, the one before it
    dropped if too close), so labels of clustered values do not overlap."""
    xs = np.sort(np.asarray(xs, float))
    if xs.size < 2:
        return list(xs)
    span = np.log10(xs[-1] / xs[0]) or 1.0
    kept = [xs[0]]
    for x in xs[1:-1]:
        if np.log10(x / kept[-1]) >= gap * span:
            kept.append(x)
    if len(kept) > 1 and np.log10(xs[-1] / kept[-1]) < gap * span:
        kept.pop()
    return [*kept, xs[-1]]


def sweep_ticks(ax, x) -> None:
    """Ticks at the sweep's own values (log-axis defaults vanish on short ranges), labelled only
    where they do not overlap their neighbours."""
    xs = np.sort(pd.unique(np.asarray(x)))
    shown = labelled_ticks(xs)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(xs))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(
        [f"{v:g}" if v in shown else "" for v in xs]))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def threshold_crossing(x, snr) -> float:
    """The x where ``snr`` (s_r over the detection threshold) crosses 1, interpolated linearly
    in log x against log snr between the two points around it; NaN if it does not cross."""
    x, snr = np.asarray(x, float), np.asarray(snr, float)
    ok = np.isfinite(x) & np.isfinite(snr) & (x > 0) & (snr > 0)
    x, log_snr = np.log(x[ok]), np.log(snr[ok])
    order = np.argsort(x)
    x, log_snr = x[order], log_snr[order]
    for i in range(len(x) - 1):
        a, b = log_snr[i], log_snr[i + 1]
        if a != b and min(a, b) <= 0.0 <= max(a, b):
            return float(np.exp(x[i] + (x[i + 1] - x[i]) * (0.0 - a) / (b - a)))
    return np.nan


def rate_figure(fig: Figure, points: pd.DataFrame, verdicts: pd.DataFrame, path: Path) -> Path:
    """Draw ``fig``'s panels from its rows of ``points`` and ``verdicts``; write a PNG."""
    f = draw_rate_figure(fig, points, verdicts)
    path.parent.mkdir(parents=True, exist_ok=True)
    f.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(f)
    return path


def draw_rate_figure(fig: Figure, points: pd.DataFrame, verdicts: pd.DataFrame):
    """The matplotlib figure of :func:`rate_figure` (left open, for the caller to save)."""
    sweeps = [s.name for s in fig.sweeps if s.name in set(points["sweep"])]
    if not sweeps:
        raise ValueError(f"figure {fig.figure}: no summary rows for sweeps "
                         f"{[s.name for s in fig.sweeps]}")
    sns.set_theme(style="whitegrid", context="paper")
    ncols = min(len(sweeps), 4)
    nrows = math.ceil(len(sweeps) / ncols)
    # Constrained layout makes room for the (wrapped) title and the legends below the panels,
    # which tight_layout left outside the figure on one-panel figures.
    f, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.8 * nrows), squeeze=False,
                           layout="constrained")
    palette = dict(zip(fig.estimators, sns.color_palette("colorblind", len(fig.estimators))))
    claims = {s.name: s.claim for s in fig.sweeps}
    for ax, sweep in zip(axes.flat, sweeps):
        pts = points[points["sweep"] == sweep].sort_values("x")
        main = pts[pts["estimator"] == fig.estimator]
        core = [main["mse_q10"], main["mse_mean"], main["mse_q90"]]
        if len(main):
            c_fit = (1.0 if claims.get(sweep) == "reference"
                     else float(np.exp(np.mean(np.log(main["mse_mean"] / main["rate"])))))
            core.append(c_fit * main["rate"])
            has_reference = "reference" in main and main["reference"].notna().any()
            if has_reference:
                core.append(main["reference"])
        others = pts.loc[pts["estimator"] != fig.estimator, "mse_mean"]
        limits = y_limits(np.concatenate([np.asarray(c, float) for c in core]), others)
        for est in fig.estimators:
            e = pts[pts["estimator"] == est]
            if len(e):
                _series(ax, e, palette[est], est, limits)
        if len(main):
            ax.plot(main["x"], c_fit * main["rate"], "--", color="0.35",
                    label=fig.rate_text if claims.get(sweep) == "reference"
                    else f"{c_fit:.2g}·{fig.rate_text}")
            if has_reference:
                ax.plot(main["x"], main["reference"], ":", color="black", lw=1.5,
                        label=fig.reference_text)
            if "snr_min" in main:
                at = threshold_crossing(main["x"], main["snr_min"])
                if np.isfinite(at):
                    ax.axvline(at, color="firebrick", lw=1, ls="-.",
                               label=rf"detection threshold $s_r = (kN)^{{1/4}}\sigma$ at {at:.2g}")
        varied = pts["varied"].iloc[0]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(*limits)
        sweep_ticks(ax, pts["x"])
        ax.set_xlabel(SYMBOLS.get(varied, varied))
        ax.set_ylabel("MSE  ‖X̃(Ŵ−W*)‖²/(nN)")
        v = verdicts[(verdicts["sweep"] == sweep) & (verdicts["estimator"] == fig.estimator)]
        subtitle = ""
        if len(v):
            v = v.iloc[0]
            subtitle = f"\n{fig.estimator}: b = {v.fitted_exponent:.2f} [{v.ci_low:.2f}, {v.ci_high:.2f}]"
        ax.set_title(f"{sweep}{subtitle}", fontsize=9)
        # Below the panel: inside, it covered the points wherever the curves span the axis.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    for ax in list(axes.flat)[len(sweeps):]:
        ax.set_visible(False)
    f.suptitle(wrapped_title(fig.title, f.get_figwidth()), fontsize=TITLE_SIZE)
    return f


PLOTS = {"rate": rate_figure}


def slack_figure(theorem: str, points: pd.DataFrame, path: Path) -> Path:
    """Draw :func:`draw_slack_figure`; write a PNG."""
    f = draw_slack_figure(theorem, points)
    path.parent.mkdir(parents=True, exist_ok=True)
    f.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(f)
    return path


def draw_slack_figure(theorem: str, points: pd.DataFrame):
    """One panel per sweep of ``points`` (:func:`theory_check.slack.slack_points` rows of one
    theorem): each step's mean slack factor against the swept parameter, log-log, bars its
    interval over seeds; the whole deterministic chain (the proof's bound over MSE) dashed.
    Left open, for the caller to save."""
    sweeps = sorted(points["sweep"].unique())
    if not sweeps:
        raise ValueError(f"theorem {theorem}: no proof-slack points to draw")
    sns.set_theme(style="whitegrid", context="paper")
    ncols = min(len(sweeps), 4)
    nrows = math.ceil(len(sweeps) / ncols)
    f, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.8 * nrows), squeeze=False,
                           layout="constrained")
    steps = points.sort_values("order").drop_duplicates("step")
    formulas = {s.name: s.label for s in CHAINS.get(theorem, ())}
    palette = dict(zip(steps["step"], sns.color_palette("colorblind", len(steps))))
    for ax, sweep in zip(axes.flat, sweeps):
        pts = points[points["sweep"] == sweep]
        for step in steps.itertuples():
            s = pts[pts["step"] == step.step].sort_values("x")
            if s.empty or not np.isfinite(s["slack"]).any():
                continue
            y = s["slack"].to_numpy(float)
            bars = np.vstack([y - s["slack_low"].to_numpy(float),
                              s["slack_high"].to_numpy(float) - y])
            total = step.kind == "total"
            label = f"{step.step}: {formulas[step.step]}" if step.step in formulas else step.step
            label += " (in expectation)" if step.kind == "probabilistic" else ""
            ax.errorbar(s["x"], y, yerr=np.clip(np.nan_to_num(bars), 0, None),
                        fmt="s--" if total else "o-", ms=4, lw=1.2, capsize=2,
                        color="black" if total else palette[step.step], label=label)
        ax.axhline(1.0, color="0.5", lw=0.8)  # an equality: no slack
        ax.set_xscale("log")
        ax.set_yscale("log")
        sweep_ticks(ax, pts["x"])
        varied = pts["varied"].iloc[0]
        ax.set_xlabel(SYMBOLS.get(varied, varied))
        ax.set_ylabel("slack factor (step over the previous one)")
        ax.set_title(f"{sweep}\n{pts['family'].iloc[0]} family", fontsize=9)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    for ax in list(axes.flat)[len(sweeps):]:
        ax.set_visible(False)
    title = (f"Theorem {theorem}: slack factor of each step of the proof (its bound over the "
             f"previous one; ×1 is an equality)")
    f.suptitle(wrapped_title(title, f.get_figwidth()), fontsize=TITLE_SIZE)
    return f
