"""Claims: two sweeps of the same runs at once compute each run once and both end with every
row; a claim whose owner is gone is taken over; the resume message counts rows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theory_check import processes
from theory_check.results import STALE_CLAIM_AGE, UNREADABLE_CLAIM_AGE, claim_path, claim_run, load_results

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SMALL = ["n=20", "d=10", "N=10", "r=2"]


def write_claim(path: Path, **owner) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "time": time.time(), **owner}))


def exited_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_run_claimed_by_a_live_process_is_left_to_it(tmp_path, sleeper):
    taken, free = tmp_path / "exp" / "taken.parquet", tmp_path / "exp" / "free.parquet"
    write_claim(claim_path(taken), pid=sleeper.pid, start=processes.start_ticks(sleeper.pid))
    with claim_run(taken) as held_taken, claim_run(free) as held_free:
        assert (held_taken, held_free) == (False, True)
        assert json.loads(claim_path(free).read_text())["pid"] == os.getpid()
    # Released when the block ends; the other process's claim is untouched.
    assert not claim_path(free).exists()
    assert json.loads(claim_path(taken).read_text())["pid"] == sleeper.pid


@pytest.mark.parametrize("owner", [
    pytest.param(lambda: {"pid": exited_pid()}, id="dead-pid"),
    pytest.param(lambda: {"pid": os.getpid(), "start": processes.start_ticks(os.getpid()) + 1},
                 id="pid-reused-by-a-later-process"),
])
def test_a_claim_whose_owner_is_gone_is_taken_over(tmp_path, owner):
    run_file = tmp_path / "exp" / "run.parquet"
    write_claim(claim_path(run_file), **owner())
    with claim_run(run_file) as held:
        assert held
        assert json.loads(claim_path(run_file).read_text())["pid"] == os.getpid()
    assert not claim_path(run_file).exists()


@pytest.mark.parametrize("content, age", [('{"host": "elsewhere", "pid": 1}', STALE_CLAIM_AGE),
                                          ("", UNREADABLE_CLAIM_AGE)],
                         ids=["other-host", "cut-short"])
def test_a_claim_that_cannot_be_checked_is_stale_only_when_not_refreshed(tmp_path, content, age):
    run_file = tmp_path / "exp" / "run.parquet"
    path = claim_path(run_file)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with claim_run(run_file) as held:
        assert not held
    old = time.time() - age - 1
    os.utime(path, (old, old))
    with claim_run(run_file) as held:
        assert held


def sweep(tmp_path: Path, *overrides: str, pause: str = "0", draws: Path | None = None):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "THEORY_CHECK_TEST_PAUSE": pause,
           "THEORY_CHECK_TEST_DRAWS": str(draws or "")}
    cmd = [sys.executable, "-m", "theory_check", "-m", *SMALL, "design=isotropic",
           "design._target_=stop_plugins.paused_isotropic", f"results_dir={tmp_path / 'raw'}",
           f"hydra.sweep.dir={tmp_path / 'out'}", *overrides]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_two_identical_sweeps_at_once_compute_each_run_once(tmp_path):
    runs, draws = 16, tmp_path / "draws.txt"
    grid = [f"seed=range({runs})"]
    first = sweep(tmp_path, *grid, pause="0.5", draws=draws)
    # The second starts once the first has stored a run, so that both have runs left to do.
    deadline = time.monotonic() + 120
    while not list((tmp_path / "raw" / "adhoc").glob("*.parquet")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = sweep(tmp_path, *grid, pause="0.5", draws=draws)
    outs = [proc.communicate(timeout=300) for proc in (first, second)]
    assert first.returncode == second.returncode == 0, outs
    assert f"{runs} runs: 0 already" not in outs[1][0], "the second sweep should start later"
    rows = load_results(tmp_path / "raw")
    assert len(rows) == 2 * runs and rows["key"].is_unique and set(rows["status"]) == {"ok"}
    # Each run's data were drawn once, by one of the two sweeps.
    assert len(draws.read_text().split()) == runs
    assert not list((tmp_path / "raw" / "adhoc" / ".claims").glob("*.claim"))


def test_the_resume_message_counts_the_rows_to_compute(tmp_path):
    assert sweep(tmp_path, "seed=range(3)", "estimator=[data_svd]").wait(timeout=300) == 0
    out, err = sweep(tmp_path, "seed=range(3)").communicate(timeout=300)
    assert ("3 runs: 0 already in the results, 3 to run with BasicLauncher in 1 batches: "
            "3 rows to compute, 3 already stored") in out, err
    assert len(load_results(tmp_path / "raw")) == 6
