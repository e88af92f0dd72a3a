"""Model A generators: Z* = X̃W* in K(α, r), recorded norms, the hard family's structure."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from theory_check import designs, noise
from theory_check.models import approx

GENERATORS = [approx.low_rank, approx.power_law, approx.hadamard]


def _draw(generator, seed=0, n=32, d=40, N=16, r=2, sigma=0.5, **params):
    rng = np.random.default_rng(seed)
    return generator(rng, n=n, d=d, N=N, r=r, sigma=sigma, design=designs.isotropic,
                     noise=noise.uniform, **params)


def _norms(Z):
    return np.abs(Z).max(), np.linalg.svd(Z, compute_uv=False).sum()


@given(generator=st.sampled_from(GENERATORS), seed=st.integers(0, 1000),
       n=st.sampled_from([8, 16, 32]), N=st.sampled_from([8, 16, 32]), r=st.integers(1, 4),
       d_less=st.booleans(), alpha=st.floats(0.1, 10.0), sigma=st.floats(0.0, 3.0))
def test_ground_truth_is_in_K_and_meta_is_recorded(generator, seed, n, N, r, d_less, alpha,
                                                   sigma):
    d = n // 2 if d_less and generator is not approx.hadamard else n + 3
    r = min(r, d, N)
    try:
        pb = _draw(generator, seed, n=n, d=d, N=N, r=r, sigma=sigma, alpha=alpha)
    except ValueError as exc:
        # A full-rank power-law draw can have r_eff > r for tiny r and sizes; refusing it,
        # naming r, is the specified behaviour (never a Z* outside K).
        assert generator is approx.power_law and "increase r" in str(exc), exc
        assume(False)
    z_inf, z_nuc = _norms(pb.Z_star)
    assert z_inf <= alpha * (1 + 1e-9)
    assert z_nuc <= alpha * np.sqrt(r * n * N) * (1 + 1e-9)
    np.testing.assert_allclose(pb.X_tilde @ pb.W_star, pb.Z_star, atol=1e-12 * alpha)
    meta = pb.meta
    assert meta["alpha"] == alpha and meta["noise_bound"] == pytest.approx(np.sqrt(3) * sigma)
    assert meta["z_inf"] == pytest.approx(z_inf) and meta["z_nuc"] == pytest.approx(z_nuc)
    assert meta["r_eff"] == pytest.approx(z_nuc**2 / (z_inf**2 * n * N))
    if generator is not approx.hadamard:
        assert z_inf == pytest.approx(alpha)  # scaled so the entry bound is attained
        assert meta["r_eff"] <= r * (1 + 1e-9)
    # the observations deviate from Z* by at most the noise bound when X = X̃ and d >= n
    if d >= n:
        assert np.abs(pb.Y - pb.Z_star).max() <= np.sqrt(3) * sigma + 1e-9


def test_low_rank_is_exactly_rank_r():
    pb = _draw(approx.low_rank, r=3)
    s = np.linalg.svd(pb.Z_star, compute_uv=False)
    assert s[2] > 1e-6 * s[0] and s[3] <= 1e-10 * s[0]


def test_power_law_spectrum_decays_with_gamma():
    pb = _draw(approx.power_law, d=16, gamma=1.5)   # d < n: spectrum of length min(d, N)
    s = np.linalg.svd(pb.Z_star, compute_uv=False)[:16]
    np.testing.assert_allclose(s / s[0], np.arange(1, 17) ** -1.5, rtol=1e-8)


def test_hadamard_family_is_on_the_boundary_with_singular_values_at_the_noise_level():
    n = N = 256
    sigma, r, alpha = 1.0, 2, 1.0
    pb = _draw(approx.hadamard, n=n, d=n, N=N, r=r, sigma=sigma, alpha=alpha)
    q = pb.meta["q"]
    s = np.linalg.svd(pb.Z_star, compute_uv=False)
    assert q & (q - 1) == 0 and n % q == 0  # 256's divisors are powers of two
    np.testing.assert_allclose(s[:q], alpha * np.sqrt(r / q) * np.sqrt(n * N / q), rtol=1e-9)
    assert s[q] <= 1e-9 * s[0]
    assert s.sum() == pytest.approx(alpha * np.sqrt(r * n * N), rel=1e-9)
    # the nearest order to q* = 8√2 (8 or 16): within a factor √2 in log scale
    assert abs(np.log2(q) - np.log2(pb.meta["q_target"])) <= 0.5 + 1e-9
    noise_level = sigma * (np.sqrt(n) + np.sqrt(N))
    assert 1 / np.sqrt(2) * (1 - 1e-9) <= s[0] / noise_level <= np.sqrt(2) * (1 + 1e-9)


@pytest.mark.parametrize("q", [1, 2, 4, 8, 12, 20, 24, 40, 44, 48, 72])
def test_hadamard_matrices_have_orthogonal_pm1_rows(q):
    S = approx.hadamard_matrix(q)
    assert S.shape == (q, q) and set(np.unique(S)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(S @ S.T, q * np.eye(q))


@pytest.mark.parametrize("q", [3, 6, 28, 56])
def test_orders_without_a_construction_are_refused(q):
    with pytest.raises(ValueError, match="order q"):
        approx.hadamard_matrix(q)


# n = N = 2q² puts q* = √(rnN)/(σ(√n+√N)) at q for r = 2, α = σ = 1 (Theorem 4.4's sweep), and
# n = q²/2 for σ = 1/2 (Theorem 4.9's): Paley orders 12 and 24 are not powers of two.
@pytest.mark.parametrize("n, sigma, q", [(288, 1.0, 12), (128, 1.0, 8), (72, 0.5, 12), (288, 0.5, 24)])
def test_hadamard_block_sits_exactly_at_the_noise_level_when_q_star_is_an_order(n, sigma, q):
    pb = _draw(approx.hadamard, n=n, d=n, N=n, r=2, sigma=sigma, alpha=1.0)
    s = np.linalg.svd(pb.Z_star, compute_uv=False)
    assert pb.meta["q"] == q and pb.meta["block_level"] == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(s[:q], sigma * 2 * np.sqrt(n), rtol=1e-9)
    assert s[q] <= 1e-9 * s[0] and np.abs(pb.Z_star).max() <= 1.0 + 1e-12


def test_block_level_is_recorded_when_q_star_is_not_an_order():
    pb = _draw(approx.hadamard, n=64, d=64, N=64, r=2, sigma=1.0, alpha=1.0)  # q* = 4√2
    s = np.linalg.svd(pb.Z_star, compute_uv=False)
    assert pb.meta["q"] in (4, 8)
    assert s[0] / (2 * np.sqrt(64)) == pytest.approx(pb.meta["block_level"], rel=1e-9)
    assert pb.meta["block_level"] == pytest.approx(4 * np.sqrt(2) / pb.meta["q"])


@pytest.mark.parametrize("generator,params,match", [
    (approx.low_rank, {"alpha": 0.0}, "^alpha must be"),
    (approx.power_law, {"alpha": -1.0}, "^alpha must be"),
    (approx.power_law, {"gamma": -1.0}, "^gamma must be"),
    (approx.hadamard, {"alpha": 0.0}, "^alpha must be"),
    (approx.hadamard, {"d": 16}, "^d must be >= n"),
    (approx.hadamard, {"q": 3}, "^q must be"),
    (approx.hadamard, {"q": 1}, "^q must be"),            # q < r
    (approx.hadamard, {"n": 10, "d": 10, "N": 10, "r": 8}, "^r must be"),  # orders 1, 2 only
    (approx.low_rank, {"r": 0}, "^r must be"),
    (approx.low_rank, {"r": 17}, "^r must be"),
    (approx.low_rank, {"sigma": -1.0}, "sigma"),
    (approx.low_rank, {"n": 0}, "^n must be"),
    # a flat spectrum has r_eff ≈ min(n, N)/(2 log nN) > r: Z* cannot be in K(α, 1)
    (approx.power_law, {"gamma": 0.0, "r": 1, "n": 64, "d": 64, "N": 64}, "increase r"),
])
def test_bad_parameters_raise_naming_the_parameter(generator, params, match):
    with pytest.raises(ValueError, match=match):
        _draw(generator, **params)


def test_invalid_parameters_are_refused_before_any_draw():
    class NoDraws:
        def __getattr__(self, name):
            raise AssertionError("drew random numbers before validating")

    with pytest.raises(ValueError, match="^q must be"):
        approx.hadamard(NoDraws(), n=16, d=16, N=16, r=2, sigma=1.0, design=designs.isotropic,
                        noise=noise.uniform, q=5)
