"""One run: rows, determinism, atomic writes, and bad configurations refused up front."""

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from theory_check import results as results_io
from theory_check.run import CONF_DIR, make_rng, run, run_key

SMALL = ["n=40", "d=12", "N=10", "r=2"]


def strip_timing(rows):
    return pd.DataFrame(rows).drop(columns=["wall_time"]).sort_values("estimator").reset_index(drop=True)


def test_one_row_per_estimator_with_every_column(make_cfg):
    rows = run(make_cfg(*SMALL))
    assert sorted(r["estimator"] for r in rows) == ["data_svd", "weight_svd"]
    for row in rows:
        for col in ("n", "d", "N", "r", "sigma", "seed", "design", "noise", "model", "mse",
                    "rel_error", "rate_thm31", "dof_thm31", "wall_time", "version",
                    "git_commit", "status", "solver.certificate", "solver.converged", "key"):
            assert col in row, col
        assert row["status"] == "ok"
        assert row["mse"] > 0 and row["rate_thm31"] == pytest.approx(2 * (12 + 10) / (40 * 10))  # k = min(n, d) = 12
        assert row["meta.regime"] == "d<n"


def test_a_model_declares_its_rate_and_metric_columns(make_cfg):
    rows = run(make_cfg("model._target_=sweep_plugins.declared_model", "n=30", "d=10", "N=8",
                        "r=2", "estimator=[data_svd]"))
    assert rows[0]["rate_custom"] == 0.125 and 0 < rows[0]["max_error"] < np.inf
    # Model S declares no ReLU metric and no Theorem 4.4 rate: the rows have none
    assert "mse_relu" not in rows[0] and "rate_thm44" not in rows[0]


def test_same_config_and_seed_give_identical_rows(make_cfg):
    a = run(make_cfg(*SMALL, "seed=3"))
    b = run(make_cfg(*SMALL, "seed=3", "force=true"))
    pd.testing.assert_frame_equal(strip_timing(a), strip_timing(b))
    c = run(make_cfg(*SMALL, "seed=4"))
    assert not np.allclose(strip_timing(a)["mse"], strip_timing(c)["mse"])


def test_rng_depends_on_experiment_config_and_seed(make_cfg):
    draw = lambda *o: make_rng(make_cfg(*SMALL, *o)).standard_normal(3)  # noqa: E731
    np.testing.assert_array_equal(draw("seed=1"), draw("seed=1"))
    assert not np.allclose(draw("seed=1"), draw("seed=2"))
    assert not np.allclose(draw("seed=1"), draw("seed=1", "experiment_name=other"))
    assert not np.allclose(draw("seed=1"), draw("seed=1", "sigma=2.0"))
    # Which estimators run or where results go does not change the data.
    np.testing.assert_array_equal(draw("seed=1"), draw("seed=1", "estimator=[data_svd]"))
    np.testing.assert_array_equal(draw("seed=1"), draw("seed=1", "results_dir=/elsewhere"))


def test_rows_already_stored_are_reused(make_cfg, monkeypatch):
    cfg = make_cfg(*SMALL)
    first = run(cfg)
    import theory_check.run as run_module
    monkeypatch.setattr(run_module, "make_rng", lambda *a: pytest.fail("recomputed"))
    again = run(cfg)
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(again))


def test_missing_estimator_is_added_to_the_stored_run(make_cfg):
    only = run(make_cfg(*SMALL, "estimator=[data_svd]"))
    both = run(make_cfg(*SMALL))
    assert len(only) == 1 and len(both) == 2
    path = results_io.run_path(make_cfg().results_dir, "adhoc", run_key(make_cfg(*SMALL)))
    stored = results_io.read_run(path)
    assert sorted(stored["estimator"]) == ["data_svd", "weight_svd"]
    # the earlier row is kept as it was, not recomputed
    old = stored[stored["estimator"] == "data_svd"].iloc[0]
    assert old["wall_time"] == only[0]["wall_time"]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "exp" / "key.parquet"
    results_io.write_rows_atomic(path, [{"a": 1.0}])

    def broken_write(table, fh, **kw):
        fh.write(b"half a parquet file")
        raise KeyboardInterrupt  # as if the run were interrupted mid-write

    monkeypatch.setattr(results_io.pq, "write_table", broken_write)
    with pytest.raises(KeyboardInterrupt):
        results_io.write_rows_atomic(path, [{"a": 2.0}])
    assert pd.read_parquet(path)["a"].tolist() == [1.0]
    assert sorted(p.name for p in path.parent.iterdir()) == [".replace.lock", "key.parquet"]


