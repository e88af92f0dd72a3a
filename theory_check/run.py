"""The run entry point: one (config, seed) → one tidy results row per estimator.

``theory-check`` (or ``python -m theory_check``) is a Hydra app over ``conf/``; a run draws
the ground truth with a ``numpy.random.Generator`` seeded from (experiment, config, seed),
applies every selected estimator, and writes its rows atomically to
``<results_dir>/<experiment_name>/<run_key>.parquet``. Rows already present (same key) are
skipped unless ``force=true``. Two runs with the same key (e.g. a sweep over ``estimator``) merge
their rows under a lock on the experiment folder, so neither loses the other's rows. A run is
claimed before its rows are computed (:func:`theory_check.results.claim_run`), so that two sweeps of
the same runs at once compute each run once.
"""

from __future__ import annotations

import functools
import itertools
import json
import sys
import time
from pathlib import Path

import hydra
import numpy as np
import pyarrow as pa

# Loaded now, before any threadpool_limits: threadpoolctl limits only the BLAS libraries already
# loaded when it is entered, and scipy brings its own OpenBLAS. Loaded later (first estimator call
# in a fresh worker process), it would run with its default threads, and rows would differ by a
# few ulp between launchers.
import scipy.linalg  # noqa: F401
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from . import noise as noise_laws
from . import processes, proofs, rates

# config_problems and known_keys are part of this module's interface (the sweeper calls them here).
from .config import InvalidConfig, config_problems, generate_problem, known_keys, plugin, validate  # noqa: F401
from .metrics import mse
from .overrides import command_line_problem
from .paths import CONFIG_ROOT, conf_dir
from .provenance import provenance
from .results import claim_run, deferred_sync, read_table, run_path, stable_hash, stored_keys, store_rows

#: Config entries that choose what to compute or where to store it, not what the data are.
NOT_IN_KEY = ("estimator", "results_dir", "force", "jobs", "blas_threads", "run_batch", "quiet")
#: Seconds between two looks at rows another process is computing, at first and at most.
CLAIM_POLL, MAX_CLAIM_POLL = 0.1, 2.0
#: Hydra's config folder (checked only when the app starts: importing this module needs none).
CONF_DIR = str(CONFIG_ROOT / "conf")


def resolved(cfg: DictConfig | dict) -> dict:
    """The run's config as plain, resolved containers (no ``hydra`` node). A batch file's
    configs are already so: they are returned as they are. The run machinery reads only this:
    a config resolved once costs less than one ``OmegaConf.create`` of it per run."""
    if isinstance(cfg, dict):
        return cfg
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    return plain


def key_config(cfg: DictConfig | dict) -> dict:
    """The resolved config that identifies a run's data: everything but ``NOT_IN_KEY``."""
    return {k: v for k, v in resolved(cfg).items() if k not in NOT_IN_KEY and k != "hydra"}


def run_key(cfg: DictConfig | dict, plain: dict | None = None) -> str:
    """The run's key: a hash of :func:`key_config` (``plain``, when the caller has it)."""
    return stable_hash(key_config(cfg) if plain is None else plain)[:24]


def row_key(run_key_: str, estimator_name: str, estimator_cfg: dict) -> str:
    return stable_hash([run_key_, estimator_name, estimator_cfg])[:24]


def make_rng(cfg: DictConfig | dict, plain: dict | None = None) -> np.random.Generator:
    """One generator per run, from ``SeedSequence`` over (seed, hash of experiment and config);
    ``plain``: :func:`key_config` of ``cfg`` when the caller has it."""
    digest = stable_hash(key_config(cfg) if plain is None else plain)
    words = [int(digest[i : i + 8], 16) for i in range(0, 64, 8)]
    return np.random.default_rng(np.random.SeedSequence([int(cfg["seed"]), *words]))


