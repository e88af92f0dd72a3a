"""Issue 24.2, 24.3, 24.5: the report set is published whole, partial rebuilds keep the rest,
``make clean`` keeps tracked files.

A tiny project (a copy of conf/, two figures over thm31_n and thm31_N) with synthetic stored
rows stands for the results; nothing here runs a sweep.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from theory_check import paths
from theory_check import reproduce as reproduce_module
from theory_check.paths import REPO_ROOT, ROOT_VARIABLE
from theory_check.results import write_rows_atomic

FIGURES = {
    "fig_a": """
        figure: fig_a
        title: "Figure A"
        theorem: "3.1"
        theorem_title: "Theorem 3.1"
        rate: rate_thm31
        estimator: data_svd
        baselines: [weight_svd]
        sweeps: [thm31_n]
    """,
    "fig_b": """
        figure: fig_b
        title: "Figure B"
        theorem: "3.1"
        theorem_title: "Theorem 3.1"
        rate: rate_thm31
        estimator: data_svd
        baselines: [weight_svd]
        sweeps: [thm31_N]
    """,
}
SET = ["REPORT.md", "verdicts.csv", "tables/points.csv", "tables/provenance.csv",
       "tables/rows.csv.gz", "figures/fig_a.png", "figures/fig_b.png"]


def store_rows(root: Path, sweep: str, varied: str, factor: float = 2.0) -> None:
    """data_svd's MSE is factor/x times a seed's scatter, weight_svd's about 0.5."""
    for x in (100, 200, 400, 800, 1600):
        for seed in range(3):
            scatter = 1.0 + (seed - 1) / 7.0 + x / 3e5  # numbers whose digits do not end early
            for est, mse in (("data_svd", factor / x * scatter), ("weight_svd", 0.5 * scatter)):
                key = f"{x}-{seed}-{est}-{factor}"
                write_rows_atomic(root / "results" / "raw" / sweep / f"{key}.parquet", [{
                    "experiment_name": sweep, "sweep": varied, varied: x, "seed": seed,
                    "estimator": est, "key": key, "status": "ok", "message": "", "mse": mse,
                    "rate_thm31": 1.0 / x, "git_commit": "abc", "version": "0.1.0"}])


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "experiments").mkdir()
    for name, text in FIGURES.items():
        (tmp_path / "experiments" / f"{name}.yaml").write_text(textwrap.dedent(text))
    monkeypatch.setattr(paths, "CONFIG_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", tmp_path / "experiments")
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "run_sweep", lambda *a: (_ for _ in ()).throw(
        AssertionError("a sweep was started")))
    store_rows(tmp_path, "thm31_n", "n")
    store_rows(tmp_path, "thm31_N", "N")
    reproduce_module.reproduce(skip_runs=True)
    return tmp_path


def published(root: Path) -> dict[str, bytes | None]:
    return {rel: (root / "results" / rel).read_bytes() if (root / "results" / rel).exists()
            else None for rel in SET}


def assert_one_set(root: Path) -> None:
    """REPORT.md states the rows of the provenance table it was published with, and the
    verdicts are those of these rows."""
    from theory_check.report import set_digest

    results = root / "results"
    provenance = pd.read_csv(results / "tables" / "provenance.csv")
    report = (results / "REPORT.md").read_text()
    assert f"{provenance['rows'].sum()} result rows (digest {set_digest(provenance)})" in report
    verdicts = pd.read_csv(results / "verdicts.csv")
    counted = verdicts.groupby("sweep")[["n_ok", "n_error", "n_not_converged"]].sum().sum(axis=1)
    assert counted.to_dict() == provenance.groupby("sweep")["rows"].sum().to_dict()
    for rel in SET:
        if rel.endswith(".png"):
            assert (results / rel).read_bytes()[:4] == b"\x89PNG" and (results / rel).stat().st_size > 1000
    assert not list(results.glob(".staging-*"))


# 24.3 ------------------------------------------------------------------------------------

def test_a_fresh_clone_rebuild_keeps_every_published_section(project, capsys):
    before = published(project)
    report = before["REPORT.md"].decode()
    shutil.rmtree(project / "results" / "raw")  # a fresh clone: the raw tables are not committed

    reproduce_module.reproduce(skip_runs=True)
    after = published(project)
    assert after["verdicts.csv"] == before["verdicts.csv"]
    assert after["figures/fig_b.png"] == before["figures/fig_b.png"]
    text = after["REPORT.md"].decode()
    assert "No rows" not in text
    body = lambda t: t[t.index("## Summary"):]  # noqa: E731
    assert body(text) == body(report)  # every section as it was; the header says what was kept
    assert "This run rebuilt no sweep figure; 2 sweep figures were kept" in text
    assert "drew 0 sweep figures (none), kept 2 as they were (fig_a, fig_b)" in capsys.readouterr().out

    with pytest.raises(ValueError, match=r"no stored rows .* for fig_a: sweeps "
                                                       r"\['thm31_n'\]"):
        reproduce_module.reproduce(only=["fig_a"], skip_runs=True)
    assert published(project) == after


