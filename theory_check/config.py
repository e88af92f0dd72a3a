"""A run's config, checked before any work: keys, plug-in targets and parameters.

:func:`config_problems` lists everything wrong with a composed config, so a single run and a
whole sweep (:mod:`theory_check.sweep`) refuse a bad config before drawing anything; the plug-in
functions of the config groups are resolved here too (:func:`plugin`, :func:`generate_problem`).
"""

from __future__ import annotations

import difflib
import functools
import json

import numpy as np
from hydra.errors import CompactHydraException
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf

from .paths import conf_dir
from .validation import check_int, check_rank, check_real

#: Config groups whose node is a function (``_target_``) plus its parameters.
FUNCTION_GROUPS = ("design", "noise", "model")


class InvalidConfig(CompactHydraException):
    """A single run's config is invalid; Hydra prints the message only, without a traceback."""


@functools.cache
def known_keys() -> frozenset[str]:
    """The top-level keys a run config may have: conf/config.yaml's own and the config groups."""
    conf = conf_dir()
    top = set(OmegaConf.load(conf / "config.yaml")) - {"defaults"}
    return frozenset(top | {p.name for p in conf.iterdir() if p.is_dir()})


def _check_key(key: str) -> None:
    if key not in known_keys():
        close = difflib.get_close_matches(key, known_keys(), n=1)
        hint = f"did you mean {close[0]}?" if close else "new keys must be declared in conf/config.yaml"
        raise ValueError(f"unknown key {key}; {hint}")


def plugin(group: str, node: DictConfig | dict):
    """The function a config group's node (or the node resolved to a dict) names by
    ``_target_``, with its parameters bound."""
    if not isinstance(node, dict):
        node = OmegaConf.to_container(node, resolve=True)
    params = {k: v for k, v in node.items() if k not in ("name", "_target_")}
    try:
        fn = get_method(node["_target_"])
    except Exception as exc:  # Hydra raises its own error types for unknown targets
        raise ValueError(f"{group}._target_ {node['_target_']!r} cannot be imported: {exc}") from None
    return functools.partial(fn, **params)


class _Drawn(Exception):
    """Raised by :class:`_NoDraws` at a plug-in's first random draw."""


class _NoDraws:
    """A generator that refuses to draw. Plug-ins check their parameters before drawing
    anything (CONTRIBUTING.md), so a call with this stand-in runs exactly those checks."""

    def __getattr__(self, name):
        raise _Drawn


def with_config_path(path: str, params, message: str) -> str:
    """``message`` of a plug-in's own check, with the parameter it names put at its place in
    the config: ``alpha must be > 0`` of the model becomes ``model.alpha must be > 0``."""
    for param in params:
        if message.startswith(f"{param} "):
            return f"{path}.{message}"
    return message


def _dry_run(group: str, cfg: DictConfig, call) -> None:
    try:
        call()
    except _Drawn:
        pass
    except Exception as exc:
        message = with_config_path(group, [k for k in cfg[group] if k not in ("name", "_target_")],
                                   str(exc))
        raise ValueError(f"{group} {cfg[group].name!r}: {message}") from None


def _check_group(cfg: DictConfig, group: str) -> None:
    node = cfg.get(group)
    if node is None or "_target_" not in node or "name" not in node:
        raise ValueError(f"config group {group!r} must select a config with name and _target_")
    plugin(group, node)


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
        message = with_config_path(f"estimator.{name}", [k for k in node if k != "_target_"],
                                   str(cause))
        raise ValueError(f"estimator {name!r}: {message}") from None


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
        except (ValueError, TypeError) as exc:
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
                            lambda: plugin("design", cfg.design)(_NoDraws(), cfg.n, cfg.d)),
                     passes(_dry_run, "noise", cfg,
                            lambda: plugin("noise", cfg.noise)(_NoDraws(), (cfg.n, cfg.N), cfg.sigma))])
        if parts:  # the model calls both, and would repeat their problems
            passes(_dry_run, "model", cfg, lambda: generate_problem(cfg, _NoDraws()))
    return problems


def validate(cfg: DictConfig) -> None:
    """Raise ``ValueError`` naming every problem :func:`config_problems` finds."""
    problems = config_problems(cfg)
    if problems:
        raise ValueError("; ".join(problems))


def generate_problem(cfg: DictConfig | dict, rng: np.random.Generator):
    """The problem the config's model draws with ``rng`` (``cfg``: composed, or resolved to
    plain containers as :func:`theory_check.run.resolved` gives it)."""
    model = plugin("model", cfg["model"])
    return model(
        rng, n=cfg["n"], d=cfg["d"], N=cfg["N"], r=cfg["r"], sigma=cfg["sigma"], delta=cfg["delta"],
        design=plugin("design", cfg["design"]), noise=plugin("noise", cfg["noise"]),
    )
