"""CONTRIBUTING.md's promise, end to end: a new noise law and a new figure are one Python
function plus YAML files, in a folder of one's own (``THEORY_CHECK_ROOT``), with no edit to any
file of the package; ``make reproduce-figures`` runs, fits, draws and reports them."""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pandas as pd

from theory_check.paths import REPO_ROOT, ROOT_VARIABLE
from theory_check.results import load_results

NOISE = '''
import numpy as np

from theory_check.noise import Tails
from theory_check.validation import check_real


def laplace(rng, shape, sigma):
    """Laplace entries of variance σ² (scale σ/√2): unbounded, β = inf."""
    sigma = check_real("sigma", sigma, low=0.0)
    return rng.laplace(0.0, sigma / np.sqrt(2.0), size=shape), float("inf")


laplace.tails = lambda: Tails("Laplace plug-in", bounded=False, sub_gaussian=False, gaussian=False)
'''
NOISE_CONFIG = """
# Laplace noise, variance σ² (heavier tails than Theorem 3.1's sub-Gaussian assumption allows).
name: laplace_plugin
_target_: heavy_noise.laplace
"""
SWEEP = """
# @package _global_
defaults:
  - override /noise: laplace_plugin
  - override /estimator: [data_svd, weight_svd]

experiment_name: laplace_n
theorem: "3.1"
sweep: n
d: 20
N: 20
r: 2

hydra:
  sweeper:
    params:
      n: 40,80,160
      seed: range(3)
"""
FIGURE = """
figure: laplace_rates
title: "Theorem 3.1 under Laplace noise"
theorem: "3.1"
theorem_title: "Theorem 3.1 — exactly rank-r ground truth, closed-form data-driven SVD"
rate: rate_thm31
rate_label: "σ²r(k+N)/(nN)"
reference: dof_thm31
estimator: data_svd
baselines: [weight_svd]
claim: outside
sweeps: [laplace_n]
paper:
  laplace_n: {n: "40,80,160,320", seed: "range(5)"}
"""


def git_status():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True).stdout


def test_a_new_noise_and_a_new_figure_run_end_to_end_without_editing_the_package(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "conf", root / "conf")
    shutil.copytree(REPO_ROOT / "experiments", root / "experiments")
    new_files = {root / "plugins" / "heavy_noise.py": NOISE,
                 root / "conf" / "noise" / "laplace_plugin.yaml": NOISE_CONFIG,
                 root / "conf" / "experiment" / "laplace_n.yaml": SWEEP,
                 root / "experiments" / "laplace_rates.yaml": FIGURE}
    for path, text in new_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    before = git_status()
    env = {**os.environ, ROOT_VARIABLE: str(root), "PYTHONPATH": str(root / "plugins")}
    proc = subprocess.run([sys.executable, "-m", "theory_check.reproduce", "--only", "laplace_rates",
                           "--jobs", "1"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    rows = load_results(root / "results" / "raw", ["laplace_n"])
    assert len(rows) == 3 * 3 * 2 and set(rows["noise"]) == {"laplace_plugin"}
    assert set(rows["status"]) == {"ok"} and rows["rate_thm31"].notna().all()
    assert set(rows["assumption"]) == {"outside: heavy tails (Laplace plug-in)"}
    verdicts = pd.read_csv(root / "results" / "verdicts.csv")
    mine = verdicts[verdicts["figure"] == "laplace_rates"]
    assert set(mine["estimator"]) == {"data_svd", "weight_svd"} and set(mine["theorem"].astype(str)) == {"3.1"}
    report = (root / "results" / "REPORT.md").read_text()
    assert "### Theorem 3.1 under Laplace noise\n\n![laplace_rates](figures/laplace_rates.png)" in report
    assert (root / "results" / "figures" / "laplace_rates.png").exists()
    assert git_status() == before  # nothing of the checkout was touched


ESTIMATOR = '''
"""Shrunk data-driven SVD: a newcomer's estimator, one module of theory_check/estimators/."""

from .base import Estimator
from .svd import DataSVD


class ShrunkSVD(Estimator):
    """DataSVD's Ŵ scaled by ``shrink`` in [0, 1]."""

    def __init__(self, shrink: float = 0.9):
        if not 0.0 <= shrink <= 1.0:
            raise ValueError(f"shrink must be in [0, 1], got {shrink}")
        self.shrink = shrink

    def __call__(self, problem, r):
        estimate = DataSVD()(problem, r)
        estimate.W_hat = self.shrink * estimate.W_hat
        return estimate
'''
ESTIMATOR_CONFIG = """
# @package estimator.shrunk_svd
_target_: theory_check.estimators.ShrunkSVD
shrink: 0.9
"""


def test_a_new_estimator_is_a_module_and_a_config_with_no_export(tmp_path):
    """CONTRIBUTING's estimator recipe as written: a module in theory_check/estimators/ and
    conf/estimator/<name>.yaml whose _target_ is theory_check.estimators.<Class>, nothing else
    (here in a copy of the package and of conf/, so the checkout stays untouched); a sweep that
    selects it on the command line runs it and its summary lists it beside the others."""
    package = tmp_path / "package"
    shutil.copytree(REPO_ROOT / "theory_check", package / "theory_check",
                    ignore=shutil.ignore_patterns("__pycache__", "_project"))
    shutil.copytree(REPO_ROOT / "hydra_plugins", package / "hydra_plugins",
                    ignore=shutil.ignore_patterns("__pycache__"))
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "conf", root / "conf")
    shutil.copytree(REPO_ROOT / "experiments", root / "experiments")
    (package / "theory_check" / "estimators" / "shrunk.py").write_text(textwrap.dedent(ESTIMATOR).lstrip())
    (root / "conf" / "estimator" / "shrunk_svd.yaml").write_text(textwrap.dedent(ESTIMATOR_CONFIG).lstrip())
    env = {**os.environ, ROOT_VARIABLE: str(root), "PYTHONPATH": str(package)}
    proc = subprocess.run([sys.executable, "-m", "theory_check", "-m", "n=40,80,160", "d=20", "N=20",
                           "r=2", "seed=range(2)", "estimator=[data_svd,shrunk_svd]",
                           f"hydra.sweep.dir={tmp_path / 'out'}"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = load_results(root / "results" / "raw", ["adhoc"])
    mine = rows[rows["estimator"] == "shrunk_svd"]
    assert len(mine) == 6 and set(mine["status"]) == {"ok"}
    assert (mine["estimator.shrink"] == 0.9).all()
    assert re.search(r"^shrunk_svd +baseline +\d", proc.stdout, re.M)  # fitted in the sweep's summary
