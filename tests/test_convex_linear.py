"""Theorem 4.4's convex estimator: agreement with cvxpy, feasibility, inputs, plug-in, runs."""

import numpy as np
import pytest

from theory_check import designs, noise
from theory_check.estimators import ConvexLinear, convex_linear
from theory_check.estimators import convex as convex_module
from theory_check.models import approx, strong
from theory_check.run import run


def _problem(seed, n, d, N, generator=approx.low_rank, sigma=1.0, r=2):
    rng = np.random.default_rng(seed)
    return generator(rng, n=n, d=d, N=N, r=r, sigma=sigma, design=designs.isotropic,
                     noise=noise.uniform)


@pytest.mark.parametrize("seed,n,d,N,generator", [
    (0, 16, 24, 16, approx.hadamard),   # d >= n: projection of Y onto K
    (1, 16, 16, 12, approx.low_rank),
    (2, 24, 10, 16, approx.low_rank),   # d < n: the column-space constraint binds
    (3, 24, 12, 16, approx.power_law),
])
def test_matches_cvxpy_and_is_feasible(seed, n, d, N, generator):
    pb = _problem(seed, n, d, N, generator)
    W, info = convex_linear(pb.X_tilde, pb.Y, alpha=1.0, rank=2, tol=1e-10, return_info=True)
    W_ref, ref = convex_linear(pb.X_tilde, pb.Y, alpha=1.0, rank=2, solver="cvxpy", tol=1e-10,
                               max_iter=100_000, return_info=True)
    assert info["converged"] and ref["converged"] and info["iterations"] >= 2
    assert W.shape == (d, N)
    assert np.linalg.norm(W - W_ref) <= 1e-5 * np.linalg.norm(W_ref)
    M = pb.X_tilde @ W
    assert np.abs(M).max() <= 1.0 + 1e-6
    assert np.linalg.svd(M, compute_uv=False).sum() <= np.sqrt(2 * n * N) * (1 + 1e-6)


def test_inactive_constraints_give_least_squares():
    pb = _problem(4, 12, 20, 10)
    W = convex_linear(pb.X_tilde, pb.Y, alpha=1e6, rank=2)
    np.testing.assert_allclose(pb.X_tilde @ W, pb.Y, atol=1e-9)
    # the minimum-norm solution: W lies in the row space of X̃
    np.testing.assert_allclose(W, np.linalg.pinv(pb.X_tilde) @ pb.Y, atol=1e-9)


def test_iteration_limit_is_flagged():
    pb = _problem(5, 16, 16, 16, approx.hadamard, sigma=2.0)
    _, info = convex_linear(pb.X_tilde, pb.Y, alpha=1.0, rank=2, max_iter=1, return_info=True)
    assert info["converged"] is False and info["iterations"] == 1
    est = ConvexLinear(max_iter=1)(pb, 2)
    assert est.info["converged"] is False and set(est.info) >= {"solver", "iterations",
                                                                "certificate", "converged"}


GOOD = dict(X_tilde=np.ones((4, 3)) + np.eye(4, 3), Y=np.ones((4, 2)), alpha=1.0, rank=1)


@pytest.mark.parametrize("change,match", [
    ({"alpha": 0.0}, "alpha"), ({"alpha": -2.0}, "alpha"), ({"alpha": np.inf}, "alpha"),
    ({"rank": 0}, "rank"), ({"rank": 3}, "rank"), ({"rank": 1.5}, "rank"),
    ({"Y": np.ones((3, 2))}, "Y must have 4 rows"), ({"Y": np.full((4, 2), np.nan)}, "Y"),
    ({"X_tilde": np.full((4, 3), np.inf)}, "X_tilde"), ({"X_tilde": np.ones(4)}, "X_tilde"),
    ({"solver": "newton"}, "solver"), ({"tol": 0.0}, "tol"), ({"max_iter": 0}, "max_iter"),
])
def test_bad_inputs_raise_before_any_solve(monkeypatch, change, match):
    def no_solve(*args, **kwargs):
        raise AssertionError("a solver was called on invalid input")

    monkeypatch.setattr(convex_module, "SOLVERS", {"dykstra": no_solve, "cvxpy": no_solve})
    with pytest.raises(ValueError, match=match):
        convex_linear(**{**GOOD, **change})


def test_plugin_takes_alpha_from_the_problem_unless_configured():
    pb = _problem(6, 16, 16, 16, approx.hadamard)
    default = ConvexLinear()(pb, 2)
    expected = convex_linear(pb.X_tilde, pb.Y, alpha=pb.meta["alpha"], rank=2)
    np.testing.assert_allclose(default.W_hat, expected)
    small = ConvexLinear(alpha=0.1)(pb, 2)
    assert np.abs(pb.X_tilde @ small.W_hat).max() <= 0.1 * (1 + 1e-9)
    with pytest.raises(ValueError, match="^tol must"):
        ConvexLinear(tol=-1.0)
    pb_s = _problem(7, 8, 8, 8, strong.generate)  # Model S records no meta.alpha
    assert "alpha" not in pb_s.meta
    with pytest.raises(ValueError, match="alpha"):
        ConvexLinear()(pb_s, 2)


def test_run_rows_carry_rate_meta_and_solver_columns(make_cfg):
    cfg = make_cfg("model=hadamard", "noise=uniform", "estimator=[convex_linear,data_svd]",
                   "n=16", "d=16", "N=16", "r=2", "sigma=1.0")
    rows = {row["estimator"]: row for row in run(cfg)}
    row = rows["convex_linear"]
    assert row["status"] == "ok" and row["solver.converged"]
    assert row["solver.certificate"] <= 1e-8
    assert np.isclose(row["rate_thm44"], 1.0 * (1.0 + np.sqrt(3)) * np.sqrt(2 * 32 / 256))
    for key in ("meta.alpha", "meta.noise_bound", "meta.r_eff", "meta.z_inf", "meta.z_nuc"):
        assert key in row
    assert np.isfinite(rows["data_svd"]["mse"])


def test_run_stores_a_non_converged_solve_as_such(make_cfg):
    cfg = make_cfg("model=hadamard", "noise=uniform", "estimator=[convex_linear]",
                   "estimator.convex_linear.max_iter=1", "n=16", "d=16", "N=16", "r=2",
                   "sigma=2.0")
    (row,) = run(cfg)
    assert row["status"] == "not_converged"
