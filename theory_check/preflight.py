"""Everything ``reproduce`` checks before its first run: the figure files and every sweep
config they use, at every point of their grids, at both scales.

A mistake in a definition should cost seconds, not the minutes of sweeps that run before it
surfaces. :func:`definition_problems` lists, each with its ``file:line``:

* YAML syntax errors and wrongly typed keys of the figure files
  (:func:`theory_check.experiments.read_figure`);
* for every ``conf/experiment`` config a figure (or a runner's ``SWEEPS``) uses: its YAML
  syntax, its grid (``hydra.sweeper.params``, and each ``paper:`` grid over it) parsed and
  expanded, and every point of it composed as the sweeper composes it and checked by
  :func:`theory_check.config.config_problems` (sizes, ranges, plug-in parameters, unknown
  keys). Seeds are checked as values only: they change no check but the seed's own;
* the ``experiment_name`` each grid point writes its rows under, against the sweeps the
  figures read from that config (equal to the file name, unless the figure names the
  config's sweeps one by one with ``config:``);
* the figure's estimator and baselines against the estimators each sweep runs;
* the figure's ``rate`` and ``reference`` columns against those the sweep's model declares,
  found by generating one problem at the grid's smallest point.
"""

from __future__ import annotations

import copy
import importlib
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from .config import config_problems, generate_problem, known_keys
from .experiments import Figure, Located, Sweep, yaml_key_lines, yaml_syntax_problem
from .paths import conf_dir
from .sweep import task_config
from .validation import check_int


class DefinitionError(ValueError):
    """Figure files or sweep configs are invalid; nothing was run."""


@dataclass
class Point:
    """One grid point of a sweep config (at its first seed), composed and checked."""

    overrides: tuple[str, ...]
    cfg: DictConfig | None
    problems: list[str]

    @property
    def experiment(self) -> str | None:
        return None if self.cfg is None else str(self.cfg.experiment_name)

    @property
    def size(self) -> float:
        return float(self.cfg.n) * float(self.cfg.d) * float(self.cfg.N)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) < 400 else text[:400] + " ..."


def runner_sweeps(figures: list[Figure]) -> dict[str, dict]:
    """``{config: paper grid}`` of the sweeps runner figures start themselves: their module's
    ``SWEEPS`` (names of ``conf/experiment`` configs) and ``PAPER`` (overrides at paper scale)."""
    sweeps = {}
    for fig in figures:
        if not fig.runner:
            continue
        try:
            module = importlib.import_module(fig.runner.partition(":")[0])
        except ImportError:
            continue  # figure_problems reports it
        for name in getattr(module, "SWEEPS", ()):
            sweeps[name] = dict(getattr(module, "PAPER", {}))
    return sweeps


class SweepChecker:
    """Composes the points of one config's grids (one Hydra composition per set of config-group
    choices, the value overrides applied to a copy, as :class:`theory_check.sweep.Composer`
    does) and collects what is wrong with them."""

    def __init__(self, conf: Path):
        self.conf = Path(conf)
        self.groups = {p.name for p in self.conf.iterdir() if p.is_dir()}
        self.parser = OverridesParser.create()

    def _is_group(self, key: str) -> bool:
        return "." not in key and key in self.groups

    def _parse(self, key: str, value: str):
        (override,) = self.parser.parse_overrides([f"{key}={value}"])
        return override

    def _expand(self, grid: dict[str, str], base: DictConfig, locate) -> tuple[dict, list[str]]:
        """``{key: [override, ...]}`` of a grid, and its keys and values that cannot be run."""
        values, problems = {}, []
        for key, value in grid.items():
            top = key.lstrip("+").split(".", 1)[0]
            if top == "hydra":
                continue
            if top not in known_keys() or ("." in key and OmegaConf.select(
                    base, key.lstrip("+"), default=_MISSING) is _MISSING):
                node = base.get(top)
                known = (sorted(f"{top}.{k}" for k in node if k != "_target_")
                         if isinstance(node, DictConfig) and "." in key
                         else sorted(known_keys() - {"hydra", "experiment"}))
                problems.append(f"{locate(key)}: unknown parameter {key!r}; this sweep's "
                                f"parameters: {known}")
                continue
            try:
                override = self._parse(key, value)
            except Exception as exc:
                problems.append(f"{locate(key)}: {key}: cannot read the grid {value!r}: "
                                f"{_one_line(exc).split(' See https')[0]}")
                continue
            items = (list(override.sweep_string_iterator()) if override.is_sweep_override()
                     else [override.get_value_element_as_str()])
            if not items:
                problems.append(f"{locate(key)}: {key}: the grid {value!r} has no values")
                continue
            values[key] = [f"{key}={item}" for item in items]
        return values, problems

    def _seed_problems(self, seeds: list[str], locate) -> list[str]:
        problems = []
        for seed in seeds:
            try:
                check_int("seed", self._parse("seed", seed.partition("=")[2]).value(), low=0)
            except (ValueError, TypeError) as exc:
                problems.append(f"{locate('seed')}: {exc}")
                break  # one bad seed says it; the others would repeat it
        return problems

    def points(self, config: str, grid: dict[str, str], base: DictConfig, locate,
               composed: dict) -> tuple[list[Point], list[str]]:
        """The checked points of one grid, and the grid's own problems. ``composed``: the
        config's compositions by config-group overrides, shared by its grids."""
        values, problems = self._expand(grid, base, locate)
        seeds = values.pop("seed", [])
        problems += self._seed_problems(seeds, locate)
        points = []
        for combo in itertools.product(*values.values()):
            overrides = (*combo, *seeds[:1])
            groups = tuple(o for o in overrides if self._is_group(o.partition("=")[0]))
            if groups not in composed:
                try:
                    cfg = compose("config", overrides=[f"+experiment={config}", *groups])
                    composed[groups] = cfg
                except Exception as exc:
                    composed[groups] = exc
            cfg = composed[groups]
            if isinstance(cfg, Exception):
                points.append(Point(overrides, None, [f"cannot be composed: {_one_line(cfg)}"]))
                continue
            cfg = copy.deepcopy(cfg)
            try:
                parsed = [self.parser.parse_overrides([o])[0] for o in overrides if o not in groups]
                ConfigLoaderImpl._apply_overrides_to_config(parsed, cfg)
                found = config_problems(cfg)
                str(cfg.experiment_name)  # an interpolation that fails is a problem too
            except Exception as exc:
                points.append(Point(overrides, None, [_one_line(exc)]))
                continue
            points.append(Point(overrides, cfg, found))
        return points, problems


