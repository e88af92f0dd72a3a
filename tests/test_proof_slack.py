"""Issue 21.2: where each proof is loose, from the stored ``proof.`` columns: the slack factor
of every step per swept value, the loosest-steps table, the figure and the report section."""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from theory_check import reproduce as reproduce_module
from theory_check.plots import draw_slack_figure
from theory_check.results import write_rows_atomic
from theory_check.slack import TOTAL, loosest_steps, slack_points, slack_sentence

NS = (32, 128, 512)
#: Per n, the two seeds' factors of the basic inequality (inner / mse): means 2, 3, 4.
BASIC = {32: (1.5, 2.5), 128: (3.0, 3.0), 512: (3.5, 4.5)}
HOLDER, DIAMETER, PAPER = 1.5, {32: 2.0, 128: 1.75, 512: 1.5}, 30.0


def thm44_rows():
    """Theorem 4.4 rows whose chain has known factors, a baseline row without a chain per run,
    and one row out of order (its factors far off, to show it is left out)."""
    rows = []
    for n in NS:
        for seed, basic in enumerate(BASIC[n]):
            mse = 1.0 / n
            inner = basic * mse
            dual = HOLDER * inner
            bound = DIAMETER[n] * dual
            common = {"experiment_name": "thm44_low_rank_n", "theorem": "4.4", "sweep": "n",
                      "n": n, "N": n, "r": 2, "seed": seed, "model": "low_rank",
                      "assumption": "within", "status": "ok", "message": "",
                      "rate_thm44": 4.0 / np.sqrt(n), "git_commit": "abc", "version": "0.1.0"}
            rows.append({**common, "estimator": "convex_linear", "key": f"{n}-{seed}-c",
                         "mse": mse, "proof.inner": inner, "proof.dual": dual,
                         "proof.bound": bound, "proof.paper": PAPER * bound,
                         "proof.in_order": True})
            rows.append({**common, "estimator": "data_svd", "key": f"{n}-{seed}-d",
                         "mse": 2 * mse, "proof.in_order": None})
    broken = {**rows[0], "seed": 9, "key": "32-9-c", "proof.inner": 100.0, "proof.in_order": False}
    return rows + [broken]


