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
#: Runs of about 40 ms: a sweep of 100 lasts seconds, so a kill lands part-way through it.
KILL_SIZES = ["n=400", "d=200", "N=200", "r=2"]


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


def _default_sigint():
    """Give the sweep the SIGINT disposition of a command typed in a terminal. A process
    started with SIGINT ignored keeps ignoring it (POSIX; Python then installs no
    KeyboardInterrupt handler), and a shell without job control starts background commands
    so: under `make test &` the sweep used to ignore this test's Ctrl-C, run every run and
    exit 0."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig, launcher", [
    pytest.param(signal.SIGKILL, "basic", id="SIGKILL-basic"),
    # The same resume after the other launcher and signal; kept out of the default run for time
    # (tests/test_stops.py stops joblib workers by SIGINT, SIGTERM and SIGKILL there).
    pytest.param(signal.SIGINT, "parallel", id="SIGINT-joblib", marks=pytest.mark.slow),
])
def test_killed_sweep_resumes_without_duplicates_or_lost_rows(tmp_path, sig, launcher):
    # Runs are launched in batches of many runs per process: enough runs, long enough, that the
    # kill lands part-way through a batch, which must keep the runs it finished (runs of a few
    # ms, n = 20, all finished within ~0.3 s). The failures once blamed on a late kill were
    # at least in part the ignored SIGINT that _default_sigint now prevents.
    seeds = 100
    grid = [f"seed=range({seeds})", f"hydra/launcher={launcher}", "jobs=2"]
    proc = subprocess.Popen(sweep_command(tmp_path, *grid, sizes=KILL_SIZES), cwd=ROOT, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_default_sigint)
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
    assert 2 <= finished < seeds, (f"the kill should land part-way through the sweep: {finished} "
                                   f"of {seeds} runs stored, exit code {proc.returncode}")
    # What a write killed between its temporary file and the rename leaves behind.
    (folder / ".0123456789abcdef.x1y2z3.tmp").write_bytes(b"PAR1 truncated")

    resumed = run_sweep(tmp_path, *grid, sizes=KILL_SIZES)
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


def test_an_empty_sweep_is_an_error(tmp_path):
    proc = run_sweep(tmp_path, "seed=range(0)", ok=False)
    assert proc.returncode != 0
    assert "the sweep has no runs: seed=range(0) has no values; nothing was run." in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "raw").exists()


def test_an_unknown_key_is_an_error_in_a_sweep(tmp_path):
    proc = run_sweep(tmp_path, "seed=0,1", "+nn=3", ok=False)
    assert proc.returncode != 0
    assert "2 of 2 sweep configurations are invalid" in proc.stderr
    assert "unknown key nn; did you mean n?" in proc.stderr
    assert not (tmp_path / "raw").exists()


def test_every_experiment_and_network_config_has_only_declared_keys(make_cfg):
    # Experiments set top-level keys: each must be declared in conf/config.yaml.
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        cfg = make_cfg(f"+experiment={path.stem}")
        assert not [p for p in config_problems(cfg) if "unknown key" in p], path.name


def test_composer_gives_the_configs_hydra_composes(tmp_path):
    # The sweeper composes once per set of group choices and applies value overrides itself;
    # the result must be Hydra's config for every job, interpolations and added keys included.
    code = f"""
import sys
from hydra import initialize_config_dir, compose
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from theory_check.run import CONF_DIR
from theory_check.sweep import Composer, task_config
jobs = [["+experiment=thm44_low_rank_n", "n=64", "seed=3"],
        ["+experiment=thm44_low_rank_n", "n=128", "seed=3", "model.alpha=2.0"],
        ["estimator=data_svd", "n=50", "+estimator.x._target_=a.B", "design=condition_number"],
        ["estimator=weight_svd", "n=50", "design=condition_number", "design.kappa=3"],
        ["r=3", "+nn=3", "results_dir={tmp_path}"]]
with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
    gh = GlobalHydra.instance()
    master = compose("config", return_hydra_config=True)
    composer = Composer(gh.config_loader(), master)
    for job in jobs:
        ours = OmegaConf.to_container(composer(job), resolve=True)
        hydras = OmegaConf.to_container(compose("config", overrides=job), resolve=True)
        assert ours == hydras, (job, ours, hydras)
    assert len(composer.composed) == 4, list(composer.composed)
print("same")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.stdout.strip() == "same", proc.stderr


def test_runs_are_launched_in_batches_balanced_largest_first():
    from theory_check.sweep import make_batches

    assert make_batches([1.0] * 7, workers=1, batch_size=None) == [list(range(7))]
    assert [len(b) for b in make_batches([1.0] * 7, workers=1, batch_size=3)] == [3, 2, 2]
    costs = [1, 8, 1, 1, 8, 1, 1, 1]
    batches = make_batches(costs, workers=2, batch_size=None)
    assert len(batches) == 4 and sorted(i for b in batches for i in b) == list(range(8))
    assert [b[0] for b in batches[:2]] == [1, 4]  # the largest runs start first
    assert sorted(sum(costs[i] for i in b) for b in batches) == [3, 3, 8, 8]
    assert make_batches([5.0], workers=4, batch_size=2) == [[0]]


