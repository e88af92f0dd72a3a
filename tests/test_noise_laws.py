"""Heavy-tailed noise plug-ins (issue 11.3): scale, determinism, and the assumption label."""

import functools

import numpy as np
import pytest
import scipy.stats

from theory_check import noise
from theory_check.run import run

SHAPE = (200, 250)  # 50 000 draws


@pytest.mark.parametrize("law, reference", [
    (noise.laplace, lambda s: scipy.stats.laplace(scale=s / np.sqrt(2))),
    (functools.partial(noise.student_t, dof=5), lambda s: scipy.stats.t(5, scale=s * np.sqrt(3 / 5))),
    (functools.partial(noise.student_t, dof=3), lambda s: scipy.stats.t(3, scale=s * np.sqrt(1 / 3))),
    (functools.partial(noise.student_t, dof=2.5), lambda s: scipy.stats.t(2.5, scale=s * np.sqrt(0.2))),
    (functools.partial(noise.student_t, dof=1.5), lambda s: scipy.stats.t(1.5, scale=s)),
])
def test_heavy_tailed_laws_have_the_stated_distribution(law, reference):
    # Sample variances of t with <= 4 dof do not concentrate (infinite 4th moment): the whole
    # law is checked instead, by Kolmogorov–Smirnov against the scaled t (or Laplace) with the
    # variance σ² (the scale σ for 1.5 dof). At 50 000 draws the same test rejects a scale off by
    # 10% (D ≈ 0.02 against 1.95/√50 000 ≈ 0.009 at p = 1e-3): the mistakes it guards against
    # (unscaled t: ×1.3–2.2; Laplace scale σ instead of σ/√2: ×1.4) are larger.
    G, bound = law(np.random.default_rng(5), SHAPE, 2.0)
    assert bound == np.inf and G.shape == SHAPE
    assert scipy.stats.kstest(G.ravel(), reference(2.0).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(G.ravel(), reference(2.0 * 1.1).cdf).pvalue < 1e-3


@pytest.mark.parametrize("law", [noise.laplace, functools.partial(noise.student_t, dof=5)])
def test_finite_fourth_moment_laws_have_variance_sigma_squared(law):
    # Kurtosis 6 (Laplace) and 9 (t, 5 dof): the sample variance of 10⁶ draws has a relative
    # standard deviation <= √8/1000 ≈ 0.003, so 2% is more than 6 standard deviations.
    G, _ = law(np.random.default_rng(6), (1000, 1000), 1.5)
    assert G.var() == pytest.approx(2.25, rel=0.02) and abs(G.mean()) < 0.01


@pytest.mark.parametrize("law", [noise.gaussian, noise.laplace, noise.uniform, noise.rademacher,
                                 functools.partial(noise.student_t, dof=1.5)])
def test_draws_are_determined_by_the_generator(law):
    a, _ = law(np.random.default_rng(7), (30, 40), 1.0)
    b, _ = law(np.random.default_rng(7), (30, 40), 1.0)
    c, _ = law(np.random.default_rng(8), (30, 40), 1.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("law, labels", [
    (noise.gaussian, ("within", "outside: unbounded (Gaussian)", "within")),
    (noise.uniform, ("within", "within", "outside: not Gaussian (uniform)")),
    (noise.rademacher, ("within", "within", "outside: not Gaussian (Rademacher)")),
    (noise.laplace, ("outside: heavy tails (Laplace)",) * 3),
    (functools.partial(noise.student_t, dof=3), ("outside: heavy tails (t, 3 dof)",) * 3),
    (functools.partial(noise.student_t, dof=1.5),
     ("outside: heavy tails (t, 1.5 dof, infinite variance)",) * 3),
])
def test_assumption_labels(law, labels):
    assert tuple(noise.assumption(t, law) for t in ("3.1", "4.4", "4.9")) == labels
    assert noise.assumption(None, law) == ""


def test_a_law_without_declared_tails_is_labelled_unknown():
    def plain(rng, shape, sigma):
        return sigma * rng.standard_normal(shape), np.inf

    assert noise.assumption("3.1", plain).startswith("unknown")
    with pytest.raises(ValueError, match="does not declare its tails"):
        noise.tails(plain)


def test_bad_dof_is_refused_before_drawing():
    class NoDraws:
        def __getattr__(self, name):
            raise AssertionError("drew before checking")

    with pytest.raises(ValueError, match="noise.dof"):
        noise.student_t(NoDraws(), (2, 2), 1.0, dof=0.0)


def test_rows_carry_the_label_of_their_theorem(make_cfg):
    row = run(make_cfg("noise=student_t3", "estimator=[data_svd]"))[0]
    assert row["assumption"] == "outside: heavy tails (t, 3 dof)" and row["noise.dof"] == 3
    row = run(make_cfg("noise=uniform", "theorem='4.4'", "model=low_rank", "estimator=[data_svd]"))[0]
    assert row["assumption"] == "within"
