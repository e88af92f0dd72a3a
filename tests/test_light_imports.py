"""The analysis a sweep prints at its end avoids scipy.stats (0.75 s of imports per process),
with the same numbers as scipy.stats."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from theory_check import analysis


def test_no_sweep_module_imports_scipy_stats():
    code = ("import sys, theory_check.run, theory_check.sweep, theory_check.summary, "
            "theory_check.slack, theory_check.report; print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("df", [1, 2, 3.5, 7, 29, 1000])
@pytest.mark.parametrize("q", [0.6, 0.975, 0.995])
def test_t_quantile_is_scipy_stats_t_ppf(q, df):
    assert analysis.t_quantile(q, df) == scipy.stats.t.ppf(q, df)


def test_t_quantile_is_nan_without_degrees_of_freedom_and_keeps_shape():
    got = analysis.t_quantile(0.975, np.array([0, -1, 1, 4]))
    want = scipy.stats.t.ppf(0.975, np.array([0, -1, 1, 4]))
    np.testing.assert_array_equal(got, want)
    assert np.isnan(analysis.t_quantile(0.975, 0))


@pytest.mark.parametrize("seed", range(20))
def test_exponent_fit_is_bitwise_linregress(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    x = np.sort(rng.uniform(-6, 0, k))
    y = rng.normal(0.9, 0.2) * x + rng.normal(0, 0.1, k)
    fit = scipy.stats.linregress(x, y)
    slope, stderr = analysis._slope_and_stderr(x, y)
    assert slope == fit.slope and stderr == fit.stderr
    if k >= 3:
        rate, mse = np.exp(x), np.exp(y)
        fit = scipy.stats.linregress(np.log(rate), np.log(mse))
        half = scipy.stats.t.ppf(0.975, k - 2) * fit.stderr
        assert analysis.fit_point_means(rate, mse) == (fit.slope, fit.slope - half,
                                                       fit.slope + half)