def test_only_rebuilds_its_figure_and_keeps_the_others(project, monkeypatch, capsys):
    before = published(project)
    shutil.rmtree(project / "results" / "raw")
    # the sweep of fig_a runs again (a new commit's rows: MSE 3/n instead of 2/n)
    monkeypatch.setattr(reproduce_module, "run_sweep",
                        lambda sweep, *a: store_rows(project, sweep, "n", factor=3.0))
    reproduce_module.reproduce(only=["fig_a"])
    after = published(project)
    old, new = (pd.read_csv(io.BytesIO(t["verdicts.csv"]), dtype=str) for t in (before, after))
    pd.testing.assert_frame_equal(new[new["figure"] == "fig_b"].reset_index(drop=True),
                                  old[old["figure"] == "fig_b"].reset_index(drop=True))
    a_old, a_new = (v.set_index(["figure", "estimator"]).loc[("fig_a", "data_svd"), "constant"]
                    for v in (old, new))
    assert float(a_new) / float(a_old) == pytest.approx(1.5)
    assert after["figures/fig_b.png"] == before["figures/fig_b.png"]
    assert after["figures/fig_a.png"] != before["figures/fig_a.png"]
    text = after["REPORT.md"].decode()
    assert "### Figure B\n\n![fig_b](figures/fig_b.png)" in text and "No rows" not in text
    assert "This run rebuilt fig_a; 1 sweep figures were kept" in text
    assert "drew 1 sweep figures (fig_a), kept 1 as they were (fig_b)" in capsys.readouterr().out
    assert_one_set(project)
    # The compact rows (what theory-check-diff reads in a clone) keep fig_b's rows bit for bit
    # and replace fig_a's.
    rows = {k: pd.read_csv(io.BytesIO(t["tables/rows.csv.gz"]), compression="gzip")
            for k, t in (("old", before), ("new", after))}
    for name, rows_ in rows.items():
        assert len(rows_) == 60 and set(rows_["experiment_name"]) == {"thm31_n", "thm31_N"}
    keep = {k: r[r["experiment_name"] == "thm31_N"].reset_index(drop=True) for k, r in rows.items()}
    pd.testing.assert_frame_equal(keep["new"], keep["old"])
    ratio = (rows["new"].set_index("key").loc[lambda r: r["experiment_name"] == "thm31_n", "mse"].sum()
             / rows["old"].set_index("key").loc[lambda r: r["experiment_name"] == "thm31_n", "mse"].sum())
    assert ratio != 1.0


def test_a_figure_without_rows_is_not_embedded(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "experiments").mkdir()
    for name, text in FIGURES.items():
        (tmp_path / "experiments" / f"{name}.yaml").write_text(textwrap.dedent(text))
    (tmp_path / "results" / "figures").mkdir(parents=True)
    (tmp_path / "results" / "figures" / "fig_b.png").write_bytes(b"\x89PNG an old figure")
    monkeypatch.setattr(paths, "CONFIG_ROOT", tmp_path)
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS_DIR", tmp_path / "experiments")
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    store_rows(tmp_path, "thm31_n", "n")
    reproduce_module.reproduce(skip_runs=True)
    report = (tmp_path / "results" / "REPORT.md").read_text()
    assert "### Figure B\n\nNo rows: the sweeps of this figure have not run." in report
    assert "![fig_b]" not in report and "![fig_a](figures/fig_a.png)" in report


# 24.2 ------------------------------------------------------------------------------------

KILLERS = {
    # SIGKILL in the middle of writing a figure
    "figure": """
        def killer(fig, points, verdicts, path):
            path.write_bytes(b"\\x89PNG half a figure")
            os.kill(os.getpid(), signal.SIGKILL)
        reproduce.PLOTS["rate"] = killer
    """,
    # SIGKILL once verdicts.csv, the tables and REPORT.md are written
    "report": """
        write = reproduce.write_report
        def killer(path, **kwargs):
            write(path, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        reproduce.write_report = killer
    """,
    # SIGKILL while the new set is moved into place: after the commit point and two files
    "publish": """
        real, calls = os.replace, []
        def replace(source, target):
            real(source, target)
            if ".staging-" in str(source):
                calls.append(target)
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace
    """,
}