def config_columns(cfg: DictConfig | dict, plain: dict | None = None) -> dict:
    """Every config field as a flat column: top-level scalars, then ``group`` and ``group.param``;
    ``plain``: :func:`key_config` of ``cfg`` when the caller has it."""
    cols = {}
    for k, v in (key_config(cfg) if plain is None else plain).items():
        if isinstance(v, dict):
            cols[k] = v.get("name")
            cols.update({f"{k}.{p}": x for p, x in v.items() if p not in ("name", "_target_")})
        else:
            cols[k] = v
    return cols


def problem_columns(problem) -> dict:
    """The columns a generator declares on its problem: ``meta.<key>``, then its rates."""
    return {**{f"meta.{k}": v for k, v in problem.meta.items()}, **problem.rates}


def reference_columns(problem, cfg) -> dict:
    """Columns that qualify a run (issue 11), kept apart from the rates: ``assumption``, whether
    the noise law satisfies the noise assumption of ``cfg.theorem`` ("within" or "outside: ..."),
    and, when the generator knows Z*'s spectrum and X = X̃ (so QᵀY is signal plus i.i.d. noise),
    ``reference_asymptotic``, Theorem 3.1's spiked-model risk (:func:`rates.thm31_asymptotic`)."""
    cols = {"assumption": noise_laws.assumption(cfg.get("theorem"), plugin("noise", cfg["noise"]))}
    if problem.spectrum is not None and cfg["delta"] == 0:
        n, _, N = problem.shape
        cols["reference_asymptotic"] = rates.thm31_asymptotic(
            problem.spectrum, n, N, cfg["r"], cfg["sigma"], problem.meta.get("k"))
    return cols


def error_columns(problem, W_hat: np.ndarray, Z_hat: np.ndarray | None = None) -> dict:
    """MSE ‖X̃(Ŵ − W*)‖²/(nN), relative error, and the metrics the problem declares;
    ``Z_hat``: X̃Ŵ when the caller has it already."""
    Z_hat = problem.X_tilde @ W_hat if Z_hat is None else Z_hat
    cols = {"mse": mse(Z_hat, problem.Z_star),
            "rel_error": np.linalg.norm(Z_hat - problem.Z_star) / np.linalg.norm(problem.Z_star)}
    cols.update({name: metric(Z_hat, problem.Z_star) for name, metric in problem.metrics.items()})
    return cols


def pending(cfg: DictConfig | dict) -> tuple[str, Path, dict]:
    """The run key, the run's file, and ``{estimator: (row key, settings)}`` for the rows still
    missing there (all rows when ``force``)."""
    cfg = resolved(cfg)
    key = run_key(cfg)
    path = run_path(cfg["results_dir"], cfg["experiment_name"], key)
    return key, path, _missing(cfg, path, _row_keys(cfg, key))


def _row_keys(cfg: dict, key: str) -> dict:
    """``{estimator: (row key, settings)}`` of every estimator of the resolved run config
    ``cfg``, whose key is ``key``."""
    return {name: (row_key(key, name, settings), settings)
            for name, settings in cfg["estimator"].items()}


def _missing(cfg: dict, path: Path, row_keys: dict) -> dict:
    """The entries of ``row_keys`` whose rows ``path`` does not hold (all when ``force``)."""
    done = set() if cfg.get("force") else stored_keys(path)
    return {name: entry for name, entry in row_keys.items() if entry[0] not in done}


def _estimator_columns(name: str, rkey: str, settings: dict) -> dict:
    return {"estimator": name, "key": rkey,
            **{f"estimator.{p}": v for p, v in settings.items() if p != "_target_"}}


@functools.lru_cache(maxsize=64)
def _estimator(settings: str):
    """The estimator a config node (as sorted JSON) instantiates, once per process: a batch's
    runs share a few estimator configs, and ``instantiate`` took longer than a small solve.
    Estimators keep only their settings (``theory_check.estimators``), so one instance serves
    every run, as in a loop over draws."""
    return instantiate(json.loads(settings))


