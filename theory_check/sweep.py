"""The multirun sweeper: validate every run first, skip finished runs, run the rest in batches,
show progress, stop cleanly.

:class:`Sweeper` is Hydra's basic sweeper (``key=a,b`` grids and ``hydra.sweeper.params``)
with six additions, all before or around the launcher, so they hold for every launcher
(basic, joblib, submitit):

* every configuration is composed (by :class:`Composer`: one Hydra composition per distinct set
  of config-group choices, not per run) and checked with :func:`theory_check.run.config_problems`
  before anything runs; problems stop the sweep with one message listing each distinct problem,
  how many configurations have it, and one of them; a sweep with no runs is a problem too, and
  so is a parameter the config does not have (:mod:`theory_check.overrides`);
* runs whose rows are all in the results are not launched (unless ``force=true``), so a
  killed sweep resumes at the cost of reading its finished files; the summary line counts the
  runs to launch and the rows to compute;
* the pending runs' resolved configs are written to batch files ``<sweep dir>/batches/<i>.json``
  and the launcher launches one job per batch (``run_batch=<file>``), which runs them in one
  process (:func:`theory_check.run.run_batch`). Hydra's cost per launched job (composition,
  output folder, a process for submitit) is then paid per batch, not per run of a few
  milliseconds. Each run still writes its own rows atomically, so resume stays per run. One
  batch for the basic launcher; two per worker for joblib and submitit, balanced by size;
  at most ``hydra.sweeper.batch_size`` runs each;
* with the joblib launcher, its worker processes are started (and import the package) while
  the configurations are checked, so their start-up overlaps the validation, and they are
  stopped as soon as the last batch is done;
* a progress bar counts finished runs by watching their result files, which every launcher
  writes to the same place, so it needs nothing from the worker processes or nodes;
* it stops cleanly: SIGINT, SIGTERM or SIGHUP stop the workers in the middle of their batches
  and exit with 128 + the signal, and the workers (and this process, when ``reproduce``
  started it) stop by themselves when the process that started them is gone, even killed by
  SIGKILL (:mod:`theory_check.processes`). What finished is stored, so the same command resumes;
  a run a concurrent sweep is computing is left to it (:func:`theory_check.run.try_run`).

Selected in ``conf/config.yaml`` by ``override hydra/sweeper: theory_check``; Hydra instantiates it
as ``hydra_plugins.theory_check_sweeper.TheoryCheckSweeper`` (plugins must live there).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import filter_overrides
from hydra.errors import CompactHydraException, ConfigCompositionException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import ConfigAttributeError, ConfigKeyError
from tqdm import tqdm

from . import processes, run
from .overrides import UnknownParameter, is_absent, sets_existing_key, unknown_parameter
from .validation import check_int

log = logging.getLogger(__name__)


class InvalidSweep(CompactHydraException):
    """Some configurations of a multirun are invalid; nothing was run."""


def task_config(config: DictConfig) -> DictConfig:
    """A freshly composed job config as its task function sees it: the ``hydra`` node removed
    in place (a copy of that large node costs more than a run of the small sizes)."""
    with read_write(config), open_dict(config):
        del config["hydra"]
    return config


def _varying(jobs: list[list[str]]) -> set[str]:
    """Override keys that take more than one value across the jobs."""
    values = defaultdict(set)
    for job in jobs:
        for override in job:
            key, _, value = override.partition("=")
            values[key].add(value)
    return {key for key, vals in values.items() if len(vals) > 1}


def _invalid_message(problems: dict[str, list[str]], n_bad: int, n_jobs: int) -> str:
    lines = [f"{n_bad} of {n_jobs} sweep configurations are invalid; nothing was run."]
    for problem, examples in problems.items():
        where = f"{len(examples)} configurations, e.g." if len(examples) > 1 else "in"
        lines += [f"  - {problem}", f"    ({where} {examples[0] or 'the base config'})"]
    return "\n".join(lines)


def _bar(**kwargs) -> tqdm:
    """A tqdm bar on stderr that redraws often on a terminal and rarely in a log file."""
    return tqdm(dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 30.0, **kwargs)


def _stamp(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


class Progress:
    """A tqdm bar of finished runs, counted as result files written since the bar started.

    Every launcher writes ``<results_dir>/<experiment>/<run_key>.parquet`` by an atomic rename,
    so a new (inode, mtime) of a waited-for file means that run finished, whichever process
    or node ran it.
    """

    def __init__(self, paths: list[Path]):
        self.before = {p: _stamp(p) for p in paths}
        self.waiting = set(self.before)
        # One stat per waiting file per poll: poll less often in big sweeps (shared filesystems).
        self.interval = max(0.5, 1e-4 * len(self.waiting))
        self.bar = _bar(total=len(self.waiting), unit="run", desc="runs")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _refresh(self) -> None:
        finished = [p for p in self.waiting if _stamp(p) != self.before[p]]
        if finished:
            self.waiting.difference_update(finished)
            self.bar.update(len(finished))

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._refresh()

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._refresh()
        self.bar.close()


class Composer:
    """The task config of each job of a sweep, with one Hydra composition per distinct set of
    config-group choices (``model=...``, ``+experiment=...``) instead of one per job.

    Hydra composes a config from its defaults list, chosen by the group overrides, and then
    applies the value overrides (``n=...``, ``+model.alpha=...``) to the composed config with
    ``ConfigLoaderImpl._apply_overrides_to_config``; this does the same, applying them to a copy
    of the cached composition, so the configs equal Hydra's (``tests/test_sweeps.py`` checks it)
    at a fraction of the cost (a composition takes about 0.4 s, a copy and the overrides 1 ms).
    """

    def __init__(self, loader, master: DictConfig):
        self.loader, self.master = loader, master
        self.parser = OverridesParser.create(config_loader=loader)
        self.composed: dict[tuple[str, ...], DictConfig | Exception] = {}
        self.parsed: dict[str, Any] = {}  # a sweep has few distinct overrides; Hydra's parser is slow
        #: Configs kept to apply the next job's overrides to, by group choices and value keys.
        self.scratch: dict[tuple, DictConfig] = {}

    def _parse(self, override: str):
        if override not in self.parsed:
            (self.parsed[override],) = self.parser.parse_overrides([override])
        return self.parsed[override]

    def _is_group(self, override) -> bool:
        # Hydra's own split (hydra._internal.defaults_list.Overrides): a dict value is a config
        # override even when the key names a group.
        return (not isinstance(override.value(), dict)
                and self.loader.repository.group_exists(override.key_or_group))

    def __call__(self, job: list[str], *, scratch: bool = False) -> DictConfig:
        """The task config of ``job`` (its overrides), as Hydra composes it.

        ``scratch=True``: when the job's value overrides only change existing keys to plain
        values, they are applied to a config kept from the last job with the same group choices
        and the same keys (each of its values is then set again), not to a new copy: a copy
        cost more than the rest of a small run's planning. The config returned is then this
        composer's, valid until its next call: for a caller that reads it at once.
        """
        overrides = [self._parse(o) for o in job]
        groups = tuple(o.input_line for o in overrides if self._is_group(o))
        if groups not in self.composed:
            try:
                self.composed[groups] = task_config(self.loader.load_sweep_config(self.master, list(groups)))
            except Exception as exc:  # every job with these choices has this problem
                self.composed[groups] = exc
        base = self.composed[groups]
        if isinstance(base, Exception):
            raise base
        values = [o for o in overrides if not self._is_group(o)]
        # A dict or list value merges into what is there; an added or deleted key changes the
        # keys themselves: those are applied to a fresh copy.
        kept = scratch and all(sets_existing_key(o) and not isinstance(o.value(), (dict, list))
                               for o in values)
        slot = (groups, tuple(o.key_or_group for o in values))
        cfg = self.scratch.pop(slot, None) if kept else None
        if cfg is None:
            cfg = copy.deepcopy(base)
        try:
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        except ConfigCompositionException as exc:
            # Hydra's message would suggest a +key, which the suite refuses as unknown.
            absent = [o.key_or_group for o in values
                      if sets_existing_key(o) and is_absent(cfg, o.key_or_group)]
            if absent and isinstance(exc.__cause__, (ConfigAttributeError, ConfigKeyError)):
                raise UnknownParameter(unknown_parameter(absent[0], cfg)) from None
            raise
        if kept:  # only once the overrides applied: a failed one may have changed it half-way
            self.scratch[slot] = cfg
        return cfg


def _problems(cfg: DictConfig, plain: dict, checked: dict[str, list[str]]) -> list[str]:
    """:func:`theory_check.run.config_problems` of ``cfg`` (resolved: ``plain``), found once
    per config that differs only in a valid seed (``checked``: the problems found so far, by
    config): only the seed's own check reads it, and checking a config (its plug-ins' dry runs)
    took 7 ms, as long as a small run."""
    try:
        check_int("seed", plain.get("seed"), low=0)
        plain = {**plain, "seed": 0}
    except (ValueError, TypeError):
        pass  # an invalid seed is part of the key: its message names it
    key = json.dumps(plain, sort_keys=True, default=str)
    if key not in checked:
        checked[key] = run.config_problems(cfg)
    return checked[key]


def _cost(cfg: dict) -> float:
    """A run's relative cost for ordering and balancing batches: its data size n·d·N."""
    return float(cfg["n"]) * float(cfg["d"]) * float(cfg["N"])


