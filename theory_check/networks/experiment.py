"""The whole-network experiments of issue 5: tidy tables, figures drawn from them, REPORT sections.

``make reproduce-figures`` calls :func:`run_synthetic` and :func:`run_digits` (named in
``experiments/networks_*.yaml``) as ``runner(scale, results_root, jobs) -> markdown``. Sizes live in
``conf/network/*.yaml``; ``scales.<scale>`` overrides the defaults there.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from ..paths import conf_dir  # noqa: E402
from ..plots import y_limits  # noqa: E402
from ..provenance import provenance  # noqa: E402
from ..results import write_rows_atomic  # noqa: E402
from ..validation import check_choice, check_int, check_real  # noqa: E402
from .digits import evaluate_ranks, spectra, split_digits, train_mlp  # noqa: E402
from .sequential import resolve_target  # noqa: E402
from .synthetic import PRETRAINED, SIGNAL_MS, evaluate, make_network  # noqa: E402

def load_config(name: str, scale: str) -> dict:
    """``conf/network/<name>.yaml`` as a plain dict, with ``scales.<scale>`` applied on top."""
    path = conf_dir() / "network" / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"no network config {path}")
    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    scales = cfg.pop("scales", None) or {}
    if scale not in scales:
        raise ValueError(f"scale must be one of {sorted(scales)} (from {path}), got {scale!r}")
    cfg.update(scales[scale] or {})
    cfg["scale"] = scale
    return cfg


def report_config(cfg: dict, estimators: tuple[str, ...], numbers: dict) -> dict:
    """``cfg["report"]``, checked before any training: ``estimators`` are the keys naming run
    estimators (the prose compares them), ``numbers`` maps the numeric keys to their allowed
    lower bound (``table_ranks`` a list of ranks)."""
    report = cfg.get("report")
    if not isinstance(report, dict):
        raise ValueError(f"network {cfg.get('figure')!r}: 'report' must be a mapping with keys "
                         f"{sorted([*estimators, *numbers])}, got {report!r}")
    missing = sorted((set(estimators) | set(numbers)) - set(report))
    if missing:
        raise ValueError(f"network {cfg.get('figure')!r}: report is missing {missing}")
    for key in estimators:
        check_choice(f"report.{key}", report[key], list(cfg["estimators"]))
    for key, low in numbers.items():
        values = report[key] if isinstance(report[key], list) else [report[key]]
        for value in values:
            (check_int if isinstance(low, int) else check_real)(f"report.{key}", value, low=low)
    return report


def _range(values, fmt: str = ".3g") -> str:
    """``min–max`` of ``values`` in the sections' number format."""
    return f"{min(values):{fmt}}–{max(values):{fmt}}"


def _power_of_ten(value: float) -> str:
    """``1e-3`` as ``10⁻³`` (other values as ``%g``), as the sections write a cut-off."""
    exponent = np.log10(value) if value > 0 else np.nan
    if exponent == np.round(exponent):
        return "10" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value:g}"


def _rng(cfg: dict, seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(cfg["entropy"]), seed]))


def _parallel(fn, cfg: dict, jobs: int):
    jobs = check_int("jobs", jobs, low=1)
    seeds = range(check_int("seeds", cfg["seeds"], low=1))
    return Parallel(n_jobs=min(jobs, len(seeds)))(delayed(fn)(cfg, s) for s in seeds)


def _md_table(df: pd.DataFrame) -> str:
    """A GitHub markdown table (plain ``|---|`` rules, as the sections have always had)."""
    return df.to_markdown(index=False, tablefmt="github", floatfmt=".3g")


# --------------------------------------------------------------------------- synthetic model


