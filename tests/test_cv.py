"""Cross-validated α and rank (alpha="cv", rank="cv"): against a brute-force loop over the grid
and the folds, invariances, determinism, plug-ins and input errors."""

import json

import numpy as np
import pytest
from scipy import stats

from theory_check import designs, noise
from theory_check.estimators import (ConvexLinear, DataSVD, ReluMLE, convex_linear, data_svd,
                                     relu_mle)
from theory_check.estimators import convex as convex_module
from theory_check.models import approx, relu, strong


def _folds(n, folds, seed):
    return np.array_split(np.random.default_rng(seed).permutation(n), folds)


def _brute_force(X, Y, grid, fit, score, folds=5, seed=0):
    """Sum of the held-out scores per candidate, refitting from scratch on every part."""
    totals = []
    for candidate in grid:
        total = 0.0
        for test in _folds(X.shape[0], folds, seed):
            train = np.setdiff1d(np.arange(X.shape[0]), test)
            W = fit(X[train], Y[train], candidate)
            total += score(X[test] @ W, Y[test])
        totals.append(total)
    return np.array(totals)


def _linear_problem(seed, n=24, d=24, N=16, generator=approx.low_rank):
    return generator(np.random.default_rng(seed), n=n, d=d, N=N, r=2, sigma=1.0,
                     design=designs.isotropic, noise=noise.uniform)


@pytest.mark.parametrize("seed", [0, 1])
def test_convex_linear_alpha_cv_matches_brute_force(seed):
    p = _linear_problem(seed)
    grid = [2.0, 1.0, 0.5, 0.25, 0.125, 0.0625]
    W, info = convex_linear(p.X_tilde, p.Y, alpha="cv", rank=2, cv_grid=grid, cv_seed=seed,
                            tol=1e-10, return_info=True)
    totals = _brute_force(p.X_tilde, p.Y, grid,
                          lambda X, Y, a: convex_linear(X, Y, alpha=a, rank=2, tol=1e-10),
                          lambda pred, Y: np.sum((pred - Y) ** 2), seed=seed)
    np.testing.assert_allclose(json.loads(info["cv_curve"]), totals / p.Y.size, rtol=1e-6)
    assert info["alpha"] == grid[int(np.argmin(totals))] and info["rank"] == 2
    np.testing.assert_allclose(W, convex_linear(p.X_tilde, p.Y, alpha=info["alpha"], rank=2,
                                                tol=1e-10), atol=1e-8)
    assert info["cv_folds"] == 5 and info["cv_not_converged"] == 0
    assert not info["cv_identifiable"]  # d = n: the training rows cannot span R^d


def test_convex_linear_joint_alpha_and_rank_cv_matches_brute_force():
    p = _linear_problem(2)
    alphas, ranks = [1.0, 0.3, 0.1], [1, 2, 4]
    _, info = convex_linear(p.X_tilde, p.Y, alpha="cv", rank="cv", cv_grid=alphas,
                            cv_rank_grid=ranks, cv_folds=3, tol=1e-10, return_info=True)
    grid = [(a, k) for a in alphas for k in ranks]
    totals = _brute_force(p.X_tilde, p.Y, grid,
                          lambda X, Y, c: convex_linear(X, Y, alpha=c[0], rank=c[1], tol=1e-10),
                          lambda pred, Y: np.sum((pred - Y) ** 2), folds=3)
    assert (info["alpha"], info["rank"]) == grid[int(np.argmin(totals))]
    assert json.loads(info["cv_grid"]) == [list(c) for c in grid]


def test_data_svd_rank_cv_matches_brute_force_and_finds_the_rank():
    p = strong.generate(np.random.default_rng(3), n=40, d=40, N=30, r=3, sigma=0.1,
                        design=designs.isotropic, noise=noise.gaussian)
    W, info = data_svd(p.X_tilde, p.Y, "cv", return_info=True, cv_seed=4)
    totals = _brute_force(p.X_tilde, p.Y, range(1, 31), lambda X, Y, k: data_svd(X, Y, k),
                          lambda pred, Y: np.sum((pred - Y) ** 2), seed=4)
    np.testing.assert_allclose(json.loads(info["cv_curve"]), totals / p.Y.size, rtol=1e-9)
    assert info["rank"] == int(np.argmin(totals)) + 1 == 3
    np.testing.assert_allclose(W, data_svd(p.X_tilde, p.Y, 3))


