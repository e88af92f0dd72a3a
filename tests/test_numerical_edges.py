"""The public estimators and solvers at extreme data scales (issue 24, item 6): they give the
scaled result of the ordinary-scale problem (the problems are homogeneous, and the solvers work
on data divided by a power of two, which is exact), or refuse with a ValueError naming the
parameter at fault and a non-empty range; no solver reports convergence it did not check."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from theory_check.estimators import (convex_linear, data_svd, relu_em, relu_mle, relu_nonconvex,
                                     weight_svd)
from theory_check.solvers.projection import project_K
from theory_check.solvers.tobit import tobit_apg
from theory_check.solvers.tobit_em import tobit_em

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 20))
X_WIDE = RNG.standard_normal((20, 30))
Y = RNG.standard_normal((30, 12))
Y_WIDE = RNG.standard_normal((20, 12))
Y_RELU = np.maximum(X @ RNG.standard_normal((20, 12)) / 5 + 0.3 * Y, 0.0)

#: Scales of the data: powers of two (exactly representable scalings, so results must be
#: bitwise the scaled ordinary ones) and decimal ones (rounded differently: close).
POWERS = [2.0**-1000, 2.0**-600, 2.0**600, 2.0**1000]
DECIMALS = [1e-300, 1e-200, 1e-155, 1e155, 1e200, 1e300]


def _relative(A, B):
    return np.abs(A - B).max() / np.abs(B).max()


# --- item 1: a zero X̃ ---------------------------------------------------------------

def test_data_svd_refuses_a_zero_X_tilde_as_the_other_estimators_do():
    # On the code as found it returned a zero Ŵ.
    with pytest.raises(ValueError, match=r"^X_tilde is zero \(numerical rank 0\)"):
        data_svd(np.zeros_like(X), Y, 3)
    with pytest.raises(ValueError, match=r"^X_tilde is zero"):
        data_svd(np.zeros_like(X), Y, "cv")


def test_weight_svd_accepts_a_zero_W():
    # [0]_r = 0 is the unique best rank-r approximation: nothing is undetermined, unlike X̃ = 0.
    assert np.array_equal(weight_svd(np.zeros((6, 4)), 2), np.zeros((6, 4)))


# --- item 2: project_K and convex_linear at extreme scales ----------------------------

@pytest.mark.parametrize("scale", POWERS + DECIMALS)
def test_project_K_gives_the_scaled_projection(scale):
    P1, info1 = project_K(Y, alpha=0.5, r=2)
    P, info = project_K(scale * Y, alpha=scale * 0.5, r=2)
    assert info["converged"] and info["scale_exponent"] != 0
    if scale in POWERS:  # exact scaling: the same iterates
        assert np.array_equal(P, scale * P1) and info["certificate"] == info1["certificate"]
        assert info["iterations"] == info1["iterations"]
    else:
        assert _relative(P / scale, P1) < 1e-12
    # certificates are relative; the gap is in the caller's units (inf beyond them)
    with np.errstate(over="ignore", under="ignore"):
        expected_gap = np.float64(info1["gap"]) * scale * scale
    if np.isinf(expected_gap):
        assert info["gap"] == np.inf
    elif expected_gap > 1e-290:
        assert info["gap"] == pytest.approx(expected_gap, rel=1e-3)
    assert np.array_equal(info["warm_start"]["Q"] / scale, info1["warm_start"]["Q"]) \
        or scale not in POWERS


def test_project_K_warm_start_is_in_the_callers_units():
    scale = 2.0**700
    _, info1 = project_K(Y, alpha=0.5, r=2, max_iter=5)
    P1, warm1 = project_K(Y, alpha=0.5, r=2, warm_start=info1["warm_start"])
    _, info = project_K(scale * Y, alpha=scale * 0.5, r=2, max_iter=5)
    assert np.array_equal(info["warm_start"]["Q"], scale * info1["warm_start"]["Q"])
    assert info["warm_start"]["theta"] == scale * info1["warm_start"]["theta"]
    P, warm = project_K(scale * Y, alpha=scale * 0.5, r=2, warm_start=info["warm_start"])
    assert warm["converged"] and warm["iterations"] == warm1["iterations"]
    assert np.array_equal(P, scale * P1)


def test_ordinary_scales_are_not_rescaled():
    _, info = project_K(Y, alpha=0.5, r=2)
    assert info["scale_exponent"] == 0
    _, info = convex_linear(X, 1e90 * Y, alpha=0.5e90, rank=2, return_info=True)
    assert info["scale_exponent"] == 0


@pytest.mark.parametrize("scale_y", [1e-300, 1e-155, 1e155, 1e300])
@pytest.mark.parametrize("scale_x", [1e-300, 1.0, 1e300])
@pytest.mark.parametrize("wide", [False, True])
def test_convex_linear_gives_the_scaled_estimate(scale_x, scale_y, wide):
    X_, Y_ = (X_WIDE, Y_WIDE) if wide else (X, Y)
    if scale_y / scale_x > 1e300:
        pytest.skip("Ŵ beyond the float range: tested below")
    W1 = convex_linear(X_, Y_, alpha=0.5, rank=2)
    W, info = convex_linear(scale_x * X_, scale_y * Y_, alpha=scale_y * 0.5, rank=2,
                            return_info=True)
    assert info["converged"]
    W_expected = W1 * (scale_y / scale_x) if scale_y / scale_x > 1e-290 else None
    if W_expected is not None:
        assert _relative(W * (scale_x / scale_y), W1) < 1e-12


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_convex_linear_with_the_cvxpy_reference_at_extreme_scales(scale):
    # On the code as found: a Ŵ of inf at 1e200 (at 1e100 already), and "converged" with a NaN
    # certificate and a wrong Ŵ at 1e-200.
    pytest.importorskip("cvxpy")
    W1 = convex_linear(X, Y, alpha=0.5, rank=2, solver="cvxpy")
    W, info = convex_linear(X, scale * Y, alpha=scale * 0.5, rank=2, solver="cvxpy",
                            return_info=True)
    assert info["converged"] and np.isfinite(info["certificate"])
    assert _relative(W / scale, W1) < 1e-8


def test_an_estimate_beyond_the_float_range_is_refused():
    for call in (lambda: convex_linear(1e-300 * X, 1e300 * Y, alpha=0.5e300, rank=2),
                 lambda: data_svd(1e-300 * X, 1e300 * Y, 2)):
        with pytest.raises(ValueError, match=r"^X_tilde is too small against Y"):
            call()


@pytest.mark.parametrize("call", [
    lambda: project_K(1e150 * Y, alpha=1e-150, r=2),
    lambda: project_K(Y, alpha=1e-300, r=2),
    lambda: convex_linear(X, 1e150 * Y, alpha=1e-150, rank=2),
])
def test_alpha_below_the_rounding_of_the_data_is_refused(call):
    # On the code as found, α = 1e-150 against entries of 1e150 gave P = 0 with the
    # certificate 0 ("converged"), the nuclear step's threshold having absorbed all of it.
    with pytest.raises(ValueError, match=r"^alpha must be >= 10 × eps × max\|(M|Y)\| / tol = "):
        call()


def test_the_alpha_floor_follows_tol_and_the_cv_grid_is_checked():
    floor = 10 * np.finfo(float).eps * np.abs(Y).max()
    project_K(Y, alpha=2 * floor, r=2, tol=1.0, max_iter=5)  # accepted at tol = 1
    with pytest.raises(ValueError, match=r"^alpha must be >= "):
        project_K(Y, alpha=2 * floor, r=2, tol=0.1, max_iter=5)
    with pytest.raises(ValueError, match=r"^cv_grid must be >= .* / cv_tol"):
        convex_linear(X, Y, alpha="cv", rank=2, cv_grid=[1.0, 1e-20])


def test_huge_alpha_leaves_M_in_place():
    P, info = project_K(Y, alpha=1e308, r=2)
    assert np.array_equal(P, Y) and info["exit"] == "feasible"


# --- item 3: relu_mle blames the parameter at fault -----------------------------------

def _allowed_interval(message):
    numbers = re.findall(r"\[([-+.e\d]+), ([-+.e\d]+)\]", message)
    return [(float(a), float(b)) for a, b in numbers]


def test_relu_mle_blames_alpha_when_the_box_is_at_fault():
    # On the code as found: "sigma must be in [1e+250, 1e+50]", an empty range, blaming σ.
    with pytest.raises(ValueError, match=r"^alpha must be <= 1e50 × sigma = 3e\+49") as err:
        relu_mle(X, Y_RELU, alpha=1e300, rank=3, sigma=0.3)
    assert all(low <= high for low, high in _allowed_interval(str(err.value)))
    with pytest.raises(ValueError, match=r"^alpha must be <= 1e50 × sigma"):
        tobit_apg(Y_RELU, sigma=0.3, alpha=1e300, r=3)
    with pytest.raises(ValueError, match=r"^cv_grid must be <= 1e50 × sigma"):
        relu_mle(X, Y_RELU, alpha="cv", rank=3, sigma=0.3, cv_grid=[1.0, 1e300])


@pytest.mark.parametrize("sigma", [1e-60, 1e20])
def test_relu_mle_blames_sigma_with_a_non_empty_range(sigma):
    with pytest.raises(ValueError, match=r"^sigma must be in \[") as err:
        relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=sigma)
    assert all(low <= high for low, high in _allowed_interval(str(err.value)))


@pytest.mark.parametrize("scale", POWERS + DECIMALS)
def test_tobit_estimators_give_the_scaled_estimate(scale):
    # The likelihood is invariant under the joint scaling of (Y, α, σ): at 1e100 these were
    # refused (σ outside [1e-50, 1e50]) though the problem is the ordinary one.
    W1, info1 = relu_mle(X, Y_RELU, alpha=1.0, rank=3, sigma=0.3, return_info=True)
    W, info = relu_mle(X, scale * Y_RELU, alpha=scale, rank=3, sigma=0.3 * scale,
                       return_info=True)
    E1, em1 = relu_em(X, Y_RELU, rank=3, sigma=0.3, return_info=True)
    E, em = relu_em(X, scale * Y_RELU, rank=3, sigma=0.3 * scale, return_info=True)
    assert info["converged"] and em["converged"]
    if scale in POWERS:
        assert np.array_equal(W, scale * W1) and info["objective"] == info1["objective"]
    else:
        assert _relative(W / scale, W1) < 1e-8
        assert info["objective"] == pytest.approx(info1["objective"], rel=1e-9)
    # EM stops at a fixed-point residual of tol = 1e-5 σ per entry, and its data_svd start is
    # computed in the caller's units (LAPACK scales entries beyond ~1e138 itself, by factors
    # that are not powers of two): close, not bitwise.
    assert _relative(E / scale, E1) < 1e-3
    assert em["objective"] == pytest.approx(em1["objective"], rel=1e-6)


def test_tobit_em_checks_sigma_and_rescales():
    with pytest.raises(ValueError, match=r"^sigma must be in \["):
        tobit_em(Y_RELU, sigma=1e-60, rank=2)
    scale = 2.0**700
    M1, _ = tobit_em(Y_RELU, sigma=0.3, rank=2)
    M, info = tobit_em(scale * Y_RELU, sigma=0.3 * scale, rank=2)
    assert info["converged"] and np.array_equal(M, scale * M1)


# --- item 4: relu_nonconvex -----------------------------------------------------------

@pytest.mark.parametrize("scale", [1e-300, 1e-20, 1e-4, 1e30, 1e100, 1e150, 1e300])
def test_relu_nonconvex_iterates_at_every_scale(scale):
    # On the code as found: 0 iterations and converged = True at 1e-20, 1e30 and 1e100 (the
    # first line search failed), an early stop at 1e-4 (its test is relative to max(|f|, 1)),
    # a NaN certificate at 1e150.
    # (At 1e-4 it stopped with a gradient still 0.68 of the start's.)
    W, info = relu_nonconvex(X, scale * Y_RELU, rank=3, return_info=True)
    assert info["converged"] and info["iterations"] >= 10 and np.all(np.isfinite(W))
    assert info["certificate"] < 1e-2  # the gradient norm relative to the start's


def test_relu_nonconvex_outside_the_range_is_the_normalized_problem():
    W_a = relu_nonconvex(X, 2.0**-400 * Y_RELU, rank=3)
    W_b = relu_nonconvex(X, 2.0**400 * Y_RELU, rank=3)
    assert np.array_equal(W_a * 2.0**400, W_b * 2.0**-400)


def test_relu_nonconvex_never_reports_convergence_without_an_iteration():
    _, info = relu_nonconvex(X, Y_RELU, rank=3, max_iter=0, return_info=True)
    assert info["iterations"] == 0 and not info["converged"]
    for scale in (1e-20, 1e100):
        _, info = relu_nonconvex(X, scale * Y_RELU, rank=3, return_info=True)
        assert info["iterations"] >= 1 or not info["converged"]


def test_relu_nonconvex_without_any_iteration_is_not_converged(monkeypatch):
    # The first line search fails (L-BFGS-B's status 2 after 0 iterations): nothing checked.
    import scipy.optimize

    from theory_check.estimators import relu

    real = scipy.optimize.minimize

    def first_line_search_fails(fun, x0, **kwargs):
        res = real(fun, x0, **{**kwargs, "options": {**kwargs["options"], "maxiter": 1}})
        res.x, res.nit, res.status, res.fun = x0, 0, 2, fun(x0)[0]
        return res

    monkeypatch.setattr(relu.scipy.optimize, "minimize", first_line_search_fails)
    _, info = relu_nonconvex(X, Y_RELU, rank=3, return_info=True)
    assert info["iterations"] == 0 and not info["converged"]


# --- the same class elsewhere: cross-validation and weight_svd --------------------------

@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_cross_validation_chooses_as_at_the_ordinary_scale(scale):
    # On the code as found every squared error was inf (or 0) and the first candidate won.
    options = dict(alpha="cv", rank="cv", cv_rank_grid=[2, 8], cv_folds=3, cv_tol=1e-3,
                   tol=1e-6, return_info=True)
    grid = np.abs(Y).max() * np.array([1.0, 0.5, 0.25])
    _, info1 = convex_linear(X, Y, cv_grid=grid, **options)
    _, info = convex_linear(X, scale * Y, cv_grid=scale * grid, **options)
    assert info["rank"] == info1["rank"]
    assert info["alpha"] / scale == pytest.approx(info1["alpha"], rel=1e-12)
    _, svd1 = data_svd(X, Y, "cv", return_info=True)
    _, svd = data_svd(X, scale * Y, "cv", return_info=True)
    assert svd["rank"] == svd1["rank"]
    curve, curve1 = json.loads(svd["cv_curve"]), json.loads(svd1["cv_curve"])
    assert np.argmin(curve1) == svd1["rank"] - 1 and len(curve) == len(curve1)


@pytest.mark.parametrize("scale", [1e-300, 1e300, 1.7e308])
def test_weight_svd_near_the_float_limits(scale):
    W = Y / np.abs(Y).max()
    W_hat = weight_svd(scale * W, 3)
    assert np.all(np.isfinite(W_hat))
    assert _relative(W_hat / scale, weight_svd(W, 3)) < 1e-12
