"""Figure definitions (``experiments/*.yaml``): which sweeps, which estimators, which claim.

A definition is either a *sweep figure* (``sweeps:`` names ``conf/experiment/*`` configs whose
rows are fitted against the ``rate`` column) or a *runner figure* (``runner:
module:function`` computes its own tables, figure and report section).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from .paths import conf_dir, experiments_dir
from .validation import check_choice

EXPERIMENTS_DIR = experiments_dir()
#: "outside": a sweep outside the theorem's assumptions, described and never judged;
#: "reference": the figure's rate is itself a sharp prediction, checked point by point.
CLAIMS = {"sharp", "upper_bound", "tight", "outside", "reference"}


@dataclass(frozen=True)
class Sweep:
    name: str
    claim: str
    #: The ``conf/experiment`` config whose multirun writes this sweep's rows (default: ``name``).
    #: Sweeps that differ in one config group (e.g. the noise law, with ``experiment_name:
    #: <base>_${noise.name}``) share one multirun: one Hydra start instead of one per sweep.
    config: str | None = None
    #: The baselines this sweep runs, when they differ from the figure's ``baselines`` (a
    #: costly baseline run in some sweeps only); ``None``: the figure's.
    baselines: tuple[str, ...] | None = None

    @property
    def run(self) -> str:
        return self.config or self.name


@dataclass(frozen=True)
class Figure:
    figure: str
    title: str
    theorem: str | None = None
    theorem_title: str | None = None
    rate: str | None = None
    rate_label: str | None = None
    reference: str | None = None
    reference_label: str | None = None
    estimator: str | None = None
    baselines: tuple[str, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    plot: str = "rate"
    log_exponents: tuple[float, ...] = ()
    runner: str | None = None
    #: A runner figure's report heading; figures with the same heading are grouped under it,
    #: groups in ascending ``section_order`` (then file order), after the theorem sections.
    section: str | None = None
    section_order: int = 0
    paper: dict = field(default_factory=dict)
    #: The theorem's constant C, stated before the run: ``{value: C, source: how it was chosen}``.
    constant: dict = field(default_factory=dict)
    #: ``{dotted key: line}`` of the definition file, for messages that point at a line.
    lines: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def rate_text(self) -> str:
        """The rate as figures write it (its column name when the definition gives no label)."""
        return self.rate_label or self.rate

    @property
    def reference_text(self) -> str:
        return self.reference_label or self.reference

    @property
    def estimators(self) -> tuple[str, ...]:
        return (self.estimator, *self.baselines) if self.estimator else self.baselines

    def sweep_baselines(self, sweep: Sweep) -> tuple[str, ...]:
        """The baselines ``sweep`` runs: its own list if it has one, else the figure's."""
        return self.baselines if sweep.baselines is None else sweep.baselines

    def at(self, *keys: str) -> str:
        """``experiments/<figure>.yaml:<line>`` of the first of ``keys`` the file has."""
        return Located(f"experiments/{self.figure}.yaml", self.lines)(*keys)

    def overrides(self, sweep: str, scale: str) -> list[str]:
        """Hydra overrides of ``sweep``'s grid at ``scale`` (empty at the default scale)."""
        if scale == "default":
            return []
        grid = self.paper.get(sweep, {}) if scale == "paper" else {}
        return [f"{k}={v}" for k, v in grid.items()]


def yaml_key_lines(text: str) -> dict[str, int]:
    """The 1-based line of every mapping key of a YAML document, by dotted path (items of a
    list by their index: ``sweeps.2.name``). Raises ``yaml.YAMLError`` on a syntax error."""
    lines: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}{key.value}"
                lines.setdefault(path, key.start_mark.line + 1)
                walk(value, path + ".")
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(f"{prefix}{i}", item.start_mark.line + 1)
                walk(item, f"{prefix}{i}.")

    walk(yaml.compose(text), "")
    return lines


def yaml_syntax_problem(where: str, exc: yaml.YAMLError) -> str:
    """A YAML parser error as one line: ``file:line: YAML syntax error: what, where``."""
    mark = getattr(exc, "problem_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    what = " ".join(str(part) for part in (getattr(exc, "context", None),
                                           getattr(exc, "problem", None)) if part) or str(exc)
    return f"{where}{line}: YAML syntax error: {what}"


