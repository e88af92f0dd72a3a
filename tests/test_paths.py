"""The project root is defined once; a missing conf/ is a clear error, not a Hydra traceback."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from theory_check.metrics import mse
from theory_check.paths import REPO_ROOT, ROOT_VARIABLE, conf_dir
from theory_check.results import merge_rows, read_run


def theory_check(root, *args):
    env = {**os.environ, ROOT_VARIABLE: str(root)}
    return subprocess.run([sys.executable, "-m", "theory_check", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_missing_conf_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"set {ROOT_VARIABLE} to a folder that has conf/"):
        conf_dir(tmp_path)
    proc = theory_check(tmp_path, "n=20")
    assert proc.returncode != 0
    assert f"theory-check: no {tmp_path / 'conf' / 'config.yaml'}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_root_variable_points_the_app_at_another_copy_of_conf(tmp_path):
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    # the copy's defaults are not the checkout's: its runs are 20 × 10 × 8
    text = (tmp_path / "conf" / "config.yaml").read_text()
    (tmp_path / "conf" / "config.yaml").write_text(
        text.replace("n: 200 ", "n: 20 ").replace("d: 100 ", "d: 10 ").replace("N: 100 ", "N: 8 "))
    proc = theory_check(tmp_path, f"results_dir={tmp_path / 'raw'}", f"hydra.run.dir={tmp_path / 'out'}")
    assert proc.returncode == 0, proc.stderr
    rows = read_run(next((tmp_path / "raw" / "adhoc").glob("*.parquet")))
    assert set(rows["n"]) == {20} and set(rows["N"]) == {8}


def test_mse_is_the_mean_squared_entry_error():
    Z = np.arange(6.0).reshape(2, 3)
    assert mse(Z + 2.0, Z) == pytest.approx(4.0, rel=1e-15) and mse(Z, Z) == 0.0


def test_merge_keeps_other_estimators_and_replaces_a_rerun_one(tmp_path):
    path = tmp_path / "exp" / "k.parquet"
    merge_rows(path, [{"estimator": "a", "mse": 1.0}, {"estimator": "b", "mse": 2.0}])
    rows = merge_rows(path, [{"estimator": "b", "mse": 3.0}, {"estimator": "c", "mse": 4.0}])
    stored = read_run(path)
    assert dict(zip(stored["estimator"], stored["mse"])) == {"a": 1.0, "b": 3.0, "c": 4.0}
    assert len(rows) == 3 and Path(path).exists()


def test_a_non_editable_install_runs_without_a_checkout(tmp_path):
    """pip install . (a wheel): the configs ship inside it, results go to the working folder."""
    source = tmp_path / "source"  # built outside the checkout: a build leaves build/ behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "theory_check", "hydra_plugins", "conf",
                 "experiments"):
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheel"), str(source)], check=True, capture_output=True)
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site),
                    str(next((tmp_path / "wheel").glob("*.whl")))], check=True, capture_output=True)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != ROOT_VARIABLE}
    env["PYTHONPATH"] = str(site)

    def python(*args):
        return subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    where = python("-c", "from theory_check import paths; from theory_check.experiments import "
                         "load_figures; print(paths.CONFIG_ROOT, paths.REPO_ROOT, "
                         "len(load_figures()))")
    assert where.returncode == 0, where.stderr
    config_root, results_root, figures = where.stdout.split()
    assert Path(config_root) == site / "theory_check" / "_project"
    assert Path(results_root) == work and int(figures) == len(list((REPO_ROOT / "experiments").glob("*.yaml")))
    proc = python("-m", "theory_check", "n=20", "d=10", "N=8", "r=2")
    assert proc.returncode == 0, proc.stderr
    rows = read_run(next((work / "results" / "raw" / "adhoc").glob("*.parquet")))
    assert set(rows["n"]) == {20}
