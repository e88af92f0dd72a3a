"""Where each proof is loose: the slack factor of every step of a theorem's chain, from the
stored ``proof.`` columns of the result rows (docs/PROOFS.md), never from live objects.

A chain bounds the MSE by a sequence of quantities, each at least the previous one on every
run (the deterministic steps) or in expectation (the paper's probabilistic route). A step's
slack factor on a row is its larger side over its smaller side: ×1 where the inequality is an
equality. The product of the deterministic factors is the proof's own bound on that run over
its MSE, so a factor that grows along a sweep is why MSE falls faster than the bound (and the
rate) there; one that shrinks is the MSE catching up with it.

:func:`slack_points` gives the mean factor of each step per (theorem, sweep, swept value) with
a t interval over seeds; :func:`loosest_steps` names per (theorem, sweep) the loosest step,
the loosest deterministic one and the deterministic one that moves most, first → last value;
:func:`slack_sentence` says it in one sentence; :func:`publish_slack` writes the tables and
one figure per theorem into a report set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from .analysis import t_quantile

#: Level of the per-point intervals over seeds (the one the verdicts use).
CONFIDENCE = 0.95
#: Relative change of a factor, first to last point, below which it is said to stay put.
STEADY = 0.05
#: Name of the pseudo-step whose factor is the product of the deterministic ones (the proof's
#: own bound on the run over its MSE).
TOTAL = "deterministic chain"

POINT_COLUMNS = ["theorem", "sweep", "family", "assumption", "varied", "x", "step", "order",
                 "kind", "k", "n_out_of_order", "slack", "slack_low", "slack_high"]
TABLE_COLUMNS = ["theorem", "sweep", "family", "assumption", "varied", "x_first", "x_last",
                 "n_points", "n_rows", "n_out_of_order",
                 "loosest_step", "loosest_first", "loosest_last",
                 "loosest_deterministic_step", "loosest_deterministic_first",
                 "loosest_deterministic_last",
                 "moving_step", "moving_first", "moving_last", "total_first", "total_last"]


@dataclass(frozen=True)
class Step:
    """One inequality of a chain: ``lower`` ≤ ``upper``, each the product of row columns."""

    name: str
    upper: tuple[str, ...]
    lower: tuple[str, ...]
    deterministic: bool
    label: str


#: Each theorem's chain from the MSE up (docs/PROOFS.md), each step against the previous one.
CHAINS: dict[str, tuple[Step, ...]] = {
    "3.1": (
        Step("rank step", ("proof.rank_step",), ("mse",), True, "2r‖D‖²_op / ‖D‖²_F"),
        Step("Eckart–Young", ("proof.weyl",), ("proof.rank_step",), True,
             "(σ_{r+1}(B) + ‖U_kᵀE‖_op)² / ‖D‖²_op"),
        Step("Weyl", ("proof.perturbation",), ("proof.weyl",), True,
             "4‖U_kᵀE‖²_op / (σ_{r+1}(B) + ‖U_kᵀE‖_op)²"),
        Step("random-matrix norm", ("proof.paper",), ("proof.perturbation",), False,
             "σ²(√k + √N)² / ‖U_kᵀE‖²_op"),
    ),
    "4.4": (
        Step("basic inequality", ("proof.inner",), ("mse",), True, "⟨E, D⟩ / ‖D‖²_F"),
        Step("Hölder", ("proof.dual",), ("proof.inner",), True, "‖PE‖_op‖D‖_* / ⟨E, D⟩"),
        Step("diameter", ("proof.bound",), ("proof.dual",), True, "2R / ‖D‖_*"),
        Step("paper's route", ("proof.paper",), ("proof.bound",), False,
             "8LR(√n + √N) / (2R‖PE‖_op)"),
    ),
    "4.9": (
        Step("curvature", ("proof.hellinger",), ("proof.curvature_paper", "mse"), True,
             "H² / (c‖D‖²_F)"),
        Step("Hellinger", ("proof.kl_bernoulli",), ("proof.hellinger",), True, "KL_Bern / H²"),
        Step("censoring", ("proof.kl",), ("proof.kl_bernoulli",), True, "KL / KL_Bern"),
        Step("basic inequality", ("proof.increment",), ("proof.kl",), True, "Δ / KL"),
        Step("deviation", ("proof.deviation",), ("proof.increment",), False,
             "8LR(√n + √N) / Δ"),
    ),
}


def _product(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    out = pd.Series(1.0, index=rows.index)
    for column in columns:
        out = out * pd.to_numeric(rows[column], errors="coerce")
    return out


def _mean_interval(values: pd.Series, level: float = CONFIDENCE) -> tuple[int, float, float, float]:
    """Seeds, mean and its t interval (NaN with one seed) of one point's finite factors."""
    values = values[np.isfinite(values)]
    k = len(values)
    if k == 0:
        return 0, np.nan, np.nan, np.nan
    mean = float(values.mean())
    if k < 2:
        return k, mean, np.nan, np.nan
    half = float(t_quantile(0.5 + level / 2, k - 1) * values.std(ddof=1) / np.sqrt(k))
    return k, mean, mean - half, mean + half


