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

    def overrides(self, sweep: str, scale: str) -> list[str]:
        """Hydra overrides of ``sweep``'s grid at ``scale`` (empty at the default scale)."""
        if scale == "default":
            return []
        grid = self.paper.get(sweep, {}) if scale == "paper" else {}
        return [f"{k}={v}" for k, v in grid.items()]


def load_figure(path: Path) -> Figure:
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    name = raw.get("figure")
    if name != path.stem:
        raise ValueError(f"{path}: 'figure' must equal the file name {path.stem!r}, got {name!r}")
    default_claim = raw.pop("claim", "sharp")
    sweeps = []
    for item in raw.pop("sweeps", []) or []:
        item = {"name": item} if isinstance(item, str) else dict(item)
        if "name" not in item:
            raise ValueError(f"{path}: every sweep needs a name, got {item}")
        claim = check_choice(f"{path.name}: claim of sweep {item['name']}",
                             item.get("claim", default_claim), CLAIMS)
        sweeps.append(Sweep(item["name"], claim, item.get("config")))
    if not sweeps and not raw.get("runner"):
        raise ValueError(f"{path}: a figure needs 'sweeps' or a 'runner'")
    if sweeps and not (raw.get("rate") and raw.get("estimator")):
        raise ValueError(f"{path}: a sweep figure needs 'rate' and 'estimator'")
    known = set(Figure.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(known | {'claim'})}")
    raw["baselines"] = tuple(raw.get("baselines", ()) or ())
    raw["log_exponents"] = tuple(raw.get("log_exponents", ()) or ())
    raw["paper"] = raw.get("paper") or {}
    raw["constant"] = _check_constant(path, raw.get("constant") or {})
    return Figure(sweeps=tuple(sweeps), **raw)


def _check_constant(path: Path, constant: dict) -> dict:
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

    where = f"experiments/{fig.figure}.yaml"
    problems = []
    available = sorted(p.stem for p in (Path(conf_dir) / "experiment").glob("*.yaml"))
    names = list(dict.fromkeys(s.run for s in fig.sweeps))  # the configs the multiruns run
    for name in names:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=1)
            problems.append(f"{where}: sweep {name!r} has no conf/experiment/{name}.yaml"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
    for sweep, grid in fig.paper.items():
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
                problems.append(f"{where}: paper: {sweep}: {problem}")
    if fig.sweeps and fig.plot not in PLOTS:
        problems.append(f"{where}: plot {fig.plot!r} is not a plot kind; known: {sorted(PLOTS)}")
    if fig.runner:
        module, _, func = fig.runner.partition(":")
        try:
            getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{where}: runner {fig.runner!r} cannot be imported: {exc}")
    return problems


def load_figures(directory: Path = EXPERIMENTS_DIR, conf: Path | None = None,
                 check: bool = True) -> list[Figure]:
    """Every figure definition, in file-name order.

    With ``check``, every problem of every figure (:func:`figure_problems`, and the report's
    need of a title for each theorem) is raised in one ``ValueError``, before anything runs.
    """
    figures, problems = [], []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            figures.append(load_figure(path))
        except ValueError as exc:
            problems.append(str(exc))
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
        problems.append(f"experiments/{fig.figure}.yaml: a runner figure needs a section "
                        f"(its report heading)")
    for fig in (f for f in figures if f.theorem and f.sweeps):
        if not fig.theorem_title:
            problems.append(f"experiments/{fig.figure}.yaml: theorem {fig.theorem!r} needs a "
                            f"theorem_title (the report's section heading)")
            continue
        first = titles.setdefault(fig.theorem, (fig.figure, fig.theorem_title))
        if first[1] != fig.theorem_title:
            problems.append(f"experiments/{fig.figure}.yaml: theorem_title {fig.theorem_title!r} "
                            f"differs from {first[1]!r} of experiments/{first[0]}.yaml "
                            f"(same theorem {fig.theorem!r})")
    return problems


def theorem_titles(figures: list[Figure]) -> dict[str, str]:
    """``{theorem: title}`` of the sweep figures, in theorem order (3.1 before 4.4 before 10.1;
    a part that is not a number after the numbers: 4.4 before 4.4b)."""
    titles = {f.theorem: f.theorem_title for f in figures if f.theorem and f.sweeps}
    return dict(sorted(titles.items(), key=lambda kv: [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in kv[0].split(".")]))
