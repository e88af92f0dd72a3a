"""The paper scale as a user gets it: ``make reproduce-figures SCALE=paper`` in a fresh clone.

The whole command is timed, the virtual environment's creation and install included, and the
time of each runner figure and sweep, and of the analysis and report, is read from the
command's own output. About an hour on 2 cores, so not part of ``make bench``'s default set:
``python -m theory_check.bench --only paper_scale``. A run already made with that command is
tabulated from its output with ``python -m theory_check.bench.paper_scale --log FILE
--seconds S --commit SHA``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from . import write_table
from ..paths import REPO_ROOT

#: Not run by a plain ``make bench``: it takes an hour.
BY_DEFAULT = False
COMMAND = "make reproduce-figures SCALE=paper"

_FIGURE = re.compile(r"^\[(\d+)/(\d+)\] (\S+):")
_RUNNER_DONE = re.compile(r"^\s+done in (\d+) s")
_SWEEP_DONE = re.compile(r"^\s+sweep \d+/\d+ (\S+) done in (\d+) s")
_BUILT = re.compile(r"^\s+report built in (\d+) s")


def tabulate(log: str, seconds: float) -> pd.DataFrame:
    """The steps of one ``make reproduce-figures`` output (progress bars' carriage returns
    allowed) and their seconds: each runner figure and sweep, the analysis and report after
    them, what lies outside the build (the install, the definitions' check, the publication)
    and the whole command, ``seconds``."""
    steps, figure, built = [], None, None
    for line in log.replace("\r", "\n").splitlines():
        if match := _FIGURE.match(line):
            figure = match.group(3)
        elif match := _SWEEP_DONE.match(line):
            steps.append((figure, match.group(1), float(match.group(2))))
        elif match := _RUNNER_DONE.match(line):
            steps.append((figure, "(runner)", float(match.group(1))))
        elif match := _BUILT.match(line):
            built = float(match.group(1))
    if built is None:
        raise ValueError("log: no 'report built in' line; the command did not finish its build")
    table = pd.DataFrame(steps, columns=["figure", "step", "seconds"])
    extra = pd.DataFrame([
        ("", "analysis, figures and report", built - table["seconds"].sum()),
        ("", "outside the build (venv and install, definitions checked, publication)",
         seconds - built),
        ("", "whole command", seconds),
    ], columns=table.columns)
    table = pd.concat([table, extra], ignore_index=True)
    table["minutes"] = table["seconds"] / 60
    return table


def write(out_dir, table: pd.DataFrame, commit: str) -> pd.DataFrame:
    total = table["seconds"].iloc[-1]
    caption = (f"Paper scale, whole command: `{COMMAND}` in a fresh clone (`git clone`, then the "
               f"command: the virtual environment is created and installed by it), 2 cores, "
               f"nothing else running; steps' seconds as the command prints them, rounded to "
               f"the second. Total **{total / 60:.1f} min** (target: 60). `python -m "
               f"theory_check.bench --only paper_scale`:")
    write_table(out_dir, "paper_scale", table, caption, commit=commit)
    return table


def run(out_dir) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="paper-scale-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True,
                                capture_output=True, text=True).stdout.strip()
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        start = time.perf_counter()
        done = subprocess.run(COMMAND.split(), cwd=clone, env=env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{COMMAND} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return write(out_dir, tabulate(done.stdout, seconds), commit)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Tabulate a paper-scale run already made "
                                     f"with `{COMMAND}` in a fresh clone.")
    parser.add_argument("--log", type=Path, required=True, help="the command's output")
    parser.add_argument("--seconds", type=float, required=True,
                        help="the whole command's wall time")
    parser.add_argument("--commit", required=True, help="the clone's commit")
    args = parser.parse_args(argv)
    table = write(REPO_ROOT / "results" / "bench", tabulate(args.log.read_text(), args.seconds),
                  args.commit)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