def killed_reproduce(root: Path, moment: str) -> subprocess.CompletedProcess:
    script = "import os, signal\nfrom theory_check import reproduce\n" + textwrap.dedent(
        KILLERS[moment]) + "reproduce.main(['--skip-runs', '--jobs', '1'])\n"
    return subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, env={**os.environ, ROOT_VARIABLE: str(root)}, timeout=300)


@pytest.mark.parametrize("moment", ["figure", "report"])
def test_a_kill_while_building_leaves_the_published_set_as_it_was(project, moment):
    before = published(project)
    store_rows(project, "thm31_n", "n", factor=2.5)  # new rows: the next set differs
    proc = killed_reproduce(project, moment)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert published(project) == before
    assert list((project / "results").glob(".staging-*"))  # the unfinished build, not published

    reproduce_module.reproduce(skip_runs=True)  # deletes it and publishes the new set
    assert published(project)["verdicts.csv"] != before["verdicts.csv"]
    assert "90 result rows (digest" in published(project)["REPORT.md"].decode()
    assert_one_set(project)


def test_a_kill_while_publishing_is_finished_by_the_next_command(project):
    before = published(project)
    store_rows(project, "thm31_n", "n", factor=2.5)
    proc = killed_reproduce(project, "publish")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert published(project) != before  # two files moved: a mix, until recovered
    from theory_check.publish import recover

    notes = recover(project / "results")  # what the next reproduce does first
    assert len(notes) == 1 and notes[0].startswith("finished publishing")
    assert_one_set(project)
    assert published(project)["verdicts.csv"] != before["verdicts.csv"]


# 24.5 ------------------------------------------------------------------------------------

def test_make_clean_removes_untracked_outputs_only(tmp_path):
    """Run the Makefile's clean recipe in a git repository holding every tracked file of
    results/ (empty copies): none is deleted, the untracked outputs are."""
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert "results/tables/points.csv" in tracked
    for rel in tracked:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("tracked\n")
    shutil.copy(REPO_ROOT / "Makefile", tmp_path / "Makefile")
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, capture_output=True,  # noqa: E731
                                    text=True, check=True).stdout
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tracked")
    outputs = [".venv/bin/python", "outputs/run/x.log", "results/raw/thm31_n/a.parquet",
               "results/logs/thm31_n.log", "results/tables/results.parquet",
               "results/paper/raw/x/a.parquet", "results/paper/tables/results.parquet",
               "results/.staging-123/REPORT.md", ".pytest_cache/v", ".hypothesis/x",
               "theory_check/__pycache__/a.pyc"]
    for rel in outputs:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("output\n")
    subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, check=True)
    assert git("status", "--porcelain", "--untracked-files=all") == ""
    assert not [rel for rel in outputs if (tmp_path / rel).exists()]


RUNNER = '''
from pathlib import Path


def run(scale, results_root, jobs):
    root = Path(results_root)
    (root / "raw" / "runner_rows.txt").write_text("rows")  # the real raw/, linked
    (root / "tables").mkdir(exist_ok=True)
    (root / "tables" / "runner.csv").write_text("a\\n1\\n")
    (root / "figures").mkdir(exist_ok=True)
    (root / "figures" / "runner.png").write_bytes(b"\\x89PNG runner")
    return "### Runner\\n\\nthe runner's section"
'''


def test_a_runner_figure_is_published_with_the_set(project, monkeypatch, capsys):
    (project / "plugins").mkdir()
    (project / "plugins" / "my_runner.py").write_text(RUNNER)
    monkeypatch.syspath_prepend(str(project / "plugins"))
    (project / "experiments" / "runner.yaml").write_text(
        "figure: runner\ntitle: R\nrunner: my_runner:run\nsection: Runners\n")
    reproduce_module.reproduce(only=["runner"])
    results = project / "results"
    assert (results / "raw" / "runner_rows.txt").read_text() == "rows"
    assert (results / "tables" / "runner.csv").exists() and (results / "figures" / "runner.png").exists()
    assert (results / "sections" / "runner.md").read_text().endswith("the runner's section")
    assert "## Runners\n\n### Runner\n\nthe runner's section" in (results / "REPORT.md").read_text()
    assert "drew 0 sweep figures (none) and 1 runner figures (runner), kept 2" in capsys.readouterr().out
    assert not list(results.glob(".staging-*")) and (results / "raw").is_dir()
    assert not (results / "raw").is_symlink()