def _estimate_row(problem, cfg: dict, settings: dict, name: str = "") -> dict:
    row = {}
    start = time.perf_counter()
    try:
        estimate = _estimator(json.dumps(settings, sort_keys=True))(problem, cfg["r"])
        row["wall_time"] = time.perf_counter() - start
        row.update({f"solver.{k}": v for k, v in estimate.info.items()})
        if not np.all(np.isfinite(estimate.W_hat)):  # a diverged estimate is a failure, not a number
            row.update(mse=np.nan, rel_error=np.nan, status="error",
                       message="the estimate Ŵ has NaN or inf entries")
            return row
        Z_hat = problem.X_tilde @ estimate.W_hat  # once: the errors and the proof chain use it
        row.update(error_columns(problem, estimate.W_hat, Z_hat))
        row.update(proofs.columns(problem, name, settings, estimate.W_hat, estimate.info,
                                  Z_hat=Z_hat))
        converged = bool(estimate.info.get("converged", True))
        row["status"] = "ok" if converged else "not_converged"
        detail = estimate.info.get("exit") or estimate.info.get("status")
        row["message"] = "" if converged else (
            "solver did not certify convergence" + (f" (exit: {detail})" if detail else ""))
    except Exception as exc:  # a failure is data: recorded, and the sweep goes on
        row.update(wall_time=time.perf_counter() - start, mse=np.nan, rel_error=np.nan,
                   status="error", message=f"{type(exc).__name__}: {exc}")
    return row


def _compute_rows(cfg: dict, key: str, todo: dict, plain: dict) -> list[dict]:
    """The rows of the estimators in ``todo`` (``{estimator: (row key, settings)}``) for one
    run of resolved config ``cfg`` whose :func:`key_config` is ``plain``."""
    shared = {**config_columns(cfg, plain), "run_key": key, **provenance()}
    try:
        problem = generate_problem(cfg, make_rng(cfg, plain))
        shared.update(problem_columns(problem))
        shared.update(reference_columns(problem, cfg))
    except Exception as exc:  # the config passed validate(): a runtime failure, stored as data
        failed = {"wall_time": np.nan, "mse": np.nan, "rel_error": np.nan, "status": "error",
                  "message": f"generating the problem failed: {type(exc).__name__}: {exc}"}
        return [{**shared, **_estimator_columns(name, rkey, settings), **failed}
                for name, (rkey, settings) in todo.items()]
    return [{**shared, **_estimator_columns(name, rkey, settings),
             **_estimate_row(problem, cfg, settings, name)}
            for name, (rkey, settings) in todo.items()]


def _try_run(cfg: dict) -> tuple[Path, list[dict] | None, pa.Table] | None:
    """:func:`try_run` of a resolved config: the run's file, the rows computed here with the
    stored rows beside them (None when nothing was computed) and the table stored in the file;
    None when another live process holds the run's claim."""
    plain = key_config(cfg)
    key = run_key(cfg, plain)
    path = run_path(cfg["results_dir"], cfg["experiment_name"], key)
    row_keys = _row_keys(cfg, key)
    if _missing(cfg, path, row_keys):
        with claim_run(path) as held:
            if not held:
                return None
            # Read again: the last owner may have stored them meanwhile.
            todo = _missing(cfg, path, row_keys)
            if todo:
                return path, *store_rows(path, _compute_rows(cfg, key, todo, plain))
    table = read_table(path)
    if table is None:  # moved aside as damaged since it was read: the next try computes it
        return _try_run(cfg)
    return path, None, table


def try_run(cfg: DictConfig | dict) -> list[dict] | None:
    """Compute and store the missing rows of one run, unless another live process is on it.

    The run is claimed first (:func:`theory_check.results.claim_run`), so that concurrent
    sweeps of the same runs compute each run once. Returns all the run's rows, or None when
    another live process holds the run's claim (its rows may not be stored yet).
    """
    done = _try_run(resolved(cfg))
    if done is None:
        return None
    _, rows, table = done
    return rows if rows is not None else table.to_pandas().to_dict("records")