class Located:
    """``file:line`` of a definition's keys, for messages that point at the line to fix."""

    def __init__(self, where: str, lines: dict[str, int] | None = None):
        self.where, self.lines = where, lines or {}

    def __call__(self, *keys: str) -> str:
        """The file and the line of the first of ``keys`` the file has (the file alone if none)."""
        for key in keys:
            if key in self.lines:
                return f"{self.where}:{self.lines[key]}"
        return self.where


#: Figure keys and the types they take (besides ``sweeps``, ``paper`` and ``constant``).
_TEXT_KEYS = ("figure", "title", "theorem", "theorem_title", "rate", "rate_label", "reference",
              "reference_label", "estimator", "plot", "runner", "section", "claim")


def _is_text_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _type_problems(raw: dict, at: Located) -> list[str]:
    """Keys of the wrong type: a string where a list is needed would be read character by
    character (``baselines: data_svd`` → d, a, t, ...), a number where a list is needed fails
    deep in the run."""
    problems = []
    for key in _TEXT_KEYS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            hint = f' (quote it: {key}: "{raw[key]}")' if isinstance(raw[key], (int, float)) else ""
            problems.append(f"{at(key)}: {key} must be a string, got {raw[key]!r}{hint}")
    if raw.get("baselines") is not None and not _is_text_list(raw["baselines"]):
        problems.append(f"{at('baselines')}: baselines must be a list of estimator names, e.g. "
                        f"[data_svd, weight_svd], got {raw['baselines']!r}")
    exponents = raw.get("log_exponents")
    if exponents is not None and not (isinstance(exponents, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in exponents)):
        problems.append(f"{at('log_exponents')}: log_exponents must be a list of numbers, "
                        f"got {exponents!r}")
    order = raw.get("section_order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        problems.append(f"{at('section_order')}: section_order must be an integer, got {order!r}")
    if raw.get("paper") is not None and not isinstance(raw["paper"], dict):
        problems.append(f"{at('paper')}: paper must map sweeps to grids, got {raw['paper']!r}")
    return problems


def _sweep_items(raw: dict, default_claim, at: Located) -> tuple[list[Sweep], list[str]]:
    """The ``sweeps:`` list as :class:`Sweep` objects, and what is wrong with its items."""
    items = raw.get("sweeps")
    if items is None:
        return [], []
    if not isinstance(items, list):
        return [], [f"{at('sweeps')}: sweeps must be a list of sweep names or "
                    f"{{name: ..., claim: ...}} items, got {items!r}"]
    sweeps, problems = [], []
    for i, item in enumerate(items):
        where = at(f"sweeps.{i}", "sweeps")
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f"{where}: every sweep needs a name (a string), got {items[i]!r}")
            continue
        unknown = set(item) - {"name", "claim", "config", "baselines"}
        if unknown:
            problems.append(f"{where}: sweep {item['name']}: unknown keys {sorted(unknown)}; "
                            f"allowed: ['baselines', 'claim', 'config', 'name']")
        if item.get("config") is not None and not isinstance(item["config"], str):
            problems.append(f"{where}: sweep {item['name']}: config must be a string, "
                            f"got {item['config']!r}")
        baselines = item.get("baselines")
        if baselines is not None and not _is_text_list(baselines):
            problems.append(f"{where}: sweep {item['name']}: baselines must be a list of "
                            f"estimator names, got {baselines!r}")
            baselines = None
        try:
            claim = check_choice(f"claim of sweep {item['name']}",
                                 item.get("claim", default_claim), CLAIMS)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        sweeps.append(Sweep(item["name"], claim, item.get("config"),
                            None if baselines is None else tuple(baselines)))
    return sweeps, problems


