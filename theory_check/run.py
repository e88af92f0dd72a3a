"""The run entry point: one (config, seed) → one tidy results row per estimator.

``theory-check`` (or ``python -m theory_check``) is a Hydra app over ``conf/``; a run draws
the ground truth with a ``numpy.random.Generator`` seeded from (experiment, config, seed),
applies every selected estimator, and writes its rows atomically to
``<results_dir>/<experiment_name>/<run_key>.parquet``. Rows already present (same key) are
skipped unless ``force=true``.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import hydra
import numpy as np
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf

from . import rates
from .provenance import provenance
from .results import read_run, run_path, stable_hash, write_rows_atomic
from .validation import check_int, check_rank, check_real

#: Config entries that choose what to compute or where to store it, not what the data are.
NOT_IN_KEY = ("estimator", "results_dir", "force")
#: Config groups whose node is a function (``_target_``) plus its parameters.
FUNCTION_GROUPS = ("design", "noise", "model")
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


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


def validate(cfg: DictConfig) -> None:
    """Check every field a run needs, cheaply, and raise ``ValueError`` naming the bad one."""
    for group in FUNCTION_GROUPS:
        node = cfg.get(group)
        if node is None or "_target_" not in node or "name" not in node:
            raise ValueError(f"config group {group!r} must select a config with name and _target_")
        _function(group, node)
    if not cfg.get("estimator"):
        raise ValueError("estimator must select at least one estimator, e.g. estimator=[data_svd]")
    for name, node in cfg.estimator.items():
        try:
            get_method(node._target_)
        except Exception:
            raise ValueError(f"estimator {name!r}: _target_ {node._target_!r} cannot be imported") from None
    n = check_int("n", cfg.n, low=1)
    d = check_int("d", cfg.d, low=1)
    N = check_int("N", cfg.N, low=1)
    check_rank(cfg.r, max_rank=min(d, N), name="r")
    check_real("sigma", cfg.sigma, low=0.0)
    check_real("delta", cfg.delta, low=0.0)
    check_int("seed", cfg.seed, low=0)
    name = str(cfg.experiment_name)
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"experiment_name must be a plain folder name, got {name!r}")
    del n


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


def rate_columns(problem, cfg) -> dict:
    n, d, N = problem.shape
    r, sigma = cfg.r, cfg.sigma
    k = problem.meta.get("k", min(n, d))
    cols = {
        "rate_thm31": rates.thm31_bound(n, N, r, sigma, k),
        "dof_thm31": rates.thm31_dof(n, N, r, sigma, k),
        "rate_sqrt": rates.sqrt_rate(n, N, r),
    }
    alpha = problem.meta.get("alpha")
    beta = problem.meta.get("noise_bound")
    if alpha is not None and beta is not None and np.isfinite(beta):
        cols["rate_thm44"] = rates.thm44_bound(n, N, r, alpha, beta)
    if alpha is not None and problem.meta.get("observation") == "relu":
        cols["rate_thm49"] = rates.thm49_bound(n, N, r, alpha, sigma)
    return cols


def error_columns(problem, W_hat: np.ndarray) -> dict:
    """MSE ‖X̃(Ŵ − W*)‖²/(nN), relative error, and (ReLU model) the post-activation MSE."""
    n, _, N = problem.shape
    Z_hat = problem.X_tilde @ W_hat
    err = np.linalg.norm(Z_hat - problem.Z_star)
    cols = {"mse": err**2 / (n * N), "rel_error": err / np.linalg.norm(problem.Z_star)}
    if problem.meta.get("observation") == "relu":
        diff = np.maximum(Z_hat, 0) - np.maximum(problem.Z_star, 0)
        cols["mse_relu"] = float(np.sum(diff**2) / (n * N))
    return cols


def run(cfg: DictConfig) -> list[dict]:
    """Compute the missing rows of one (config, seed) and store them; return all its rows."""
    validate(cfg)
    key = run_key(cfg)
    path = run_path(cfg.results_dir, cfg.experiment_name, key)
    existing = None if cfg.force else read_run(path)
    done = set() if existing is None else set(existing["key"])
    estimators = {
        name: (row_key(key, name, OmegaConf.to_container(node, resolve=True)), node)
        for name, node in cfg.estimator.items()
    }
    todo = {name: kn for name, kn in estimators.items() if kn[0] not in done}
    if not todo:
        return existing.to_dict("records")

    problem = generate_problem(cfg, make_rng(cfg))
    shared = {**config_columns(cfg), "run_key": key, **provenance(),
              **{f"meta.{k}": v for k, v in problem.meta.items()},
              **rate_columns(problem, cfg)}
    rows = [] if existing is None else existing[~existing["key"].isin(
        [kn[0] for kn in todo.values()])].to_dict("records")
    for name, (rkey, node) in todo.items():
        row = {**shared, "estimator": name, "key": rkey}
        row.update({f"estimator.{p}": v for p, v in OmegaConf.to_container(node).items()
                    if p != "_target_"})
        start = time.perf_counter()
        try:
            estimate = instantiate(node)(problem, cfg.r)
            row["wall_time"] = time.perf_counter() - start
            row.update(error_columns(problem, estimate.W_hat))
            row.update({f"solver.{k}": v for k, v in estimate.info.items()})
            converged = bool(estimate.info.get("converged", True))
            row["status"] = "ok" if converged else "not_converged"
            row["message"] = "" if converged else "solver hit its iteration limit"
        except Exception as exc:  # a failure is data: recorded, and the sweep goes on
            row.update(wall_time=time.perf_counter() - start, mse=np.nan, rel_error=np.nan,
                       status="error", message=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    write_rows_atomic(path, rows)
    return rows


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    run(cfg)
