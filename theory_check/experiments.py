"""Figure definitions (``experiments/*.yaml``): which sweeps, which estimators, which claim.

A definition is either a *sweep figure* (``sweeps:`` names ``conf/experiment/*`` configs whose
rows are fitted against the ``rate`` column) or a *runner figure* (``runner:
module:function`` computes its own tables, figure and report section).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from .validation import check_choice

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS_DIR = REPO_ROOT / "experiments"
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
    rate: str | None = None
    reference: str | None = None
    estimator: str | None = None
    baselines: tuple[str, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    plot: str = "rate"
    log_exponents: tuple[float, ...] = ()
    runner: str | None = None
    paper: dict = field(default_factory=dict)
    #: The theorem's constant C, stated before the run: ``{value: C, source: how it was chosen}``.
    constant: dict = field(default_factory=dict)

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


def load_figures(directory: Path = EXPERIMENTS_DIR) -> list[Figure]:
    """Every figure definition, in file-name order."""
    return [load_figure(p) for p in sorted(Path(directory).glob("*.yaml"))]