def _workers(launcher: DictConfig) -> int:
    """How many batch jobs the launcher runs at once (1 for the basic launcher)."""
    target = launcher._target_
    if "joblib" in target.lower():
        n_jobs = int(launcher.n_jobs)
        return (os.cpu_count() or 1) if n_jobs < 0 else max(1, n_jobs)
    if "submitit" in target.lower():
        return max(1, int(launcher.get("array_parallelism") or 1))
    return 1


def _ready_worker() -> int:
    """Import what a batch needs, in a launcher worker process; return its pid."""
    # numpy, scipy, hydra and the plug-in packages the runs instantiate: about 1.3 s per fresh
    # process, which would otherwise delay each worker's first batch.
    import theory_check.designs  # noqa: F401
    import theory_check.estimators  # noqa: F401
    import theory_check.models  # noqa: F401
    import theory_check.noise  # noqa: F401
    import theory_check.run  # noqa: F401

    processes.watch_parent()  # stop when the sweep process is gone, even while idle
    return os.getpid()


def _start_workers(launcher, workers: int) -> threading.Thread | None:
    """Start the joblib launcher's worker processes, and their imports, in the background.

    The sweep is validated in the main process meanwhile, so the workers' start-up (about 1 s
    per process, as long as a whole small sweep's math) overlaps it instead of delaying the
    first batch. The same ``Parallel`` arguments as the launcher's make loky reuse these workers
    (its executor is process-wide); for other launchers, or one worker, this does nothing.
    """
    settings = getattr(launcher, "joblib", None)
    if settings is None or workers < 2:
        return None
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import Parallel, delayed

    settings = {**settings, "backend": "loky"}  # exactly what the launcher will pass to Parallel
    process_joblib_cfg(settings)

    def start():
        try:
            Parallel(**settings)(delayed(_ready_worker)() for _ in range(workers))
        except Exception as exc:  # only a speed-up: the launcher starts its own workers anyway
            log.debug(f"starting the joblib workers early failed: {exc}")

    thread = threading.Thread(target=start, name="start-joblib-workers", daemon=True)
    thread.start()
    return thread


