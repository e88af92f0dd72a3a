"""The run entry point: one (config, seed) → one tidy results row per estimator.

``theory-check`` (or ``python -m theory_check``) is a Hydra app over ``conf/``; a run draws
the ground truth with a ``numpy.random.Generator`` seeded from (experiment, config, seed),
applies every selected estimator, and writes its rows atomically to
``<results_dir>/<experiment_name>/<run_key>.parquet``. Rows already present (same key) are
skipped unless ``force=true``. Two runs with the same key (e.g. a sweep over ``estimator``) merge
their rows under a lock on the experiment folder, so neither loses the other's rows.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import time
from pathlib import Path

import hydra
import numpy as np

# Loaded now, before any threadpool_limits: threadpoolctl limits only the BLAS libraries already
# loaded when it is entered, and scipy brings its own OpenBLAS. Loaded later (first estimator call
# in a fresh worker process), it would run with its default threads, and rows would differ by a
# few ulp between launchers.
import scipy.linalg  # noqa: F401
from hydra.errors import CompactHydraException
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from .metrics import mse
from .provenance import provenance
from .results import file_lock, read_run, run_path, stable_hash, write_rows_atomic
from .validation import check_int, check_rank, check_real

#: Config entries that choose what to compute or where to store it, not what the data are.
NOT_IN_KEY = ("estimator", "results_dir", "force", "jobs", "blas_threads", "run_batch")
#: Config groups whose node is a function (``_target_``) plus its parameters.
FUNCTION_GROUPS = ("design", "noise", "model")
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


class InvalidConfig(CompactHydraException):
    """A single run's config is invalid; Hydra prints the message only, without a traceback."""


@functools.cache
def known_keys() -> frozenset[str]:
    """The top-level keys a run config may have: conf/config.yaml's own and the config groups."""
    conf = Path(CONF_DIR)
    top = set(OmegaConf.load(conf / "config.yaml")) - {"defaults"}
    return frozenset(top | {p.name for p in conf.iterdir() if p.is_dir()})


def _check_key(key: str) -> None:
    if key not in known_keys():
        close = difflib.get_close_matches(key, known_keys(), n=1)
        hint = f"did you mean {close[0]}?" if close else "new keys must be declared in conf/config.yaml"
        raise ValueError(f"unknown key {key}; {hint}")


def key_config(cfg: DictConfig) -> dict:
    """The resolved config that identifies a run's data: everything but ``NOT_IN_KEY``."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in plain.items() if k not in NOT_IN_KEY and k != "hydra"}


def run_key(cfg: DictConfig) -> str:
    return stable_hash(key_config(cfg))[:24]


def row_key(run_key_: str, estimator_name: str, estimator_cfg: dict) -> str:
    return stable_hash([run_key_, estimator_name, estimator_cfg])[:24]


def make_rng(cfg: DictConfig) -> np.random.Generator:
    """One generator per run, from ``SeedSequence`` over (seed, hash of experiment and config)."""
    digest = stable_hash(key_config(cfg))
    words = [int(digest[i : i + 8], 16) for i in range(0, 64, 8)]
    return np.random.default_rng(np.random.SeedSequence([int(cfg.seed), *words]))


def _function(group: str, node: DictConfig):
    params = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items()
              if k not in ("name", "_target_")}
    try:
        fn = get_method(node._target_)
    except Exception as exc:  # Hydra raises its own error types for unknown targets
        raise ValueError(f"{group}._target_ {node._target_!r} cannot be imported: {exc}") from None
    return functools.partial(fn, **params)


class _Drawn(Exception):
    """Raised by :class:`_NoDraws` at a plug-in's first random draw."""


class _NoDraws:
    """A generator that refuses to draw. Plug-ins check their parameters before drawing
    anything (CONTRIBUTING.md), so a call with this stand-in runs exactly those checks."""

    def __getattr__(self, name):
        raise _Drawn


def _dry_run(group: str, cfg: DictConfig, call) -> None:
    try:
        call()
    except _Drawn:
        pass
    except Exception as exc:
        raise ValueError(f"{group} {cfg[group].name!r}: {exc}") from None


def _check_group(cfg: DictConfig, group: str) -> None:
    node = cfg.get(group)
    if node is None or "_target_" not in node or "name" not in node:
        raise ValueError(f"config group {group!r} must select a config with name and _target_")
    _function(group, node)


def _check_estimator(name: str, node: DictConfig) -> None:
    _check_estimator_settings(name, json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True))


