"""Bad inputs to the public estimators and solvers are refused with a ValueError naming the
parameter (issue 10, item 5), and the allowed σ range of the Tobit likelihood is computable."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from theory_check.estimators import convex_linear, data_svd, relu_mle, relu_nonconvex, weight_svd
from theory_check.solvers.projection import project_K, project_l1_ball
from theory_check.solvers.tobit import inverse_mills, tobit_apg

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 20))
Y = RNG.standard_normal((30, 12))
Y_RELU = np.maximum(X @ RNG.standard_normal((20, 12)) / 5 + 0.3 * Y, 0.0)

#: (call with X_tilde, call with Y) per public function; the bad matrix replaces one of them.
CALLS = {
    "data_svd": lambda X_, Y_: data_svd(X_, Y_, 3),
    "convex_linear": lambda X_, Y_: convex_linear(X_, Y_, alpha=1.0, rank=3),
    "relu_mle": lambda X_, Y_: relu_mle(X_, Y_, alpha=1.0, rank=3, sigma=0.3),
    "relu_nonconvex": lambda X_, Y_: relu_nonconvex(X_, Y_, rank=3),
}


def _data(name):
    return (X, Y_RELU) if name.startswith("relu") else (X, Y)


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("which", ["X_tilde", "Y"])
def test_complex_input_is_refused_naming_the_parameter(name, which):
    X_, Y_ = _data(name)
    if which == "X_tilde":
        X_ = X_ + 1j * X_
    else:
        Y_ = Y_ + 0j
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        with pytest.raises(ValueError, match=rf"^{which} must be real.*complex"):
            CALLS[name](X_, Y_)


def test_complex_weight_and_solver_inputs_are_refused():
    with pytest.raises(ValueError, match=r"^W must be real"):
        weight_svd(X + 1j, 3)
    with pytest.raises(ValueError, match=r"^M must be real"):
        project_K(Y + 1j, alpha=1.0, r=2)
    with pytest.raises(ValueError, match=r"^Y must be real"):
        tobit_apg(Y_RELU + 0j, sigma=0.3, alpha=1.0, r=2)
    with pytest.raises(ValueError, match=r"^v must be real"):
        project_l1_ball(np.array([3.0, 1j]), 1.0)
    with pytest.raises(ValueError, match=r"^W must be real"):
        weight_svd(np.array([[1.0, 2j], [3.0, 4.0]], dtype=object), 1)
    # Real data of other dtypes are still converted, not refused.
    ints = np.arange(12).reshape(4, 3) % 5
    assert np.array_equal(weight_svd(ints, 3), weight_svd(ints.astype(float), 3))
    assert weight_svd(ints.tolist(), 2).dtype == float


@pytest.mark.parametrize("W", ["abc", [["1", "x"], ["2", "3"]], np.array([[{}, 1.0]], dtype=object)])
def test_non_numeric_weight_names_W(W):
    with pytest.raises(ValueError, match=r"^W must be"):
        weight_svd(W, 1)


@pytest.mark.parametrize("name", ["convex_linear", "relu_mle", "relu_nonconvex"])
def test_zero_X_tilde_is_named_as_rank_zero(name):
    _, Y_ = _data(name)
    with pytest.raises(ValueError, match=r"^X_tilde is zero \(numerical rank 0\)"):
        CALLS[name](np.zeros_like(X), Y_)


@pytest.mark.parametrize("sigma", [1e-300, 1e-90, 1e-55, 1e20, 1e200])
def test_sigma_outside_the_computable_range_is_refused(sigma):
    with pytest.raises(ValueError, match=r"^sigma must be in \["):
        relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=sigma)
    with pytest.raises(ValueError, match=r"^sigma must be in \["):
        tobit_apg(Y_RELU, sigma=sigma, alpha=1.0, r=3)


def _limit_objective(M):
    # σ²·f(M) as σ → 0: squared misfit on observed entries plus max(M, 0)² on censored ones.
    positive = Y_RELU > 0
    return 0.5 * (np.sum((Y_RELU - M)[positive] ** 2) + np.sum(np.maximum(M[~positive], 0) ** 2))


@pytest.mark.parametrize("sigma", [1e-45, 1e-30])
def test_tiny_sigma_inside_the_range_gives_a_finite_certified_estimate(sigma):
    # Far below the data scale the likelihood is σ⁻² × the limit objective (whose minimizer is
    # not unique on censored entries): the estimate must stay finite, certified, and as good as
    # at a moderate σ down to the range's end (on today's main, σ = 1e-30 gave NaN; σ = 1e-90,
    # now refused, gave a certificate of 0 after one step from an overflowed ‖G‖²).
    W_hat, info = relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=sigma, return_info=True)
    assert np.all(np.isfinite(W_hat)) and info["converged"]
    W_ref = relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=1e-8)
    assert _limit_objective(X @ W_hat) <= _limit_objective(X @ W_ref) * (1 + 1e-6)


def test_inverse_mills_ratio_is_accurate_far_in_the_tail():
    # λ(z) = −z + 1/(−z) − 2/(−z)³ + … for z → −∞; the log-CDF difference lost every digit here.
    z = np.array([-1e3, -1e8, -1e50, -1e100])
    t = -z
    np.testing.assert_allclose(inverse_mills(z), t + 1 / t - 2 / t**3, rtol=1e-14)
    assert inverse_mills(np.array([40.0]))[0] == 0.0  # φ/Φ underflows to its limit
