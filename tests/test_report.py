"""``reproduce --skip-runs`` on a tiny synthetic results tree: fits, figures and REPORT.md from
stored tables only, with sections headed by the figure definitions' own theorem titles."""

import textwrap

import numpy as np
import pytest
import pandas as pd

from theory_check import reproduce as reproduce_module
from theory_check.experiments import Figure, Sweep, theorem_titles
from theory_check.results import write_rows_atomic

FIGURES = {
    "fig_b": """
        figure: fig_b
        title: "Second theorem figure"
        theorem: "4.4"
        theorem_title: "Theorem 4.4 — the second section"
        rate: rate_thm44
        rate_label: "a label of the rate"
        estimator: convex_linear
        claim: upper_bound
        sweeps: [thm44_low_rank_n]
    """,
    "fig_a": """
        figure: fig_a
        title: "First theorem figure"
        theorem: "3.1"
        theorem_title: "Theorem 3.1 — the first section"
        rate: rate_thm31
        rate_label: "1/n"
        estimator: data_svd
        baselines: [weight_svd]
        sweeps: [thm31_n]
    """,
}


def synthetic_rows():
    """thm31_n: data_svd's MSE is 2/n exactly (exponent 1), weight_svd's stays at 0.5."""
    rows = []
    for n in (100, 200, 400, 800, 1600):
        for seed in range(3):
            for est, mse in (("data_svd", 2.0 / n), ("weight_svd", 0.5)):
                rows.append({"experiment_name": "thm31_n", "sweep": "n", "n": n, "N": 50, "r": 2,
                             "seed": seed, "estimator": est, "key": f"{n}-{seed}-{est}",
                             "status": "ok", "message": "", "mse": mse, "rate_thm31": 1.0 / n,
                             "git_commit": "abc", "version": "0.1.0"})
    return rows


def test_reproduce_skip_runs_builds_the_report_from_stored_tables(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    for name, text in FIGURES.items():
        (experiments / f"{name}.yaml").write_text(textwrap.dedent(text))
    results = tmp_path / "results"
    for row in synthetic_rows():
        write_rows_atomic(results / "raw" / "thm31_n" / f"{row['key']}.parquet", [row])
    (results / "bench").mkdir()
    (results / "bench" / "speed.md").write_text("| a |\n|---|\n| 1 |\n")
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", experiments)
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "run_sweep", lambda *a: (_ for _ in ()).throw(
        AssertionError("--skip-runs ran a sweep")))

    reproduce_module.main(["--skip-runs"])

    report = (results / "REPORT.md").read_text()
    first, second = (report.index("## Theorem 3.1 — the first section"),
                     report.index("## Theorem 4.4 — the second section"))
    assert first < second
    assert "### First theorem figure\n\n![fig_a](figures/fig_a.png)" in report
    assert "| thm31_n | data_svd | n 100…1600 | 1.00 [1.00, 1.00] |" in report
    assert "No rows: the sweeps of this figure have not run." in report[second:]
    assert "### speed\n\n| a |" in report
    verdicts = pd.read_csv(results / "verdicts.csv")
    assert set(verdicts["estimator"]) == {"data_svd", "weight_svd"}
    assert verdicts.set_index("estimator").loc["data_svd", "verdict"] == \
        "sharp: rate and constant confirmed"
    assert np.isclose(verdicts.set_index("estimator").loc["weight_svd", "fitted_exponent"], 0.0)
    assert (results / "figures" / "fig_a.png").exists()
    assert not (results / "figures" / "fig_b.png").exists()


def test_theorems_are_ordered_by_number_not_by_text():
    figures = [Figure(figure=t, title=t, theorem=t, theorem_title=f"T{t}", rate="r",
                      estimator="e", sweeps=(Sweep("s", "sharp"),)) for t in ("10.1", "4.4b", "4.4", "3.1")]
    assert list(theorem_titles(figures)) == ["3.1", "4.4", "4.4b", "10.1"]


def test_a_figure_naming_a_rate_its_models_do_not_declare_is_refused(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "fig_a.yaml").write_text(textwrap.dedent(FIGURES["fig_a"]).replace(
        "rate: rate_thm31", "rate: rate_thm44"))
    for row in synthetic_rows():
        write_rows_atomic(tmp_path / "results" / "raw" / "thm31_n" / f"{row['key']}.parquet", [row])
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", experiments)
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    # found before anything runs, by one problem generated at the sweep's smallest point
    with pytest.raises(SystemExit, match=r"experiments/fig_a.yaml:6: rate 'rate_thm44' is not a "
                                         r"column of sweep thm31_n's rows; their model 'strong' "
                                         r"declares \['dof_thm31', 'rate_sqrt', 'rate_thm31', "
                                         r"'reference_asymptotic'\]"):
        reproduce_module.main(["--skip-runs"])
