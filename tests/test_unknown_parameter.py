"""A command line setting a key the config does not have gets one message naming the key, the
closest known one and the config's parameters, for a single run as for a sweep; not Hydra's
"use +foo=1", which the suite would then refuse as an unknown key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from theory_check.overrides import command_line_problem
from theory_check.run import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
THM31_N = ("the parameters of thm31_n: N, blas_threads, d, delta, design, estimator, "
           "experiment_name, force, jobs, model, n, noise, quiet, r, results_dir, run_batch, seed, sigma, "
           "sweep, theorem; a new parameter must first be declared in conf/config.yaml")


@pytest.mark.parametrize("argv, message", [
    (["+experiment=thm31_n", "foo=1"], f"unknown parameter foo; {THM31_N}"),
    (["-m", "+experiment=thm31_n", "nn=3", "seed=0,1"], f"unknown parameter nn; did you mean n? {THM31_N}"),
    (["+experiment=thm49_alpha", "model.alpah=1"],
     "unknown parameter model.alpah; did you mean model.alpha? the parameters of model "
     "'relu_low_rank' of thm49_alpha: model.alpha, model.family, model.name; a parameter of its "
     "function that the config leaves out is set with +model.alpah=<value>"),
    (["estimator.data_svd.rcnd=0.5"], "unknown parameter estimator.data_svd.rcnd; did you mean "
                                      "estimator.data_svd.rcond?"),
])
def test_an_unknown_parameter_is_named_with_the_known_ones(argv, message):
    assert message in command_line_problem(argv, CONF_DIR)


@pytest.mark.parametrize("argv", [
    ["+experiment=thm31_n", "n=5", "design.kappa=2", "model=low_rank", "+model.extra=1"],
    ["-m", "+experiment=thm31_n", "foo=1,2"],  # sweep values: the sweeper checks each job
    ["--help"],
])
def test_known_parameters_and_sweeps_are_left_to_hydra(argv):
    assert command_line_problem(argv, CONF_DIR) is None


@pytest.mark.parametrize("multirun, values", [(False, "1"), (True, "1"), (True, "1,2")],
                         ids=["run", "sweep", "sweep-values"])
def test_the_command_prints_one_message_and_runs_nothing(tmp_path, multirun, values):
    cmd = [sys.executable, "-m", "theory_check", *(["-m"] if multirun else []), "+experiment=thm31_n",
           f"foo={values}", "seed=0", f"results_dir={tmp_path / 'raw'}",
           f"hydra.run.dir={tmp_path / 'out'}", f"hydra.sweep.dir={tmp_path / 'out'}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.count(f"unknown parameter foo; {THM31_N}") == 1, proc.stderr
    assert "+foo=" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "raw").exists()
