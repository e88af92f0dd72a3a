"""Issue 24.1: ``reproduce`` checks every figure file and every sweep config they use before
its first run, and lists every problem (file and line) in one message.

Each test breaks a copy of the definitions (``conf/`` and a small ``experiments/``) the way the
issue did, and checks that reproduce refuses with the problem named and that no sweep started
(``run_sweep`` is replaced by a recorder: before, most of these ran every sweep first).
"""

import os
import shutil
from types import SimpleNamespace
import subprocess
import sys
import textwrap

import pytest

from theory_check import paths
from theory_check import reproduce as reproduce_module
from theory_check.paths import REPO_ROOT, ROOT_VARIABLE

FIGURE = """
figure: rates
title: a figure
theorem: "3.1"
theorem_title: Theorem 3.1
rate: rate_thm31
estimator: data_svd
baselines: [weight_svd]
sweeps: [thm31_n, thm31_N, thm31_r]
paper:
  thm31_n: {n: "100,200", seed: "range(2)"}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of conf/ with one figure of three sweeps; reproduce pointed at it, sweeps recorded."""
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "experiments").mkdir()
    write_figure(tmp_path, "rates", FIGURE)
    started = []
    monkeypatch.setattr(paths, "CONFIG_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", tmp_path / "experiments")
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "run_sweep", lambda sweep, *a: started.append(sweep))
    return SimpleNamespace(root=tmp_path, started=started)


def write_figure(root, name, text):
    (root / "experiments" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())


def edit_sweep(root, name, old, new):
    path = root / "conf" / "experiment" / f"{name}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def refused(project, *expected, only=None) -> str:
    """reproduce's message, after checking it names every ``expected`` text and ran nothing."""
    with pytest.raises(ValueError) as err:
        reproduce_module.reproduce(only=only)
    message = str(err.value)
    for text in expected:
        assert text in message
    assert project.started == []
    return message


def test_the_definitions_as_committed_pass(project):
    reproduce_module.reproduce(skip_runs=True)  # nothing stored: the report says so
    assert project.started == []


def test_a_misspelled_estimator_is_refused_before_any_sweep(project):
    write_figure(project.root, "rates", FIGURE.replace("estimator: data_svd", "estimator: data_sdv"))
    refused(project, "experiments/rates.yaml:6: estimator 'data_sdv' is not run by sweep thm31_n "
                     "(conf/experiment/thm31_n.yaml runs ['data_svd', 'weight_svd'])")


def test_baselines_as_a_string_is_a_type_error_not_a_list_of_characters(project):
    write_figure(project.root, "rates", FIGURE.replace("baselines: [weight_svd]", "baselines: weight_svd"))
    refused(project, "experiments/rates.yaml:7: baselines must be a list of estimator names, "
                     "e.g. [data_svd, weight_svd], got 'weight_svd'")


def test_a_baseline_its_sweep_does_not_run_is_refused(project):
    edit_sweep(project.root, "thm31_r", "[data_svd, weight_svd]", "[data_svd]")
    refused(project, "experiments/rates.yaml:7: baseline 'weight_svd' is not run by sweep thm31_r "
                     "(conf/experiment/thm31_r.yaml runs ['data_svd'])")


def test_a_sweep_may_list_the_baselines_it_runs(project):
    edit_sweep(project.root, "thm31_r", "[data_svd, weight_svd]", "[data_svd]")
    write_figure(project.root, "rates", FIGURE.replace(
        "sweeps: [thm31_n, thm31_N, thm31_r]",
        "sweeps: [thm31_n, thm31_N, {name: thm31_r, baselines: []}]"))
    reproduce_module.reproduce(skip_runs=True)


def test_sweeps_given_as_a_number_names_the_file(project):
    write_figure(project.root, "rates", FIGURE.replace("sweeps: [thm31_n, thm31_N, thm31_r]", "sweeps: 5")
                 .replace('paper:\n  thm31_n: {n: "100,200", seed: "range(2)"}\n', ""))
    refused(project, "experiments/rates.yaml:8: sweeps must be a list of sweep names")