def run(cfg: DictConfig | dict, checked: bool = False) -> list[dict]:
    """Compute the missing rows of one (config, seed) and store them; return all its rows.
    A run another live process is computing is waited for (or computed here if that one dies).
    ``checked=True`` skips :func:`validate` for a config the sweeper has just validated (also
    one resolved to plain containers, :func:`resolved`)."""
    if not checked:
        validate(cfg)
    cfg = resolved(cfg)
    pause = CLAIM_POLL
    while (rows := try_run(cfg)) is None:
        time.sleep(pause)
        pause = min(2 * pause, MAX_CLAIM_POLL)
    return rows


def run_batch(path: str | Path) -> dict[str, pa.Table]:
    """Run every config of a batch file written by the sweeper (:mod:`theory_check.sweep`), in
    this process; the sweeper validated them all before writing the file. Each run stores its
    own rows as :func:`run` does, so a killed batch keeps the runs it finished. Runs whose rows
    another process is computing (a concurrent sweep) are left to the end of the batch, then
    waited for. A run that raises does not stop the others; the first such error is raised at
    the end, as a launcher reports a failed job.

    Returns ``{run file: its stored table}`` of the runs it stored or found stored, the job's
    return value, from which the sweep's summary reads them (reading back every file took as
    long as a tenth of a small sweep). The files are fsynced together
    (:func:`theory_check.results.deferred_sync`), at the latest every
    :data:`~theory_check.results.SYNC_INTERVAL` seconds and when the batch ends.
    """
    processes.watch_parent()  # a launcher worker: stop when the sweep process is gone
    first_error = None
    stored = {}
    # Plain dicts, as the sweeper resolved them: an OmegaConf config per run cost more than
    # the run's bookkeeping.
    configs = json.loads(Path(path).read_text())

    def attempt(cfg: dict, wait: bool) -> bool:
        """Run ``cfg``; False when a live process holds its claim and ``wait`` is False."""
        nonlocal first_error
        pause = CLAIM_POLL
        try:
            while (done := _try_run(cfg)) is None:
                if not wait:
                    return False
                time.sleep(pause)
                pause = min(2 * pause, MAX_CLAIM_POLL)
            stored[str(done[0])] = done[2]
        except Exception as exc:
            first_error = first_error or exc
        return True

    # One BLAS thread per run by default: small SVDs run faster, and parallel workers do not
    # oversubscribe the cores. Set once per run of equal settings: setting it costs about 3 ms.
    with deferred_sync():
        for threads, group in itertools.groupby(configs, key=lambda cfg: cfg.get("blas_threads")):
            with threadpool_limits(limits=threads):
                deferred = [cfg for cfg in group if not attempt(cfg, wait=False)]
                for cfg in deferred:
                    attempt(cfg, wait=True)
    if first_error is not None:
        raise first_error
    return stored


def _app(cfg: DictConfig) -> dict[str, pa.Table] | None:
    if cfg.get("run_batch"):  # a job launched by the sweeper: the batch file has the configs
        return run_batch(cfg.run_batch)
    try:
        validate(cfg)
    except ValueError as exc:  # a config error, not a crash: the message without a traceback
        raise InvalidConfig(f"invalid configuration: {exc}") from None
    plain = resolved(cfg)
    _, path, todo = pending(plain)
    with threadpool_limits(limits=plain.get("blas_threads")):
        rows = run(plain, checked=True)
    if not cfg.get("quiet"):  # the command line answers; run() itself stays silent
        from .summary import run_summary

        print(run_summary(cfg, rows, path, stored_before=not todo))
    return None


def main() -> None:
    """``theory-check``: the Hydra app over ``conf/`` (a clear message when there is none)."""
    try:
        config_path = str(conf_dir())
    except FileNotFoundError as exc:
        sys.exit(f"theory-check: {exc}")
    problem = command_line_problem(sys.argv[1:], config_path)
    if problem:  # before Hydra, whose own message would suggest a +key the suite refuses
        sys.exit(f"invalid configuration: {problem}")
    hydra.main(version_base=None, config_path=config_path, config_name="config")(_app)()
