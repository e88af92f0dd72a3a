"""Time against size with one BLAS thread and with the process's default threads, per kind of
work the public functions do, to place ``theory_check.linalg.BLAS_CROSSOVER``.

Kinds (as in ``BLAS_CROSSOVER``): "svd" is weight_svd (one SVD of an n×n matrix); "closed_form"
is data_svd (SVD of X̃, products, SVD of UᵀY; n = d = N, r = 10); "iterative" is one nuclear
step of project_K (the work of one iteration of project_K / tobit_apg: a Gram matrix, its
eigendecomposition and two products, on an n×n Gaussian matrix whose projection keeps half of
its spectrum). The functions are called undecorated (``__wrapped__``), inside
``single_blas_thread`` or not. Best of ``repeats`` calls (fewer at large n); the two settings
alternate so that a change of machine load hits both.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from . import write_table
from ..estimators import data_svd, weight_svd
from ..linalg import BLAS_CROSSOVER, _blas_libraries, single_blas_thread
from ..solvers.projection import _NuclearProjector

SIZES = (100, 200, 400, 600, 800, 1000, 1400, 2000)
RANK = 10


def _cases(n, rng):
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((n, n))
    s = np.linalg.svd(A, compute_uv=False)
    # Radius that keeps half of the spectrum: shrink by the median singular value.
    radius = float(np.sum(s[: n // 2] - s[n // 2]))
    nuclear = _NuclearProjector(None, radius)
    return {
        "svd": lambda: weight_svd.__wrapped__(A, RANK),
        "closed_form": lambda: data_svd.__wrapped__(A, B, RANK),
        "iterative": lambda: nuclear(B),
    }


def _best(func, context, repeats):
    times = []
    for _ in range(repeats):
        with context():
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
    return min(times)


def _rows(sizes, repeats):
    default = max(lib.get_num_threads() or 1 for lib in _blas_libraries())
    rng = np.random.default_rng(0)
    for n in sizes:
        reps = repeats if n <= 600 else max(1, repeats // 3) if n <= 1000 else 1
        for kind, func in _cases(n, rng).items():
            func()  # warm up (allocations, thread pools)
            one, multi = np.inf, np.inf
            for _ in range(reps):
                one = min(one, _best(func, single_blas_thread, 1))
                multi = min(multi, _best(func, nullcontext, 1))
            yield {"kind": kind, "n": n, "one_thread_s": one, "default_threads_s": multi,
                   "default_threads": default, "one_thread_speedup": multi / one,
                   "crossover_used": BLAS_CROSSOVER[kind],
                   "one_thread_used": n < BLAS_CROSSOVER[kind]}


def _measured_crossovers(table):
    """Per kind: the smallest size from which the default threads stay faster."""
    out = {}
    for kind, rows in table.groupby("kind", sort=False):
        rows = rows.sort_values("n")
        slower = rows["one_thread_speedup"].to_numpy() > 1.0  # one thread faster
        later = [n for n, s, i in zip(rows["n"], slower, range(len(rows))) if not slower[i:].any()]
        out[kind] = later[0] if later else None
    return out


def overhead_us(repeats: int = 20000) -> float:
    """Cost of entering and leaving ``single_blas_thread`` when it lowers the threads, in µs."""
    start = time.perf_counter()
    for _ in range(repeats):
        with single_blas_thread():
            pass
    return (time.perf_counter() - start) / repeats * 1e6


def run(out_dir: Path, sizes=SIZES, repeats: int = 3) -> pd.DataFrame:
    """Write ``blas_threads.csv`` and ``blas_threads.md`` to ``out_dir``; return the table."""
    load_before = os.getloadavg()
    table = pd.DataFrame(list(_rows(sizes, repeats)))
    crossovers = _measured_crossovers(table)
    cost = overhead_us()
    load = ", ".join(f"{x:.2f}" for x in load_before) + " before; " + ", ".join(
        f"{x:.2f}" for x in os.getloadavg()) + " after"
    found = ", ".join(f"{k}: {v if v is not None else f'> {max(sizes)}'}"
                      for k, v in crossovers.items())
    used = ", ".join(f"{k}: {v}" for k, v in BLAS_CROSSOVER.items())
    write_table(out_dir, "blas_threads", table,
        "Time of the public functions' kinds of work with one BLAS thread and with the "
        "process's default threads (n×n matrices; best of a few alternating calls). "
        "one_thread_speedup = default / one thread (> 1: one thread faster). Smallest size "
        f"from which the default threads stay faster, this run: {found}. Crossovers used by "
        f"theory_check.linalg.BLAS_CROSSOVER (one thread below them): {used}. Entering and "
        f"leaving the one-thread region costs {cost:.1f} µs. Load average (2 cores): {load}; "
        "other processes on the cores slow the multi-threaded calls most, so the crossovers "
        "move up on a busy machine.")
    return table
