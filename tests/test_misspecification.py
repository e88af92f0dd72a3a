"""The misspecification runner: variant names, the CV-against-grid comparison (against a hand
computation), and the sweep configs (every variant composes, validates and is told apart)."""

import numpy as np
import pandas as pd
import pytest

from theory_check import misspecification as ms
from theory_check.run import config_problems, run


@pytest.mark.parametrize("name, base, expected", [
    ("convex_linear", "convex_linear", ("oracle", 1.0)),
    ("convex_linear_a1_4", "convex_linear", ("alpha", 0.25)),
    ("relu_mle_a2", "relu_mle", ("alpha", 2.0)),
    ("relu_mle_r4", "relu_mle", ("rank", 4.0)),
    ("data_svd_r1", "data_svd", ("rank", 1.0)),
])
def test_variant_names(name, base, expected):
    assert ms.variant(name, base) == expected
    assert ms.variant(base + "_cv", base)[0] == "cv"
    with pytest.raises(ValueError, match="unknown variant"):
        ms.variant(base + "_b2", base)


def _rows():
    rows = []
    mse = {"convex_linear": [0.2, 0.4], "convex_linear_a1_2": [0.1, 0.1],
           "convex_linear_a2": [0.5, 0.7], "convex_linear_cv": [0.12, 0.2],
           "data_svd": [0.3, 0.3]}
    for est, values in mse.items():
        for seed, v in enumerate(values):
            rows.append({"experiment_name": "misspec_linear", "model": "low_rank",
                         "estimator": est, "seed": seed, "mse": v, "status": "ok",
                         "wall_time": 0.1, "solver.alpha": 0.05 if est.endswith("cv") else np.nan})
    rows[-3]["status"] = "not_converged"  # counted with its estimate, and flagged
    return pd.DataFrame(rows)


def test_cv_comparison_against_a_hand_computation():
    table = ms.summarize(_rows())
    (c,) = ms.cv_comparison(table).to_dict("records")
    assert c["oracle_mse"] == pytest.approx(0.3) and c["best_mse"] == pytest.approx(0.1)
    assert c["best_alpha_multiple"] == 0.5 and c["cv_mse"] == pytest.approx(0.16)
    assert c["cv_over_best"] == pytest.approx(1.6) and not c["within_target"]
    assert c["cv_over_oracle"] == pytest.approx(0.16 / 0.3) and c["data_svd_mse"] == 0.3
    cv_row = table[table["estimator"] == "convex_linear_cv"].iloc[0]
    assert cv_row["n_ok"] == 1 and cv_row["n_not_converged"] == 1
    assert cv_row["alpha_chosen"] == 0.05
    text = ms.markdown(table, ms.cv_comparison(table))
    assert "1.60 (missed)" in text and "misspec_linear/low_rank (1.60×)" in text


@pytest.mark.parametrize("sweep, model", [("misspec_linear", "hadamard"),
                                          ("misspec_relu", "relu_low_rank")])
def test_sweep_configs_run_every_variant(make_cfg, sweep, model):
    cfg = make_cfg(f"+experiment={sweep}", f"model={model}", "n=16", "d=16", "N=16")
    assert config_problems(cfg) == []
    rows = {row["estimator"]: row for row in run(cfg)}
    base = ms.SWEEPS[sweep]
    expected = {base, f"{base}_cv", f"{base}_r1", f"{base}_r4", "data_svd", "data_svd_cv",
                "data_svd_r1", "data_svd_r4"} | {f"{base}_a{m}" for m in ("1_8", "1_4", "1_2", "2", "4")}
    assert set(rows) == expected
    assert all(row["status"] in ("ok", "not_converged") for row in rows.values())
    assert rows[f"{base}_a1_2"]["mse"] != rows[base]["mse"]
    assert rows[f"{base}_cv"]["solver.alpha"] > 0 and rows["data_svd_r4"]["solver.rank"] == 4


def test_report_puts_the_misspecification_section_under_its_own_heading():
    from theory_check.experiments import load_figures
    from theory_check.report import runner_groups

    groups = runner_groups([f for f in load_figures() if f.runner])
    headings = [h for h, _ in groups]
    assert headings[-1].startswith("## Whole networks")
    assert headings[0].startswith("## Misspecified")
    assert [f.figure for f in groups[0][1]] == ["misspecification"]
    assert {f.figure for f in groups[-1][1]} == {"networks_digits", "networks_synthetic"}