def _relu_problem(seed, n=20, family="low_rank"):
    return relu.generate(np.random.default_rng(seed), n=n, d=n, N=12, r=2, sigma=0.5,
                         design=designs.isotropic, noise=noise.gaussian, family=family)


def _tobit_nll(pred, Y, sigma=0.5):
    pos = Y > 0
    return -(stats.norm.logpdf(Y[pos], loc=pred[pos], scale=sigma).sum()
             + stats.norm.logcdf(-pred[~pos] / sigma).sum())


@pytest.mark.parametrize("score", ["likelihood", "post_activation"])
def test_relu_mle_alpha_cv_matches_brute_force(score):
    p = _relu_problem(5)
    grid = [1.5, 0.75, 0.3, 0.1]
    _, info = relu_mle(p.X_tilde, p.Y, alpha="cv", rank=2, sigma=0.5, cv_grid=grid,
                       cv_folds=4, cv_score=score, tol=1e-9, return_info=True)
    scorer = _tobit_nll if score == "likelihood" else \
        (lambda pred, Y: np.sum((np.maximum(pred, 0) - Y) ** 2))
    totals = _brute_force(p.X_tilde, p.Y, grid,
                          lambda X, Y, a: relu_mle(X, Y, alpha=a, rank=2, sigma=0.5, tol=1e-9),
                          scorer, folds=4)
    np.testing.assert_allclose(json.loads(info["cv_curve"]), totals / p.Y.size, rtol=1e-5)
    assert info["alpha"] == grid[int(np.argmin(totals))]


def test_cv_is_deterministic_and_takes_a_generator():
    p = _linear_problem(6)
    kw = dict(alpha="cv", rank=2, cv_grid=[1.0, 0.3, 0.1, 0.03], return_info=True)
    W1, i1 = convex_linear(p.X_tilde, p.Y, cv_seed=7, **kw)
    W2, i2 = convex_linear(p.X_tilde, p.Y, cv_seed=np.random.default_rng(7), **kw)
    W3, i3 = convex_linear(p.X_tilde, p.Y, cv_seed=7, **kw)
    assert i1["cv_curve"] == i2["cv_curve"] == i3["cv_curve"]
    np.testing.assert_array_equal(W1, W3)
    _, i4 = convex_linear(p.X_tilde, p.Y, cv_seed=8, **kw)
    assert i4["cv_curve"] != i1["cv_curve"]  # the split does depend on the seed


def test_default_grid_scales_with_the_data():
    # K(cα, r) = c·K(α, r): scaling Y by c scales the default grid, the curve by c², the choice by c
    p = _linear_problem(7)
    W, info = convex_linear(p.X_tilde, p.Y, alpha="cv", rank=2, tol=1e-10, return_info=True)
    W3, info3 = convex_linear(p.X_tilde, 3.0 * p.Y, alpha="cv", rank=2, tol=1e-10,
                              return_info=True)
    grid = np.array(json.loads(info["cv_grid"]))[:, 0]
    np.testing.assert_allclose(grid, np.abs(p.Y).max() * 2.0 ** -np.arange(8))
    np.testing.assert_allclose(np.array(json.loads(info3["cv_grid"]))[:, 0], 3 * grid)
    np.testing.assert_allclose(json.loads(info3["cv_curve"]),
                               9 * np.array(json.loads(info["cv_curve"])), rtol=1e-5)
    assert np.isclose(info3["alpha"], 3 * info["alpha"])
    np.testing.assert_allclose(W3, 3 * W, atol=1e-6 * np.abs(W).max())


GOOD = dict(X_tilde=np.eye(6, 4) + 0.1, Y=np.arange(12.0).reshape(6, 2), alpha="cv", rank=1)


