"""The proof chains of Theorems 3.1, 4.4 and 4.9 (theory_check.proofs, docs/PROOFS.md): in order on
the models' draws, closed forms against independent computations, invariant under orthogonal
changes of basis, and broken by a broken estimator or a moved Z*."""

import dataclasses
from functools import partial

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from theory_check import designs, proofs
from theory_check import noise as noise_laws
from theory_check.estimators import ConvexLinear, DataSVD, ReluMLE
from theory_check.metrics import mse
from theory_check.models import approx, relu, strong

COND = partial(designs.condition_number, kappa=10.0)
SEEDS = range(4)


def chain_of(problem, name, estimate):
    return proofs.columns(problem, name, {}, estimate.W_hat, estimate.info)


# ------------------------------------------------------------------ closed forms

def censored_kl_by_quadrature(a, b, sigma):
    """KL of the censored Gaussians of ReLU(a + g) and ReLU(b + g) from their definitions."""
    p, q = norm.cdf(-a / sigma), norm.cdf(-b / sigma)

    def integrand(y):
        return norm.pdf(y, a, sigma) * (norm.logpdf(y, a, sigma) - norm.logpdf(y, b, sigma))

    density, _ = scipy.integrate.quad(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-11)
    return p * np.log(p / q) + density


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.2, 3))
def test_censored_kl_matches_numerical_integration(a, b, sigma):
    assert proofs.censored_kl(a, b, sigma) == pytest.approx(
        censored_kl_by_quadrature(a, b, sigma), rel=1e-7, abs=1e-12)


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(0.2, 3))
def test_kl_bernoulli_hellinger_and_curvature_in_order(a, b, sigma):
    """KL >= KL of the censoring indicators >= their squared Hellinger distance >= c(a − b)²
    for |a|, |b| <= α (Lemmas A.7 and B.4)."""
    alpha = max(abs(a), abs(b), 1e-3)
    kl, kl_b = proofs.censored_kl(a, b, sigma), proofs.bernoulli_kl(a, b, sigma)
    h2 = proofs.bernoulli_hellinger2(a, b, sigma)
    slack = 1e-14
    assert kl_b <= kl + slack and h2 <= kl_b + slack
    assert proofs.curvature_constant(alpha, sigma) * (a - b) ** 2 <= h2 + slack


def test_bernoulli_kl_and_hellinger_match_their_definitions():
    a, b, sigma = 0.3, -0.7, 0.8
    p, q = norm.cdf(-a / sigma), norm.cdf(-b / sigma)
    assert proofs.bernoulli_kl(a, b, sigma) == pytest.approx(
        p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)), rel=1e-12)
    assert proofs.bernoulli_hellinger2(a, b, sigma) == pytest.approx(
        (np.sqrt(p) - np.sqrt(q)) ** 2 + (np.sqrt(1 - p) - np.sqrt(1 - q)) ** 2, rel=1e-12)


@pytest.mark.parametrize("alpha, sigma", [(1.0, 1.0), (1.0, 0.5), (2.0, 0.7), (0.3, 2.0)])
def test_curvature_constant_is_the_infimum_over_the_box(alpha, sigma):
    x = np.linspace(-alpha, alpha, 2001)
    ratio = (norm.pdf(x / sigma) / sigma) ** 2 / (8 * norm.cdf(-x / sigma) * norm.cdf(x / sigma))
    assert proofs.curvature_constant(alpha, sigma) == pytest.approx(ratio.min(), rel=1e-12)


def test_tobit_lipschitz_bounds_the_centered_losses_slopes():
    alpha, sigma, g_inf = 1.0, 0.5, 2.3
    t = np.linspace(-alpha, alpha, 4001)
    y = alpha + g_inf  # the largest observed activation Z* + G <= α + ‖G‖_∞; steepest at t = −α
    observed = np.abs(np.diff(((y - t) ** 2 - y**2) / (2 * sigma**2)) / np.diff(t)).max()
    censored = np.abs(np.diff(-norm.logcdf(-t / sigma)) / np.diff(t)).max()
    assert max(observed, censored) <= proofs.tobit_lipschitz(alpha, sigma, g_inf) * (1 + 1e-9)