def test_a_rate_the_models_do_not_declare_is_refused_before_any_sweep(project):
    write_figure(project.root, "rates", FIGURE.replace("rate: rate_thm31", "rate: rate_thm99"))
    refused(project, "experiments/rates.yaml:5: rate 'rate_thm99' is not a column of sweep "
                     "thm31_n's rows; their model 'strong' declares ['dof_thm31', 'rate_sqrt', "
                     "'rate_thm31', 'reference_asymptotic']")


def test_a_paper_grid_out_of_range_is_refused_at_any_scale(project):
    write_figure(project.root, "rates", FIGURE.replace('{n: "100,200"', '{n: "-16"'))
    refused(project, "experiments/rates.yaml:10: n must be >= 1, got -16 (paper grid of "
                     "experiments/rates.yaml)")


def test_an_experiment_name_other_than_the_file_name_is_refused(project):
    edit_sweep(project.root, "thm31_N", "experiment_name: thm31_N", "experiment_name: thm31_NN")
    refused(project, "experiments/rates.yaml:8: sweep 'thm31_N' would have no rows: "
                     "conf/experiment/thm31_N.yaml:7 writes them under experiment_name "
                     "['thm31_NN']; experiment_name must equal the file name 'thm31_N'")


def test_an_unknown_parameter_of_a_sweep_file_names_it(project):
    edit_sweep(project.root, "thm31_r", "sigma: 1.0\n", "sigma: 1.0\nsigmaa: 2.0\n")
    edit_sweep(project.root, "thm31_N", "      N: 10,", "      NN: 1,2\n      N: 10,")
    message = refused(project, "conf/experiment/thm31_r.yaml:15: unknown key sigmaa; did you "
                               "mean sigma? (at every point of the grid)")
    assert "conf/experiment/thm31_N.yaml:18: unknown parameter 'NN'; this sweep's parameters: " \
        "['N', 'blas_threads', 'd', 'delta', 'design', 'estimator', 'experiment_name'" in message
    assert "+NN" not in message  # not Hydra's suggestion, which the sweeper would refuse


def test_every_problem_of_every_file_in_one_message_with_lines_not_tracebacks(project):
    """A YAML syntax error and an out-of-range value in the third sweep, a bad figure file:
    all in one message, before the first sweep (before: the first two sweeps ran)."""
    edit_sweep(project.root, "thm31_r", "      r: 1,2,4,8,16,32", "      r: -2,1,2")
    edit_sweep(project.root, "thm31_N", "sigma: 1.0", "sigma: [1.0")
    write_figure(project.root, "broken", "figure: broken\ntitle: [unclosed\n")
    message = refused(project, "conf/experiment/thm31_r.yaml:21: r must be >= 1 and <= 100, "
                               "got -2 (at r=-2)",
                      "conf/experiment/thm31_N.yaml:15: YAML syntax error",
                      "experiments/broken.yaml:3: YAML syntax error")
    assert message.startswith("3 problems in the definitions")
    assert "Traceback" not in message and "yaml.scanner" not in message


def test_only_checks_every_figure_too(project):
    write_figure(project.root, "other", FIGURE.replace("figure: rates", "figure: other")
                 .replace("rate: rate_thm31", "rate: rate_thm99"))
    refused(project, "experiments/other.yaml:5: rate 'rate_thm99'", only=["rates"])


def test_the_command_prints_one_message_and_no_traceback(tmp_path):
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "experiments").mkdir()
    write_figure(tmp_path, "rates", FIGURE.replace("estimator: data_svd", "estimator: data_sdv"))
    proc = subprocess.run([sys.executable, "-m", "theory_check.reproduce", "--jobs", "1"],
                          cwd=tmp_path, env={**os.environ, ROOT_VARIABLE: str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "nothing was run" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "results" / "raw").exists()