def _stop_workers(launcher, kill: bool = False) -> None:
    """Ask the joblib launcher's idle workers to exit at the end of a sweep, when every run has
    written its rows: asked only at interpreter shutdown, their teardown (numpy, scipy, Hydra)
    started last and delayed the end of a sweep by about 0.3 s. They exit on their own: killing
    them could leave a semaphore behind, which loky then reports as leaked. ``kill``: an
    interrupted sweep, whose busy workers must stop at once."""
    if getattr(launcher, "joblib", None) is None:
        return
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)  # private: nothing if loky renames it
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=kill)


def make_batches(costs: list[float], workers: int, batch_size: int | None) -> list[list[int]]:
    """Split runs (their costs) into batches: one for a single worker, else two per worker so a
    worker that drew cheap runs can take another batch; never more than ``batch_size`` runs per
    batch, so that a batch takes seconds or minutes and a kill loses little. Largest runs first,
    each to the batch with the least work so far (longest-processing-time rule): batches of
    equal work, and no long run left to the end."""
    n = len(costs)
    n_batches = 1 if workers <= 1 else 2 * workers
    if batch_size:
        n_batches = max(n_batches, -(-n // batch_size))
    n_batches = max(1, min(n_batches, n))
    cap = batch_size or n
    batches: list[list[int]] = [[] for _ in range(n_batches)]
    work = [0.0] * n_batches
    for i in sorted(range(n), key=lambda i: -costs[i]):
        b = min((b for b in range(n_batches) if len(batches[b]) < cap), key=work.__getitem__)
        batches[b].append(i)
        work[b] += costs[i]
    return [b for b in batches if b]


def _quoted(value: str) -> str:
    """A Hydra override value that keeps any character of a path."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Sweeper(BasicSweeper):
    """Hydra's basic sweeper plus up-front validation, resume by skipping, progress, and runs
    launched in batches: one launched job runs many runs in one process."""

    def __init__(self, max_batch_size: int | None = None, batch_size: int | None = None,
                 params: dict | None = None):
        super().__init__(max_batch_size=max_batch_size, params=params)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"hydra.sweeper.batch_size must be a positive integer or null, got {batch_size!r}")
        self.batch_size = batch_size

    def plan(self, jobs: list[list[str]]) -> tuple[list[tuple[dict, Path]], int, int]:
        """Validate every job; return the configs to run (resolved to plain containers) with
        their result files, the number of rows they compute, and the number of the sweep's rows
        already stored.

        Raises
        ------
        InvalidSweep
            listing each distinct problem once, with how many jobs have it and an example.
        """
        compose = Composer(self.hydra_context.config_loader, self.config)
        shown = _varying([filter_overrides(job) for job in jobs])
        problems: dict[str, list[str]] = defaultdict(list)
        n_bad = 0
        checked: dict[str, list[str]] = {}
        todo = []
        #: Every valid job's run file and estimators, for the summary at the end of the sweep.
        self.run_files: list[tuple[Path, tuple[str, ...]]] = []
        to_compute = stored = 0
        for job in _bar(iterable=jobs, unit="config", desc="checking configs", leave=False):
            example = " ".join(o for o in filter_overrides(job) if o.partition("=")[0] in shown)
            try:
                cfg = compose(job, scratch=True)
                plain = run.resolved(cfg)  # once: every later step reads this
                found = _problems(cfg, plain, checked)
            except UnknownParameter as exc:
                found = [str(exc)]
            except Exception as exc:  # composition and interpolation errors are problems too
                found = [f"{type(exc).__name__}: {exc}"]
            for problem in found:
                problems[problem].append(example)
            n_bad += bool(found)
            if found or problems:
                continue  # the sweep will not run: only collect problems
            _, path, missing = run.pending(plain)
            self.run_files.append((path, tuple(plain["estimator"])))
            to_compute += len(missing)
            stored += len(plain["estimator"]) - len(missing)
            if plain.get("force") or missing:
                todo.append((plain, path))
        if problems:
            raise InvalidSweep(_invalid_message(problems, n_bad, len(jobs)))
        return todo, to_compute, stored

    def write_batches(self, todo: list[tuple[dict, Path]], sweep_dir: Path) -> list[Path]:
        """Write the pending runs' resolved configs as batch files ``<sweep dir>/batches/<i>.json``."""
        costs = [_cost(cfg) for cfg, _ in todo]
        folder = sweep_dir / "batches"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, batch in enumerate(make_batches(costs, _workers(self.config.hydra.launcher), self.batch_size)):
            path = folder / f"{i}.json"
            path.write_text(json.dumps([todo[j][0] for j in batch]))
            paths.append(path.resolve())
        return paths

    def sweep(self, arguments: list[str]) -> Any:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        jobs = [job for batch in self.split_arguments(overrides, None) for job in batch]
        if not jobs:
            empty = [o.input_line for o in overrides
                     if o.is_sweep_override() and not list(o.sweep_string_iterator())]
            raise InvalidSweep("the sweep has no runs" + (f": {', '.join(empty)} has no values" if empty else "")
                               + "; nothing was run.")
        processes.watch_parent()  # started by reproduce: stop when it is gone, even killed
        processes.adopt_children()  # the launcher's workers stop when this process is gone
        with processes.interrupt_on_signals():  # SIGTERM and SIGHUP stop it as Ctrl-C does
            starting = _start_workers(self.launcher, _workers(self.config.hydra.launcher))
            try:
                returns = self._launch(jobs, starting)
            except BaseException as exc:
                # Interrupted or a run raised: stop the workers now, in the middle of their
                # batches (every finished run is already stored), instead of letting them finish
                # the batches already queued.
                _stop_workers(self.launcher, kill=True)
                if isinstance(exc, KeyboardInterrupt):
                    print(f"sweep interrupted ({exc or 'SIGINT'}): the runs it finished are stored; "
                          f"the same command resumes it", file=sys.stderr, flush=True)
                    raise SystemExit(processes.exit_status(exc)) from None
                raise
        # Also when every run was already stored: idle workers left to interpreter shutdown
        # delay the end of the command.
        _stop_workers(self.launcher)
        # Imported here: Hydra imports this module in every joblib worker (its plug-in scan),
        # and the summary's analysis (scipy.stats, pandas) is the sweep process's alone.
        from .summary import summarize_sweep

        summarize_sweep(self, jobs)
        return returns

    def _launch(self, jobs: list[list[str]], starting: threading.Thread | None) -> list:
        try:
            todo, to_compute, stored = self.plan(jobs)
        finally:
            if starting is not None:
                starting.join()  # one Parallel call at a time on loky's shared executor

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        batches = self.write_batches(todo, sweep_dir) if todo else []
        log.info(f"{len(jobs)} runs: {len(jobs) - len(todo)} already in the results, "
                 f"{len(todo)} to run with {self.config.hydra.launcher._target_.rsplit('.', 1)[-1]}"
                 f" in {len(batches)} batches: {to_compute} rows to compute, {stored} already stored"
                 f" (job outputs in {sweep_dir})")
        returns = []
        #: ``{run file: table}`` the jobs stored, which the summary need not read again.
        self.stored_tables: dict[str, Any] = {}
        if not todo:
            return returns
        with Progress([path for _, path in todo]):
            start = 0
            launches = [[f"run_batch={_quoted(str(path))}"] for path in batches]
            for chunk in self.split_overrides_to_chunks(launches, self.max_batch_size):
                results = self.launcher.launch(chunk, initial_job_idx=start)
                for result in results:
                    # Re-raises a job's exception, as BasicSweeper does.
                    self.stored_tables.update(result.return_value or {})
                start += len(chunk)
                returns.append(results)
        return returns