def test_each_steps_factor_is_the_mean_over_seeds_of_its_ratio_to_the_previous_one():
    points = slack_points(pd.DataFrame(thm44_rows())).set_index(["x", "step"])
    assert set(points.index.get_level_values("step")) == {
        "basic inequality", "Hölder", "diameter", "paper's route", TOTAL}
    for n in NS:
        assert points.loc[(n, "basic inequality"), "slack"] == pytest.approx(np.mean(BASIC[n]))
        assert points.loc[(n, "Hölder"), "slack"] == pytest.approx(HOLDER)
        assert points.loc[(n, "diameter"), "slack"] == pytest.approx(DIAMETER[n])
        assert points.loc[(n, "paper's route"), "slack"] == pytest.approx(PAPER)
        assert points.loc[(n, TOTAL), "slack"] == pytest.approx(np.mean(BASIC[n]) * HOLDER * DIAMETER[n])
        assert points.loc[(n, "basic inequality"), "k"] == 2  # the baseline rows carry no chain
    # Two seeds 1.5 and 2.5: the t interval with 1 degree of freedom, half-width t·sd/√2.
    half = scipy.stats.t.ppf(0.975, 1) * np.std([1.5, 2.5], ddof=1) / np.sqrt(2)
    at = points.loc[(32, "basic inequality")]
    assert (at["slack_low"], at["slack_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    assert points.loc[(128, "basic inequality"), "slack_high"] == pytest.approx(3.0)  # no spread
    assert at["n_out_of_order"] == 1 and points.loc[(128, "Hölder"), "n_out_of_order"] == 0


def test_the_table_names_the_loosest_step_and_how_it_moves():
    table = loosest_steps(slack_points(pd.DataFrame(thm44_rows())))
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["theorem"], row["sweep"], row["family"], row["varied"]) == \
        ("4.4", "thm44_low_rank_n", "low_rank", "n")
    assert (row["x_first"], row["x_last"], row["n_points"], row["n_rows"], row["n_out_of_order"]) == \
        (32, 512, 3, 6, 1)
    assert row["loosest_step"] == "paper's route"
    assert (row["loosest_first"], row["loosest_last"]) == pytest.approx((PAPER, PAPER))
    # Geometric means: basic inequality (2·3·4)^⅓ = 2.88 beats diameter 1.74 and Hölder 1.5.
    assert row["loosest_deterministic_step"] == "basic inequality"
    assert (row["loosest_deterministic_first"], row["loosest_deterministic_last"]) == \
        pytest.approx((2.0, 4.0))
    # |log 2| of the basic inequality moves more than |log 0.75| of the diameter.
    assert row["moving_step"] == "basic inequality"
    assert (row["total_first"], row["total_last"]) == pytest.approx((2.0 * 1.5 * 2.0, 4.0 * 1.5 * 1.5))
    sentence = slack_sentence(table.itertuples().__next__())
    assert sentence.startswith("On the low_rank family (thm44_low_rank_n) the basic inequality "
                               "step loosens ×2 → ×4 from n = 32 to 512; the deterministic chain "
                               "as a whole loosens ×6 → ×9, so over the sweep MSE falls ×1.5 more "
                               "than the proof's own bound")
    assert "the loosest step is the paper's route step (×30 → ×30)" in sentence


def test_the_figure_has_one_panel_per_sweep_and_keeps_its_title_inside(tmp_path):
    points = slack_points(pd.DataFrame(thm44_rows()))
    f = draw_slack_figure("4.4", points)
    f.canvas.draw()
    title, frame = f._suptitle.get_window_extent(f.canvas.get_renderer()), f.bbox
    assert frame.x0 <= title.x0 and title.x1 <= frame.x1 and frame.y0 <= title.y0 and title.y1 <= frame.y1
    assert f._suptitle.get_text().replace("\n", " ").startswith("Theorem 4.4: slack factor")
    (ax,) = f.axes
    assert ax.get_yscale() == "log" and ax.get_title().startswith("thm44_low_rank_n")
    labels = ax.get_legend_handles_labels()[1]
    assert len(labels) == 5 and labels[0].startswith("basic inequality")
    plt.close(f)


FIGURES = {
    "fig_b": """
        figure: fig_b
        title: "Low-rank figure"
        theorem: "4.4"
        theorem_title: "Theorem 4.4 — the section"
        rate: rate_thm44
        rate_label: "1/√n"
        estimator: convex_linear
        baselines: [data_svd]
        claim: upper_bound
        sweeps: [thm44_low_rank_n]
    """,
    "fig_a": """
        figure: fig_a
        title: "Other figure"
        theorem: "3.1"
        theorem_title: "Theorem 3.1 — the other section"
        rate: rate_thm31
        rate_label: "1/n"
        estimator: data_svd
        sweeps: [thm31_n]
    """,
}


def test_the_report_shows_the_slack_and_a_partial_rebuild_keeps_it(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    for name, text in FIGURES.items():
        (experiments / f"{name}.yaml").write_text(textwrap.dedent(text))
    results = tmp_path / "results"
    thm31 = [{"experiment_name": "thm31_n", "theorem": "3.1", "sweep": "n", "n": n, "N": 50,
              "r": 2, "seed": seed, "estimator": "data_svd", "key": f"{n}-{seed}", "status": "ok",
              "message": "", "mse": 2.0 / n, "rate_thm31": 1.0 / n, "git_commit": "abc",
              "version": "0.1.0"} for n in (100, 200, 400) for seed in range(2)]
    for row in thm44_rows() + thm31:
        write_rows_atomic(results / "raw" / row["experiment_name"] / f"{row['key']}.parquet", [row])
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", experiments)
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)

    reproduce_module.main(["--skip-runs"])

    report = (results / "REPORT.md").read_text()
    section = report[report.index("### Where the proof of Theorem 4.4 is loose"):]
    assert "(`proof.in_order` false, kept out of the fits): **1** (thm44_low_rank_n 1)." in section
    assert "![proof slack, Theorem 4.4](figures/proof_slack_4.4.png)" in section
    assert ("| thm44_low_rank_n | low_rank | n 32…512 | paper's route ×30 → ×30 | basic inequality "
            "×2 → ×4 | basic inequality ×2 → ×4 | ×6 → ×9 | 6 (1) |") in section
    assert "the basic inequality step loosens ×2 → ×4 from n = 32 to 512" in section
    assert "### Where the proof of Theorem 3.1 is loose" in report  # no chain in its rows
    table = pd.read_csv(results / "tables" / "proof_slack.csv", dtype={"theorem": str})
    assert list(table["sweep"]) == ["thm44_low_rank_n"]
    png = results / "figures" / "proof_slack_4.4.png"
    assert png.is_file()

    # A partial rebuild that loads none of Theorem 4.4's rows keeps its slack as published.
    before = png.read_bytes()
    reproduce_module.main(["--skip-runs", "--only", "fig_a"])
    report = (results / "REPORT.md").read_text()
    assert "the basic inequality step loosens ×2 → ×4 from n = 32 to 512" in report
    assert png.read_bytes() == before
    kept = pd.read_csv(results / "tables" / "proof_slack.csv", dtype={"theorem": str})
    pd.testing.assert_frame_equal(kept, table)


def test_a_tightening_chain_is_said_to_close_in_on_the_bound():
    """The hard family of Theorem 4.4: ‖D‖_* fills the diameter, MSE gains on the bound."""
    row = pd.Series(dict(theorem="4.4", sweep="thm44_hadamard_n", family="hadamard", varied="n",
                         x_first=8.0, x_last=512.0, moving_step="diameter", moving_first=2.0,
                         moving_last=1.5, total_first=4.0, total_last=3.2,
                         loosest_step="diameter", loosest_first=2.0, loosest_last=1.5))
    assert slack_sentence(row) == (
        "On the hadamard family (thm44_hadamard_n) the diameter step tightens ×2 → ×1.5 from "
        "n = 8 to 512; the deterministic chain as a whole tightens ×4 → ×3.2, so over the sweep "
        "MSE gains ×1.25 on the proof's own bound.")
    steady = row.copy()
    steady["total_last"] = 4.1
    assert "stays at ×4 → ×4.1, so MSE keeps pace with the proof's own bound." in slack_sentence(steady)