_MISSING = object()


def _problem_key(problem: str) -> str:
    """The config key a problem message is about (its first word, or the key it calls unknown)."""
    unknown = re.match(r"unknown key ([\w.]+)", problem)
    if unknown:
        return unknown.group(1)
    first = re.match(r"[\w.]+", problem)
    return first.group() if first else ""


def _point_problems(points: list[Point], grid_keys, at: Located, locate, label: str,
                    reported: set) -> list[str]:
    """Each distinct problem of a grid's points once, with how many points have it; those in
    ``reported`` (found in another grid of the same config) are left out, and added to it."""
    seen: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for point in points:
        for problem in point.problems:
            key = _problem_key(problem)
            where = locate(key) if key in grid_keys else at(key)
            seen[(where, problem)].append(point)
    out = []
    for (where, problem), having in seen.items():
        if (where, problem) in reported:
            continue
        reported.add((where, problem))
        example = " ".join(o for o in having[0].overrides if not o.startswith("seed="))
        if len(having) == len(points):
            example = "every point of the grid"
        elif len(having) > 1:
            example += f" and {len(having) - 1} more points"
        out.append(f"{where}: {problem}{label} (at {example})")
    return out


def declared_columns(point: Point) -> set[str] | str:
    """The columns of a run's rows that its model declares (rates, references, ``meta.*``),
    from one problem generated at ``point``; the error text if generation fails."""
    from threadpoolctl import threadpool_limits

    from .run import make_rng, problem_columns, reference_columns

    try:
        with threadpool_limits(limits=1):  # as the runs do: small factorizations, shared cores
            problem = generate_problem(point.cfg, make_rng(point.cfg))
        return set(problem_columns(problem)) | set(reference_columns(problem, point.cfg))
    except Exception as exc:
        return f"{type(exc).__name__}: {_one_line(exc)}"


def _users_checks(config: str, users: list[tuple[Figure, Sweep]], grids, at: Located) -> list[str]:
    """What the figures reading ``config``'s rows expect of them: experiment names,
    estimators, rate and reference columns."""
    problems = []
    line = at("experiment_name")
    for label, points in grids:
        names = sorted({p.experiment for p in points if p.cfg is not None})
        if not names:
            continue  # every point is invalid: said above
        read = {s.name for _, s in users}
        missing = False
        for fig, sweep in users:
            if sweep.name not in names:
                missing = True
                rule = ("" if sweep.config else
                        f"; experiment_name must equal the file name {config!r}")
                problems.append(f"{fig.at(f'sweeps.{fig.sweeps.index(sweep)}', 'sweeps')}: sweep "
                                f"{sweep.name!r} would have no rows: {line} writes them under "
                                f"experiment_name {names}{label}{rule}")
        if users and not missing:  # else the message above says where the rows go
            for name in sorted(set(names) - read):
                problems.append(f"{line}: experiment_name {name!r}{label} is read by no figure "
                                f"(the figures read {sorted(read)} from {config}); "
                                f"experiment_name must equal the file name {config!r}")
        elif names != [config]:
            problems.append(f"{line}: experiment_name must equal the file name {config!r}, "
                            f"got {names}{label}")
    if not grids:
        return problems
    _, points = grids[0]  # the default grid: what a figure's rows are made of
    by_name: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        if point.cfg is not None and not point.problems:
            by_name[point.experiment].append(point)
    columns: dict[str, set[str] | str] = {}
    for fig, sweep in users:
        mine = by_name.get(sweep.name)
        if not mine:
            continue
        runs = sorted({name for p in mine for name in p.cfg.estimator})
        index = fig.sweeps.index(sweep)
        wanted = [("estimator", fig.estimator, fig.at("estimator"))]
        wanted += [("baseline", b, fig.at(f"sweeps.{index}.baselines", "baselines"))
                   for b in fig.sweep_baselines(sweep)]
        for role, name, where in wanted:
            if name not in runs:
                hint = ("; a baseline run by some sweeps only is listed per sweep: "
                        f"{{name: {sweep.name}, baselines: [...]}}" if role == "baseline" else "")
                problems.append(f"{where}: {role} {name!r} is not run by sweep {sweep.name} "
                                f"(conf/experiment/{config}.yaml runs {runs}){hint}")
        if sweep.name not in columns:
            columns[sweep.name] = declared_columns(min(mine, key=lambda p: p.size))
        declared = columns[sweep.name]
        if isinstance(declared, str):
            problems.append(f"{at()}: generating one problem of sweep {sweep.name} failed: "
                            f"{declared}")
            continue
        for key, column in (("rate", fig.rate), ("reference", fig.reference)):
            if column and column not in declared:
                offered = sorted(c for c in declared if c.startswith(("rate_", "dof_", "reference_")))
                problems.append(f"{fig.at(key)}: {key} {column!r} is not a column of sweep "
                                f"{sweep.name}'s rows; their model "
                                f"{mine[0].cfg.model.get('name')!r} declares {offered}")
    return problems


