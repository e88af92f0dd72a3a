"""Issue 23: one factorization of X̃ per run, shared by the generator, the estimators and the
proof chains; the top singular triplets from the Gram matrix at large sizes, guarded by the
Davis–Kahan bound, agree with the full SVD."""

import dataclasses

import numpy as np
import pytest
import scipy.linalg
from hydra import compose, initialize_config_dir

from theory_check import linalg
from theory_check.config import generate_problem
from theory_check.estimators import convex_linear, data_svd
from theory_check.run import (CONF_DIR, _compute_rows, _row_keys, key_config, make_rng, resolved,
                              run_key)


def _config(experiment, n):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose("config", overrides=[f"+experiment={experiment}", f"n={n}", "seed=0"])


@pytest.mark.parametrize("experiment", ["thm31_base_isotropic", "thm31_base_downstream",
                                        "thm44_hadamard_n", "thm44_low_rank_n",
                                        "thm44_power_law_n", "thm49_n", "thm49_hadamard_n"])
def test_a_run_factors_X_tilde_once(monkeypatch, experiment):
    """Generation, every estimator of the sweep and the proof chain: one QR of X̃. Before, each
    estimator and the chains factored X̃ again (3 to 6 QRs per run)."""
    cfg = _config(experiment, 32)
    shapes = []
    qr = scipy.linalg.qr

    def counting_qr(a, *args, **kwargs):
        shapes.append(np.shape(a))
        return qr(a, *args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "qr", counting_qr)
    cfg = resolved(cfg)
    plain = key_config(cfg)
    key = run_key(cfg, plain)
    rows = _compute_rows(cfg, key, _row_keys(cfg, key), plain)
    assert all(row["status"] in ("ok", "not_converged") for row in rows), \
        [row["message"] for row in rows]
    X_shapes = {(cfg["n"], cfg["d"]), (cfg["d"], cfg["n"])}
    # Plus one of the pretrained X = X̃ + Δ when δ > 0 (of X̃'s shape).
    assert sum(shape in X_shapes for shape in shapes) == 1 + (cfg["delta"] > 0), shapes


def test_a_factorization_of_another_array_is_refused():
    rng = np.random.default_rng(0)
    X_tilde, Y = rng.standard_normal((20, 10)), rng.standard_normal((20, 8))
    other = linalg.ColumnSpace(X_tilde.copy())
    with pytest.raises(ValueError, match="column_space must be ColumnSpace"):
        data_svd(X_tilde, Y, 2, column_space=other)
    with pytest.raises(ValueError, match="column_space must be ColumnSpace"):
        data_svd(X_tilde, Y, 2, rcond=1e-6, column_space=linalg.ColumnSpace(X_tilde))
    with pytest.raises(ValueError, match="column_space must be ColumnSpace"):
        convex_linear(X_tilde, Y, alpha=1.0, rank=2, column_space="qr")
    same = linalg.ColumnSpace(X_tilde)
    assert np.array_equal(data_svd(X_tilde, Y, 2, column_space=same), data_svd(X_tilde, Y, 2))


def test_a_replaced_problem_does_not_keep_the_old_factorization():
    """dataclasses.replace with a new X̃ (e.g. in rotated bases) must not hand over the old
    X̃'s factorization: the chains would use a frame of the wrong column space."""
    cfg = _config("thm31_base_isotropic", 24)
    problem = generate_problem(cfg, make_rng(cfg))
    assert problem.column_space().source is problem.X_tilde
    U = np.linalg.qr(np.random.default_rng(1).standard_normal((24, 24)))[0]
    turned = dataclasses.replace(problem, X_tilde=U @ problem.X_tilde)
    assert turned.column_space().source is turned.X_tilde
    assert problem.column_space().source is problem.X_tilde


# --------------------------------------------------------------------- top singular triplets

def _svd_fit(A, rank):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :rank] * s[:rank]) @ Vt[:rank], s[:rank]


@pytest.fixture
def small_gram_path(monkeypatch):
    """The Gram path from 50 on (it starts at GRAM_MIN_SIZE in use: the same code, at test sizes)."""
    monkeypatch.setattr(linalg, "GRAM_MIN_SIZE", 50)
    calls = []
    full = linalg._svd_triplets

    def spy(A, rank):
        calls.append(A.shape)
        return full(A, rank)

    monkeypatch.setattr(linalg, "_svd_triplets", spy)
    return calls