def read_figure(path: Path) -> tuple[Figure | None, list[str]]:
    """The figure a definition file describes, and every problem of the file (YAML syntax,
    unknown keys, types, names), each with its ``file:line``; ``None`` when it cannot be built."""
    path = Path(path)
    where = f"experiments/{path.name}"
    text = path.read_text()
    try:
        at = Located(where, yaml_key_lines(text))
    except yaml.YAMLError as exc:
        return None, [yaml_syntax_problem(where, exc)]
    try:
        raw = OmegaConf.to_container(OmegaConf.create(text), resolve=True) if text.strip() else {}
    except Exception as exc:  # OmegaConf: bad interpolations, a top-level list ...
        return None, [f"{where}: cannot be read: {exc}"]
    if not isinstance(raw, dict):
        return None, [f"{where}: must be a mapping of figure keys, got {type(raw).__name__}"]
    problems = _type_problems(raw, at)
    if raw.get("figure") != path.stem:
        problems.append(f"{at('figure')}: 'figure' must equal the file name {path.stem!r}, "
                        f"got {raw.get('figure')!r}")
    known = set(Figure.__dataclass_fields__) | {"claim"}
    unknown = set(raw) - known
    if unknown:
        problems.append(f"{at(*sorted(unknown))}: unknown keys {sorted(unknown)}; "
                        f"allowed: {sorted(known)}")
    default_claim = raw.pop("claim", "sharp")
    sweeps, sweep_problems = _sweep_items(raw, default_claim, at)
    problems += sweep_problems
    raw.pop("sweeps", None)
    if not sweeps and not raw.get("runner") and not sweep_problems:
        problems.append(f"{where}: a figure needs 'sweeps' or a 'runner'")
    if sweeps and not (raw.get("rate") and raw.get("estimator")):
        problems.append(f"{where}: a sweep figure needs 'rate' and 'estimator'")
    try:
        constant = _check_constant(where, raw.get("constant") or {})
    except ValueError as exc:
        problems.append(str(exc).replace(where, at("constant"), 1))
    if problems:
        return None, problems
    raw["baselines"] = tuple(raw.get("baselines") or ())
    raw["log_exponents"] = tuple(raw.get("log_exponents") or ())
    raw["paper"] = raw.get("paper") or {}
    raw["constant"] = constant
    return Figure(sweeps=tuple(sweeps), lines=at.lines, **raw), []


def load_figure(path: Path) -> Figure:
    """The figure of one definition file; ``ValueError`` listing every problem of the file."""
    fig, problems = read_figure(path)
    if problems:
        raise ValueError("\n".join(problems))
    return fig


def _check_constant(path, constant: dict) -> dict:
    """A pre-registered constant needs a positive value and the source it was chosen from."""
    if not constant:
        return {}
    value = constant.get("value") if isinstance(constant, dict) else None
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0
            or not str(constant.get("source", "")).strip() or set(constant) - {"value", "source"}):
        raise ValueError(f"{path}: constant must be {{value: <number > 0>, source: <text>}}, "
                         f"got {constant}")
    return {"value": float(value), "source": str(constant["source"])}


def _override_key_problem(key: str, sweep: str, conf_dir: Path) -> str | None:
    """Why ``key`` (of a Hydra override ``key=value``) is not a key of ``sweep``'s run config."""
    from .config import known_keys

    top = key.split(".", 1)[0]
    if top not in known_keys():
        close = difflib.get_close_matches(top, known_keys(), n=1)
        return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if "." not in key:
        return None
    # A group parameter (model.alpha) exists only in the config the sweep selects for the group.
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        cfg = compose("config", overrides=[f"+experiment={sweep}"])
    if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
        node = cfg.get(top)
        known = sorted(f"{top}.{k}" for k in node if k != "_target_") if isinstance(node, DictConfig) else []
        return f"unknown key {key!r}; {sweep} accepts {known}"
    return None


_MISSING = object()