def check_sweep_config(checker: SweepChecker, config: str, users: list[tuple[Figure, Sweep]],
                       runner_paper: dict | None = None) -> list[str]:
    """Every problem of ``conf/experiment/<config>.yaml`` and of the figures' use of it."""
    where = f"conf/experiment/{config}.yaml"
    path = checker.conf / "experiment" / f"{config}.yaml"
    try:
        at = Located(where, yaml_key_lines(path.read_text()))
    except yaml.YAMLError as exc:
        return [yaml_syntax_problem(where, exc)]
    try:
        base = compose("config", overrides=[f"+experiment={config}"], return_hydra_config=True)
    except Exception as exc:
        return [f"{where}: cannot be composed: {_one_line(exc)}"]
    params = {str(k): str(v) for k, v in (OmegaConf.select(base, "hydra.sweeper.params") or {}).items()}
    own = lambda key: at(f"hydra.sweeper.params.{key}", "hydra.sweeper.params")  # noqa: E731
    grids = [("", params, own)]
    for fig in {fig.figure: fig for fig, _ in users}.values():
        paper = fig.paper.get(config)
        if isinstance(paper, dict):
            paper = {str(k): str(v) for k, v in paper.items()}
            grids.append((f" (paper grid of experiments/{fig.figure}.yaml)", {**params, **paper},
                          lambda key, fig=fig, paper=paper: (
                              fig.at(f"paper.{config}.{key}", f"paper.{config}") if key in paper
                              else own(key))))
    if runner_paper:
        grids.append((" (paper grid of its runner)", {**params, **runner_paper}, own))
    problems, checked, reported = [], [], set()
    composed = {(): task_config(copy.deepcopy(base))}
    for label, grid, locate in grids:
        points, found = checker.points(config, grid, base, locate, composed)
        if label and found and set(grid) - set(params):
            # a paper grid's unknown keys are reported with the figure (figure_problems)
            found = [p for p in found if "unknown parameter" not in p]
        problems += found
        problems += _point_problems(points, set(grid), at, locate, label, reported)
        checked.append((label, points))
    return problems + _users_checks(config, users, checked, at)


def definition_problems(figures: list[Figure], conf: Path | None = None) -> list[str]:
    """Every problem of the sweep configs the figures use (see the module docstring)."""
    conf = Path(conf or conf_dir())
    users: dict[str, list[tuple[Figure, Sweep]]] = defaultdict(list)
    for fig in figures:
        for sweep in fig.sweeps:
            users[sweep.run].append((fig, sweep))
    runners = runner_sweeps(figures)
    configs = [c for c in dict.fromkeys([*users, *runners])
               if (conf / "experiment" / f"{c}.yaml").is_file()]  # a missing one: figure_problems
    problems = []
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        checker = SweepChecker(conf)
        for config in configs:
            problems += check_sweep_config(checker, config, users.get(config, []),
                                           runners.get(config))
    return problems


def check_everything(directory: Path, conf: Path | None = None) -> list[Figure]:
    """The figures of ``directory``, once every figure file and every sweep config they use
    passed every check; otherwise :class:`DefinitionError` listing every problem found."""
    from .analysis import registered_constants
    from .experiments import figure_problems, read_figures, theorem_problems

    conf = Path(conf or conf_dir())
    figures, problems = read_figures(directory)
    for fig in figures:
        problems += figure_problems(fig, conf)
    problems += theorem_problems(figures)
    try:
        registered_constants(figures)  # one theorem, one constant: else analyze raises after the runs
    except ValueError as exc:
        problems.append(f"experiments/: {exc}")
    problems += definition_problems(figures, conf)
    if problems:
        raise DefinitionError(f"{len(problems)} problems in the definitions (experiments/*.yaml "
                              f"and the conf/experiment configs they use); nothing was run:\n  "
                              + "\n  ".join(problems))
    return figures