# A sweep checks the same few estimator settings in every one of its configs, and Hydra's
# instantiate costs about 1 ms: each distinct setting is checked once per process (a failed
# check raises, so it is not cached and is reported for every config that has it).
@functools.lru_cache(maxsize=1024)
def _check_estimator_settings(name: str, settings: str) -> None:
    node = OmegaConf.create(json.loads(settings))
    try:
        get_method(node._target_)
    except Exception:
        raise ValueError(f"estimator {name!r}: _target_ {node._target_!r} cannot be imported") from None
    try:
        instantiate(node)
    except Exception as exc:
        cause = exc.__cause__ or exc  # Hydra wraps constructor errors
        raise ValueError(f"estimator {name!r}: {cause}") from None


def _check_experiment_name(name) -> None:
    name = str(name)
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"experiment_name must be a plain folder name, got {name!r}")


def config_problems(cfg: DictConfig) -> list[str]:
    """Everything wrong with a run's config, one message per problem (empty when valid).

    Besides the fields, this constructs the estimators and dry-runs the design, noise and model
    up to their first random draw, so a bad plug-in parameter is a config error found here, and
    what fails later in a run is a runtime failure, stored as a row. A check that needs what
    an earlier one found wrong (the model's dry run needs valid sizes, design and noise) is
    skipped, so each problem is reported once.
    """
    problems = []

    def passes(check, *args, **kwargs) -> bool:
        try:
            check(*args, **kwargs)
        except ValueError as exc:
            problems.append(str(exc))
            return False
        return True

    for key in cfg:  # a typo'd key would otherwise be a new experiment with its own data
        passes(_check_key, str(key))
    plugins = all([passes(_check_group, cfg, group) for group in FUNCTION_GROUPS])
    if not cfg.get("estimator"):
        problems.append("estimator must select at least one estimator, e.g. estimator=[data_svd]")
    for name, node in (cfg.get("estimator") or {}).items():
        passes(_check_estimator, name, node)
    sizes = all([passes(check_int, k, cfg[k], low=1) for k in ("n", "d", "N")])
    sizes = sizes and passes(check_rank, cfg.r, max_rank=min(cfg.d, cfg.N), name="r")
    scalars = all([passes(check_real, "sigma", cfg.sigma, low=0.0),
                   passes(check_real, "delta", cfg.delta, low=0.0),
                   passes(check_int, "seed", cfg.seed, low=0),
                   passes(_check_experiment_name, cfg.experiment_name)])
    if plugins and sizes and scalars:
        parts = all([passes(_dry_run, "design", cfg,
                            lambda: _function("design", cfg.design)(_NoDraws(), cfg.n, cfg.d)),
                     passes(_dry_run, "noise", cfg,
                            lambda: _function("noise", cfg.noise)(_NoDraws(), (cfg.n, cfg.N), cfg.sigma))])
        if parts:  # the model calls both, and would repeat their problems
            passes(_dry_run, "model", cfg, lambda: generate_problem(cfg, _NoDraws()))
    return problems


def validate(cfg: DictConfig) -> None:
    """Raise ``ValueError`` naming every problem :func:`config_problems` finds."""
    problems = config_problems(cfg)
    if problems:
        raise ValueError("; ".join(problems))


def generate_problem(cfg: DictConfig, rng: np.random.Generator):
    model = _function("model", cfg.model)
    return model(
        rng, n=cfg.n, d=cfg.d, N=cfg.N, r=cfg.r, sigma=cfg.sigma, delta=cfg.delta,
        design=_function("design", cfg.design), noise=_function("noise", cfg.noise),
    )


def config_columns(cfg: DictConfig) -> dict:
    """Every config field as a flat column: top-level scalars, then ``group`` and ``group.param``."""
    cols = {}
    for k, v in key_config(cfg).items():
        if isinstance(v, dict):
            cols[k] = v.get("name")
            cols.update({f"{k}.{p}": x for p, x in v.items() if p not in ("name", "_target_")})
        else:
            cols[k] = v
    return cols


def problem_columns(problem) -> dict:
    """The columns a generator declares on its problem: ``meta.<key>``, then its rates."""
    return {**{f"meta.{k}": v for k, v in problem.meta.items()}, **problem.rates}


def error_columns(problem, W_hat: np.ndarray) -> dict:
    """MSE ‖X̃(Ŵ − W*)‖²/(nN), relative error, and the metrics the problem declares."""
    Z_hat = problem.X_tilde @ W_hat
    cols = {"mse": mse(Z_hat, problem.Z_star),
            "rel_error": np.linalg.norm(Z_hat - problem.Z_star) / np.linalg.norm(problem.Z_star)}
    cols.update({name: metric(Z_hat, problem.Z_star) for name, metric in problem.metrics.items()})
    return cols


