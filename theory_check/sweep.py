"""The multirun sweeper: validate every run first, skip finished runs, show progress.

:class:`Sweeper` is Hydra's basic sweeper (``key=a,b`` grids and ``hydra.sweeper.params``)
with three additions, all before or around the launcher, so they hold for every launcher
(basic, joblib, submitit):

* every configuration is composed and checked with :func:`theory_check.run.config_problems`
  before anything runs; problems stop the sweep with one message listing each distinct problem,
  how many configurations have it, and one of them;
* runs whose rows are all in the results are not launched (unless ``force=true``), so a
  killed sweep resumes at the cost of reading its finished files;
* a progress bar counts finished runs by watching their result files, which every launcher
  writes to the same place, so it needs nothing from the worker processes or nodes.

Selected in ``conf/config.yaml`` by ``override hydra/sweeper: theory_check``; Hydra instantiates it
as ``hydra_plugins.theory_check_sweeper.TheoryCheckSweeper`` (plugins must live there).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import filter_overrides
from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from tqdm import tqdm

from . import run

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


class Sweeper(BasicSweeper):
    """Hydra's basic sweeper plus up-front validation, resume by skipping, and progress."""

    def plan(self, jobs: list[list[str]]) -> list[tuple[list[str], Path]]:
        """Validate every job; return the jobs to launch with their result files.

        Raises
        ------
        InvalidSweep
            listing each distinct problem once, with how many jobs have it and an example.
        """
        loader = self.hydra_context.config_loader
        shown = _varying([filter_overrides(job) for job in jobs])
        problems: dict[str, list[str]] = defaultdict(list)
        n_bad = 0
        todo = []
        for job in _bar(iterable=jobs, unit="config", desc="checking configs", leave=False):
            example = " ".join(o for o in filter_overrides(job) if o.partition("=")[0] in shown)
            try:
                cfg = task_config(loader.load_sweep_config(self.config, list(job)))
                found = run.config_problems(cfg)
            except Exception as exc:  # composition and interpolation errors are problems too
                found = [f"{type(exc).__name__}: {exc}"]
            for problem in found:
                problems[problem].append(example)
            n_bad += bool(found)
            if found or problems:
                continue  # the sweep will not run: only collect problems
            _, path, missing = run.pending(cfg)
            if cfg.force or missing:
                todo.append((job, path))
        if problems:
            raise InvalidSweep(_invalid_message(problems, n_bad, len(jobs)))
        return todo

    def sweep(self, arguments: list[str]) -> Any:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        jobs = [job for batch in self.split_arguments(overrides, None) for job in batch]
        todo = self.plan(jobs)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        log.info(f"{len(jobs)} runs: {len(jobs) - len(todo)} already in the results, "
                 f"{len(todo)} to run with {self.config.hydra.launcher._target_.rsplit('.', 1)[-1]}"
                 f" (job outputs in {sweep_dir})")
        returns = []
        if not todo:
            return returns
        with Progress([path for _, path in todo]):
            start = 0
            for batch in self.split_overrides_to_chunks([job for job, _ in todo], self.max_batch_size):
                results = self.launcher.launch(batch, initial_job_idx=start)
                for result in results:
                    _ = result.return_value  # re-raises a job's exception, as BasicSweeper does
                start += len(batch)
                returns.append(results)
        return returns