def _synthetic_seed(cfg: dict, seed: int) -> list[dict]:
    # One BLAS thread per process: on a shared 2-core machine multi-threaded OpenBLAS spends
    # orders of magnitude longer spinning than computing these small factorizations.
    with threadpool_limits(limits=1):
        rows = []
        for design, spec in cfg["designs"].items():
            draw, design_params = resolve_target(spec, "design")
            for sigma in cfg["sigmas"]:
                net = make_network(
                    _rng(cfg, seed), L=cfg["L"], d_in=cfg["d_in"], width=cfg["width"], r=cfg["r"],
                    sigma=sigma, n_calib=cfg["n_calib"], n_test=cfg["n_test"], design=draw,
                    design_params=design_params, tail=cfg["tail"], bias_scale=cfg["bias_scale"],
                )
                shared = {"scale": cfg["scale"], "seed": seed, "design": design, "sigma": sigma,
                          "L": cfg["L"], "r": cfg["r"], "tail": cfg["tail"], "d_in": cfg["d_in"],
                          "width": cfg["width"], "n_calib": cfg["n_calib"]}
                rows += [{**shared, **row} for row in evaluate(net, cfg["estimators"], cfg["r"])]
    return rows


def plot_synthetic(table: pd.DataFrame, path: Path, order: list[str]) -> None:
    """Per-layer test MSE against the ground truth (top) and the pretrained network (bottom)."""
    test = table[table["split"] == "test"].copy()
    test["panel"] = test["design"] + ", σ = " + test["sigma"].map("{:g}".format)
    long = test.melt(id_vars=["panel", "estimator", "layer", "seed"],
                     value_vars=["mse", "mse_pretrained"], var_name="reference", value_name="MSE")
    long["reference"] = long["reference"].map({"mse": "against the ground-truth network",
                                               "mse_pretrained": "against the pretrained network"})
    long = long[~((long["estimator"] == "pretrained")
                  & (long["reference"] == "against the pretrained network"))]
    grid = sns.relplot(
        data=long, x="layer", y="MSE", hue="estimator", style="estimator", hue_order=order,
        style_order=order, markers=True, dashes=False, row="reference", col="panel", kind="line",
        estimator="median", errorbar=("pi", 50), height=3.0, aspect=1.1,
        facet_kws={"sharey": "row", "margin_titles": True},
    )
    grid.set(yscale="log")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.set_axis_labels("layer l", "test pre-activation MSE (median, IQR)")
    grid.figure.suptitle(
        f"Sequential rank-{int(test['r'].iloc[0])} compression of a depth-{int(test['L'].iloc[0])} "
        "synthetic ReLU network (held-out inputs)", y=1.02)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(grid.figure)