def pending(cfg: DictConfig) -> tuple[str, Path, dict]:
    """The run key, the run's file, and ``{estimator: (row key, config)}`` for the rows still
    missing there (all rows when ``force``)."""
    key = run_key(cfg)
    path = run_path(cfg.results_dir, cfg.experiment_name, key)
    existing = None if cfg.force else read_run(path)
    done = set() if existing is None else set(existing["key"])
    todo = {}
    for name, node in cfg.estimator.items():
        rkey = row_key(key, name, OmegaConf.to_container(node, resolve=True))
        if rkey not in done:
            todo[name] = (rkey, node)
    return key, path, todo


def _estimator_columns(name: str, rkey: str, node: DictConfig) -> dict:
    return {"estimator": name, "key": rkey,
            **{f"estimator.{p}": v for p, v in OmegaConf.to_container(node, resolve=True).items()
               if p != "_target_"}}


def _estimate_row(problem, cfg: DictConfig, node: DictConfig) -> dict:
    row = {}
    start = time.perf_counter()
    try:
        estimate = instantiate(node)(problem, cfg.r)
        row["wall_time"] = time.perf_counter() - start
        row.update({f"solver.{k}": v for k, v in estimate.info.items()})
        if not np.all(np.isfinite(estimate.W_hat)):  # a diverged estimate is a failure, not a number
            row.update(mse=np.nan, rel_error=np.nan, status="error",
                       message="the estimate Ŵ has NaN or inf entries")
            return row
        row.update(error_columns(problem, estimate.W_hat))
        converged = bool(estimate.info.get("converged", True))
        row["status"] = "ok" if converged else "not_converged"
        detail = estimate.info.get("exit") or estimate.info.get("status")
        row["message"] = "" if converged else (
            "solver did not certify convergence" + (f" (exit: {detail})" if detail else ""))
    except Exception as exc:  # a failure is data: recorded, and the sweep goes on
        row.update(wall_time=time.perf_counter() - start, mse=np.nan, rel_error=np.nan,
                   status="error", message=f"{type(exc).__name__}: {exc}")
    return row


def run(cfg: DictConfig, checked: bool = False) -> list[dict]:
    """Compute the missing rows of one (config, seed) and store them; return all its rows.
    ``checked=True`` skips :func:`validate` for a config the sweeper has just validated."""
    if not checked:
        validate(cfg)
    key, path, todo = pending(cfg)
    if not todo:
        return read_run(path).to_dict("records")

    shared = {**config_columns(cfg), "run_key": key, **provenance()}
    try:
        problem = generate_problem(cfg, make_rng(cfg))
        shared.update(problem_columns(problem))
    except Exception as exc:  # the config passed validate(): a runtime failure, stored as data
        failed = {"wall_time": np.nan, "mse": np.nan, "rel_error": np.nan, "status": "error",
                  "message": f"generating the problem failed: {type(exc).__name__}: {exc}"}
        rows = [{**shared, **_estimator_columns(name, rkey, node), **failed}
                for name, (rkey, node) in todo.items()]
    else:
        rows = [{**shared, **_estimator_columns(name, rkey, node),
                 **_estimate_row(problem, cfg, node)}
                for name, (rkey, node) in todo.items()]

    # Re-read under the lock: a run with the same key may have written since pending().
    with file_lock(path.parent / ".lock"):
        current = read_run(path)
        if current is not None:
            # One row per estimator name: a row computed with other estimator settings is
            # replaced, so fits never mix two settings under one name.
            new = {row["estimator"] for row in rows}
            rows = current[~current["estimator"].isin(new)].to_dict("records") + rows
        write_rows_atomic(path, rows)
    return rows


def run_batch(path: str | Path) -> None:
    """Run every config of a batch file written by the sweeper (:mod:`theory_check.sweep`), in
    this process; the sweeper validated them all before writing the file. Each run stores its own rows as :func:`run` does, so a killed batch keeps the
    runs it finished. A run that raises does not stop the others; the first such error is raised
    at the end, as a launcher reports a failed job."""
    first_error = None
    configs = [OmegaConf.create(plain) for plain in json.loads(Path(path).read_text())]
    # One BLAS thread per run by default: small SVDs run faster, and parallel workers do not
    # oversubscribe the cores. Set once per run of equal settings: setting it costs about 3 ms.
    for threads, group in itertools.groupby(configs, key=lambda cfg: cfg.get("blas_threads")):
        with threadpool_limits(limits=threads):
            for cfg in group:
                try:
                    run(cfg, checked=True)
                except Exception as exc:
                    first_error = first_error or exc
    if first_error is not None:
        raise first_error


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    if cfg.get("run_batch"):  # a job launched by the sweeper: the batch file has the configs
        run_batch(cfg.run_batch)
        return
    try:
        validate(cfg)
    except ValueError as exc:  # a config error, not a crash: the message without a traceback
        raise InvalidConfig(f"invalid configuration: {exc}") from None
    with threadpool_limits(limits=cfg.get("blas_threads")):
        run(cfg, checked=True)
