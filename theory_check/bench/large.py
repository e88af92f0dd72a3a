"""Large sizes (issue 23.2): every estimator of the Theorem 4.4 and 4.9 figures, on each
theorem's hard and low-rank family, at n = N = d = 512, 1024, 2048, in units of one full SVD of
an n×n Gaussian matrix measured in the same process.

The instances are the theorems' n sweeps themselves (:data:`SWEEPS`): their config (model,
design, noise, r, σ, α, the estimators' settings) is composed by Hydra as a run would be, with
``n`` set to the bench's size and seed 0; the problem is drawn by
:func:`theory_check.config.generate_problem` with the run's generator, and each estimator is
the run's plug-in (``instantiate`` of its ``conf/estimator`` node), called as a run calls it,
``estimator(problem, r)``, with its default settings. The estimators are those the figure
definitions (``experiments/*.yaml``) show for that sweep, so an estimator added to a figure is
benched without touching this file. One BLAS thread; each call's time is the minimum of a few
repeats, and so is the SVD's, measured between them (the machine is shared).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from threadpoolctl import threadpool_limits

from . import markdown, write_table
from ..config import generate_problem
from ..experiments import load_figures
from ..run import CONF_DIR, make_rng
from .convex import _svd_time

SIZES = (512, 1024, 2048)
#: The n sweeps of each theorem's hard family and low-rank family (the Theorem 4.4 low-rank n
#: sweep and both Theorem 4.9 ones are where the paper scale spends its time).
SWEEPS = ("thm44_hadamard_n", "thm44_low_rank_n", "thm49_hadamard_n", "thm49_n")
#: Repeats per size (fewer at 2048, where one relu_em call alone takes tens of seconds).
REPEATS = {512: 3, 1024: 2, 2048: 1}
#: Issue 23's targets, in SVDs per call at n = N = d >= 1000 (weight_svd has none: it is one SVD
#: of the known weights, not a solve).
TARGETS = {"relu_em": 4.0, "relu_mle": 3.0, "relu_nonconvex": 3.0, "data_svd": 1.5,
           "convex_linear": 1.5}
#: Sizes from which the targets apply.
TARGET_MIN_SIZE = 1000
#: Why an estimator can miss its target: the floor of its method, measured when the targets
#: were set (issue 23). Printed under the table for each estimator that misses in this run.
FLOORS = {
    "relu_em": (
        "EM's steps are the floor on the Hadamard family: 80–210 accelerated steps at "
        "n = 1024–2048, each evaluating Φ twice on the censored half of the entries (imputation "
        "at the extrapolated point, likelihood at the new one; about 40 % of the time) plus "
        "about eight passes over the matrix. SQUAREM (80 steps at n = 512), safeguarded "
        "Anderson (76–103) and gradient restarts (76) took more steps than Nesterov momentum "
        "(67). The certificate is attempted 1–3 times and proven once (a block power iteration "
        "and a Wedin bound, no full SVD). Halving the steps would need a second-order method on "
        "the rank-r likelihood."),
    "relu_mle": (
        "One certified projection onto K per accelerated step, 5–7 steps to a certificate of "
        "1e-6, each about 0.6 SVDs: a quarter to a third of the spectrum survives the nuclear "
        "threshold with s_j/s_{j+1} ≈ 1.002, so a partial eigendecomposition saved only about 20 % "
        "of the full one (X̃'s QR is the generator's, shared)."),
    "convex_linear": (
        "Where the box binds (the low-rank family), the projection onto K alternates 3–9 "
        "nuclear steps, each a symmetric eigendecomposition (about 0.5 SVD); on the hard family "
        "one nuclear step suffices."),
    "data_svd": (
        "The floor is the top-r subspace of the k×N coordinates QᵀY from their Gram matrix "
        "(about 0.17 SVDs at 2048) and the triangular solves; when the Davis–Kahan bound "
        "refuses the Gram path (s_r and s_{r+1} tied against its rounding), one full SVD."),
    "relu_nonconvex": (
        "The data_svd start (its top-r subspace) plus L-BFGS evaluations, each two products "
        "with the n×N matrix and one pass of the special functions."),
}


def sweep_estimators(sweeps=SWEEPS) -> dict[str, list[str]]:
    """``{sweep: estimators}``: the figure's estimator and the baselines it runs in that sweep,
    over every figure that has the sweep, in figure order."""
    found = {sweep: [] for sweep in sweeps}
    for fig in load_figures(check=False):
        for sweep in fig.sweeps:
            if sweep.run in found:
                names = [fig.estimator, *fig.sweep_baselines(sweep)] if fig.estimator \
                    else list(fig.sweep_baselines(sweep))
                found[sweep.run] += [e for e in names if e not in found[sweep.run]]
    missing = [s for s, names in found.items() if not names]
    if missing:
        raise ValueError(f"no figure in experiments/ shows the sweeps {missing}")
    return found


def _configs(sizes, sweeps):
    """``{(sweep, n): composed run config}`` for seed 0."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return {(sweep, n): compose("config", overrides=[f"+experiment={sweep}", f"n={n}", "seed=0"])
                for n in sizes for sweep in sweeps}


