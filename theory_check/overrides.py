"""Command-line overrides of keys a config does not have, named in one message.

Hydra refuses ``foo=1`` when the composed config has no ``foo`` with "Could not override
'foo'. To append to your config use +foo=1", a suggestion the suite then refuses as an
unknown key (a typo must not be a new experiment). :func:`unknown_parameter` gives one message
instead: the parameter, the closest known one, and every parameter of the config (or of the
config group) it was meant for. The sweeper (:class:`theory_check.sweep.Composer`) raises it for
each job, and :func:`command_line_problem` finds it in a command line before Hydra composes.
"""

from __future__ import annotations

import difflib

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

_ABSENT = object()
#: Keys of a config node that are not parameters one sets.
_INTERNAL = ("_target_", "hydra")


class UnknownParameter(CompactHydraException, ValueError):
    """An override sets a key the composed config does not have."""


def is_absent(cfg: DictConfig, key: str) -> bool:
    """Whether ``key`` (dotted) is missing from ``cfg``, so that setting it without ``+`` fails."""
    return OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False) is _ABSENT


def sets_existing_key(override: Override) -> bool:
    """A plain ``key=value`` of the task config, which Hydra applies only to an existing key."""
    return override.type == OverrideType.CHANGE and not override.is_hydra_override()


def unknown_parameter(key: str, cfg: DictConfig) -> str:
    """The message for setting ``key``, absent from ``cfg``: the parameters of the deepest
    node of ``key``'s path that exists (the whole config, or a group such as ``model``)."""
    node, path = cfg, []
    for part in key.split(".")[:-1]:
        child = node.get(part) if isinstance(node, DictConfig) else None
        if not isinstance(child, DictConfig):
            break
        node, path = child, [*path, part]
    prefix = ".".join(path)
    known = sorted(f"{prefix}.{k}" if prefix else str(k) for k in node if k not in _INTERNAL)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    experiment = cfg.get("experiment_name", "the config")
    if prefix:
        name = node.get("name")
        owner = f"{prefix}{f' {name!r}' if name else ''} of {experiment}"
        how = (f"; a parameter of its function that the config leaves out is set with "
               f"+{key}=<value>")
    else:
        owner, how = experiment, "; a new parameter must first be declared in conf/config.yaml"
    return f"unknown parameter {key}; {hint}the parameters of {owner}: {', '.join(known)}{how}"


def command_line_problem(argv: list[str], config_dir: str) -> str | None:
    """The :func:`unknown_parameter` message for the first plain ``key=value`` of a
    ``theory-check`` command line (``argv`` without the program) whose key the config composed
    from the rest of the line does not have; None when there is none.

    The config is composed only when the line has such a candidate: a key with a dot, or a
    top-level key that is not declared. Sweep values (``a=1,2``) are left to the sweeper, and any
    other composition error to Hydra, which reports it as usual.
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.utils import get_args_parser

    from .config import known_keys

    args, _ = get_args_parser().parse_known_args(argv)
    if args.help or args.hydra_help or args.shell_completion or not args.overrides:
        return None
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except Exception:  # a syntax error: Hydra's own message says where
        return None
    candidates = [o for o in overrides if sets_existing_key(o) and not o.is_sweep_override()
                  and ("." in o.key_or_group or o.key_or_group not in known_keys())]
    if not candidates:
        return None
    rest = [o.input_line for o in overrides
            if o not in candidates and not o.is_hydra_override() and not o.is_sweep_override()]
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            cfg = compose("config", overrides=rest)
    except Exception:
        return None
    for override in candidates:
        if is_absent(cfg, override.key_or_group):
            return unknown_parameter(override.key_or_group, cfg)
    return None