def _synthetic_markdown(table: pd.DataFrame, cfg: dict, order: list[str]) -> str:
    test = table[table["split"] == "test"]
    L = int(test["layer"].max())
    wide = test.pivot_table(index=["design", "sigma", "estimator", "seed"], columns="layer",
                            values="mse")
    per_seed = pd.DataFrame({"first": wide[1], "last": wide[L], "growth": wide[L] / wide[1]})
    summary = per_seed.groupby(level=["design", "sigma", "estimator"]).median().reset_index()
    summary["estimator"] = pd.Categorical(summary["estimator"], order)
    summary = summary.sort_values(["design", "sigma", "estimator"])
    shown = summary.rename(columns={"sigma": "σ", "first": "MSE layer 1",
                                    "last": f"MSE layer {L}", "growth": f"growth ×(layer {L} / 1)"})

    growth = summary.pivot_table(index=["design", "sigma"], columns="estimator", values="growth",
                                 observed=True)
    last = summary.pivot_table(index=["design", "sigma"], columns="estimator", values="last",
                               observed=True)
    panels = len(growth)
    base = cfg["report"]["baseline"]
    grows = bool((growth[base] > 1).all())
    parts = [
        f"Over {panels} settings (input design × σ), the test MSE of [W]_r ({base}) against the "
        f"ground-truth network changes by a median factor of {_range(growth[base])} from layer 1 "
        f"to layer {L}: the weight-only baseline's "
        + ("error grows with depth in every setting." if grows
           else "error does not grow with depth in every setting.")
    ]
    for label in (e for e in order if e not in (base, PRETRAINED)):
        wins = int((last[label] < last[base]).sum())
        parts.append(
            f"{label} grows by {_range(growth[label])}× and ends below {base} at layer {L} in "
            f"{wins} of {panels} settings."
        )
    parts.append(
        f"The uncompressed pretrained network's own error changes by {_range(growth[PRETRAINED])}×, "
        "so growth with depth is not specific to compression: noise in the pretrained weights is "
        "amplified through the layers, and data-driven compression, which targets the pretrained "
        "pre-activations (bottom row), reproduces that network rather than the ground truth."
    )
    noisy = last[PRETRAINED] > SIGNAL_MS
    if noisy.any():
        settings = ", ".join(f"{d} σ={s:g}" for d, s in last.index[noisy])
        signal = "the unit signal" if SIGNAL_MS == 1 else f"the signal's mean square {SIGNAL_MS:g}"
        others = ", ".join(e for e in order if e not in (base, PRETRAINED))
        parts.append(
            f"Where the pretrained network's layer-{L} MSE exceeds {signal} ({settings}), it is "
            f"no longer a useful target, and there the truncation of the noisy weight in [W]_r "
            f"acts as a regulariser; compare {base} with {others} there before reading the "
            "paper's claim into the data."
        )
    return (
        f"### Synthetic deep network\n\n![networks_synthetic](figures/networks_synthetic.png)\n\n"
        f"Depth L = {cfg['L']}, widths {cfg['d_in']} → {cfg['width']}, ground-truth rank r = "
        f"{cfg['r']} (tail {cfg['tail']:g}), n = {cfg['n_calib']} calibration inputs on which the "
        f"pretrained network was fitted (Model S per layer) and compressed, {cfg['n_test']} held-out "
        f"inputs for the errors, {cfg['seeds']} seeds. Medians over seeds of the held-out "
        "pre-activation MSE against the ground-truth network (table "
        "`tables/networks_synthetic.parquet`):\n\n"
        f"{_md_table(shown)}\n\n" + " ".join(parts) + "\n"
    )


def run_synthetic(scale: str, results_root: Path, jobs: int) -> str:
    """Synthetic deep-network experiment: table, figure and the REPORT.md section.

    Parameters
    ----------
    scale : str
        A key of ``scales`` in ``conf/network/synthetic.yaml`` ("default", "paper", "test").
    results_root : pathlib.Path
        Writes ``tables/networks_synthetic.parquet`` and ``figures/networks_synthetic.png``.
    jobs : int
        Worker processes (over seeds).

    Returns
    -------
    markdown : str
        The section for REPORT.md; links are relative to ``results_root``.
    """
    cfg = load_config("synthetic", scale)
    report_config(cfg, ("baseline",), {})
    results_root = Path(results_root)
    rows = [row for part in _parallel(_synthetic_seed, cfg, jobs) for row in part]
    meta = provenance()
    table_path = results_root / "tables" / "networks_synthetic.parquet"
    write_rows_atomic(table_path, [{**row, **meta} for row in rows])

    table = pd.read_parquet(table_path)
    order = [*cfg["estimators"], PRETRAINED]
    plot_synthetic(table, results_root / "figures" / "networks_synthetic.png", order)
    return _synthetic_markdown(table, cfg, order)


# --------------------------------------------------------------------------- digits MLP


def _digits_seed(cfg: dict, seed: int):
    with threadpool_limits(limits=1):
        rng = _rng(cfg, seed)
        splits = split_digits(rng, calib_fraction=cfg["calib_fraction"],
                              test_fraction=cfg["test_fraction"])
        layers, classes = train_mlp(*splits["train"], hidden=cfg["hidden"],
                                    seed=int(rng.integers(2**31)), max_iter=cfg["max_iter"],
                                    alpha=cfg["alpha"])
        spec = spectra(layers, splits["calibration"][0])
        acc, per_layer = evaluate_ranks(layers, classes, splits, cfg["ranks"], cfg["estimators"])
    shared = {"scale": cfg["scale"], "seed": seed,
              "architecture": "-".join(str(W.shape[0]) for W, _ in layers) + f"-{layers[-1][0].shape[1]}",
              "n_calib": len(splits["calibration"][1]), "n_test": len(splits["test"][1])}
    return ([{**shared, **r} for r in spec], [{**shared, **r} for r in acc],
            [{**shared, **r} for r in per_layer])