def chain_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a theorem's chain (``proof.in_order`` set: the theorem's own
    estimator), of a theorem :data:`CHAINS` knows."""
    if results.empty or "proof.in_order" not in results or "theorem" not in results:
        return results.iloc[0:0]
    has_chain = results["proof.in_order"].notna() & results["theorem"].astype(str).isin(CHAINS)
    return results[has_chain]


def slack_points(results: pd.DataFrame, level: float = CONFIDENCE) -> pd.DataFrame:
    """Mean slack factor of each step per (theorem, sweep, swept value), over seeds.

    Parameters
    ----------
    results : DataFrame
        Result rows as stored (``load_results``): ``theorem``, ``experiment_name``, ``sweep``
        (the varied parameter), that parameter's column, ``status``, ``mse`` and the theorem's
        ``proof.`` columns. Rows without a chain are ignored; rows out of order
        (``proof.in_order`` false) or not ``ok`` are left out of the means (an out-of-order
        row is an error of the solver or generator) and counted in ``n_out_of_order``.
    level : float
        Confidence level of the t interval over seeds.

    Returns
    -------
    DataFrame with :data:`POINT_COLUMNS`, one row per (theorem, sweep, x, step): ``step`` the
    step's name, ``order`` its place in the chain (the pseudo-step :data:`TOTAL`, the product
    of the deterministic factors, last), ``kind`` deterministic / probabilistic / total, ``k``
    the seeds with a finite factor, ``slack`` their mean and ``slack_low``/``slack_high`` its
    interval (NaN with one seed). ``family`` is the rows' ``model``.
    """
    rows = chain_rows(results)
    out = []
    if rows.empty:  # rows without chains may lack the columns grouped on below
        return pd.DataFrame(out, columns=POINT_COLUMNS)
    for (theorem, sweep), group in rows.groupby([rows["theorem"].astype(str), "experiment_name"],
                                                sort=True):
        varied = str(group["sweep"].iloc[0])
        family = ", ".join(sorted(group["model"].dropna().astype(str).unique())) \
            if "model" in group else ""
        assumption = ", ".join(sorted(group["assumption"].dropna().astype(str).unique())) \
            if "assumption" in group else ""
        broken = group["proof.in_order"].eq(False)
        kept = group[~broken & group["status"].eq("ok")]
        steps = CHAINS[theorem]
        factors = {s.name: _product(kept, s.upper) / _product(kept, s.lower) for s in steps}
        total = pd.Series(1.0, index=kept.index)
        for s in steps:
            if s.deterministic:
                total = total * factors[s.name]
        factors[TOTAL] = total
        kinds = {s.name: "deterministic" if s.deterministic else "probabilistic" for s in steps}
        kinds[TOTAL] = "total"
        bad_at = broken.groupby(group[varied]).sum()
        for x in sorted(group[varied].unique()):
            at = kept[varied] == x
            for order, (name, factor) in enumerate(factors.items()):
                k, mean, low, high = _mean_interval(factor[at], level)
                out.append(dict(theorem=theorem, sweep=sweep, family=family,
                                assumption=assumption, varied=varied, x=float(x), step=name,
                                order=order, kind=kinds[name], k=k,
                                n_out_of_order=int(bad_at.get(x, 0)), slack=mean,
                                slack_low=low, slack_high=high))
    return pd.DataFrame(out, columns=POINT_COLUMNS)


def _first_last(series: pd.DataFrame) -> tuple[float, float]:
    ordered = series.sort_values("x")
    return float(ordered["slack"].iloc[0]), float(ordered["slack"].iloc[-1])


def _geometric_mean(values: pd.Series) -> float:
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.log(values).mean())) if len(values) else np.nan


def loosest_steps(points: pd.DataFrame) -> pd.DataFrame:
    """Per (theorem, sweep): the loosest step, the loosest deterministic step and the
    deterministic step whose factor moves most (largest |log(last/first)|), each with its
    factor at the first and last swept value, and the whole deterministic chain's.

    "Loosest" is the largest geometric mean of the factor over the sweep's points.

    Parameters
    ----------
    points : DataFrame
        :func:`slack_points` rows.

    Returns
    -------
    DataFrame with :data:`TABLE_COLUMNS`, one row per (theorem, sweep), ``n_rows`` the seeds
    summed over the points (of the first step) and ``n_out_of_order`` the rows left out.
    """
    out = []
    for (theorem, sweep), group in points.groupby(["theorem", "sweep"], sort=True):
        steps = group[group["kind"] != "total"]
        loose = steps.groupby("step")["slack"].apply(_geometric_mean).dropna()
        if loose.empty:
            continue
        det = loose[steps.groupby("step")["kind"].first().reindex(loose.index) == "deterministic"]
        first_step = steps[steps["order"] == steps["order"].min()]
        row = dict(theorem=theorem, sweep=sweep, family=group["family"].iloc[0],
                   assumption=group["assumption"].iloc[0], varied=group["varied"].iloc[0],
                   x_first=float(group["x"].min()), x_last=float(group["x"].max()),
                   n_points=int(group["x"].nunique()), n_rows=int(first_step["k"].sum()),
                   n_out_of_order=int(first_step["n_out_of_order"].sum()))

        def by_name(name):
            return _first_last(steps[steps["step"] == name])

        loosest = loose.idxmax()
        row.update(loosest_step=loosest, **dict(zip(("loosest_first", "loosest_last"),
                                                   by_name(loosest))))
        moving, moving_fl = None, (np.nan, np.nan)
        if len(det):
            name = det.idxmax()
            row.update(loosest_deterministic_step=name,
                       **dict(zip(("loosest_deterministic_first", "loosest_deterministic_last"),
                                  by_name(name))))
            moves = {s: abs(np.log(b / a)) for s in det.index
                     for a, b in [by_name(s)] if a > 0 and b > 0}
            if moves:
                moving = max(moves, key=moves.get)
                moving_fl = by_name(moving)
        row.update(moving_step=moving, moving_first=moving_fl[0], moving_last=moving_fl[1])
        total = group[group["kind"] == "total"]
        row.update(zip(("total_first", "total_last"),
                       _first_last(total) if len(total) else (np.nan, np.nan)))
        out.append(row)
    return pd.DataFrame(out, columns=TABLE_COLUMNS)


def _move(first: float, last: float) -> str:
    """How a factor goes from ``first`` to ``last``, in words."""
    if not (np.isfinite(first) and np.isfinite(last)):
        return "is not measured at both ends"
    if abs(last / first - 1) < STEADY:
        return f"stays at ×{first:.3g} → ×{last:.3g}"
    return f"{'loosens' if last > first else 'tightens'} ×{first:.3g} → ×{last:.3g}"


def slack_sentence(row) -> str:
    """One sentence from a :func:`loosest_steps` row: the deterministic step that moves most
    and how, the whole deterministic chain (the proof's own bound on the run over its MSE),
    and the loosest step when it is another one."""
    span = f"from {row.varied} = {row.x_first:g} to {row.x_last:g}"
    text = f"On the {row.family} family ({row.sweep}) "
    if isinstance(row.moving_step, str):
        text += f"the {row.moving_step} step {_move(row.moving_first, row.moving_last)} {span}"
        text += f"; the deterministic chain as a whole {_move(row.total_first, row.total_last)}"
        change = row.total_last / row.total_first
        if change > 1 + STEADY:
            text += f", so over the sweep MSE falls ×{change:.3g} more than the proof's own bound"
        elif change < 1 - STEADY:
            text += f", so over the sweep MSE gains ×{1 / change:.3g} on the proof's own bound"
        elif np.isfinite(change):
            text += ", so MSE keeps pace with the proof's own bound"
    else:
        text += f"no deterministic step is measured {span}"
    if isinstance(row.loosest_step, str) and row.loosest_step != row.moving_step:
        text += (f"; the loosest step is the {row.loosest_step} step "
                 f"(×{row.loosest_first:.3g} → ×{row.loosest_last:.3g})")
    return text + "."


def figure_sweeps(points: pd.DataFrame, theorem: str) -> list[str]:
    """The sweeps a theorem's slack figure shows: those over n within the theorem's
    assumptions (the others would crowd it; the table covers every sweep), or every sweep of
    the theorem if none is."""
    mine = points[points["theorem"] == theorem]
    chosen = mine[(mine["varied"] == "n") & ~mine["assumption"].astype(str).str.contains("outside")]
    return sorted((chosen if len(chosen) else mine)["sweep"].unique())


class SlackSet(NamedTuple):
    """What a report says of the proof slack: the :func:`loosest_steps` table of every
    theorem in the set, and the theorems whose figure is in it."""

    table: pd.DataFrame
    drawn: frozenset


def _published(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"theorem": str}) \
        if path is not None and path.stat().st_size else pd.DataFrame()


def publish_slack(stage, figures, results: pd.DataFrame) -> SlackSet:
    """Write ``tables/proof_slack_points.csv``, ``tables/proof_slack.csv`` and
    ``figures/proof_slack_<theorem>.png`` into a report set being built.

    The sweeps in ``results`` replace their points; the points of other sweeps of ``figures``
    are kept as published, so that a partial rebuild keeps what it did not load. A theorem's
    figure is redrawn when any of its sweeps was loaded, and kept otherwise.

    Parameters
    ----------
    stage : theory_check.publish.Staging
    figures : list of Figure
        Every figure definition (its sweeps are the ones whose points are kept).
    results : DataFrame
        The result rows loaded by this build.
    """
    from .plots import slack_figure  # plots imports matplotlib: only where drawn

    new = slack_points(results)
    old = _published(stage.current("tables/proof_slack_points.csv"))
    known = {s.name for f in figures for s in f.sweeps}
    if len(old):
        old = old[~old["sweep"].isin(set(new["sweep"])) & old["sweep"].isin(known)]
    points = pd.concat([t for t in (old, new) if len(t)], ignore_index=True) \
        if len(old) or len(new) else new
    points = points.sort_values(["theorem", "sweep", "x", "order"], ignore_index=True)
    table = loosest_steps(points)
    points.to_csv(stage.path("tables/proof_slack_points.csv"), index=False, float_format="%.6g")
    table.to_csv(stage.path("tables/proof_slack.csv"), index=False, float_format="%.6g")
    for theorem in sorted(set(new["theorem"])):
        rel = f"figures/proof_slack_{theorem}.png"
        shown = points[points["sweep"].isin(figure_sweeps(points, theorem))]
        slack_figure(theorem, shown, stage.path(rel))
    drawn = frozenset(t for t in CHAINS if stage.current(f"figures/proof_slack_{t}.png"))
    return SlackSet(table, drawn)
