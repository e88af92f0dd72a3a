"""Stops: a signal to a sweep, or to the reproduction that started it, stops every process
under it within seconds, a SIGKILL included, and the same command then resumes.

The sweeps here draw their data with ``stop_plugins.paused_isotropic``, which waits
``THEORY_CHECK_TEST_PAUSE`` seconds per run: a batch of runs lasts far longer than the time a
stop is given, so a worker left running would still be there when the test looks, and the
machine's load matters little (the runs sleep). Every command starts in a session of its own,
whose processes the test finds through ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theory_check.results import load_results

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
#: Seconds each run of a stopped sweep sleeps: its batches (10 runs) last 20 s, and a worker
#: left running outlives STOP_WITHIN.
PAUSE = "2"
#: Seconds every process of a stopped command has to be gone in.
STOP_WITHIN = 12.0
RUNS = 40
GRID = [f"seed=range({RUNS})", "n=20", "d=10", "N=10",
        "r=2", "design=isotropic", "design._target_=stop_plugins.paused_isotropic"]


def env(pause: str = PAUSE) -> dict:
    return {**os.environ, "PYTHONPATH": str(TESTS), "THEORY_CHECK_TEST_PAUSE": pause}


def sweep_command(tmp_path: Path, launcher: str = "parallel") -> list[str]:
    return [sys.executable, "-m", "theory_check", "-m", "+experiment=thm31_n", *GRID,
            f"results_dir={tmp_path / 'raw'}", f"hydra.sweep.dir={tmp_path / 'out'}",
            f"hydra/launcher={launcher}", "jobs=2"]


def reproduce_command(tmp_path: Path) -> list[str]:
    """A process that runs one sweep as ``make reproduce-figures`` does (reproduce.run_sweep)."""
    code = ("import sys; from pathlib import Path; from theory_check.reproduce import run_sweep; "
            "run_sweep('thm31_n', sys.argv[1:], Path(sys.argv[1].split('=', 1)[1]).parent / 'raw', "
            "Path(sys.argv[1].split('=', 1)[1]).parent / 'logs', 2)")
    return [sys.executable, "-c", code, f"hydra.sweep.dir={tmp_path / 'out'}", *GRID]


def _default_sigint():
    """SIGINT as a terminal gives it (see tests/test_sweeps.py: a shell without job control
    starts background commands with SIGINT ignored, and it would stay ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def session_processes(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def wait_for(condition, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, what
        time.sleep(0.05)
    return time.monotonic() - start


@contextlib.contextmanager
def started(cmd: list[str], tmp_path: Path):
    """Start ``cmd`` in a new session; yield it once a run has stored its rows (the sweep and
    its workers run); kill whatever is left of the session at the end."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)
    folder = tmp_path / "raw" / "thm31_n"
    try:
        wait_for(lambda: proc.poll() is not None or any(folder.glob("*.parquet")), 120,
                 "no run finished in time")
        assert proc.poll() is None, proc.stderr.read().decode()
        # The sweep process and its two workers (and the reproduction, when it runs one).
        assert len(session_processes(proc.pid)) >= 3
        yield proc
    finally:
        for pid in session_processes(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()


def stopped_in(proc: subprocess.Popen, sig: int) -> float:
    """Send ``sig`` to ``proc`` alone; the seconds until no process of its session is left."""
    os.kill(proc.pid, sig)
    return wait_for(lambda: not session_processes(proc.pid), STOP_WITHIN,
                    f"processes left {STOP_WITHIN} s after {signal.Signals(sig).name}: "
                    f"{session_processes(proc.pid)}")


def assert_resumes(tmp_path: Path, stored_before: int) -> None:
    """The same sweep, run again (quickly), stores every row once, keeping those stored."""
    proc = subprocess.run(sweep_command(tmp_path), cwd=ROOT, env=env(pause="0"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{RUNS} runs: {stored_before} already in the results" in proc.stdout
    rows = load_results(tmp_path / "raw")
    assert len(rows) == 2 * RUNS and rows["key"].is_unique and set(rows["status"]) == {"ok"}


@pytest.mark.parametrize("sig", [
    pytest.param(signal.SIGTERM, id="SIGTERM"),
    # the parent-death path is also taken when the reproduction above it is killed (below)
    pytest.param(signal.SIGKILL, id="SIGKILL", marks=pytest.mark.slow),
])
def test_a_stopped_sweep_leaves_no_worker_running(tmp_path, sig):
    with started(sweep_command(tmp_path), tmp_path) as proc:
        stopped_in(proc, sig)
        assert proc.wait() == (128 + sig if sig == signal.SIGTERM else -sig)


@pytest.mark.slow
def test_a_stopped_submitit_sweep_leaves_no_job_running(tmp_path):
    with started(sweep_command(tmp_path, launcher="submitit_local"), tmp_path) as proc:
        stopped_in(proc, signal.SIGTERM)


@pytest.mark.parametrize("sig", [
    pytest.param(signal.SIGINT, id="SIGINT"),
    # SIGINT's code path, and the resume after it (the sweeps' own tests resume after kills)
    pytest.param(signal.SIGTERM, id="SIGTERM", marks=pytest.mark.slow),
    pytest.param(signal.SIGKILL, id="SIGKILL"),
])
def test_a_stopped_reproduction_stops_its_sweep_and_workers(tmp_path, sig):
    # The signal goes to the reproduction alone, as `kill <pid>` sends it: not to its sweep.
    with started(reproduce_command(tmp_path), tmp_path) as proc:
        stopped_in(proc, sig)
        code = proc.wait()
        message = proc.stderr.read().decode()
    if sig == signal.SIGKILL:
        assert code == -sig
        return
    assert code == 128 + sig, message
    assert "the same command resumes" in message
    (log,) = (tmp_path / "logs").glob(f"thm31_n.*.{proc.pid}.log")
    if sig == signal.SIGTERM:
        assert_resumes(tmp_path, load_results(tmp_path / "raw")["run_key"].nunique())


def test_each_reproduction_keeps_its_own_sweep_log(tmp_path):
    from theory_check.reproduce import run_sweep

    grid = ["seed=range(2)", "n=20", "d=10", "N=10", "r=2", f"hydra.sweep.dir={tmp_path / 'out'}"]
    for _ in range(2):  # the second used to write over the first's log
        run_sweep("thm31_n", grid, tmp_path / "raw", tmp_path / "logs", 1)
    logs = sorted((tmp_path / "logs").glob("thm31_n.*.log"), key=lambda p: p.stat().st_mtime_ns)
    assert len(logs) == 2
    assert "2 runs: 0 already in the results, 2 to run" in logs[0].read_text()
    assert "2 runs: 2 already in the results, 0 to run" in logs[1].read_text()