def test_a_sweep_launches_one_job_per_batch(tmp_path):
    proc = run_sweep(tmp_path, "seed=range(7)", "hydra.sweeper.batch_size=3")
    assert "7 runs: 0 already in the results, 7 to run with BasicLauncher in 3 batches" in proc.stdout
    out = tmp_path / "outputs" / "raw"
    assert sorted(p.name for p in (out / "batches").iterdir()) == ["0.json", "1.json", "2.json"]
    assert sorted(p.name for p in out.iterdir() if p.name.isdigit()) == ["0", "1", "2"]
    assert len(load_results(tmp_path / "raw")) == 14


# joblib's rows are also compared with basic's in test_basic_and_joblib_give_identical_rows_…
# in the default run; both here run with `make test-slow`.
@pytest.mark.parametrize("launcher", [pytest.param("parallel", marks=pytest.mark.slow),
                                      pytest.param("submitit_local", marks=pytest.mark.slow)])
def test_same_rows_whatever_the_launcher(tmp_path, launcher):
    # Default sizes (n=200, d=100, N=100), where a multi-threaded BLAS changes the last bits:
    # every launcher must run with blas_threads, including fresh worker processes.
    grid = ["seed=range(8)", "jobs=2"]
    run_sweep(tmp_path, *grid, results="basic", sizes=[])
    other = run_sweep(tmp_path, *grid, f"hydra/launcher={launcher}", results=launcher, sizes=[])
    assert "to run with BasicLauncher" not in other.stdout
    drop = ["wall_time", "solver.time"]
    basic, rows = load_results(tmp_path / "basic"), load_results(tmp_path / launcher)
    drop = [c for c in drop if c in basic]
    assert len(basic) == len(rows) == 16
    pd.testing.assert_frame_equal(by_key(basic, drop=drop), by_key(rows, drop=drop), check_exact=True)


def test_a_batched_run_stores_the_rows_of_the_same_single_run(make_cfg, tmp_path):
    # Batch files carry resolved configs through JSON: nothing of a row may change on the way.
    run_sweep(tmp_path, "seed=3", "model=low_rank", "noise=uniform", "estimator=[convex_linear,data_svd]")
    run(make_cfg(*SMALL, "seed=3", "model=low_rank", "noise=uniform", "estimator=[convex_linear,data_svd]",
                 f"results_dir={tmp_path / 'single'}"))
    single = load_results(tmp_path / "single")
    swept = load_results(tmp_path / "raw")
    drop = ["wall_time"] + [c for c in swept if c.endswith("time") and c != "wall_time"]
    pd.testing.assert_frame_equal(by_key(swept, drop=drop), by_key(single, drop=drop))


def test_joblib_workers_start_during_validation_and_stop_at_the_end():
    """The joblib launcher's loky workers are started (and have imported the package) by the
    time the sweep launches, the launcher's own Parallel call reuses them, and they are stopped
    when the sweep ends."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
    from joblib import Parallel, delayed
    from omegaconf import OmegaConf

    from theory_check.sweep import _start_workers, _stop_workers

    class Launcher:  # the attribute Hydra's JoblibLauncher keeps its Parallel arguments in
        joblib = {k: v for k, v in OmegaConf.to_container(OmegaConf.structured(JobLibLauncherConf)).items()
                  if k != "_target_"} | {"n_jobs": 2, "timeout": 300}

    assert _start_workers(object(), 2) is None  # other launchers: nothing to start
    assert _start_workers(Launcher(), 1) is None  # one worker: nothing to overlap
    starting = _start_workers(Launcher(), 2)
    assert starting is not None
    starting.join()
    settings = dict(Launcher.joblib, backend="loky")
    process_joblib_cfg(settings)
    # eval, not a function of this module: unpickling one would import theory_check.run.
    imported = "'theory_check.run' in __import__('sys').modules"
    assert all(Parallel(**settings)(delayed(eval)(imported) for _ in range(4)))
    # At the end of the sweep they are stopped: the next Parallel call gets new processes.
    before = set(Parallel(**settings)(delayed(os.getpid)() for _ in range(8)))
    _stop_workers(Launcher())
    assert not before & set(Parallel(**settings)(delayed(os.getpid)() for _ in range(8)))


def test_a_joblib_launcher_has_as_many_workers_as_its_n_jobs(monkeypatch):
    from omegaconf import OmegaConf

    from theory_check.sweep import _workers

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert _workers(OmegaConf.create({"_target_": joblib, "n_jobs": 2})) == 2
    assert _workers(OmegaConf.create({"_target_": joblib, "n_jobs": -1})) == 16