def test_estimator_failure_is_recorded_not_raised(make_cfg, monkeypatch):
    import theory_check.estimators.svd as svd

    def boom(*a, **k):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(svd, "data_svd", boom)
    rows = {r["estimator"]: r for r in run(make_cfg(*SMALL))}
    assert rows["data_svd"]["status"] == "error"
    assert "SVD did not converge" in rows["data_svd"]["message"]
    assert np.isnan(rows["data_svd"]["mse"])
    assert rows["weight_svd"]["status"] == "ok"


@pytest.mark.parametrize(
    "override, match",
    [
        ("r=0", "r must be >= 1"),
        ("r=11", r"r must be <= 10"),
        ("sigma=-1.0", "sigma must be >= 0"),
        ("n=0", "n must be >= 1"),
        ("d=0", "d must be >= 1"),
        ("delta=-0.5", "delta must be >= 0"),
        ("sigma=nan", "sigma must be finite"),
        ("design=condition_number", None),  # valid: control
        ("+design.kappa=0.5", "design.kappa must be >= 1"),
    ],
)
def test_bad_config_is_refused_before_any_work(make_cfg, monkeypatch, override, match):
    import theory_check.run as run_module

    calls = []
    real = run_module.make_rng
    monkeypatch.setattr(run_module, "make_rng", lambda *a: calls.append(1) or real(*a))
    cfg = make_cfg(*SMALL, override) if "kappa" not in override else make_cfg(
        *SMALL, "design=condition_number", "design.kappa=0.5")
    if match is None:
        run(cfg)
        return
    with pytest.raises(ValueError, match=match):
        run(cfg)
    assert not calls, "validation must happen before the data are drawn"


@pytest.mark.parametrize("override", ["estimator=[nonexistent]", "model=nonexistent",
                                      "design=nonexistent", "noise=nonexistent"])
def test_unknown_names_are_hydra_errors_listing_the_options(override):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        with pytest.raises(MissingConfigException, match="Could not load|Available options"):
            compose("config", overrides=[override])


def test_unknown_target_is_refused(make_cfg):
    cfg = make_cfg(*SMALL)
    cfg.estimator.data_svd._target_ = "theory_check.estimators.NoSuchEstimator"
    with pytest.raises(ValueError, match="estimator 'data_svd'"):
        run(cfg)


def test_non_finite_estimate_is_an_error_row(make_cfg, monkeypatch):
    import theory_check.estimators.svd as svd

    monkeypatch.setattr(svd, "data_svd", lambda X, Y, r, **k: np.full((X.shape[1], Y.shape[1]), np.inf))
    rows = {r["estimator"]: r for r in run(make_cfg(*SMALL))}
    assert rows["data_svd"]["status"] == "error"
    assert "NaN or inf" in rows["data_svd"]["message"] and np.isnan(rows["data_svd"]["mse"])
    assert rows["weight_svd"]["status"] == "ok"


def test_numerically_equal_configs_share_key_and_data(make_cfg):
    a, b = make_cfg(*SMALL, "sigma=1"), make_cfg(*SMALL, "sigma=1.0")
    assert run_key(a) == run_key(b)
    np.testing.assert_array_equal(make_rng(a).standard_normal(3), make_rng(b).standard_normal(3))


def test_changed_estimator_setting_replaces_its_row(make_cfg):
    run(make_cfg(*SMALL))
    rows = run(make_cfg(*SMALL, "estimator.data_svd.rcond=0.5"))
    assert sorted(r["estimator"] for r in rows) == ["data_svd", "weight_svd"]
    stored = results_io.read_run(results_io.run_path(make_cfg().results_dir, "adhoc",
                                                     run_key(make_cfg(*SMALL))))
    assert sorted(stored["estimator"]) == ["data_svd", "weight_svd"]
    assert stored.set_index("estimator").loc["data_svd", "estimator.rcond"] == 0.5


def test_bad_estimator_setting_is_a_config_error(make_cfg):
    with pytest.raises(ValueError, match="estimator.data_svd.rcond must be >= 0"):
        run(make_cfg(*SMALL, "estimator.data_svd.rcond=-1.0"))


def test_unknown_top_level_key_is_a_config_error(make_cfg):
    with pytest.raises(ValueError, match=r"unknown key nn; did you mean n\?"):
        run(make_cfg(*SMALL, "+nn=3"))
    with pytest.raises(ValueError, match="unknown key zzz_q; new keys must be declared in conf/config.yaml"):
        run(make_cfg(*SMALL, "+zzz_q=3"))


@pytest.mark.parametrize("bad, message", [
    ("+nn=3", "unknown key nn; did you mean n?"),
    ("r=0", "r must be >= 1"),
])
def test_bad_single_run_prints_the_message_only(tmp_path, bad, message):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "theory_check", "n=40", "d=12", "N=10", "r=2",
                           f"results_dir={tmp_path / 'raw'}", f"hydra.run.dir={tmp_path / 'out'}", bad],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "File \"" not in proc.stderr
    assert not (tmp_path / "raw").exists()