@pytest.mark.parametrize("shape, count", [((30, 12), 1), ((12, 30), 3), ((20, 20), 25),
                                          ((300, 200), 1), ((150, 400), 4)])  # Lanczos
def test_top_singular_values_match_numpy(shape, count):
    A = np.random.default_rng(0).standard_normal(shape)
    expected = np.zeros(count)
    s = np.linalg.svd(A, compute_uv=False)[:count]
    expected[: s.size] = s
    np.testing.assert_allclose(proofs.top_singular_values(A, count), expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- chains on the models' draws

def thm44_problem(seed, family="low_rank", n=24, d=24, N=16, sigma=1.0, delta=0.0):
    return getattr(approx, family)(np.random.default_rng(seed), n=n, d=d, N=N, r=2, sigma=sigma,
                                   delta=delta, design=COND, noise=noise_laws.uniform)


def thm49_problem(seed, family="low_rank", n=24, d=24, N=16, sigma=0.5):
    return relu.generate(np.random.default_rng(seed), n=n, d=d, N=N, r=2, sigma=sigma,
                         design=COND, noise=noise_laws.gaussian, family=family)


def thm31_problem(seed, n=40, d=12, N=10, sigma=1.0, delta=0.0, noise=noise_laws.gaussian):
    return strong.generate(np.random.default_rng(seed), n=n, d=d, N=N, r=2, sigma=sigma,
                           delta=delta, design=designs.isotropic, noise=noise)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family, sizes, sigma, delta", [
    ("low_rank", (24, 24, 16), 1.0, 0.0), ("power_law", (24, 24, 16), 0.3, 0.0),
    ("hadamard", (16, 16, 16), 1.0, 0.0),
    ("low_rank", (30, 12, 16), 1.0, 0.0),   # d < n: the column-space constraint
    ("low_rank", (24, 24, 16), 0.01, 0.0),  # Y inside K: M̂ = Y, the first step an equality
    ("power_law", (24, 24, 16), 1.0, 0.3),  # downstream X ≠ X̃
])
def test_thm44_chain_in_order(seed, family, sizes, sigma, delta):
    n, d, N = sizes
    problem = thm44_problem(seed, family, n, d, N, sigma, delta)
    estimate = ConvexLinear()(problem, 2)
    chain = chain_of(problem, "convex_linear", estimate)
    assert chain["proof.in_order"]
    error = mse(problem.X_tilde @ estimate.W_hat, problem.Z_star)
    tol = chain["proof.tolerance"]
    assert error <= chain["proof.inner"] + tol <= chain["proof.dual"] * (1 + 1e-8) + tol
    assert chain["proof.dual"] <= chain["proof.bound"] * (1 + 1e-8)
    # the paper's route bounds the same quantity in expectation, far above one draw
    assert chain["proof.bound"] < chain["proof.paper"]


def test_thm44_g_op_is_the_noise_projected_on_the_column_space():
    problem = thm44_problem(0, n=30, d=12)
    E = problem.Y - problem.Z_star
    Q = np.linalg.qr(problem.X_tilde)[0]
    chain = chain_of(problem, "convex_linear", ConvexLinear()(problem, 2))
    assert chain["proof.g_op"] == pytest.approx(np.linalg.norm(Q.T @ E, 2), rel=1e-10)
    # with X = X̃ the effective noise is the projection of the drawn G
    np.testing.assert_allclose(E, Q @ (Q.T @ problem.noise), atol=1e-10)


def test_thm44_paper_route_is_missing_for_unbounded_noise():
    problem = approx.low_rank(np.random.default_rng(0), n=20, d=20, N=20, r=2, sigma=1.0,
                              design=COND, noise=noise_laws.gaussian)
    chain = chain_of(problem, "convex_linear", ConvexLinear()(problem, 2))
    assert chain["proof.in_order"] and np.isnan(chain["proof.paper"])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family, sigma", [("low_rank", 0.5), ("power_law", 1.0),
                                           ("hadamard", 0.5)])