@pytest.mark.parametrize("shape", [(120, 80), (80, 200), (90, 90)])
def test_gram_path_agrees_with_the_full_svd(small_gram_path, shape):
    rng = np.random.default_rng(2)
    A = rng.standard_normal(shape) + 3.0 * np.outer(rng.standard_normal(shape[0]),
                                                    rng.standard_normal(shape[1]))
    P, c, Qt = linalg.top_singular_triplets(A, 3)
    assert small_gram_path == []  # the Gram path was taken
    fit, values = _svd_fit(A, 3)
    assert np.linalg.norm((P * c) @ Qt - fit) <= 1e-12 * np.linalg.norm(fit)
    np.testing.assert_allclose(c, values, rtol=1e-13)
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-13)
    np.testing.assert_allclose(Qt @ Qt.T, np.eye(3), atol=1e-13)


def test_gram_path_defers_to_the_svd_when_the_top_part_is_ill_conditioned(small_gram_path):
    """s = (1e6, 1, 0.5, ...): squared, the second value sits at the Gram matrix's rounding
    (ε·1e12), so the Davis–Kahan bound refuses the Gram path; the full SVD gets s_2 to 1e-10,
    the Gram path would not."""
    rng = np.random.default_rng(3)
    U = np.linalg.qr(rng.standard_normal((100, 60)))[0]
    V = np.linalg.qr(rng.standard_normal((60, 60)))[0]
    s = np.concatenate([[1e6, 1.0], np.linspace(0.5, 0.1, 58)])
    A = (U * s) @ V.T
    P, c, Qt = linalg.top_singular_triplets(A, 2)
    assert small_gram_path == [A.shape]
    np.testing.assert_allclose(c, s[:2], rtol=1e-10)


def test_gram_path_defers_to_the_svd_on_a_tie(small_gram_path):
    """s_r = s_{r+1}: [A]_r is not unique and no bound holds; the SVD's choice is a best fit."""
    rng = np.random.default_rng(4)
    U = np.linalg.qr(rng.standard_normal((80, 60)))[0]
    V = np.linalg.qr(rng.standard_normal((60, 60)))[0]
    s = np.concatenate([[5.0, 2.0, 2.0], np.linspace(1.0, 0.1, 57)])
    A = (U * s) @ V.T
    P, c, Qt = linalg.top_singular_triplets(A, 2)
    assert small_gram_path == [A.shape]
    assert np.linalg.norm(A - (P * c) @ Qt) == pytest.approx(np.linalg.norm(s[2:]), rel=1e-12)


def test_gram_path_at_its_size(small_gram_path, monkeypatch):
    """At a size where it is used, with the signal just out of the noise bulk: the fit agrees
    with the full SVD to rounding."""
    monkeypatch.setattr(linalg, "GRAM_MIN_SIZE", 1000)
    rng = np.random.default_rng(5)
    n = 1000
    U = np.linalg.qr(rng.standard_normal((n, 2)))[0]
    V = np.linalg.qr(rng.standard_normal((n, 2)))[0]
    A = rng.standard_normal((n, n)) + np.sqrt(n) * (U * [1.5, 1.1]) @ V.T  # edge at 2√n
    P, c, Qt = linalg.top_singular_triplets(A, 2)
    assert small_gram_path == []
    fit, values = _svd_fit(A, 2)
    assert np.linalg.norm((P * c) @ Qt - fit) <= 1e-11 * np.linalg.norm(fit)


def test_nuclear_norm_of_a_declared_rank(small_gram_path):
    """A truth of rank q (a product of factors, rounded): the proven interval is used, and its
    upper end is ‖A‖_* to 1e-11; a wrong declaration (A of full rank) falls back to the whole
    spectrum and gives it exactly."""
    rng = np.random.default_rng(6)
    A = rng.standard_normal((150, 4)) @ rng.standard_normal((4, 120))
    exact = np.linalg.svd(A, compute_uv=False).sum()
    value = linalg.nuclear_norm(A, rank=4)
    assert small_gram_path == []
    assert exact <= value * (1 + 1e-15) and value == pytest.approx(exact, rel=1e-11)
    noisy = A + 1e-3 * rng.standard_normal(A.shape)
    assert linalg.nuclear_norm(noisy, rank=4) == np.linalg.svd(noisy, compute_uv=False).sum()
    assert small_gram_path == []  # the fallback is the values-only SVD, not the triplets'
