"""Model R's generator, the Tobit estimator relu_mle and the ReLU baselines."""

import functools

import numpy as np
import pytest

from theory_check import designs, noise
from theory_check.estimators import (convex_linear, data_svd, relu_mle, relu_nonconvex)
from theory_check.linalg import thin_svd
from theory_check.models import relu
from theory_check.run import run
from theory_check.reference import tobit_reference
from theory_check.solvers.tobit import tobit_loss


def model_r(seed, n, d, N, r=2, sigma=0.5, alpha=1.0, family="low_rank"):
    return relu.generate(np.random.default_rng(seed), n=n, d=d, N=N, r=r, sigma=sigma,
                         design=designs.isotropic, noise=noise.gaussian, family=family,
                         alpha=alpha)


def test_generator_records_the_relu_observation():
    p = model_r(0, 30, 40, 20, sigma=0.3)
    assert p.meta["observation"] == "relu" and p.meta["alpha"] == 1.0 and p.meta["sigma"] == 0.3
    assert np.all(p.Y >= 0) and p.meta["zero_fraction"] == np.mean(p.Y == 0)
    assert 0.2 < p.meta["zero_fraction"] < 0.8
    np.testing.assert_allclose(p.X_tilde @ p.W_star, p.Z_star, atol=1e-12)
    assert np.abs(p.Z_star).max() <= 1.0 + 1e-12
    assert p.X is p.X_tilde
    np.testing.assert_allclose(p.X_tilde @ p.W, p.Y, atol=1e-9)  # d >= n: X̃W = Y exactly


@pytest.mark.parametrize("kwargs, match", [
    ({"noise": functools.partial(noise.uniform)}, "Gaussian"),
    ({"delta": 0.1}, "delta"),
    ({"sigma": 0.0}, "sigma"),
    ({"family": "gaussian_blobs"}, "^family must be"),
])
def test_generator_bad_parameters(kwargs, match):
    params = {**dict(n=10, d=10, N=8, r=1, sigma=0.5, design=designs.isotropic,
                     noise=noise.gaussian), **kwargs}
    with pytest.raises(ValueError, match=match):
        relu.generate(np.random.default_rng(0), **params)


@pytest.mark.parametrize("n, d", [(16, 20), (20, 8)])
def test_relu_mle_reaches_the_exact_tobit_optimum(n, d):
    N, r, sigma = 12, 1, 0.4
    p = model_r(1, n, d, N, r=r, sigma=sigma, alpha=0.8)
    alpha = 0.6  # tighter than ‖Z*‖_∞ so that the constraints of K bind
    W_hat, info = relu_mle(p.X_tilde, p.Y, alpha=alpha, rank=r, sigma=sigma, tol=1e-9,
                           return_info=True)
    assert info["converged"] and W_hat.shape == (d, N)
    M = p.X_tilde @ W_hat
    U = thin_svd(p.X_tilde)[0]
    basis = U if U.shape[1] < n else None
    M_ref, ref = tobit_reference(p.Y, sigma=sigma, alpha=alpha, r=r, basis=basis)
    f, f_ref = tobit_loss(M, p.Y, sigma=sigma), tobit_loss(M_ref, p.Y, sigma=sigma)
    assert abs(f - f_ref) <= 1e-6 * f_ref
    assert np.abs(M).max() <= alpha * (1 + 1e-9)
    assert np.linalg.svd(M, compute_uv=False).sum() <= alpha * np.sqrt(r * n * N) * (1 + 1e-8)
    np.testing.assert_allclose(U @ (U.T @ M), M, atol=1e-9)  # in col(X̃)


def test_relu_mle_beats_linear_on_relu_baseline():
    n = 160
    p = model_r(2, n, n, n, r=2, sigma=0.5)
    mse = {}
    for name, W in [("mle", relu_mle(p.X_tilde, p.Y, alpha=1.0, rank=2, sigma=0.5)),
                    ("linear", convex_linear(p.X_tilde, p.Y, alpha=1.0, rank=2)),
                    ("svd", data_svd(p.X_tilde, p.Y, 2))]:
        mse[name] = np.mean((p.X_tilde @ W - p.Z_star) ** 2)
    assert mse["mle"] < 0.9 * mse["linear"] and mse["mle"] < 0.9 * mse["svd"]


