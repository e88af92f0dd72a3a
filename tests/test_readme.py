"""The README holds in a clone: its links resolve inside the repository, its results table says
what ``results/verdicts.csv`` says, and its command examples print what it shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_relative_link_resolves_inside_the_repository():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links its report, figures and docs"
    for target in local:
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT), f"{target} points outside the repository"
        assert path.exists(), f"{target} does not exist"


def test_no_commit_hashes_in_the_prose():
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    hashes = [w for w in re.findall(r"\b[0-9a-f]{7,40}\b", prose) if re.search(r"[a-f]", w)
              and re.search(r"\d", w)]
    assert not hashes, f"commit hashes belong in CHANGELOG.md: {hashes}"


def test_the_results_at_a_glance_are_those_of_the_committed_verdicts():
    table = README.split("<!-- at-a-glance -->")[1].split("<!-- /at-a-glance -->")[0]
    rows = [line.split("|")[1:-1] for line in table.strip().splitlines()[2:]]
    verdicts = pd.read_csv(ROOT / "results" / "verdicts.csv", dtype={"theorem": str})
    own = verdicts[verdicts["role"] == "estimator"]
    assert sorted(r[0].strip() for r in rows) == sorted(own["theorem"].unique())
    for theorem, sweeps, statuses, _ in rows:
        mine = own[own["theorem"] == theorem.strip()]
        assert int(sweeps) == len(mine)
        counted = dict(item.rsplit(" ", 1) for item in statuses.strip().split(", "))
        assert {k: int(v) for k, v in counted.items()} == mine["status"].value_counts().to_dict()


def example(command: str) -> list[str]:
    """The lines the README shows under ``$ <command>``, without the elided ones (…)."""
    block = README.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if "…" not in line]


def normalized(line: str) -> str:
    """A shown line with what changes from run to run (wall time, the sweep folder's time)
    taken out, and the columns' padding collapsed."""
    if line.startswith(("data_svd ", "weight_svd ")) and line.split()[5:6] == ["ok"]:
        line = " ".join(line.split()[:-1])  # the last column is the wall time
    line = re.sub(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d|<time>", "<time>", line)
    return " ".join(line.split())


def theory_check(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "theory_check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("command", [
    "theory-check n=400 d=100 N=100 r=5 sigma=0.5 design=condition_number design.kappa=1e3",
    "theory-check -m +experiment=thm31_n 'n=100,200,400' 'seed=range(3)'",
])
def test_the_command_examples_print_what_the_readme_shows(tmp_path, command):
    args = [a.strip("'") for a in command.split()[1:]]
    printed = [normalized(line) for line in theory_check(tmp_path, *args).splitlines()]
    shown = example(command)
    assert len(shown) >= 8
    for line in shown:
        assert normalized(line) in printed, f"the README shows {line!r}; the command printed:\n" \
                                            + "\n".join(printed)
