"""What a sweep costs beyond its mathematics: ``theory-check -m`` against a bare Python loop.

For each sweep, the wall time of the whole command (``python -m theory_check -m +experiment=<sweep>``
in a subprocess, a fresh results folder, so every run is computed) with the basic and the joblib
launcher, next to a bare loop in one subprocess that draws the same problems (same generator,
design, noise and sizes) and applies the same estimators with the same settings through the
public functions, imports included, and stores nothing. Their ratio is what the framework adds:
composing and checking the configs, launching, seeding, the results rows and their files, the
per-row diagnostics (the proof chains of :mod:`theory_check.proofs`, which the bare loop does not
evaluate: they are the framework's cost, not the sweep's math) and the end-of-sweep summary.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from . import write_table
from ..paths import REPO_ROOT
from ..run import CONF_DIR

SWEEPS = ("thm31_base_isotropic", "thm44_low_rank_n")

# The bare loop: the draws and estimators of every run, nothing else. Its spec (the runs and the
# plug-ins' targets and settings) comes as JSON on the command line. One BLAS thread, as the sweep
# runs by default (blas_threads=1): with the library's default threads on a busy 2-core machine
# the same loop took 54 s instead of 5 s, which measures the threading, not the framework.
BARE = """
import json, sys
import numpy as np
import scipy.linalg
from hydra.utils import get_method
from threadpoolctl import threadpool_limits
threadpool_limits(1)
spec = json.loads(sys.argv[1])
def function(node):
    fn = get_method(node["_target_"])
    params = {k: v for k, v in node.items() if k not in ("name", "_target_")}
    return lambda *a, **k: fn(*a, **params, **k)
model, design, noise = (function(spec[g]) for g in ("model", "design", "noise"))
estimators = [get_method(node["_target_"])(**{k: v for k, v in node.items() if k != "_target_"})
              for node in spec["estimator"].values()]
for run in spec["runs"]:
    rng = np.random.default_rng(run["seed"])
    problem = model(rng, n=run["n"], d=run["d"], N=run["N"], r=run["r"], sigma=run["sigma"],
                    delta=run["delta"], design=design, noise=noise)
    for estimator in estimators:
        W_hat = estimator(problem, run["r"]).W_hat
        np.linalg.norm(problem.X_tilde @ W_hat - problem.Z_star)
"""


def _runs(sweep: str) -> dict:
    """The bare loop's spec: the sweep's runs (sizes, σ, seed) and its plug-ins' settings."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        base = compose("config", overrides=[f"+experiment={sweep}"], return_hydra_config=True)
        params = base.hydra.sweeper.params
        grid = [dict(zip(params, values)) for values in _product(params)]
        configs = [compose("config", overrides=[f"+experiment={sweep}", f"n={g.get('n', base.n)}",
                                                f"seed={g['seed']}"]) for g in grid]
    plain = [OmegaConf.to_container(c, resolve=True) for c in configs]
    spec = {g: plain[0][g] for g in ("model", "design", "noise", "estimator")}
    spec["runs"] = [{k: c[k] for k in ("n", "d", "N", "r", "sigma", "delta", "seed")} for c in plain]
    return spec


def _product(params) -> list[tuple]:
    """The grid of ``hydra.sweeper.params`` for the keys these sweeps use (n lists, seed ranges)."""
    import itertools

    def values(text: str) -> list:
        text = str(text)
        if text.startswith("range("):
            return list(range(*map(int, text[6:-1].split(","))))
        return [int(v) for v in text.split(",")]

    if set(params) - {"n", "seed"}:
        raise ValueError(f"the bench expects sweeps over n and seed, got {sorted(params)}")
    return list(itertools.product(*(values(params[k]) for k in params)))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(cmd: list[str]) -> tuple[float, float]:
    """Wall time of ``cmd`` and the CPU time of its processes (workers included: each waits
    for its own), which a busy machine changes less than the wall time."""
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, _children_cpu() - cpu


def _sweep_time(sweep: str, launcher: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        return _wall([sys.executable, "-m", "theory_check", "-m", f"+experiment={sweep}",
                      f"results_dir={tmp}/raw", f"hydra.sweep.dir={tmp}/out", *launcher])


def run(out_dir: Path, sweeps=SWEEPS, repeats: int = 2) -> pd.DataFrame:
    rows = []
    for sweep in sweeps:
        spec = _runs(sweep)
        bare_cmd = [sys.executable, "-c", BARE, json.dumps(spec)]
        times = {"bare": [], "basic": [], "joblib": []}
        for _ in range(repeats):  # interleaved, so a change of load hits all three alike
            times["bare"].append(_wall(bare_cmd))
            times["basic"].append(_sweep_time(sweep, []))
            times["joblib"].append(_sweep_time(sweep, ["hydra/launcher=parallel", "jobs=2"]))
        best = {k: min(w for w, _ in v) for k, v in times.items()}
        cpu = {k: min(c for _, c in v) for k, v in times.items()}
        rows.append({"sweep": sweep, "runs": len(spec["runs"]), "estimators": len(spec["estimator"]),
                     "bare_loop_s": best["bare"], "basic_s": best["basic"], "joblib_2_s": best["joblib"],
                     "basic_ratio": best["basic"] / best["bare"],
                     "joblib_ratio": best["joblib"] / best["bare"],
                     "bare_cpu_s": cpu["bare"], "basic_cpu_s": cpu["basic"],
                     "joblib_cpu_s": cpu["joblib"]})
    table = pd.DataFrame(rows)
    load = os.getloadavg()[0]
    write_table(out_dir, "sweep_overhead", table,
        f"Wall time of `theory-check -m +experiment=<sweep>` (fresh results folder; basic launcher, "
        f"and `hydra/launcher=parallel jobs=2`) against a bare loop in one process doing the same "
        f"draws and estimators through the public functions (imports included, nothing stored). "
        f"The sweep's side counts everything a user's command does: config checks, the rows "
        f"and their files, each row's proof chain (a per-row diagnostic the bare loop does not "
        f"compute) and the summary printed at the end; "
        f"best of {repeats}, {os.cpu_count()} cores, load average {load:.1f} at the end. The "
        f"`*_cpu_s` columns: CPU seconds of each command's processes (best of {repeats}), which a "
        f"busy machine changes less than the wall time; `make bench`:")
    return table