def test_thm49_chain_in_order(seed, family, sigma):
    n = 16 if family == "hadamard" else 24
    problem = thm49_problem(seed, family, n=n, d=n, N=16, sigma=sigma)
    estimate = ReluMLE()(problem, 2)
    chain = chain_of(problem, "relu_mle", estimate)
    assert chain["proof.in_order"]
    assert chain["proof.likelihood_gap"] <= chain["proof.tolerance"]
    error = mse(problem.X_tilde @ estimate.W_hat, problem.Z_star)
    assert chain["proof.curvature_paper"] * error <= chain["proof.hellinger"]
    assert chain["proof.kl"] <= chain["proof.increment"] + chain["proof.tolerance"]
    assert chain["proof.kl"] == pytest.approx(chain["proof.curvature"] * error)
    assert chain["proof.g_inf"] == pytest.approx(np.abs(problem.noise).max())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sizes, sigma, delta, noise", [
    ((40, 12, 10), 1.0, 0.0, noise_laws.gaussian), ((12, 40, 10), 1.0, 0.0, noise_laws.gaussian),
    ((40, 12, 10), 0.3, 0.5, noise_laws.uniform), ((30, 30, 30), 2.0, 0.0, noise_laws.rademacher),
])
def test_thm31_chain_in_order(seed, sizes, sigma, delta, noise):
    n, d, N = sizes
    problem = thm31_problem(seed, n, d, N, sigma, delta, noise)
    estimate = DataSVD()(problem, 2)
    chain = chain_of(problem, "data_svd", estimate)
    assert chain["proof.in_order"]
    error = mse(problem.X_tilde @ estimate.W_hat, problem.Z_star)
    assert error <= chain["proof.rank_step"] <= chain["proof.weyl"] <= chain["proof.perturbation"]


# ------------------------------------------------------- orthogonal changes of basis

def rotated(problem, U, V):
    """The problem seen in the bases U (n×n) and V (N×N): X̃ → UX̃, W → WVᵀ, Y → UYVᵀ."""
    return dataclasses.replace(
        problem, X_tilde=U @ problem.X_tilde, X=U @ problem.X, Y=U @ problem.Y @ V.T,
        W=problem.W @ V.T, W_star=problem.W_star @ V.T, Z_star=U @ problem.Z_star @ V.T,
        noise=U @ problem.noise @ V.T)


def random_rotations(seed, n, N):
    rng = np.random.default_rng(seed)
    return designs.orthonormal(rng, n, n), designs.orthonormal(rng, N, N)


@pytest.mark.parametrize("sizes", [(40, 12, 10), (12, 40, 10)])
def test_thm31_chain_invariant_under_orthogonal_changes_of_basis(sizes):
    n, d, N = sizes
    problem = thm31_problem(1, n, d, N)
    turned = rotated(problem, *random_rotations(2, n, N))
    chain = chain_of(problem, "data_svd", DataSVD()(problem, 2))
    chain_turned = chain_of(turned, "data_svd", DataSVD()(turned, 2))
    for key, value in chain.items():
        assert chain_turned[key] == pytest.approx(value, rel=1e-9), key


@pytest.mark.parametrize("sizes", [(20, 20, 16), (30, 12, 16)])
def test_thm44_chain_invariant_under_orthogonal_changes_of_basis(sizes):
    """⟨E, D⟩, ‖PE‖_op‖D‖_* and 2R‖PE‖_op do not depend on the bases (K does, through its
    entry bound: the same Ŵ is evaluated in both)."""
    n, d, N = sizes
    problem = thm44_problem(3, n=n, d=d, N=N)
    U, V = random_rotations(4, n, N)
    estimate = ConvexLinear()(problem, 2)
    chain = chain_of(problem, "convex_linear", estimate)
    turned = proofs.columns(rotated(problem, U, V), "convex_linear", {},
                            estimate.W_hat @ V.T, estimate.info)
    for key in ("proof.inner", "proof.dual", "proof.bound", "proof.paper", "proof.g_op"):
        assert turned[key] == pytest.approx(chain[key], rel=1e-9), key


