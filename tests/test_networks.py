"""Sequential compression of whole networks (issue 5): exactness, biases, bad input, experiments."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from theory_check.networks import (
    ESTIMATORS,
    compress_sequential,
    evaluate,
    make_network,
    parameter_fraction,
    preactivations,
)
from theory_check.networks.digits import effective_rank, energy_rank
from theory_check.networks.sequential import FIT_ACTIVATIONS

WIDTHS = (6, 10, 8, 8, 3)  # expanding, square and shrinking layers


def random_network(rng, widths=WIDTHS, bias=1.0):
    return [(rng.standard_normal((d, N)) / np.sqrt(d), bias * rng.standard_normal(N))
            for d, N in zip(widths[:-1], widths[1:])]


def full_ranks(layers):
    return [min(W.shape) for W, _ in layers]


@pytest.fixture
def rng():
    return np.random.default_rng(np.random.SeedSequence(20240506))


@pytest.mark.parametrize("estimator", sorted(set(ESTIMATORS) - FIT_ACTIVATIONS))
def test_full_rank_reproduces_outputs(rng, estimator):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    X_new = rng.standard_normal((25, WIDTHS[0]))
    compressed, diagnostics = compress_sequential(layers, X_calib, full_ranks(layers), estimator)
    for X in (X_calib, X_new):
        out, out_hat = preactivations(layers, X)[-1], preactivations(compressed, X)[-1]
        np.testing.assert_allclose(out_hat, out, rtol=0, atol=1e-8 * np.abs(out).max())
    assert [d["layer"] for d in diagnostics] == [1, 2, 3, 4]
    assert max(d["rel_error"] for d in diagnostics) < 1e-10


def test_biases_are_carried_and_owned(rng):
    layers = random_network(rng, bias=3.0)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    compressed, _ = compress_sequential(layers, X_calib, full_ranks(layers), "data_svd")
    for (_, b), (_, b_hat) in zip(layers, compressed):
        np.testing.assert_allclose(b_hat, b, atol=1e-8 * np.abs(b).max())

    # At low rank the bias is the layer's own fit: it differs from the original one and, being the
    # best bias for the compressed weight, leaves residuals of zero mean on the calibration set.
    compressed, _ = compress_sequential(layers, X_calib, 1, "data_svd")
    Z, Z_tilde = X_calib, X_calib
    for l, ((W, b), (W_hat, b_hat)) in enumerate(zip(layers, compressed)):
        Y = Z @ W + b
        Y_hat = Z_tilde @ W_hat + b_hat
        np.testing.assert_allclose((Y_hat - Y).mean(axis=0), 0.0, atol=1e-10 * np.abs(Y).max())
        assert np.linalg.matrix_rank(W_hat) <= 1
        if l > 0:
            assert not np.allclose(b_hat, b)
        Z, Z_tilde = np.maximum(Y, 0), np.maximum(Y_hat, 0)


def test_last_layer_can_be_kept_and_inputs_come_from_compressed_network(rng):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    compressed, diagnostics = compress_sequential(layers, X_calib, [2, 2, 2], "weight_svd",
                                                  compress_last=False)
    assert len(diagnostics) == 3
    np.testing.assert_array_equal(compressed[-1][0], layers[-1][0])
    np.testing.assert_array_equal(compressed[-1][1], layers[-1][1])
    assert diagnostics[0]["input_mismatch"] == 0.0
    assert diagnostics[1]["input_mismatch"] > 0.0  # X̃ ≠ X downstream


def test_data_svd_is_optimal_for_the_first_layer(rng):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    errors = {name: compress_sequential(layers, X_calib, 2, name)[1][0]["mse"]
              for name in ("data_svd", "weight_svd")}
    assert errors["data_svd"] <= errors["weight_svd"] * (1 + 1e-12)


def test_callable_estimator_receives_augmented_arrays_and_options(rng):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    seen = []

    def least_squares(X_tilde, X, W_aug, Y, rank, *, scale):
        seen.append((X_tilde.shape, X.shape, W_aug.shape, Y.shape, rank, scale))
        np.testing.assert_allclose(X_tilde[:, -1], 1.0)
        np.testing.assert_allclose(X @ W_aug, Y)
        return scipy.linalg.lstsq(X_tilde, Y)[0] * scale

    compressed, diagnostics = compress_sequential(layers, X_calib, 3, least_squares,
                                                  estimator_params={"scale": 1.0})
    assert seen[0] == ((40, 7), (40, 7), (7, 10), (40, 10), 3, 1.0)
    assert diagnostics[0]["estimator"] == "least_squares"
    np.testing.assert_allclose(preactivations(compressed, X_calib)[-1],
                               preactivations(layers, X_calib)[-1], atol=1e-8)


def test_parameter_fraction(rng):
    layers = random_network(rng)
    assert parameter_fraction(layers, full_ranks(layers)) == pytest.approx(1.0)
    fractions = [parameter_fraction(layers, [min(r, *W.shape) for W, _ in layers]) for r in (1, 2, 3)]
    assert fractions == sorted(fractions) and fractions[0] < 1


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda L, X: (L, X, [2, 2, 2, 2, 2]), "ranks has 5 entries but 4 layers"),
        (lambda L, X: (L, X, [2, 9, 2, 2]), "layer 2: rank must be <= 8"),
        (lambda L, X: (L, X, [2, 2, 2, 0]), "layer 4: rank must be >= 1"),
        (lambda L, X: (L[:1] + L[2:], X, 2), "layer 2: input width d = 8 does not match"),
        (lambda L, X: (L[:2] + [(L[2][0], L[2][1][:-1])] + L[3:], X, 2), "layer 3: bias b must have shape"),
        (lambda L, X: (L, X[:0], 2), "layer 1: X_calib must have at least one row"),
        (lambda L, X: (L, X[:, :-1], 2), "layer 1: X_calib must have 6 columns"),
        (lambda L, X: (L, np.where(X > 1, np.nan, X), 2), "layer 1: X_calib contains NaN"),
        (lambda L, X: (L[:2] + [(np.full_like(L[2][0], np.nan), L[2][1])] + L[3:], X, 2),
         "layer 3: W contains NaN"),
        (lambda L, X: (L[:3] + [(L[3][0], np.full(3, np.nan))], X, 2), "layer 4: bias b contains NaN"),
        (lambda L, X: ([], X, 2), "layers must be a non-empty sequence"),
    ],
)
def test_bad_input_names_the_layer(rng, mutate, match):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    layers, X_calib, ranks = mutate(layers, X_calib)
    with pytest.raises(ValueError, match=match):
        compress_sequential(layers, X_calib, ranks)


def test_bad_estimator(rng):
    layers = random_network(rng)
    X_calib = rng.standard_normal((40, WIDTHS[0]))
    with pytest.raises(ValueError, match="estimator must be a callable"):
        compress_sequential(layers, X_calib, 2, "no_such_estimator")

    def bad(X_tilde, X, W_aug, Y, rank):
        return np.zeros((2, 2))

    with pytest.raises(ValueError, match="layer 1: estimator 'bad' must return a finite array of shape"):
        compress_sequential(layers, X_calib, 2, bad)


def test_spectral_summaries():
    H = scipy.linalg.hadamard(16).astype(float)
    assert effective_rank(H) == pytest.approx(16.0)
    assert effective_rank(np.ones((5, 7))) == pytest.approx(1.0)
    assert energy_rank(np.diag([3.0, 2.0, 1.0, 0.5])) == 2  # (9 + 4) / 14.25 ≥ 0.9 > 9 / 14.25
    assert energy_rank(H) == 15  # flat spectrum: 15/16 ≥ 0.9 > 14/16


def test_synthetic_network_without_noise_is_the_truth(rng):
    net = make_network(rng, L=3, d_in=8, width=8, r=2, sigma=0.0, n_calib=30, n_test=10)
    rows = pd.DataFrame(evaluate(net, {"data_svd": {"name": "data_svd"}}, 2))
    calib = rows[rows["split"] == "calibration"]
    assert calib["mse"].max() < 1e-20
    for W_star, _ in net.truth:
        assert np.linalg.matrix_rank(W_star) == 2
    Z = preactivations(net.truth, net.X_calib)
    np.testing.assert_allclose([np.sqrt(np.mean(z**2)) for z in Z], 1.0, rtol=0.05)


def test_synthetic_network_rejects_underdetermined_pretraining(rng):
    with pytest.raises(ValueError, match="n_calib must be >= 9"):
        make_network(rng, L=2, d_in=8, width=8, r=2, sigma=0.1, n_calib=8, n_test=5)


@pytest.mark.parametrize("runner, figure, tables", [
    ("run_synthetic", "networks_synthetic", ["networks_synthetic.parquet"]),
    ("run_digits", "networks_digits", ["networks_digits_accuracy.parquet",
                                       "networks_digits_layers.parquet",
                                       "networks_digits_spectra.csv", "networks_digits_spectra.md"]),
])
def test_experiment_writes_tables_figure_and_markdown(tmp_path, runner, figure, tables):
    from theory_check.networks import experiment

    markdown = getattr(experiment, runner)("test", tmp_path, 1)
    for name in tables:
        assert (tmp_path / "tables" / name).stat().st_size > 0
    assert (tmp_path / "figures" / f"{figure}.png").stat().st_size > 0
    assert f"(figures/{figure}.png)" in markdown
    assert re.search(r"^\|-+(\|-+)*\|$", markdown, re.M)  # a table's rule line
    if runner == "run_digits":
        acc = pd.read_parquet(tmp_path / "tables" / "networks_digits_accuracy.parquet")
        assert set(acc["estimator"]) == {"original", "weight_svd", "data_svd", "data_svd_rcond1e-3"}
        assert acc["accuracy"].between(0, 1).all()


def test_unknown_scale_is_refused(tmp_path):
    from theory_check.networks import experiment

    with pytest.raises(ValueError, match="scale must be one of"):
        experiment.run_synthetic("huge", tmp_path, 1)


def _tiny_network(seed=0, widths=(6, 10, 8, 5)):
    rng = np.random.default_rng(seed)
    layers = [(rng.standard_normal((a, b)) / np.sqrt(a), 0.1 * rng.standard_normal(b))
              for a, b in zip(widths[:-1], widths[1:])]
    return layers, rng.standard_normal((40, widths[0]))


def test_convex_linear_plugs_in_and_reports_its_certificate():
    from theory_check.networks.sequential import compress_sequential, preactivations

    layers, X = _tiny_network()
    compressed, diag = compress_sequential(layers, X, 3, "convex_linear")
    assert all(d["converged"] and d["certificate"] <= 1e-6 for d in diag)
    # with α the largest centred target entry and a generous rank, the first layer's target
    # is in K, so the projection returns it: the layer is reproduced on the calibration set
    full, _ = compress_sequential(layers, X, [5, 8, 5], "convex_linear",
                                  estimator_params={"alpha": 1e3})
    np.testing.assert_allclose(preactivations(full, X)[0], preactivations(layers, X)[0], atol=1e-6)


@pytest.mark.parametrize("name, params", [("relu_mle", {"sigma": 0.1}), ("relu_nonconvex", {})])
def test_relu_estimators_plug_in_on_hidden_layers(name, params):
    from theory_check.networks.sequential import compress_sequential

    layers, X = _tiny_network(1)
    with pytest.raises(ValueError, match="layer 3: .* no ReLU follows the last layer"):
        compress_sequential(layers, X, 2, name, estimator_params=params)
    compressed, diag = compress_sequential(layers, X, 2, name, estimator_params=params,
                                           compress_last=False)
    assert len(diag) == 2 and all(np.isfinite(d["mse"]) for d in diag)
    assert [W.shape for W, _ in compressed] == [W.shape for W, _ in layers]


def test_estimator_params_that_do_not_fit_are_a_value_error():
    layers, X = _tiny_network(2)
    with pytest.raises(ValueError, match="estimator_params .* do not fit estimator 'data_svd'"):
        compress_sequential(layers, X, 2, "data_svd", estimator_params={"sigma": 1.0})
    with pytest.raises(ValueError, match="do not fit estimator 'relu_mle'"):  # sigma is required
        compress_sequential(layers, X, 2, "relu_mle", compress_last=False)


def test_network_plug_ins_are_named_by_target_like_every_other(rng):
    """conf/network entries name estimators and designs by ``_target_``: a function of one's own
    plugs in without a table to edit, and a bad path is a ValueError naming it."""
    calls = []

    def scaled_isotropic(rng, n, d, scale):
        calls.append(scale)
        return scale * rng.standard_normal((n, d))

    net = make_network(rng, L=2, d_in=6, width=6, r=2, sigma=0.1, n_calib=20, n_test=5,
                       design=scaled_isotropic, design_params={"scale": 2.0})
    assert calls == [2.0]
    spec = {"_target_": "theory_check.networks.sequential.data_svd_layer", "rcond": 1e-3}
    rows = pd.DataFrame(evaluate(net, {"mine": spec}, 2))
    assert set(rows["estimator"]) == {"pretrained", "mine"}
    with pytest.raises(ValueError, match="estimator _target_ 'theory_check.nowhere.fit' cannot be imported"):
        evaluate(net, {"bad": {"_target_": "theory_check.nowhere.fit"}}, 2)


def test_an_estimator_declaring_it_fits_activations_is_refused_on_the_last_layer(rng):
    def fit(X_tilde, X, W_aug, Y, rank):
        return W_aug

    fit.fits_activations = True
    layers = random_network(rng)
    with pytest.raises(ValueError, match="fits ReLU activations"):
        compress_sequential(layers, rng.standard_normal((20, 6)), 2, fit)
    compress_sequential(layers, rng.standard_normal((20, 6)), 2, fit, compress_last=False)
