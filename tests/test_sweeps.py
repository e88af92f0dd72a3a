"""Multiruns end to end: resume after SIGKILL/SIGINT, launchers, progress, failures as rows,
up-front validation, force.

The sweep tests run ``python -m theory_check -m ...`` in a subprocess at tiny sizes, with
results and Hydra outputs under ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from theory_check.results import load_results
from theory_check.run import config_problems, run

ROOT = Path(__file__).resolve().parents[1]
# sweep_plugins.py (estimators and designs that fail on purpose) is imported by Hydra from here.
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
SMALL = ["n=20", "d=10", "N=10", "r=2"]


def sweep_command(tmp_path: Path, *overrides: str, results: str = "raw", sizes=SMALL) -> list[str]:
    return [sys.executable, "-m", "theory_check", "-m", *sizes,
            f"results_dir={tmp_path / results}",
            f"hydra.sweep.dir={tmp_path / 'outputs' / results}", *overrides]


def run_sweep(tmp_path: Path, *overrides: str, results: str = "raw", ok: bool = True, sizes=SMALL):
    proc = subprocess.run(sweep_command(tmp_path, *overrides, results=results, sizes=sizes), cwd=ROOT,
                          env=ENV, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def by_key(table: pd.DataFrame, drop=()) -> pd.DataFrame:
    table = table.drop(columns=list(drop)).set_index("key").sort_index()
    return table[sorted(table.columns)]


@pytest.mark.parametrize("sig, launcher", [
    pytest.param(signal.SIGKILL, "basic", id="SIGKILL-basic"),
    pytest.param(signal.SIGINT, "parallel", id="SIGINT-joblib"),
])
def test_killed_sweep_resumes_without_duplicates_or_lost_rows(tmp_path, sig, launcher):
    seeds = 10
    grid = [f"seed=range({seeds})", f"hydra/launcher={launcher}", "jobs=2"]
    proc = subprocess.Popen(sweep_command(tmp_path, *grid), cwd=ROOT, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    folder = tmp_path / "raw" / "adhoc"
    deadline = time.monotonic() + 120
    try:
        while len(list(folder.glob("*.parquet"))) < 2:
            assert proc.poll() is None, "the sweep ended before it was killed"
            assert time.monotonic() < deadline, "no run finished in time"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):  # anything the signal left running
                os.killpg(proc.pid, signal.SIGKILL)
    before = load_results(tmp_path / "raw")
    finished = before["run_key"].nunique()
    assert 2 <= finished < seeds, "the kill should land part-way through the sweep"
    # What a write killed between its temporary file and the rename leaves behind.
    (folder / ".0123456789abcdef.x1y2z3.tmp").write_bytes(b"PAR1 truncated")

    resumed = run_sweep(tmp_path, *grid)
    left = seeds - finished
    assert f"{seeds} runs: {finished} already in the results, {left} to run" in resumed.stdout
    assert f"{left}/{left}" in resumed.stderr  # the progress bar, whichever process ran the jobs

    after = load_results(tmp_path / "raw")
    assert len(after) == 2 * seeds and after["key"].is_unique
    assert after["run_key"].nunique() == seeds
    assert set(after["status"]) == {"ok"}
    # Finished rows are untouched, wall_time included: they were not recomputed.
    pd.testing.assert_frame_equal(by_key(after).loc[by_key(before).index], by_key(before))


def test_basic_and_joblib_give_identical_rows_and_same_key_runs_lose_nothing(tmp_path):
    # Sweeping the estimator gives two jobs per run key; under joblib they finish at once and
    # both write the same file.
    grid = ["seed=range(6)", "estimator=data_svd,weight_svd"]
    run_sweep(tmp_path, *grid, results="basic")
    parallel = run_sweep(tmp_path, *grid, "hydra/launcher=parallel", "jobs=2", results="joblib")
    assert "with JoblibLauncher" in parallel.stdout
    basic_rows = load_results(tmp_path / "basic")
    joblib_rows = load_results(tmp_path / "joblib")
    assert len(basic_rows) == len(joblib_rows) == 12
    pd.testing.assert_frame_equal(by_key(basic_rows, drop=["wall_time"]),
                                  by_key(joblib_rows, drop=["wall_time"]))


def test_submitit_local_sweep_completes(tmp_path):
    proc = run_sweep(tmp_path, "seed=0,1", "hydra/launcher=submitit_local")
    assert "with LocalLauncher" in proc.stdout
    rows = load_results(tmp_path / "raw")
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}


def test_failures_are_recorded_and_the_sweep_goes_on(tmp_path):
    proc = run_sweep(tmp_path, "design._target_=sweep_plugins.failing_design,theory_check.designs.isotropic",
                     "+estimator.always_fails._target_=sweep_plugins.AlwaysFails")
    # Progress counts both runs, and the launcher does not print a line per job.
    assert "2/2" in proc.stderr
    assert "#1 :" not in proc.stdout + proc.stderr
    rows = load_results(tmp_path / "raw")
    assert rows["key"].is_unique and len(rows) == 6
    failed_generation = rows["message"].str.startswith(
        "generating the problem failed: FloatingPointError: the design broke down")
    broken, fine = rows[failed_generation], rows[~failed_generation].set_index("estimator")
    assert broken["run_key"].nunique() == 1 and fine.index.nunique() == 3
    assert sorted(broken["estimator"]) == ["always_fails", "data_svd", "weight_svd"]
    assert set(broken["status"]) == {"error"}
    assert fine.loc["always_fails", "status"] == "error"
    assert fine.loc["always_fails", "message"] == "RuntimeError: this estimator always fails"
    assert list(fine.loc[["data_svd", "weight_svd"], "status"]) == ["ok", "ok"]
    assert rows["status"].value_counts().to_dict() == {"error": 4, "ok": 2}


def test_invalid_configs_stop_the_sweep_before_any_run_with_one_message(tmp_path):
    # The experiment's hydra.sweeper.params (six values of n) combine with the command line.
    proc = run_sweep(tmp_path, "+experiment=thm31_n", "hydra.sweeper.params.seed=0",
                     "r=0,2,500", sizes=["d=10", "N=10"], ok=False)
    assert proc.returncode != 0
    assert not (tmp_path / "raw").exists()
    message = proc.stderr
    assert message.count("nothing was run") == 1
    assert "12 of 18 sweep configurations are invalid" in message
    assert "r must be >= 1 and <= 10, got 0\n    (6 configurations, e.g. n=100 r=0)" in message
    assert "r must be <= 10 (allowed range [1, 10]), got 500" in message
    assert "Traceback" not in message


def test_force_recomputes_existing_rows(tmp_path):
    run_sweep(tmp_path, "seed=0")
    (path,) = (tmp_path / "raw" / "adhoc").glob("*.parquet")
    first, stamp = load_results(tmp_path / "raw"), path.stat().st_ino
    forced = run_sweep(tmp_path, "seed=0", "force=true")
    assert "1 runs: 0 already in the results, 1 to run" in forced.stdout
    assert path.stat().st_ino != stamp, "force=true should rewrite the run's file"
    again = load_results(tmp_path / "raw")
    pd.testing.assert_frame_equal(by_key(first, drop=["wall_time"]), by_key(again, drop=["wall_time"]))


@pytest.mark.parametrize("bad, problem", [
    ("n=0", "n must be >= 1"),
    ("+model.unknown=1", "model 'strong': generate() got an unexpected keyword argument 'unknown'"),
    ("design.kappa=0.5", "design 'condition_number': design.kappa must be >= 1.0"),
    ("+estimator.x._target_=nowhere.X", "estimator 'x': _target_ 'nowhere.X' cannot be imported"),
])
def test_config_errors_are_found_by_validation_not_recorded(make_cfg, tmp_path, bad, problem):
    cfg = make_cfg(*SMALL, "design=condition_number", bad)
    (found,) = config_problems(cfg)
    assert problem in found
    with pytest.raises(ValueError, match="must|cannot|unexpected"):
        run(cfg)
    assert not (tmp_path / "raw").exists()


def test_runs_still_store_rows_where_file_locks_are_unsupported(make_cfg, tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="does not support file locks"):
        run(make_cfg(*SMALL))
    assert len(load_results(tmp_path / "raw")) == 2
