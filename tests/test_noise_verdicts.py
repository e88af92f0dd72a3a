"""Verdicts of the SNR figure (claim "reference") and of sweeps outside a theorem's noise
assumption (issue 11.1, 11.3), on tables with a known answer."""

import numpy as np
import pandas as pd
import pytest

from theory_check.analysis import analyze
from theory_check.experiments import Figure, Sweep, load_figures

SIGNALS = (0.05, 0.1, 0.2, 0.5, 1.0, 3.0)


def snr_rows(bias=1.0, seeds=6):
    """MSE = bias × the asymptotic reference (× 1 ± 2% noise); DoF = the reference at high SNR
    and far below it at low SNR (snr_min = 4·signal)."""
    rng = np.random.default_rng(0)
    rows = []
    for signal in SIGNALS:
        reference = 0.05 * (1 + 0.1 / signal)
        for s in range(seeds):
            rows.append(dict(experiment_name="snr", sweep="model.signal", **{"model.signal": signal},
                             seed=s, estimator="data_svd", status="ok",
                             mse=bias * reference * (1 + 0.02 * rng.standard_normal()),
                             reference_asymptotic=reference, dof_thm31=0.05,
                             **{"meta.snr_min": 4 * signal}, assumption="within"))
    return pd.DataFrame(rows)


FIGURE = Figure(figure="f", title="t", theorem="3.1", rate="reference_asymptotic",
                reference="dof_thm31", estimator="data_svd", sweeps=(Sweep("snr", "reference"),))


def test_reference_claim_holds_and_locates_where_the_dof_count_fails():
    verdicts, _ = analyze(snr_rows(), [FIGURE])
    v = verdicts.iloc[0]
    assert v.verdict.startswith("asymptotic reference holds")
    # MSE / DoF = 1 + 0.1/signal: 3, 2, 1.5 at signal 0.05, 0.1, 0.2 (fails), <= 1.2 from 0.5 on.
    assert v.verdict.endswith("at model.signal = 0.05 (s_r/threshold 0.2), 0.1 (s_r/threshold "
                              "0.4), 0.2 (s_r/threshold 0.8)")
    assert v.assumption == "within"


@pytest.mark.parametrize("bias", [0.85, 1.15])
def test_reference_claim_fails_when_the_reference_is_off_by_15_percent(bias):
    v = analyze(snr_rows(bias=bias), [FIGURE])[0].iloc[0]
    assert v.verdict.startswith("asymptotic reference off at model.signal = 0.05, 0.1")


def test_verdicts_outside_the_assumption_say_so():
    rows = snr_rows()
    rows["assumption"] = "outside: heavy tails (t, 3 dof)"
    v = analyze(rows, [FIGURE])[0].iloc[0]
    assert v.verdict.startswith("outside: heavy tails (t, 3 dof), not a test of Theorem 3.1: "
                                "asymptotic reference holds")
    assert v.assumption == "outside: heavy tails (t, 3 dof)"
    # Rows from before the column existed: no label, and the verdict is unchanged.
    v = analyze(snr_rows().drop(columns="assumption"), [FIGURE])[0].iloc[0]
    assert v.assumption == "" and v.verdict.startswith("asymptotic reference holds")


def test_the_new_figures_load_with_their_claims():
    figs = {f.figure: f for f in load_figures()}
    assert {s.claim for s in figs["thm31_snr"].sweeps} == {"reference"}
    assert len(figs["thm31_heavy_tails"].sweeps) == len(figs["thm44_heavy_tails"].sweeps) == 5


def test_sweeps_sharing_a_config_run_as_one_multirun(tmp_path, monkeypatch):
    import theory_check.reproduce as reproduce

    calls = []
    monkeypatch.setattr(reproduce, "results_root", lambda scale: tmp_path)
    monkeypatch.setattr(reproduce, "REPO_ROOT", tmp_path.parent)  # for its closing message
    monkeypatch.setattr(reproduce, "run_sweep", lambda config, overrides, *a: calls.append((config, overrides)))
    reproduce.reproduce("paper", only=["thm31_heavy_tails", "thm31_snr"])
    assert [c for c, _ in calls] == ["thm31_n_heavy_tails", "thm31_snr_square", "thm31_snr_wide"]
    assert "seed=range(20)" in calls[0][1]  # the paper grid is keyed by the shared config
    figs = {f.figure: f for f in load_figures()}
    assert {s.run for s in figs["thm44_heavy_tails"].sweeps} == {"thm44_hadamard_n_heavy_tails"}
    assert figs["thm31_snr"].sweeps[0].run == "thm31_snr_square"