def plot_digits(acc: pd.DataFrame, layers: pd.DataFrame, path: Path, order: list[str]) -> None:
    """Test accuracy and per-layer relative pre-activation error against the parameters kept."""
    n_layers = int(layers["layer"].max())
    fig, axes = plt.subplots(1, 1 + n_layers, figsize=(4.2 * (1 + n_layers), 3.8))
    compressed = acc[acc["estimator"] != "original"]
    sns.lineplot(data=compressed, x="param_fraction", y="accuracy", hue="estimator",
                 style="estimator", hue_order=order, style_order=order, markers=True, dashes=False,
                 errorbar=("pi", 100), ax=axes[0])
    axes[0].axhline(acc.loc[acc["estimator"] == "original", "accuracy"].mean(), color="k",
                    linestyle=":", label="original")
    axes[0].set(xscale="log", xlabel="fraction of parameters kept", ylabel="test accuracy",
                title="accuracy (mean, range over seeds)")
    axes[0].legend(fontsize=8)
    shapes = layers.groupby("layer")["architecture"].first()
    for l, ax in enumerate(axes[1:], start=1):
        sub = layers[layers["layer"] == l]
        sns.lineplot(data=sub, x="param_fraction", y="rel_error", hue="estimator",
                     style="estimator", hue_order=order, style_order=order, markers=True,
                     dashes=False, estimator="median", errorbar=("pi", 100), ax=ax, legend=False)
        widths = shapes[l].split("-")
        kept = "" if l < n_layers else " (kept; inherits upstream error)"
        # Exact reconstructions (~1e-15) would squash the informative range; they sit on the axis.
        # The medians set the top: one seed's blow-up (a range up to 1e9) is written, not drawn.
        stats = sub.groupby(["estimator", "param_fraction"])["rel_error"].agg(["median", "max"])
        top = y_limits(stats["median"], stats["max"])[1]
        ax.set_ylim(max(1e-4, sub["rel_error"].min()), top)
        _mark_off_scale(ax, stats.reset_index(), top, order)
        ax.set(xscale="log", yscale="log", xlabel="fraction of parameters kept",
               ylabel="‖Ẑ_l − Z_l‖_F / ‖Z_l‖_F (test; median, range)",
               title=f"layer {l}: {widths[l - 1]} → {widths[l]}{kept}")
    fig.suptitle("MLP on digits, every hidden layer compressed sequentially", y=1.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _mark_off_scale(ax, stats: pd.DataFrame, top: float, order: list[str]) -> None:
    """A triangle at the top edge where an estimator's range leaves the axis, with its largest
    value, in the estimator's colour."""
    colors = dict(zip(order, sns.color_palette(n_colors=len(order))))
    for est, rows in stats[stats["max"] > top].groupby("estimator"):
        worst = rows.loc[rows["max"].idxmax()]
        ax.plot([worst["param_fraction"]], [top], "^", ms=7, color=colors.get(est), clip_on=False)
        ax.annotate(f"max {worst['max']:.2g}", (worst["param_fraction"], top),
                    textcoords="offset points", xytext=(4, -9), fontsize=7, color=colors.get(est))


def _digits_markdown(acc: pd.DataFrame, layers: pd.DataFrame, spec: pd.DataFrame, cfg: dict,
                     order: list[str]) -> str:
    mean_acc = acc.groupby(["estimator", "rank"], as_index=False)[["accuracy", "param_fraction"]].mean()
    original = float(acc.loc[acc["estimator"] == "original", "accuracy"].mean())
    report = cfg["report"]
    base, compared, regularised = report["baseline"], report["compared"], report["regularised"]
    ranks = sorted(r for r in mean_acc.loc[mean_acc["estimator"] != "original", "rank"].unique())
    shown_ranks = sorted({r for r in report["table_ranks"] if r in ranks} | {ranks[-1]})
    acc_wide = mean_acc[mean_acc["estimator"] != "original"].pivot_table(
        index="rank", columns="estimator", values="accuracy")[order]
    fraction = mean_acc.groupby("rank")["param_fraction"].first()
    acc_table = acc_wide.loc[shown_ranks].reset_index()
    acc_table.insert(1, "fraction kept", fraction.loc[shown_ranks].to_numpy())

    spec_mean = spec.groupby("layer", as_index=False).mean(numeric_only=True)
    spec_cols = ["layer", "d", "N", "weight_energy90", "weight_r_eff", "preact_energy90",
                 "preact_centered_energy90", "preact_r_eff"]
    spec_table = spec_mean[spec_cols].astype({"layer": int, "d": int, "N": int})

    hidden = spec_mean[spec_mean["layer"] < spec_mean["layer"].max()]
    quick_rank = report["low_rank"] in ranks  # else the smallest rank run, without the verdict
    low = report["low_rank"] if quick_rank else ranks[0]
    at_low = acc_wide.loc[low]
    lower = (hidden["preact_energy90"] < hidden["weight_energy90"]).all()
    reff_lower = (hidden["preact_r_eff"] < hidden["weight_r_eff"]).all()
    parts = [
        f"Hidden-layer weights need {_range(hidden['weight_energy90'], '.0f')} directions for 90% "
        f"of their energy, the calibration pre-activations "
        f"{_range(hidden['preact_energy90'], '.0f')} "
        f"({_range(hidden['preact_centered_energy90'], '.0f')} after removing the column means): "
        + ("in every hidden layer the features are lower-rank than the weights, as the paper's "
           "premise says." if lower else "the premise that features are lower-rank than the "
           "weights fails in at least one hidden layer.")
        + f" The effective rank of Definition 4.1 (weights {_range(hidden['weight_r_eff'])}, "
        f"pre-activations {_range(hidden['preact_r_eff'])}) "
        + ("orders them the same way" if reff_lower else "does not order them the same way")
        + "; it is far below the 90%-energy ranks for both, because ‖M‖_∞ is set by a few large "
        "entries (r_eff can fall below 1).",
        f"At rank {low} ({fraction.loc[low]:.1%} of the parameters) the original accuracy "
        f"{original:.3f} drops to " + ", ".join(f"{at_low[e]:.3f} ({e})" for e in order) + ".",
    ]
    gap = at_low[compared] - at_low[base]
    threshold = report["accuracy_gap"]
    parts.append(
        f"Sequential {compared}'s accuracy is {abs(gap):.3f} {'above' if gap > 0 else 'below'} "
        "that of [W]_r there"
        + (f": the quick check's finding ({compared} at rank {low} far above [W]_r) "
           f"{'holds' if gap > threshold else 'does not hold'} "
           f"(threshold: {100 * threshold:g} points)." if quick_rank else ".")
    )
    low_ranks = layers["rank"] <= report["erratic_ranks"]
    data_err = layers[(layers["estimator"] == compared) & low_ranks]
    weight_err = layers[(layers["estimator"] == base) & low_ranks]
    if len(data_err) and data_err["rel_error"].max() > report["erratic_error"]:
        worst = data_err.loc[data_err["rel_error"].idxmax()]
        rcond = cfg["estimators"][regularised]["rcond"]
        parts.append(
            f"Plain {compared} is erratic on held-out inputs at low rank: its relative test "
            f"pre-activation error reaches {worst['rel_error']:.3g} (layer {int(worst['layer'])}, "
            f"rank {int(worst['rank'])}; {base} stays below {weight_err['rel_error'].max():.3g}), "
            "because once an upstream layer is compressed its ReLU outputs X̃ are nearly low-rank "
            "and Σ⁻¹ in Ŵ = VΣ⁻¹[UᵀY]_r amplifies directions the calibration set barely spans; "
            f"cutting singular values below {_power_of_ten(rcond)}·s_max ({regularised}) removes "
            "this."
        )
    return (
        f"### MLP trained on digits\n\n![networks_digits](figures/networks_digits.png)\n\n"
        f"ReLU MLP {acc['architecture'].iloc[0]} trained with scikit-learn's MLPClassifier on "
        f"`load_digits` ({int(acc['n_calib'].iloc[0])} calibration and {int(acc['n_test'].iloc[0])} "
        f"test images, {cfg['seeds']} seeds); every hidden layer compressed sequentially at rank "
        "min(rank, d_l, N_l), output layer kept. Test accuracy (mean over seeds; tables "
        "`tables/networks_digits_accuracy.parquet`, `tables/networks_digits_layers.parquet`):\n\n"
        f"{_md_table(acc_table)}\n\n"
        "Spectra per layer (mean over seeds; pre-activations on the calibration set; "
        "`tables/networks_digits_spectra.csv`):\n\n"
        f"{_md_table(spec_table)}\n\n" + " ".join(parts) + "\n"
    )


def run_digits(scale: str, results_root: Path, jobs: int) -> str:
    """Digits-MLP experiment: tables, spectra table, figure and the REPORT.md section.

    Parameters
    ----------
    scale : str
        A key of ``scales`` in ``conf/network/digits.yaml`` ("default", "paper", "test").
    results_root : pathlib.Path
        Writes ``tables/networks_digits_{accuracy,layers}.parquet``,
        ``tables/networks_digits_spectra.{csv,md}`` and ``figures/networks_digits.png``.
    jobs : int
        Worker processes (over training seeds).

    Returns
    -------
    markdown : str
        The section for REPORT.md; links are relative to ``results_root``.
    """
    cfg = load_config("digits", scale)
    report_config(cfg, ("baseline", "compared", "regularised"),
                  {"table_ranks": 1, "low_rank": 1, "accuracy_gap": 0.0, "erratic_ranks": 1,
                   "erratic_error": 0.0})
    if "rcond" not in cfg["estimators"][cfg["report"]["regularised"]]:
        raise ValueError(f"report.regularised {cfg['report']['regularised']!r} must be an "
                         "estimator with an 'rcond' option (the section quotes it)")
    for rank in cfg["ranks"]:
        check_int("ranks entry", rank, low=1)
    results_root = Path(results_root)
    tables = results_root / "tables"
    parts = _parallel(_digits_seed, cfg, jobs)
    meta = provenance()
    write_rows_atomic(tables / "networks_digits_accuracy.parquet",
                      [{**row, **meta} for part in parts for row in part[1]])
    write_rows_atomic(tables / "networks_digits_layers.parquet",
                      [{**row, **meta} for part in parts for row in part[2]])
    spec = pd.DataFrame([row for part in parts for row in part[0]])
    spec.to_csv(tables / "networks_digits_spectra.csv", index=False)

    acc = pd.read_parquet(tables / "networks_digits_accuracy.parquet")
    layers = pd.read_parquet(tables / "networks_digits_layers.parquet")
    spec = pd.read_csv(tables / "networks_digits_spectra.csv")
    order = list(cfg["estimators"])
    plot_digits(acc, layers, results_root / "figures" / "networks_digits.png", order)
    markdown = _digits_markdown(acc, layers, spec, cfg, order)
    spec_md = spec.groupby("layer", as_index=False).mean(numeric_only=True).drop(columns="seed")
    (tables / "networks_digits_spectra.md").write_text(_md_table(spec_md) + "\n")
    return markdown