def _time_call(estimator, problem, r):
    start = time.perf_counter()
    estimate = estimator(problem, r)
    return time.perf_counter() - start, estimate


def _rows(sizes, repeats, sweeps):
    estimators = sweep_estimators(sweeps)
    configs = _configs(sizes, sweeps)
    rows = []
    for n in sizes:
        count = repeats if isinstance(repeats, int) else repeats.get(n, min(repeats.values()))
        for sweep in sweeps:
            cfg = configs[(sweep, n)]
            missing = [e for e in estimators[sweep] if e not in cfg.estimator]
            if missing:
                raise ValueError(f"conf/experiment/{sweep}.yaml does not run {missing}, "
                                 "which its figure shows")
            problem = generate_problem(cfg, make_rng(cfg))
            for name in estimators[sweep]:
                estimator = instantiate(cfg.estimator[name])
                svd_s = wall = np.inf
                for _ in range(count):  # interleaved: a change of load hits both alike
                    svd_s = min(svd_s, _svd_time(n, repeats=1))
                    elapsed, estimate = _time_call(estimator, problem, cfg.r)
                    wall = min(wall, elapsed)
                info = estimate.info
                svds = wall / svd_s
                target = TARGETS.get(name)
                rows.append({
                    "theorem": str(cfg.theorem), "family": cfg.model.name, "estimator": name,
                    "n = N = d": n, "r": cfg.r, "sigma": cfg.sigma,
                    "svd_s": svd_s, "time_s": wall, "svds": svds,
                    "target": target,
                    "meets": (bool(svds <= target) if target is not None and n >= TARGET_MIN_SIZE
                              else None),
                    "iterations": info.get("iterations"),
                    "certificate": info.get("certificate"),
                    "converged": bool(info.get("converged", True)),
                })
                print(rows[-1], flush=True)
    return rows


def run(out_dir: Path, sizes=SIZES, repeats: int | dict = REPEATS, sweeps=SWEEPS) -> pd.DataFrame:
    """Write ``large.csv`` and ``large.md`` to ``out_dir``; return the table.

    Parameters
    ----------
    out_dir : Path
        Folder of the tables.
    sizes : tuple of int
        The sizes n = N = d.
    repeats : int or dict
        Timed calls per estimator (the minimum is kept): one count, or ``{n: count}``.
    sweeps : tuple of str
        The ``conf/experiment`` sweeps whose instances and estimators are benched.
    """
    with threadpool_limits(limits=1):
        table = pd.DataFrame(_rows(sizes, repeats, sweeps))
    table["meets"] = table["meets"].astype(object)
    missed = list(dict.fromkeys(table.loc[table["meets"].eq(False), "estimator"]))
    notes = "".join(f"\n\n- **{name}** misses its target: {FLOORS[name]}"
                    for name in missed if name in FLOORS)
    load = os.getloadavg()[0]
    write_table(out_dir, "large", table,
        "Large sizes, n = N = d (`python -m theory_check.bench --only large`): time per call "
        "of each estimator of the Theorem 4.4 and 4.9 figures (`estimator(problem, r)` with its "
        "conf/estimator defaults, as a run calls it) in units of one full SVD (scipy.linalg.svd, "
        "gesdd, of an n×n Gaussian matrix, same process, interleaved with the calls), on the "
        f"instances of the sweeps {', '.join(SWEEPS if sweeps == SWEEPS else sweeps)} (their "
        "model, design, noise, r, σ; seed 0). `target`: issue 23's bound in SVDs per call, "
        f"judged (`meets`) at n >= {TARGET_MIN_SIZE}; weight_svd has none (one SVD of the known "
        "weights). X̃ is factored once by the generator and shared by the estimators "
        "(Problem.column_space), as in a run. `iterations`, `certificate`, `converged`: the "
        "estimator's own info. One BLAS "
        f"thread, minimum of {repeats} calls per estimator, 2-core machine shared with other "
        f"jobs (load average {load:.1f} at the end).",
        body=markdown(table) + notes)
    return table
