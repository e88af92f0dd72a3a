"""tobit_apg's projection count: one projection per step (no projection of the start, no
second projection of a step whose projection is already exact), and its cheaper gradient."""

import numpy as np
import pytest

from theory_check import designs, noise
from theory_check.estimators import relu
from theory_check.models import relu as relu_model
from theory_check.solvers import projection, tobit
from theory_check.solvers.tobit import tobit_apg, tobit_loss, tobit_loss_and_grad


def relu_data(rng, n, N, sigma, alpha=1.0, r=2):
    A = rng.standard_normal((n, r)) @ rng.standard_normal((r, N))
    Z = alpha * A / np.abs(A).max()
    return np.maximum(Z + sigma * rng.standard_normal((n, N)), 0.0)


class CountingBox:
    """Exact projection onto the box alone (a clip), counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, M, *, alpha, r, basis, tol, warm_start):
        self.calls += 1
        return np.clip(M, -alpha, alpha), {"iterations": 1, "certificate": 0.0,
                                           "converged": True, "warm_start": None}


def test_one_exact_projection_per_step():
    Y = relu_data(np.random.default_rng(0), 30, 20, 0.5)
    project = CountingBox()
    _, info = tobit_apg(Y, sigma=0.5, alpha=0.8, r=2, project=project, tol=1e-10)
    assert info["converged"]
    assert project.calls == info["iterations"]


@pytest.mark.parametrize("start", ["Y", "far"])
def test_first_step_from_an_infeasible_start_returns_a_point_of_K(start):
    rng = np.random.default_rng(1)
    n, N, sigma, alpha, r = 24, 18, 0.5, 0.7, 1
    Y = relu_data(rng, n, N, sigma)
    M0 = None if start == "Y" else 50.0 * rng.standard_normal((n, N))
    M, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=r, M0=M0, max_iter=1)
    assert info["iterations"] == 1
    assert np.abs(M).max() <= alpha * (1 + 1e-12)
    assert np.linalg.svd(M, compute_uv=False).sum() <= alpha * np.sqrt(r * n * N) * (1 + 1e-9)


def test_start_does_not_change_the_optimum():
    rng = np.random.default_rng(2)
    n, N, sigma, alpha, r = 20, 16, 0.4, 0.6, 1
    Y = relu_data(rng, n, N, sigma)
    M, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=r, tol=1e-10)
    M_far, info_far = tobit_apg(Y, sigma=sigma, alpha=alpha, r=r, tol=1e-10,
                                M0=-30.0 * np.ones((n, N)))
    assert info["converged"] and info_far["converged"]
    f, f_far = tobit_loss(M, Y, sigma=sigma), tobit_loss(M_far, Y, sigma=sigma)
    assert abs(f - f_far) <= 2e-10 * f


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_gradient_alone_matches_loss_and_grad(scale):
    rng = np.random.default_rng(3)
    sigma = 0.5
    Y = relu_data(rng, 12, 9, sigma)
    M = scale * rng.standard_normal(Y.shape)
    g = tobit._gradient(M, Y, Y > 0, sigma)
    np.testing.assert_array_equal(g, tobit_loss_and_grad(M, Y, sigma=sigma)[1])


@pytest.mark.parametrize("n", [256, pytest.param(1024, marks=pytest.mark.slow)])
def test_relu_mle_projects_once_per_step(monkeypatch, n):
    # The Theorem 4.9 hard family up to the paper's sizes: every projection is a nuclear step
    # (exact), so the solve takes exactly one project_K call per step.
    problem = relu_model.generate(np.random.default_rng(n), n=n, d=n, N=n, r=2, sigma=0.5,
                                  design=designs.condition_number, noise=noise.gaussian,
                                  family="hadamard", alpha=1.0)
    calls = []
    original = projection.project_K

    def counted(*args, **kwargs):
        P, info = original(*args, **kwargs)
        calls.append(info["exit"])
        return P, info

    monkeypatch.setattr(projection, "project_K", counted)
    _, info = relu.relu_mle(problem.X_tilde, problem.Y, alpha=1.0, rank=2, sigma=0.5,
                            return_info=True)
    assert info["converged"] and info["certificate"] <= 1e-6
    assert len(calls) == info["iterations"] <= 8