# --------------------------------------------- broken estimators and generators are caught

def test_thm44_chain_breaks_for_an_estimate_outside_K():
    """The unconstrained fit Ẑ = Y (Ŵ = X̃⁺Y) leaves the nuclear ball: ‖D‖_* > 2α√(rnN)."""
    problem = thm44_problem(0, n=32, d=32, N=32)
    estimate = ConvexLinear()(problem, 2)
    broken = proofs.columns(problem, "convex_linear", {}, problem.W, estimate.info)
    assert not broken["proof.in_order"]
    assert broken["proof.dual"] > broken["proof.bound"]


def test_thm44_chain_breaks_when_Z_star_is_moved():
    """A Z* recorded between Ẑ and Y (a generator whose Z* is not the truth the noise was
    added to) breaks the projection's basic inequality ‖D‖² <= ⟨E, D⟩."""
    problem = thm44_problem(1, n=24, d=24, N=16, sigma=2.0)
    estimate = ConvexLinear()(problem, 2)
    Z_hat = problem.X_tilde @ estimate.W_hat
    moved = dataclasses.replace(problem, Z_star=Z_hat + 0.5 * (problem.Y - Z_hat))
    chain = proofs.columns(moved, "convex_linear", {}, estimate.W_hat, estimate.info)
    assert not chain["proof.in_order"]
    assert chain_of(problem, "convex_linear", estimate)["proof.in_order"]


def test_thm49_chain_breaks_for_a_worse_estimate():
    """Ẑ = 0 has a lower likelihood than Z*: the basic inequality ℓ(Ẑ) <= ℓ(Z*) fails."""
    problem = thm49_problem(0)
    estimate = ReluMLE()(problem, 2)
    zero = np.zeros_like(estimate.W_hat)
    broken = proofs.columns(problem, "relu_mle", {}, zero, estimate.info)
    assert not broken["proof.in_order"] and broken["proof.likelihood_gap"] > 0


def test_thm31_chain_breaks_for_an_estimate_of_full_rank():
    """Ẑ = Y has D = E of full rank: ‖D‖_F² > 2r‖D‖_op²."""
    problem = thm31_problem(0, n=40, d=40, N=30)
    broken = proofs.columns(problem, "data_svd", {}, problem.W, {})
    assert not broken["proof.in_order"]


# ------------------------------------------------------------------- the hook in a run

@pytest.mark.parametrize("settings, expected", [
    ({}, True), ({"alpha": None, "solver": "dykstra"}, True), ({"alpha_scale": 0.5}, False),
    ({"alpha": "cv"}, False), ({"rank": 3}, False), ({"rank_scale": 2.0}, False),
    ({"sigma": 0.3}, False)])
def test_only_the_theorems_own_estimator_settings_get_a_chain(settings, expected):
    assert proofs.own_estimator(settings) is expected


def test_rows_of_the_theorems_own_estimator_carry_the_chain(make_cfg):
    from theory_check.run import run

    rows = run(make_cfg("model=low_rank", "noise=uniform", "n=16", "d=16", "N=16", "r=2",
                        "estimator=[convex_linear,data_svd]",
                        "+estimator.convex_linear_a1_2={_target_: theory_check.estimators."
                        "ConvexLinear, alpha_scale: 0.5}"))
    by_name = {row["estimator"]: row for row in rows}
    own = by_name["convex_linear"]
    assert own["proof.in_order"] is True
    assert own["mse"] <= own["proof.inner"] + own["proof.tolerance"]
    assert own["proof.dual"] <= own["proof.bound"]
    for other in ("data_svd", "convex_linear_a1_2"):  # no chain: the flag is None, no column else
        assert by_name[other]["proof.in_order"] is None
        assert [key for key in by_name[other] if key.startswith("proof.")] == ["proof.in_order"]

    rows = run(make_cfg("n=40", "d=12", "N=10", "r=2", "estimator=[data_svd,weight_svd]"))
    by_name = {row["estimator"]: row for row in rows}
    assert by_name["data_svd"]["proof.in_order"] is True
    assert by_name["weight_svd"]["proof.in_order"] is None
