"""data_svd's time next to the time of the two SVDs it cannot avoid (X̃, then U_kᵀY)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg

from . import write_table
from ..estimators import data_svd

SIZES = (250, 500, 1000, 2000)


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(out_dir: Path, sizes=SIZES, rank: int = 10, repeats: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        X_tilde = rng.standard_normal((size, size))
        Y = rng.standard_normal((size, size))
        svd = lambda A: scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd")  # noqa: E731
        t_svd_x = _best_time(lambda: svd(X_tilde), repeats)
        t_svd_b = _best_time(lambda: svd(Y), repeats)  # U_kᵀY has the shape of Y when n = d
        t_data = _best_time(lambda: data_svd(X_tilde, Y, rank), repeats)
        rows.append({"n = d = N": size, "rank": rank, "data_svd_s": t_data,
                     "svd_X_tilde_s": t_svd_x, "svd_UtY_s": t_svd_b,
                     "ratio_to_two_svds": t_data / (t_svd_x + t_svd_b)})
    table = pd.DataFrame(rows)
    write_table(out_dir, "data_svd", table,
        "data_svd against the two SVDs it needs (best of "
        f"{repeats}; `make bench`):")
    return table
