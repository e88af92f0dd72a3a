"""The report's words for a verdict row: intervals, span, the pre-registered constant, the SNR."""

import numpy as np

from theory_check.analysis import analyze
from theory_check.experiments import Figure, Sweep
from theory_check.report import theorem_synthesis, verdict_paragraph

from test_analysis import synthetic_rows

CONSTANT = {"value": 1.25, "source": "stated a priori for the test"}


def figure(**kw):
    return Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", reference="dof_thm31",
                  estimator="data_svd", baselines=("weight_svd",), sweeps=(Sweep("sw", "sharp"),),
                  constant=CONSTANT, **kw)


def test_paragraph_states_interval_span_constant_and_snr():
    rows = synthetic_rows(1.0)
    rows["meta.snr_min"] = np.where(rows["n"] > 200, 3.0, 1.5)
    fig = figure()
    verdicts, _ = analyze(rows, [fig])
    text = verdict_paragraph(next(verdicts.itertuples()), fig)
    assert "95% t interval on the 5 point means" in text
    assert "a bootstrap over seeds alone would say" in text
    assert "inside the ±0.1 band" in text and "decades of rate" in text
    assert "Pre-registered constant C = 1.25 (stated a priori for the test)" in text
    assert "SNR s_r/(σ(kN)^¼) from 1.5 to 3" in text


def test_paragraph_says_when_the_snr_is_not_recorded_and_synthesis_counts_kinds():
    fig = figure()
    verdicts, _ = analyze(synthetic_rows(1.0, scale=2.0), [fig])
    assert "not recorded in these rows" in verdict_paragraph(next(verdicts.itertuples()), fig)
    # MSE = 2 × rate exceeds C = 1.25 at every point: the sweep counts under its status.
    assert "1 sweeps of data_svd: 1 × violated." in theorem_synthesis(verdicts)
    # Tables written before the status codes are counted by the head of their prose.
    assert "1 × bound violated." in theorem_synthesis(verdicts.drop(columns="status"))
