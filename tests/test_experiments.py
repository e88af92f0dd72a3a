"""Figure definitions are checked when loaded: every problem of every figure, before any run."""

import textwrap

import pytest

from theory_check import reproduce as reproduce_module
from theory_check.experiments import load_figures

GOOD = """
figure: good
title: a figure
theorem: "3.1"
theorem_title: Theorem 3.1
rate: rate_thm31
estimator: data_svd
sweeps: [thm31_n]
paper:
  thm31_n: {n: "100,200", seed: "range(2)"}
"""


def write(folder, name, text):
    (folder / f"{name}.yaml").write_text(textwrap.dedent(text))


def test_a_valid_definition_loads(tmp_path):
    write(tmp_path, "good", GOOD)
    assert [f.figure for f in load_figures(tmp_path)] == ["good"]


def test_every_problem_of_every_figure_is_reported_at_once(tmp_path):
    write(tmp_path, "a", GOOD.replace("figure: good", "figure: a")
          .replace("sweeps: [thm31_n]", "sweeps: [thm31_n, thm31_nn]")
          .replace('{n: "100,200"', '{nn: "100,200"'))
    write(tmp_path, "b", GOOD.replace("figure: good", "figure: b").replace(
        "paper:", 'plot: ratee\npaper:\n  thm31_sigma: {sigma: "1,2"}'))
    write(tmp_path, "c", GOOD.replace("figure: good", "figure: c").replace('"3.1"', '"9.9"')
          .replace("theorem_title: Theorem 3.1\n", ""))
    with pytest.raises(ValueError) as err:
        load_figures(tmp_path)
    message = str(err.value)
    assert "5 problems" in message
    assert "experiments/a.yaml:8: sweep 'thm31_nn' has no conf/experiment/thm31_nn.yaml" in message
    assert "experiments/a.yaml:10: paper: thm31_n: unknown key 'nn' (did you mean 'n'?)" in message
    assert "experiments/b.yaml:9: plot 'ratee' is not a plot kind; known: ['rate']" in message
    assert "experiments/b.yaml:11: paper: 'thm31_sigma' is not a sweep of this figure" in message
    assert "experiments/c.yaml:4: theorem '9.9' needs a theorem_title" in message


def test_a_group_parameter_must_exist_in_the_config_the_sweep_selects(tmp_path):
    write(tmp_path, "good", GOOD.replace("thm31_n", "thm49_alpha").replace("rate_thm31", "rate_thm49")
          .replace('"3.1"', '"4.9"').replace('n: "100,200"', 'model.alpah: "1,2"'))
    with pytest.raises(ValueError, match=r"unknown key 'model.alpah'; thm49_alpha accepts "
                                         r"\['model.alpha', 'model.family', 'model.name'\]"):
        load_figures(tmp_path)


def test_a_runner_that_cannot_be_imported_is_refused(tmp_path):
    write(tmp_path, "net", """
        figure: net
        title: t
        runner: theory_check.networks.experiment:run_nothing
    """)
    with pytest.raises(ValueError, match="runner 'theory_check.networks.experiment:run_nothing' "
                                         "cannot be imported"):
        load_figures(tmp_path)


def test_reproduce_runs_nothing_when_a_figure_is_invalid(tmp_path, monkeypatch):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "zbad", GOOD.replace("figure: good", "figure: zbad")
          .replace("paper:", "plot: nope\npaper:"))
    ran = []
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", tmp_path)
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "run_sweep", lambda *a, **k: ran.append(a))
    with pytest.raises(ValueError, match="plot 'nope'"):
        reproduce_module.reproduce(only=["good"])
    assert ran == []


def test_figures_of_one_theorem_must_agree_on_its_title(tmp_path):
    write(tmp_path, "a", GOOD.replace("figure: good", "figure: a"))
    write(tmp_path, "b", GOOD.replace("figure: good", "figure: b").replace(
        "theorem_title: Theorem 3.1", "theorem_title: Theorem 3.1 again"))
    with pytest.raises(ValueError, match="theorem_title 'Theorem 3.1 again' differs from "
                                         "'Theorem 3.1' of experiments/a.yaml"):
        load_figures(tmp_path)


def test_a_runner_figure_names_its_report_section(tmp_path):
    write(tmp_path, "net", """
        figure: net
        title: t
        runner: theory_check.networks.experiment:run_digits
    """)
    with pytest.raises(ValueError, match="experiments/net.yaml:4: a runner figure needs a section"):
        load_figures(tmp_path)