@pytest.mark.parametrize("change, match", [
    ({"alpha": "auto"}, "alpha must be a real number > 0 or 'cv'"),
    ({"rank": "best"}, "rank must be an integer"),
    ({"cv_folds": 1}, "cv_folds"), ({"cv_folds": 7}, "cv_folds"), ({"cv_folds": 2.5}, "cv_folds"),
    ({"cv_grid": [1.0, -1.0]}, "cv_grid"), ({"cv_grid": []}, "cv_grid"),
    ({"cv_grid": [1.0, 1.0]}, "cv_grid"), ({"cv_grid": [np.nan]}, "cv_grid"),
    ({"rank": "cv", "cv_rank_grid": [0, 1]}, "cv_rank_grid"),
    ({"rank": "cv", "cv_rank_grid": [3]}, "cv_rank_grid"),
    ({"rank": "cv", "cv_rank_grid": []}, "cv_rank_grid"),
    ({"cv_seed": -1}, "cv_seed"), ({"cv_seed": "a"}, "cv_seed"),
])
def test_bad_cv_inputs_raise_before_any_solve(monkeypatch, change, match):
    def no_solve(*args, **kwargs):
        raise AssertionError("a solver was called on invalid input")

    monkeypatch.setattr(convex_module, "SOLVERS", {"dykstra": no_solve, "cvxpy": no_solve})
    with pytest.raises(ValueError, match=match):
        convex_linear(**{**GOOD, **change})


def test_bad_relu_and_svd_cv_inputs():
    p = _relu_problem(8, n=12)
    with pytest.raises(ValueError, match="cv_score"):
        relu_mle(p.X_tilde, p.Y, alpha="cv", rank=2, sigma=0.5, cv_score="squared")
    with pytest.raises(ValueError, match="cv_folds"):
        data_svd(p.X_tilde, p.Y, "cv", cv_folds=13)
    with pytest.raises(ValueError, match="rank"):
        data_svd(p.X_tilde, p.Y, "cross")


def test_plugins_pass_alpha_scale_rank_and_cv():
    p = _linear_problem(9, generator=approx.hadamard)
    half = ConvexLinear(alpha_scale=0.5)(p, 2)
    np.testing.assert_allclose(half.W_hat, convex_linear(p.X_tilde, p.Y, alpha=0.5, rank=2))
    assert half.info["converged"]
    r4 = ConvexLinear(rank=4)(p, 2)
    np.testing.assert_allclose(r4.W_hat, convex_linear(p.X_tilde, p.Y, alpha=1.0, rank=4))
    est = ConvexLinear(alpha="cv", cv_grid=[1.0, 0.5], cv_folds=3)(p, 2)
    assert est.info["alpha"] in (1.0, 0.5) and len(json.loads(est.info["cv_curve"])) == 2
    svd = DataSVD(rank="cv", cv_folds=3)(p, 2)
    assert 1 <= svd.info["rank"] <= 16 and svd.info["converged"]
    pr = _relu_problem(10)
    mle = ReluMLE(alpha="cv", cv_grid=[1.0, 0.25], cv_folds=3)(pr, 2)
    assert mle.info["alpha"] in (1.0, 0.25)
    for bad, match in [(dict(alpha="cv", alpha_scale=2.0), "alpha_scale"),
                       (dict(alpha_scale=0.0), "alpha_scale"), (dict(rank="all"), "rank"),
                       (dict(cv_folds=1), "cv_folds"), (dict(cv_grid=[-1.0]), "cv_grid")]:
        with pytest.raises(ValueError, match=match):
            ConvexLinear(**bad)
    with pytest.raises(ValueError, match="^cv_score must"):
        ReluMLE(cv_score="mse")


def test_cv_flags_the_uninformative_case_y_exactly_in_col_x():
    # d < n and Y = XW = P_X(Z* + E): the unconstrained fit predicts held-out rows exactly,
    # so the loosest α wins whatever the data; the info says so.
    p = _linear_problem(11, n=40, d=10, N=12)
    _, info = convex_linear(p.X_tilde, p.Y, alpha="cv", rank=2, cv_grid=[4.0, 1.0, 0.25],
                            return_info=True)
    assert info["cv_identifiable"] and info["cv_uninformative"] and info["alpha"] == 4.0
    curve = json.loads(info["cv_curve"])
    assert curve[0] < 1e-20 < curve[-1]
    q = _linear_problem(12)  # d = n: not identifiable, not flagged
    _, info = convex_linear(q.X_tilde, q.Y, alpha="cv", rank=2, cv_grid=[1.0, 0.5],
                            return_info=True)
    assert not info["cv_identifiable"] and not info["cv_uninformative"]