def test_relu_mle_flags_non_convergence():
    p = model_r(3, 30, 30, 20)
    _, info = relu_mle(p.X_tilde, p.Y, alpha=1.0, rank=2, sigma=0.5, max_iter=1,
                       return_info=True)
    assert not info["converged"] and info["iterations"] == 1


def test_nonconvex_starts_from_data_svd_and_decreases_its_objective():
    p = model_r(4, 40, 30, 25, r=2, sigma=0.2)
    W0, info0 = relu_nonconvex(p.X_tilde, p.Y, rank=2, max_iter=0, return_info=True)
    np.testing.assert_allclose(p.X_tilde @ W0, p.X_tilde @ data_svd(p.X_tilde, p.Y, 2),
                               atol=1e-10)
    W, info = relu_nonconvex(p.X_tilde, p.Y, rank=2, return_info=True)
    loss = lambda W_: np.sum((np.maximum(p.X_tilde @ W_, 0) - p.Y) ** 2)  # noqa: E731
    assert info0["objective"] == pytest.approx(loss(W0), rel=1e-12)
    assert info["objective"] == pytest.approx(loss(W), rel=1e-12)
    assert info["objective"] < 0.95 * info0["objective"]
    assert info["converged"] and np.linalg.matrix_rank(W) <= 2


def test_nonconvex_flags_non_convergence():
    p = model_r(5, 40, 30, 25, r=2, sigma=0.2)
    _, info = relu_nonconvex(p.X_tilde, p.Y, rank=2, max_iter=1, return_info=True)
    assert not info["converged"]


def _bad_inputs():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((8, 6)), np.abs(rng.standard_normal((8, 5)))
    neg = Y.copy()
    neg[0, 0] = -1e-3
    nan = Y.copy()
    nan[1, 1] = np.nan
    good = dict(alpha=1.0, rank=2, sigma=1.0)
    return [
        (X, Y, {**good, "sigma": 0.0}, "sigma"),
        (X, Y, {**good, "sigma": -0.5}, "sigma"),
        (X, neg, good, "ReLU outputs are never negative"),
        (X, np.zeros_like(Y), good, "all zero"),
        (X, Y, {**good, "alpha": 0.0}, "alpha"),
        (X, Y, {**good, "alpha": -1.0}, "alpha"),
        (X, Y, {**good, "rank": 0}, "rank"),
        (X, Y, {**good, "rank": 6}, "rank"),
        (X, Y[:7], good, "Y must have 8 rows"),
        (X, nan, good, "Y contains NaN"),
        (X[:, :, None], Y, good, "X_tilde must be a 2-D"),
    ]


@pytest.mark.parametrize("X, Y, kwargs, match", _bad_inputs())
def test_relu_mle_bad_input(X, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        relu_mle(X, Y, **kwargs)


@pytest.mark.parametrize("X, Y, kwargs, match", [b for b in _bad_inputs()
                                                 if b[3] not in ("sigma", "alpha")])
def test_relu_nonconvex_bad_input(X, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        relu_nonconvex(X, Y, rank=kwargs["rank"])


def test_a_model_r_run_has_the_relu_columns(make_cfg):
    rows = run(make_cfg("model=relu_low_rank", "estimator=[relu_mle,relu_nonconvex,data_svd]",
                        "n=24", "d=24", "N=16", "r=2", "sigma=0.5"))
    assert sorted(r["estimator"] for r in rows) == ["data_svd", "relu_mle", "relu_nonconvex"]
    for row in rows:
        # The unconstrained non-convex fit may still be descending (pre-activations of censored
        # entries drifting to −∞) at its iteration limit on so small an instance: recorded.
        allowed = ("ok", "not_converged") if row["estimator"] == "relu_nonconvex" else ("ok",)
        assert row["status"] in allowed, row["message"]
        assert row["rate_thm49"] > 0 and row["mse_relu"] > 0 and row["meta.observation"] == "relu"


def test_a_model_r_run_refuses_non_gaussian_noise(make_cfg):
    with pytest.raises(ValueError, match="Gaussian"):
        run(make_cfg("model=relu_low_rank", "noise=uniform", "estimator=[data_svd]",
                     "n=24", "d=24", "N=16", "r=2"))
