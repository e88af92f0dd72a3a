"""Large sizes (issue 9.3): convex_linear and relu_mle at n = N = d = 500…2048, before and after
the large-size shortcuts, in units of one full SVD of an n×n matrix measured in the same run.

The shortcuts are the QR :class:`~theory_check.linalg.ColumnSpace` (instead of the SVD of X̃),
the cheap certified lower bounds on the nuclear norm in ``project_K``'s exit checks (instead of
the singular values), and the partial eigendecomposition of the nuclear step. "before" switches
all three off in this process (ColumnSpace(method="svd"), exit checks by the singular values,
``PARTIAL_EIGH_MIN_SIZE = ∞``), which is the code path of main before them; "after" is the
default; "after_full_eigh" is "after" without the partial eigendecomposition, to isolate it.
All solve the same draw; ``rel_diff`` is ‖X̃(Ŵ_after − Ŵ_before)‖_F / ‖X̃Ŵ_before‖_F.

Instances (binding: the box constraint is active, so the projection iterates): convex_linear on
Model A low_rank, r = 8, uniform noise σ = 2 (the "box still binds" instance of the
convex_linear bench), relu_mle on Model R relu_low_rank, r = 2, σ = 0.5 (the Theorem 4.9 size
sweep's instance); α = 1, condition-number design, default tolerances. One BLAS thread: the
machine is shared, and the ratios to the SVD are what the table is for.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import write_table
from .. import designs, linalg, noise
from ..estimators import convex, relu
from ..models import approx
from ..models import relu as relu_model
from ..solvers import projection
from .convex import _svd_time

SIZES = (500, 1000, 1448, 2048)
ALPHA = 1.0


def _instances(n):
    rng = np.random.default_rng(n)
    a = approx.low_rank(rng, n=n, d=n, N=n, r=8, sigma=2.0, design=designs.condition_number,
                        noise=noise.uniform, alpha=ALPHA)
    rng = np.random.default_rng(n + 1)
    b = relu_model.generate(rng, n=n, d=n, N=n, r=2, sigma=0.5,
                            design=designs.condition_number, noise=noise.gaussian,
                            family="low_rank", alpha=ALPHA)
    return {
        "convex_linear (low_rank r=8, uniform sigma=2)": (
            a, lambda p: convex.convex_linear(p.X_tilde, p.Y, alpha=ALPHA, rank=8,
                                              return_info=True)),
        "relu_mle (relu_low_rank r=2, sigma=0.5)": (
            b, lambda p: relu.relu_mle(p.X_tilde, p.Y, alpha=ALPHA, rank=2, sigma=0.5,
                                       return_info=True)),
    }


def _exact_in_ball(Z, radius):
    return projection._nuclear_norm(Z) <= radius


@contextlib.contextmanager
def _before():
    svd_space = functools.partial(linalg.ColumnSpace, method="svd")
    with mock.patch.object(convex, "ColumnSpace", svd_space), \
            mock.patch.object(relu, "ColumnSpace", svd_space), \
            mock.patch.object(projection, "_in_nuclear_ball", _exact_in_ball), \
            mock.patch.object(projection, "PARTIAL_EIGH_MIN_SIZE", np.inf):
        yield


@contextlib.contextmanager
def _counting_partial(counts):
    original = projection._NuclearProjector._partial

    def counted(self, G):
        found = original(self, G)
        if G.shape[0] >= projection.PARTIAL_EIGH_MIN_SIZE and self.theta:
            counts["tried"] += 1
            counts["used"] += found is not None
        return found

    with mock.patch.object(projection._NuclearProjector, "_partial", counted):
        yield


def _solve(solve, problem):
    counts = {"tried": 0, "used": 0}
    with _counting_partial(counts):
        start = time.perf_counter()
        W, info = solve(problem)
        wall = time.perf_counter() - start
    return W, info, wall, counts


def _rows(sizes, repeats):
    rows = []
    for n in sizes:
        for name, (problem, solve) in _instances(n).items():
            svd_s = _svd_time(n, repeats=2)
            # Alternate the two paths and keep each one's fastest run: the machine is shared.
            t0 = t1 = t2 = np.inf
            for _ in range(repeats):
                with _before():
                    W0, info0, t, _ = _solve(solve, problem)
                t0 = min(t0, t)
                W1, info1, t, counts = _solve(solve, problem)
                t1 = min(t1, t)
                with mock.patch.object(projection, "PARTIAL_EIGH_MIN_SIZE", np.inf):
                    t2 = min(t2, _solve(solve, problem)[2])
            Z0 = problem.X_tilde @ W0
            rows.append({
                "estimator (instance)": name, "n = N = d": n, "svd_s": svd_s,
                "before_s": t0, "after_s": t1,
                "before_svds": t0 / svd_s, "after_svds": t1 / svd_s, "speedup": t0 / t1,
                "after_full_eigh_s": t2, "partial_gain": t2 / t1,
                "iterations": info1["iterations"],
                "projection_iterations": info1.get("projection_iterations",
                                                   info1["iterations"]),
                "partial_steps": f"{counts['used']}/{counts['tried']}",
                "certificate_before": info0["certificate"],
                "certificate_after": info1["certificate"],
                "converged": bool(info0["converged"] and info1["converged"]),
                "rel_diff": float(np.linalg.norm(problem.X_tilde @ W1 - Z0)
                                  / np.linalg.norm(Z0)),
            })
            print(rows[-1], flush=True)
    return rows


def run(out_dir: Path, sizes=SIZES, repeats: int = 2) -> pd.DataFrame:
    """Write ``large.csv`` and ``large.md`` to ``out_dir``; return the table."""
    with threadpool_limits(limits=1):
        table = pd.DataFrame(_rows(sizes, repeats))
    load = os.getloadavg()[0]
    write_table(out_dir, "large", table,
        "Large sizes, n = N = d (`python -m theory_check.bench --only large`): time per solve "
        "in units of one full SVD (scipy.linalg.svd, gesdd, of an n×n Gaussian matrix, same "
        "run), before and after the large-size shortcuts (QR column space, certified lower "
        "bounds on the nuclear norm in the exit checks, partial eigendecomposition of the "
        "nuclear step; `partial_steps` = used/tried; `after_full_eigh_s`: after, but every nuclear "
        "step a full eigendecomposition, `partial_gain` = after_full_eigh_s / after_s). One BLAS thread, one draw per size, the "
        f"faster of {repeats} alternating runs of each path, "
        f"2-core machine shared with other jobs (load average {load:.1f} at the end).")
    return table
