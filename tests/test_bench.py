"""Every benchmark module keeps the ``run(out_dir)`` contract of ``make bench``; the quick ones
run at a tiny size and write their csv and markdown tables."""

import importlib
import inspect
import os
import pkgutil

import numpy as np
import pandas as pd
import pytest

import theory_check.bench as bench
from theory_check.bench import write_table

MODULES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def test_the_bench_package_has_its_modules():
    assert {"blas_threads", "convex", "convex_binding", "large", "relu", "svd", "sweep"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_has_run_taking_the_output_folder(name):
    run = importlib.import_module(f"theory_check.bench.{name}").run
    params = list(inspect.signature(run).parameters.values())
    assert params[0].name == "out_dir"
    # make bench calls run(out_dir) alone: every other parameter needs a default
    assert all(p.default is not inspect.Parameter.empty for p in params[1:])


def test_write_table_writes_the_csv_and_the_captioned_markdown(tmp_path):
    table = pd.DataFrame({"n": [10, 20], "seconds": [0.123456, 1.5]})
    write_table(tmp_path / "out", "speed", table, "# Speed")
    assert pd.read_csv(tmp_path / "out" / "speed.csv").equals(pd.DataFrame({"n": [10, 20], "seconds": [0.1235, 1.5]}))
    md = (tmp_path / "out" / "speed.md").read_text()
    caption, measured, body = md.split("\n\n", 2)
    assert caption == "# Speed" and body.startswith("|") and "0.123" in body and md.endswith("|\n")
    # the times are only comparable on one commit and machine: every table names both
    assert measured.startswith("Measured at commit ") and f"{os.cpu_count()} cores" in measured
    write_table(tmp_path / "out", "other", table, "# Other", body="custom body")
    assert (tmp_path / "out" / "other.md").read_text().endswith("\n\ncustom body\n")


@pytest.mark.parametrize("name, kwargs, csv", [
    ("svd", {"sizes": (60,), "repeats": 1}, "data_svd"),
    ("blas_threads", {"sizes": (60,), "repeats": 1}, "blas_threads"),
    ("convex_binding", {"sizes": (40,), "ranks": (2,), "seeds": (0,)}, "convex_binding"),
    ("large", {"sizes": (64,), "repeats": 1}, "large"),
])
def test_quick_benchmarks_run_at_a_tiny_size(tmp_path, name, kwargs, csv):
    table = importlib.import_module(f"theory_check.bench.{name}").run(tmp_path, **kwargs)
    assert len(table) >= 1
    assert len(pd.read_csv(tmp_path / f"{csv}.csv")) == len(table)
    assert "\n\n|" in (tmp_path / f"{csv}.md").read_text()  # a caption, then the table


def test_large_table_has_every_estimator_family_and_size_of_the_thm44_thm49_figures(tmp_path):
    large = importlib.import_module("theory_check.bench.large")
    sweeps = large.sweep_estimators()
    # The estimators come from the figure definitions, not from a list in the bench.
    assert sweeps["thm44_hadamard_n"] == sweeps["thm44_low_rank_n"] == [
        "convex_linear", "data_svd", "weight_svd"]
    assert sweeps["thm49_hadamard_n"] == sweeps["thm49_n"] == [
        "relu_mle", "convex_linear", "data_svd", "relu_nonconvex", "relu_em"]
    sizes = (24, 32)
    table = large.run(tmp_path, sizes=sizes, repeats=1)
    expected = {(family, name, n)
                for families, names in (
                    (("hadamard", "low_rank"), sweeps["thm44_hadamard_n"]),
                    (("relu_hadamard", "relu_low_rank"), sweeps["thm49_n"]))
                for family in families for name in names for n in sizes}
    got = list(zip(table["family"], table["estimator"], table["n = N = d"]))
    assert len(got) == len(set(got)) and set(got) == expected
    assert (table["svd_s"] > 0).all() and (table["time_s"] > 0).all()
    assert np.allclose(table["svds"], table["time_s"] / table["svd_s"])
    assert table["converged"].map(type).eq(bool).all()
    assert (table["certificate"] >= 0).all() and (table["iterations"] >= 0).all()
    targets = dict(zip(table["estimator"], table["target"]))
    assert targets["relu_em"] == 4 and targets["relu_mle"] == 3 and targets["data_svd"] == 1.5
    assert pd.isna(targets["weight_svd"])
    assert table["meets"].isna().all()  # the targets are judged from n = 1000 on
    written = pd.read_csv(tmp_path / "large.csv")
    assert len(written) == len(table) and "meets" in written


def test_large_table_judges_each_target_against_the_measured_svds(tmp_path, monkeypatch):
    large = importlib.import_module("theory_check.bench.large")
    monkeypatch.setattr(large, "TARGET_MIN_SIZE", 0)
    table = large.run(tmp_path, sizes=(16,), repeats=1, sweeps=("thm44_low_rank_n",))
    judged = table.set_index("estimator")
    for name in ("convex_linear", "data_svd"):
        assert judged.loc[name, "meets"] == (judged.loc[name, "svds"] <= judged.loc[name, "target"])
    assert judged.loc["weight_svd", "meets"] is None


def test_large_table_explains_each_missed_target_by_its_floor(tmp_path, monkeypatch):
    large = importlib.import_module("theory_check.bench.large")
    monkeypatch.setattr(large, "TARGET_MIN_SIZE", 0)
    # Every estimator misses an impossible target, and none misses an unreachable-to-miss one.
    monkeypatch.setattr(large, "TARGETS", {**large.TARGETS, "convex_linear": 0.0,
                                           "data_svd": float("inf")})
    large.run(tmp_path, sizes=(16,), repeats=1, sweeps=("thm44_low_rank_n",))
    text = (tmp_path / "large.md").read_text()
    assert f"**convex_linear** misses its target: {large.FLOORS['convex_linear']}" in text
    assert "**data_svd** misses" not in text
    assert set(large.TARGETS) <= set(large.FLOORS)


PAPER_LOG = """.venv/bin/python -m theory_check.reproduce --scale paper --jobs 2
[1/2] misspecification: Misspecified α and r̂
\rruns:  50%|#####     | 1/2\r
    done in 77 s
[2/2] thm31_rates: Theorem 3.1
    sweep 1/2 thm31_n
\rruns: 100%|##########| 2/2\r    sweep 1/2 thm31_n done in 20 s
    sweep 2/2 thm31_N
    sweep 2/2 thm31_N done in 29 s
    report built in 140 s
wrote results/paper/REPORT.md
"""


def test_the_paper_scale_table_accounts_for_the_whole_command():
    from theory_check.bench.paper_scale import tabulate

    table = tabulate(PAPER_LOG, seconds=200.0)
    assert table["step"].tolist()[:3] == ["(runner)", "thm31_n", "thm31_N"]
    assert table["figure"].tolist()[:3] == ["misspecification", "thm31_rates", "thm31_rates"]
    seconds = dict(zip(table["step"], table["seconds"]))
    assert seconds["analysis, figures and report"] == 140 - (77 + 20 + 29)
    assert seconds["whole command"] == 200
    assert table["seconds"].iloc[:-1].sum() == 200  # the steps add up to the command
    with pytest.raises(ValueError, match="report built"):
        tabulate(PAPER_LOG.replace("report built", "stopped"), seconds=200.0)


def test_make_bench_leaves_the_hour_long_paper_scale_out_unless_named(monkeypatch, tmp_path):
    from theory_check.bench import __main__ as bench_main

    ran = []
    for name in MODULES:
        module = importlib.import_module(f"theory_check.bench.{name}")
        monkeypatch.setattr(module, "run", lambda out_dir, name=name: ran.append(name) or pd.DataFrame())
    bench_main.main([])
    assert "paper_scale" not in ran and set(ran) == set(MODULES) - {"paper_scale"}
    ran.clear()
    bench_main.main(["--only", "paper_scale"])
    assert ran == ["paper_scale"]
