"""Figures from a synthetic points table: what sets the axes, and what happens off scale."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from theory_check.experiments import Figure, Sweep
from theory_check.plots import PLOTS, TICK_GAP, draw_rate_figure, labelled_ticks, y_limits

X = np.array([100.0, 200.0, 400.0, 800.0])
FIG = Figure(figure="synthetic", title="t", theorem="3.1", theorem_title="T", rate="rate_x",
             rate_label="1/n", estimator="est", baselines=("near", "diverging"),
             sweeps=(Sweep("s_n", "sharp"),))


def points():
    rate = 1.0 / X
    rows = []
    for est, mse in [("est", 2.0 * rate), ("near", 6.0 * rate),
                     ("diverging", np.array([3.0 * rate[0], 1e3, 5e4, 2.0 * rate[3]]))]:
        rows.append(pd.DataFrame({"estimator": est, "x": X, "mse_mean": mse, "mse_q10": 0.9 * mse,
                                  "mse_q90": 1.1 * mse, "rate": rate, "varied": "n",
                                  "sweep": "s_n", "figure": "synthetic"}))
    return pd.concat(rows, ignore_index=True)


VERDICTS = pd.DataFrame({"sweep": ["s_n"], "estimator": ["est"], "fitted_exponent": [1.0],
                         "ci_low": [0.9], "ci_high": [1.1]})


def test_a_diverging_baseline_does_not_set_the_axis_and_is_marked_at_its_edge():
    f = draw_rate_figure(FIG, points(), VERDICTS)
    ax = f.axes[0]
    lo, hi = ax.get_ylim()
    # the axis holds the estimator (and its fitted rate) and the working baseline
    assert lo <= 0.9 * 2.0 / 800 and hi >= 1.1 * 6.0 / 100
    assert hi < 1.0  # not the diverging baseline's 1e3 and 5e4
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["1e+03", "5e+04"]
    edge_markers = [line for line in ax.lines if line.get_marker() == "^"]
    assert len(edge_markers) == 2 and all(line.get_ydata()[0] == hi for line in edge_markers)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["2·1/n", "diverging", "est", "near"]
    plt.close(f)


def test_without_a_diverging_baseline_every_point_is_on_the_axis():
    pts = points()
    pts = pts[pts["estimator"] != "diverging"]
    f = draw_rate_figure(FIG, pts, VERDICTS)
    assert len(f.axes[0].texts) == 0
    plt.close(f)


def test_y_limits_keep_values_within_a_decade_of_the_core():
    lo, hi = y_limits([1.0, 2.0], [15.0, 25.0, 0.5, np.nan, -1.0])
    assert lo == pytest.approx(0.5 / 1.3) and hi == pytest.approx(15.0 * 1.3)


def test_the_plot_registry_writes_a_png(tmp_path):
    path = PLOTS["rate"](FIG, points(), VERDICTS, tmp_path / "fig.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_one_seeds_blow_up_on_a_network_layer_is_written_not_drawn(tmp_path, monkeypatch):
    from theory_check.networks import experiment

    fractions = [0.1, 0.3, 1.0]
    acc = pd.DataFrame({"estimator": ["original"] + ["data_svd"] * 3, "rank": [0, 2, 4, 8],
                        "param_fraction": [1.0] + fractions, "accuracy": [0.97, 0.5, 0.9, 0.97]})
    layers = pd.DataFrame([
        {"layer": 1, "architecture": "8-8-4", "estimator": est, "param_fraction": f, "seed": s,
         "rel_error": 1e9 if (est == "data_svd" and f == 0.3 and s == 1) else base * (1.1 - f)}
        for est, base in (("weight_svd", 1.0), ("data_svd", 0.5))
        for f in fractions for s in range(3)])
    kept = []
    monkeypatch.setattr(experiment.plt, "close", kept.append)
    experiment.plot_digits(acc, layers, tmp_path / "digits.png", ["weight_svd", "data_svd"])
    ax = kept[0].axes[1]
    assert ax.get_ylim()[1] < 10.0
    assert [t.get_text() for t in ax.texts] == ["max 1e+09"]
    plt.close(kept[0])


SIGNAL = np.array([0.05, 0.1, 0.2, 0.4, 1.0])
SNR_FIG = Figure(figure="snr", title="t", theorem="3.1", theorem_title="T",
                 rate="reference_asymptotic", rate_label="asymptotic risk", reference="dof",
                 reference_label="DoF", estimator="est", sweeps=(Sweep("s_signal", "reference"),))


def snr_points():
    asymptotic = np.array([0.10, 0.11, 0.09, 0.06, 0.05])
    mse = 0.9 * asymptotic  # a fitted constant (0.9) would pull the drawn risk onto the points
    return pd.DataFrame({"estimator": "est", "x": SIGNAL, "mse_mean": mse, "mse_q10": 0.95 * mse,
                         "mse_q90": 1.05 * mse, "rate": asymptotic, "reference": 0.05,
                         "snr_min": SIGNAL / 0.25, "varied": "model.signal", "sweep": "s_signal",
                         "figure": "snr"})


def test_a_reference_claim_draws_its_predictions_as_they_are_and_marks_the_threshold():
    pts = snr_points()
    f = draw_rate_figure(SNR_FIG, pts, VERDICTS.assign(sweep="s_signal"))
    ax = f.axes[0]
    by_label = {line.get_label(): line for line in ax.lines}
    np.testing.assert_array_equal(by_label["asymptotic risk"].get_ydata(), pts["rate"])
    np.testing.assert_array_equal(by_label["DoF"].get_ydata(), pts["reference"])
    # s_r / threshold = signal / 0.25 crosses 1 between the points at 0.2 and 0.4, at 0.25
    threshold = [line for label, line in by_label.items() if label.startswith("detection")]
    assert len(threshold) == 1
    np.testing.assert_allclose(threshold[0].get_xdata(), [0.25, 0.25])
    plt.close(f)


def test_no_threshold_line_where_the_sweep_stays_above_it():
    pts = snr_points().assign(snr_min=lambda p: p["x"] * 100)
    f = draw_rate_figure(SNR_FIG, pts, VERDICTS.assign(sweep="s_signal"))
    assert not [line for line in f.axes[0].lines if line.get_label().startswith("detection")]
    plt.close(f)


def test_clustered_sweep_values_get_labels_far_enough_apart():
    xs = [3, 1, 0.5, 0.3, 0.2, 0.14, 0.1, 0.07, 0.035]
    shown = labelled_ticks(xs)
    gaps = np.diff(np.log10(shown)) / np.log10(3 / 0.035)
    assert shown[0] == 0.035 and shown[-1] == 3 and gaps.min() >= TICK_GAP
    assert labelled_ticks([100, 200, 400, 800]) == [100, 200, 400, 800]


def test_a_one_panel_figure_keeps_its_long_title_inside_the_figure():
    """Issue 22.8: thm44_downstream.png, one panel 4.2 in wide, showed "heorem …" of its title."""
    long = Figure(figure="one", title="Corollary 4.7: X̃ ≠ X, MSE against α(α+β)√(r(n+N)/(nN)) "
                  "with a title longer than one panel is wide", theorem="4.4", theorem_title="T",
                  rate="rate_x", rate_label="1/n", estimator="est", baselines=("near",),
                  sweeps=(Sweep("s_n", "sharp"),))
    f = draw_rate_figure(long, points()[lambda p: p["estimator"] != "diverging"], VERDICTS)
    renderer = f.canvas.get_renderer()
    f.canvas.draw()
    title, frame = f._suptitle.get_window_extent(renderer), f.bbox
    assert len(f.axes) == 1
    assert frame.x0 <= title.x0 and title.x1 <= frame.x1 and frame.y0 <= title.y0 and title.y1 <= frame.y1
    assert f._suptitle.get_text().replace("\n", " ") == long.title  # wrapped, not cut
    plt.close(f)
