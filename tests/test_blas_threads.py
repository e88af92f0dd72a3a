"""The public estimators and solvers choose BLAS threads by problem size (issue 9, item 2):
one thread below the crossover, bitwise the results of ``threadpool_limits(1)``, and never more
threads than the caller allowed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info, threadpool_limits

from theory_check import linalg
from theory_check.estimators import convex_linear, data_svd, relu_mle, relu_nonconvex, weight_svd
from theory_check.solvers.projection import project_K
from theory_check.solvers.tobit import tobit_apg


def _blas_threads():
    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


DEFAULT_THREADS = _blas_threads()
pytestmark = pytest.mark.skipif(DEFAULT_THREADS < 2, reason="BLAS runs on one thread anyway")

RNG = np.random.default_rng(1)
X = RNG.standard_normal((40, 30))
Y = X @ RNG.standard_normal((30, 3)) @ RNG.standard_normal((3, 25)) / 6
Y_LIN = Y + RNG.uniform(-0.8, 0.8, Y.shape)
Y_RELU = np.maximum(Y + 0.3 * RNG.standard_normal(Y.shape), 0.0)

CASES = {
    "weight_svd": lambda: weight_svd(Y_LIN, 3),
    "data_svd": lambda: data_svd(X, Y_LIN, 3),
    "convex_linear": lambda: convex_linear(X, Y_LIN, alpha=1.0, rank=3),
    "relu_mle": lambda: relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=0.3),
    "relu_nonconvex": lambda: relu_nonconvex(X, Y_RELU, rank=3, max_iter=20),
    "project_K": lambda: project_K(Y_LIN, alpha=1.0, r=3)[0],
    "tobit_apg": lambda: tobit_apg(Y_RELU, sigma=0.3, alpha=1.0, r=3)[0],
}


@pytest.fixture
def threads_seen(monkeypatch):
    """BLAS thread counts in force at each SVD / eigendecomposition the code runs."""
    seen = []
    for module in (scipy.linalg, np.linalg):
        for name in ("svd", "eigh"):
            real = getattr(module, name)

            def spy(*args, _real=real, **kwargs):
                seen.append(_blas_threads())
                return _real(*args, **kwargs)

            monkeypatch.setattr(module, name, spy)
    return seen


@pytest.mark.parametrize("name", sorted(CASES))
def test_small_problems_run_on_one_thread_bitwise_as_under_threadpool_limits(name, threads_seen):
    out = CASES[name]()
    assert threads_seen and set(threads_seen) == {1}
    assert _blas_threads() == DEFAULT_THREADS  # the caller's setting is restored
    with threadpool_limits(limits=1):
        reference = CASES[name]()
        assert _blas_threads() == 1  # a caller's limit survives the call (and nested ones)
    assert np.array_equal(out, reference)


def test_above_the_crossover_the_callers_threads_are_used_and_never_raised(threads_seen,
                                                                           monkeypatch):
    monkeypatch.setattr(linalg, "BLAS_CROSSOVER", dict.fromkeys(linalg.BLAS_CROSSOVER, 0))
    convex_linear(X, Y_LIN, alpha=1.0, rank=3)
    assert set(threads_seen) == {DEFAULT_THREADS}
    threads_seen.clear()
    with threadpool_limits(limits=1):
        convex_linear(X, Y_LIN, alpha=1.0, rank=3)
        assert _blas_threads() == 1
    assert set(threads_seen) == {1}


def test_an_unknown_kind_of_work_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        linalg.blas_threads_by_size("fft")