def figure_problems(fig: Figure, conf_dir: Path) -> list[str]:
    """What in ``fig`` would fail only after its sweeps ran (or run the wrong grid): sweeps
    with no ``conf/experiment`` config, ``paper:`` grids of other sweeps or of keys no run
    config accepts, a plot kind :data:`theory_check.plots.PLOTS` does not draw, a runner that
    cannot be imported."""
    from .plots import PLOTS

    problems = []
    available = sorted(p.stem for p in (Path(conf_dir) / "experiment").glob("*.yaml"))
    names = list(dict.fromkeys(s.run for s in fig.sweeps))  # the configs the multiruns run
    reported = set()
    for i, sweep in enumerate(fig.sweeps):
        if sweep.run not in available and sweep.run not in reported:
            reported.add(sweep.run)
            close = difflib.get_close_matches(sweep.run, available, n=1)
            problems.append(f"{fig.at(f'sweeps.{i}', 'sweeps')}: sweep {sweep.run!r} has no "
                            f"conf/experiment/{sweep.run}.yaml"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
    for sweep, grid in fig.paper.items():
        where = fig.at(f"paper.{sweep}", "paper")
        if sweep not in names:
            problems.append(f"{where}: paper: {sweep!r} is not a sweep of this figure "
                            f"(its sweeps: {names})")
            continue
        if not isinstance(grid, dict):
            problems.append(f"{where}: paper: {sweep}: must map keys to grids, got {grid!r}")
            continue
        if sweep not in available:
            continue
        for key in grid:
            problem = _override_key_problem(str(key), sweep, conf_dir)
            if problem:
                problems.append(f"{fig.at(f'paper.{sweep}.{key}', f'paper.{sweep}')}: paper: "
                                f"{sweep}: {problem}")
    if fig.sweeps and fig.plot not in PLOTS:
        problems.append(f"{fig.at('plot')}: plot {fig.plot!r} is not a plot kind; "
                        f"known: {sorted(PLOTS)}")
    if fig.runner:
        module, _, func = fig.runner.partition(":")
        try:
            getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{fig.at('runner')}: runner {fig.runner!r} cannot be imported: {exc}")
    return problems


def read_figures(directory: Path) -> tuple[list[Figure], list[str]]:
    """Every figure a folder's definition files describe, in file-name order, and every problem
    of those files (:func:`read_figure`)."""
    figures, problems = [], []
    for path in sorted(Path(directory).glob("*.yaml")):
        fig, found = read_figure(path)
        problems += found
        if fig is not None:
            figures.append(fig)
    return figures, problems


def load_figures(directory: Path = EXPERIMENTS_DIR, conf: Path | None = None,
                 check: bool = True) -> list[Figure]:
    """Every figure definition, in file-name order.

    With ``check``, every problem of every figure (:func:`figure_problems`, and the report's
    need of a title for each theorem) is raised in one ``ValueError``, before anything runs.
    """
    figures, problems = read_figures(directory)
    if check:
        conf = Path(conf or conf_dir())
        for fig in figures:
            problems += figure_problems(fig, conf)
        problems += theorem_problems(figures)
    if problems:
        raise ValueError(f"{len(problems)} problems in the figure definitions of {directory}:\n  "
                         + "\n  ".join(problems))
    return figures


def theorem_problems(figures: list[Figure]) -> list[str]:
    """Sections the report could not head: a sweep figure's theorem needs a ``theorem_title``,
    the same for every figure of that theorem; a runner figure needs a ``section``."""
    problems, titles = [], {}
    for fig in (f for f in figures if f.runner and not f.section):
        problems.append(f"{fig.at('runner')}: a runner figure needs a section "
                        f"(its report heading)")
    for fig in (f for f in figures if f.theorem and f.sweeps):
        if not fig.theorem_title:
            problems.append(f"{fig.at('theorem')}: theorem {fig.theorem!r} needs a "
                            f"theorem_title (the report's section heading)")
            continue
        first = titles.setdefault(fig.theorem, (fig.figure, fig.theorem_title))
        if first[1] != fig.theorem_title:
            problems.append(f"{fig.at('theorem_title')}: theorem_title {fig.theorem_title!r} "
                            f"differs from {first[1]!r} of experiments/{first[0]}.yaml "
                            f"(same theorem {fig.theorem!r})")
    return problems


def theorem_titles(figures: list[Figure]) -> dict[str, str]:
    """``{theorem: title}`` of the sweep figures, in theorem order (3.1 before 4.4 before 10.1;
    a part that is not a number after the numbers: 4.4 before 4.4b)."""
    titles = {f.theorem: f.theorem_title for f in figures if f.theorem and f.sweeps}
    return dict(sorted(titles.items(), key=lambda kv: [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in kv[0].split(".")]))
