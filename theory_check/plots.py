"""Figures, drawn from the summary tables only (never from live solver objects).

Every sweep figure has one log-log panel per sweep: MSE against the varied parameter for each
estimator (mean over seeds, bars from the 10% to the 90% quantile), the theorem's rate drawn
through the data with the fitted constant, and the reference prediction (when the figure has
one, e.g. Theorem 3.1's degrees-of-freedom count) drawn as is.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .experiments import Figure  # noqa: E402

SYMBOLS = {"n": "n", "N": "N", "r": "r", "sigma": "σ", "delta": "δ", "model.alpha": "α"}


def rate_figure(fig: Figure, points: pd.DataFrame, verdicts: pd.DataFrame, path: Path) -> Path:
    """Draw ``fig``'s panels from its rows of ``points`` and ``verdicts``; write a PNG."""
    sweeps = [s.name for s in fig.sweeps if s.name in set(points["sweep"])]
    if not sweeps:
        raise ValueError(f"figure {fig.figure}: no summary rows for sweeps "
                         f"{[s.name for s in fig.sweeps]}")
    sns.set_theme(style="whitegrid", context="paper")
    ncols = min(len(sweeps), 4)
    nrows = math.ceil(len(sweeps) / ncols)
    f, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    palette = dict(zip(fig.estimators, sns.color_palette("colorblind", len(fig.estimators))))
    for ax, sweep in zip(axes.flat, sweeps):
        pts = points[points["sweep"] == sweep].sort_values("x")
        for est in fig.estimators:
            e = pts[pts["estimator"] == est]
            if e.empty:
                continue
            yerr = np.vstack([e["mse_mean"] - e["mse_q10"], e["mse_q90"] - e["mse_mean"]])
            ax.errorbar(e["x"], e["mse_mean"], yerr=np.clip(yerr, 0, None), marker="o", ms=4,
                        capsize=2, color=palette[est], label=est)
        main = pts[pts["estimator"] == fig.estimator]
        if len(main):
            c_fit = float(np.exp(np.mean(np.log(main["mse_mean"] / main["rate"]))))
            ax.plot(main["x"], c_fit * main["rate"], "--", color="0.35",
                    label=f"{c_fit:.2g}·{fig.rate_text}")
            if "reference" in main and main["reference"].notna().any():
                ax.plot(main["x"], main["reference"], ":", color="black", lw=1.5,
                        label=fig.reference_text)
        varied = pts["varied"].iloc[0]
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Ticks at the sweep's own values: log-axis defaults overlap or vanish on short ranges.
        xs = np.sort(pts["x"].unique())
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(xs))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter([f"{x:g}" for x in xs]))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(SYMBOLS.get(varied, varied))
        ax.set_ylabel("MSE  ‖X̃(Ŵ−W*)‖²/(nN)")
        v = verdicts[(verdicts["sweep"] == sweep) & (verdicts["estimator"] == fig.estimator)]
        subtitle = ""
        if len(v):
            v = v.iloc[0]
            subtitle = f"\n{fig.estimator}: b = {v.fitted_exponent:.2f} [{v.ci_low:.2f}, {v.ci_high:.2f}]"
        ax.set_title(f"{sweep}{subtitle}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(sweeps):]:
        ax.set_visible(False)
    f.suptitle(fig.title, fontsize=11)
    f.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    f.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(f)
    return path


PLOTS = {"rate": rate_figure}
