"""Clean stops across the processes of a reproduction: reproduce → sweep → launcher workers.

Three mechanisms, so that no process of a stopped command goes on computing:

* **Stop signals become an interrupt.** :func:`interrupt_on_signals` makes SIGTERM (and SIGHUP)
  raise :class:`KeyboardInterrupt` in the main thread, as SIGINT does, so the code that stops
  the workers on Ctrl-C runs for ``kill`` too. Later signals are ignored while that cleanup
  runs (a terminal's Ctrl-C reaches the whole process group, then the parent forwards SIGTERM).
  A signal the process was started with ignored (``nohup``; background commands of a shell
  without job control ignore SIGINT) stays ignored.
* **Parents name themselves to their children.** A process that starts workers sets
  ``THEORY_CHECK_PARENT=<host>:<pid>:<start>`` in its environment (:func:`adopt_children`);
  code running in such a child calls :func:`watch_parent`, a thread that notices within
  :data:`WATCH_INTERVAL` seconds when that parent is gone, even killed by SIGKILL, and stops
  the child: SIGTERM to itself (its own clean stop), then ``os._exit`` after :data:`GRACE`
  seconds. A process on another host (a SLURM job) does not watch: batch jobs there are meant
  to outlive the command that queued them.
* **A parent-death signal** (Linux ``prctl(PR_SET_PDEATHSIG)``), set by :func:`start` in the
  sweep processes ``reproduce`` starts, stops them at once when ``reproduce`` dies.

A process killed part-way through a run loses only that run: each run's rows are written
atomically (:mod:`theory_check.results`), so the next run of the same command resumes.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

#: Environment variable naming the process the children of this one should watch.
PARENT_ENV = "THEORY_CHECK_PARENT"
#: Seconds between two checks of the watched parent.
WATCH_INTERVAL = 0.5
#: Seconds a stopping process has to exit by itself before it is killed.
GRACE = 5.0
#: Signals that stop a command the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``), or None
    when it does not exist, is a zombie, or there is no ``/proc``. With the pid it names one
    process: a pid reused by a later process has another start."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent: already gone
        return None
    return int(fields[19])


def is_alive(pid: int, ticks: int | None = None) -> bool:
    """Whether process ``pid`` of this host runs (and, with ``ticks``, is the one that started
    then, not a later process given the same pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    now = start_ticks(pid)
    if now is None:
        return not Path("/proc/self/stat").exists()  # no /proc: trust kill(0)
    return ticks is None or now == ticks


def host() -> str:
    return socket.gethostname()


def identity(pid: int | None = None) -> str:
    """``<host>:<pid>:<start ticks>`` of this process (or ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{host()}:{pid}:{start_ticks(pid) or ''}"


def adopt_children() -> None:
    """Name this process, in the environment its future children inherit, as the parent they
    watch (:func:`watch_parent`)."""
    os.environ[PARENT_ENV] = identity()


_watching: threading.Thread | None = None


def _stop_self(reason: str) -> None:
    """SIGTERM to this process when that stops it (the default action, or the clean stop of
    :func:`interrupt_on_signals`), and exit after :data:`GRACE` seconds if it did not; exit at
    once when SIGTERM is handled otherwise (submitit's jobs only log it)."""
    print(f"theory_check: {reason}; stopping process {os.getpid()}", file=sys.stderr, flush=True)
    handler = signal.getsignal(signal.SIGTERM)
    if handler == signal.SIG_DFL or getattr(handler, "stops_cleanly", False):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE)
    os._exit(128 + signal.SIGTERM)


def watch_parent() -> bool:
    """Stop this process when the parent named by :data:`PARENT_ENV` is gone.

    Does nothing (and returns False) when the variable is unset, names this process or a
    process on another host, or a watch already runs. Otherwise starts a daemon thread that
    checks every :data:`WATCH_INTERVAL` s; the direct parent is checked by ``getppid`` (it
    changes when the parent dies, whoever adopts the child), another by its pid and start.
    """
    global _watching
    named = os.environ.get(PARENT_ENV)
    if not named or (_watching is not None and _watching.is_alive()):
        return False
    name, _, rest = named.partition(":")
    pid_text, _, ticks_text = rest.partition(":")
    try:
        pid, ticks = int(pid_text), int(ticks_text) if ticks_text else None
    except ValueError:
        return False
    if name != host() or pid == os.getpid():
        return False
    direct = os.getppid() == pid

    def gone() -> bool:
        return os.getppid() != pid if direct else not is_alive(pid, ticks)

    def watch() -> None:
        while not gone():
            time.sleep(WATCH_INTERVAL)
        _stop_self(f"parent process {pid} is gone")

    _watching = threading.Thread(target=watch, name="watch-parent", daemon=True)
    _watching.start()
    return True


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) raised as an interrupt; ``signum`` names it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interrupt_on_signals():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main
    thread (once: later ones are ignored until the block ends, so the cleanup they started is
    not itself interrupted). Signals whose handler is not the default one (ignored ones
    included) are left alone. Must be entered in the main thread."""
    received: list[int] = []

    def handler(signum, frame):
        if received:
            return
        received.append(signum)
        raise Interrupted(signum)

    handler.stops_cleanly = True

    previous = {}
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_status(exc: BaseException) -> int:
    """The shell's exit status for a command stopped by ``exc``: 128 + the signal number."""
    return 128 + getattr(exc, "signum", signal.SIGINT)


def _parent_death_signal():
    """A function that, called in a child between fork and exec, makes the kernel send it
    SIGTERM when this process dies (Linux ``prctl``); None elsewhere. Looked up here, in the
    parent: a forked child should run as little as possible before exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd)`` for a child that stops when this process is gone: it gets
    SIGTERM when this process dies (parent-death signal), and its code watches this process
    (:data:`PARENT_ENV`). Call from the main thread: the parent-death signal follows the thread
    that started the child."""
    env = {**(kwargs.pop("env", None) or os.environ), PARENT_ENV: identity()}
    return subprocess.Popen(cmd, env=env, preexec_fn=_parent_death_signal(), **kwargs)


def stop(proc: subprocess.Popen, grace: float = GRACE) -> int:
    """Stop a child started by :func:`start`: SIGTERM (its clean stop), SIGKILL after ``grace``
    seconds; return its exit code. Its own children watch it and stop with it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def new_log(folder: Path, name: str) -> tuple[Path, TextIO]:
    """A new log file ``<folder>/<name>.<UTC time>.<pid>.log``, opened for writing, and its
    path: one per process and start, so that commands running at once never share one."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{name}.{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.{os.getpid()}"
    for i in itertools.count():  # the same name again within a second, in this process
        path = folder / (f"{stem}.log" if i == 0 else f"{stem}.{i}.log")
        with contextlib.suppress(FileExistsError):
            return path, path.open("x")
