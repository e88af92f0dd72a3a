"""What a run, a sweep or a results folder says, as short tables on the command line.

* :func:`run_summary` — after a single run (``theory-check n=400 ...``): per estimator its MSE,
  the theorem's rate and MSE / rate, MSE over the sharp references the rows carry, status,
  certificate, wall time, and the file the rows went to.
* :func:`summarize_sweep` — at the end of a multirun (called by :mod:`theory_check.sweep`): the
  analysis the report uses (:func:`theory_check.analysis.analyze`) on just that sweep's rows,
  also those stored before a resume.
* ``theory-check-summary RESULTS_DIR`` (:func:`main`) — the same for every sweep found in a
  results folder, with a plot of MSE against the rate.

A sweep named by an ``experiments/*.yaml`` figure is judged as that figure judges it. Any other
sweep (an ad-hoc ``theory-check -m n=100,200,400``) is judged as the first figure of the same
theorem whose rate column its rows carry: the same rate, reference, estimator, claim and
pre-registered constant; the varied parameter is the one the sweep varies. Library calls print
nothing: only the command-line entry points do, and ``quiet=true`` silences them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from . import analysis
from .experiments import Figure, Sweep, load_figures
from .results import load_results, read_runs

log = logging.getLogger(__name__)

#: The sharp references a run's rows may carry, beside the figure's own, with their labels.
EXTRA_REFERENCES = {"reference_asymptotic": "spiked-model asymptotic risk"}
#: Config columns that never define a sweep: the seed is replicated, the rest are labels.
NOT_SWEPT = ("seed", "sweep", "experiment_name", "estimator", "theorem")
#: Characters per line of a printed verdict (longer ones wrap within their column).
VERDICT_WIDTH = 64


def _fmt(x, spec: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format(x, spec) if isinstance(x, (int, float, np.number)) and not isinstance(x, bool) else str(x)


def _figures() -> list[Figure]:
    """The figure definitions, or none when the project has no ``experiments/`` (a summary
    then fits nothing against a rate but still lists the points)."""
    try:
        return load_figures(check=False)
    except (OSError, ValueError):
        return []


def theorem_figure(theorem, columns, figures: list[Figure], estimators=()) -> Figure | None:
    """The first sweep figure of ``theorem`` whose rate column is among ``columns``, one that
    judges one of ``estimators`` first."""
    fits = [f for f in figures if f.sweeps and str(f.theorem) == str(theorem) and f.rate in columns]
    judging = [f for f in fits if f.estimator in estimators]
    return (judging or fits or [None])[0]


def _present(rows: pd.DataFrame, column: str | None) -> bool:
    return bool(column) and column in rows and rows[column].notna().any()


# ----- a single run -------------------------------------------------------------------------

def run_summary(cfg, rows: list[dict], path: Path, *, stored_before: bool = False,
                figures: list[Figure] | None = None) -> str:
    """The table printed after a single run.

    Parameters
    ----------
    cfg : DictConfig
        The run's config (its sizes and theorem head the table).
    rows : list of dict
        The run's rows, one per estimator (:func:`theory_check.run.run`).
    path : Path
        The file the rows are stored in.
    stored_before : bool
        The rows were already in the results: nothing was computed.
    """
    table = pd.DataFrame(rows)
    figures = _figures() if figures is None else figures
    fig = theorem_figure(cfg.get("theorem"), [c for c in table if table[c].notna().any()], figures,
                         set(table["estimator"]))
    rate = fig.rate if fig else None
    references = {}  # column: (its label, the short name heading its ratio)
    if fig and _present(table, fig.reference):
        references[fig.reference] = (fig.reference_text, "reference")
    references.update({c: (label, "asymptotic") for c, label in EXTRA_REFERENCES.items()
                       if _present(table, c) and c not in references})
    sizes = " ".join(f"{k}={cfg[k]:g}" for k in ("n", "d", "N", "r", "sigma", "delta", "seed"))
    lines = [f"Theorem {cfg.get('theorem')}: {cfg.get('model', {}).get('name')} model, "
             f"{cfg.get('design', {}).get('name')} design, {cfg.get('noise', {}).get('name')} noise, {sizes}"]
    first = table.iloc[0]
    if rate:
        lines.append(f"  rate {rate} = {_fmt(first[rate])}  ({fig.rate_text})")
    for col, (label, short) in references.items():
        lines.append(f"  {short} {col} = {_fmt(first[col])}  ({label})")
    header = ["estimator", "MSE"] + (["MSE/rate"] if rate else [])
    header += [f"MSE/{short}" for _, short in references.values()]
    header += ["status", "certificate", "wall time (s)"]
    body = []
    for r in table.sort_values("estimator").to_dict("records"):
        mse = r.get("mse")
        line = [r["estimator"], _fmt(mse)]
        if rate:
            line.append(_fmt(mse / r[rate] if r.get(rate) else np.nan, ".3g"))
        line += [_fmt(mse / r[c] if r.get(c) else np.nan, ".3g") for c in references]
        status = r.get("status", "")
        if r.get("message"):
            status += f" ({r['message']})"
        line += [status, _fmt(r.get("solver.certificate"), ".2e"), _fmt(r.get("wall_time"), ".3g")]
        body.append(line)
    lines.append(tabulate(body, header, tablefmt="simple", disable_numparse=True))
    lines.append(f"rows: {path}" + (" (already in the results: nothing recomputed; force=true "
                                    "recomputes)" if stored_before else ""))
    return "\n".join(lines)


# ----- sweeps ---------------------------------------------------------------------------------

def config_columns(rows: pd.DataFrame) -> list[str]:
    """The columns of ``rows`` that come from the run config (:func:`theory_check.run.config_columns`):
    known top-level keys and ``group.param`` of the config groups."""
    from .config import known_keys

    keys = known_keys()
    groups = {k for k in keys if "." not in k}
    return [c for c in rows.columns
            if (c in keys or c.split(".", 1)[0] in groups and "." in c) and c not in NOT_SWEPT
            and not c.startswith("estimator")]


def varying(rows: pd.DataFrame, columns) -> list[str]:
    return [c for c in columns if rows[c].astype(str).nunique() > 1]


def split_sweeps(rows: pd.DataFrame, swept: str | None = None) -> list[tuple[str, str | None, pd.DataFrame]]:
    """One experiment folder's rows as sweeps: ``(name, varied parameter, rows)``.

    The varied parameter is ``swept`` when given (a sweep knows it from its overrides), else the
    rows' ``sweep`` column when it names a column, else the config column with the most distinct
    values. Rows that differ in other config columns too (the ``adhoc`` folder gathers many
    sweeps) are split by those, and each part is named after its values.
    """
    name = str(rows["experiment_name"].iloc[0])
    columns = config_columns(rows)
    moving = varying(rows, columns)
    declared = str(rows["sweep"].iloc[0]) if "sweep" in rows else "none"
    if swept is None:
        # Only a numeric parameter can carry a rate along it; a categorical one (the model
        # family of the misspecification runs, say) splits the rows into sweeps instead.
        numeric = [c for c in moving if pd.api.types.is_numeric_dtype(rows[c])]
        if declared in rows and pd.api.types.is_numeric_dtype(rows[declared]):
            swept = declared
        elif numeric:
            swept = max(numeric, key=lambda c: rows[c].nunique())
    others = [c for c in moving if c != swept]
    if not others:
        return [(name, swept, rows)]
    parts = []
    for values, part in rows.groupby(others, dropna=False, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{c}={_fmt(v, 'g')}" for c, v in zip(others, values) if not pd.isna(v))
        parts.append((f"{name}[{label}]", swept, part))
    return parts


def sweep_figure(name: str, experiment: str, rows: pd.DataFrame, varied: str | None,
                 figures: list[Figure]) -> tuple[Figure | None, str]:
    """The figure that judges a sweep, restricted to it (named ``name``), and where it comes
    from; ``None`` when no figure's rate is in the rows."""
    estimators = sorted(rows["estimator"].dropna().unique())
    registered = [(fig, s) for fig in figures for s in fig.sweeps if s.name == experiment]
    if registered and str(rows["sweep"].iloc[0]) == varied:
        fig, sweep = registered[0]
        origin = f"as experiments/{fig.figure}.yaml judges it"
    else:
        fig = theorem_figure(rows["theorem"].iloc[0] if "theorem" in rows else None,
                             [c for c in rows if rows[c].notna().any()], figures, estimators)
        if fig is None:
            return None, ""
        sweep = Sweep(name, fig.sweeps[0].claim)
        origin = f"claim and rate of experiments/{fig.figure}.yaml"
    if not _present(rows, fig.rate):
        return None, ""
    extra = tuple(e for e in estimators if e not in fig.estimators)
    return dataclasses.replace(fig, sweeps=(Sweep(name, sweep.claim),),
                               baselines=fig.baselines + extra), origin


def mean_intervals(rows: pd.DataFrame, varied: str) -> pd.DataFrame:
    """Per (estimator, value): mean MSE over the ok rows and its t interval at
    :data:`analysis.CONFIDENCE` over seeds (NaN with one seed)."""
    ok = rows[rows["status"] == "ok"]
    g = ok.groupby(["estimator", varied])["mse"]
    out = g.agg(["mean", "std", "count"]).reset_index().rename(columns={varied: "x"})
    with np.errstate(invalid="ignore"):
        half = (analysis.t_quantile(0.5 + analysis.CONFIDENCE / 2, out["count"] - 1)
                * out["std"] / np.sqrt(out["count"]))
    return out.assign(ci_low=out["mean"] - half, ci_high=out["mean"] + half)


def analyse_sweep(name: str, experiment: str, varied: str | None, rows: pd.DataFrame,
                  figures: list[Figure]):
    """``(figure, origin, verdicts, points)`` of one sweep: the report's analysis on its rows."""
    rows = rows.assign(experiment_name=name)
    if varied is None:
        return None, "", pd.DataFrame(), pd.DataFrame()
    fig, origin = sweep_figure(name, experiment, rows, varied, figures)
    if fig is None:
        return None, "", pd.DataFrame(), pd.DataFrame()
    verdicts, points = analysis.analyze(rows.assign(sweep=varied), [fig])
    return fig, origin, verdicts, points


def verdict_text(v) -> tuple[str, str]:
    """``(status, reason)`` of a verdict row: the structured columns when the analysis writes
    them, else its prose verdict."""
    if "status" in v and "reason" in v and isinstance(v["status"], str):
        return v["status"], str(v["reason"])
    return "", str(v["verdict"])


def render_sweep(name: str, varied: str | None, rows: pd.DataFrame, fig: Figure | None,
                 origin: str, verdicts: pd.DataFrame, points: pd.DataFrame, where: str) -> str:
    """The printed summary of one sweep: points, then fits and verdicts, then where the rows are."""
    n_runs = rows["run_key"].nunique() if "run_key" in rows else len(rows)
    seeds = rows["seed"].nunique() if "seed" in rows else 1
    theorem = rows["theorem"].iloc[0] if "theorem" in rows else "?"
    head = f"== {name}: Theorem {theorem}"
    if varied:
        head += f", {varied} swept over {rows[varied].nunique()} values × {seeds} seeds ({n_runs} runs)"
    else:
        head += f", one configuration × {seeds} seeds ({n_runs} runs)"
    lines = [head]
    if fig is not None:
        lines.append(f"   rate {fig.rate} = {fig.rate_text}"
                     + (f", reference {fig.reference} = {fig.reference_text}" if fig.reference else "")
                     + f"; claim {fig.sweeps[0].claim} ({origin})")
    elif varied:
        lines.append("   no figure of this theorem has its rate column in these rows: points only")
    bad = rows[rows["status"] != "ok"]
    if len(bad):
        counts = bad.groupby(["estimator", "status"]).size()
        first = bad["message"].dropna().astype(str) if "message" in bad else pd.Series(dtype=str)
        first = first[first != ""]
        lines.append("   rows not ok, left out of the fits: "
                     + ", ".join(f"{e} {k} {s}" for (e, s), k in counts.items())
                     + (f" (first: {first.iloc[0]})" if len(first) else ""))
    x = varied or "n"
    means = mean_intervals(rows, x)
    if len(points):
        means = means.merge(points[["estimator", "x", "constant"] +
                                   (["reference_ratio"] if "reference_ratio" in points else [])],
                            on=["estimator", "x"], how="left")
    level = f"{analysis.CONFIDENCE:.0%}"
    header = ["estimator", x, "seeds", "mean MSE", f"{level} interval"]
    if "constant" in means:
        header.append("MSE/rate")
    if "reference_ratio" in means:
        header.append("MSE/reference")
    body = []
    for m in means.sort_values(["estimator", "x"]).to_dict("records"):
        line = [m["estimator"], _fmt(m["x"], "g"), m["count"], _fmt(m["mean"]),
                f"[{_fmt(m['ci_low'], '.3g')}, {_fmt(m['ci_high'], '.3g')}]"]
        if "constant" in means:
            line.append(_fmt(m["constant"], ".3g"))
        if "reference_ratio" in means:
            line.append(_fmt(m["reference_ratio"], ".3g"))
        body.append(line)
    lines.append(tabulate(body, header, tablefmt="simple", disable_numparse=True))
    if len(verdicts):
        lines.append("")
        lines.append(_verdict_table(verdicts))
    lines.append(f"rows: {where}")
    return "\n".join(lines)


def _verdict_table(verdicts: pd.DataFrame) -> str:
    """Fitted exponent, its interval, the largest MSE / rate, and the verdict of each estimator:
    ``status`` and ``reason`` when the analysis writes them, else its prose ``verdict``."""
    coded = {"status", "reason"} <= set(verdicts)
    body = []
    for v in verdicts.to_dict("records"):
        status, reason = verdict_text(v)
        body.append([v["estimator"], v["role"], _fmt(v["fitted_exponent"], ".2f"),
                     f"[{_fmt(v['ci_low'], '.2f')}, {_fmt(v['ci_high'], '.2f')}]",
                     _fmt(v["constant"], ".3g")] + ([status, reason] if coded else [reason]))
    header = ["estimator", "role", "exponent", "interval", "max MSE/rate"]
    header += ["status", "reason"] if coded else ["verdict"]
    return tabulate(body, header, tablefmt="simple", disable_numparse=True,
                    maxcolwidths=[None] * (len(header) - 1) + [VERDICT_WIDTH])


def summarize(rows: pd.DataFrame, figures: list[Figure], swept: str | None = None,
              where=None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Every sweep in ``rows`` analysed and rendered: ``(text, verdicts, points)``.

    Parameters
    ----------
    rows : DataFrame
        Result rows, of one or more experiment folders.
    swept : str, optional
        The varied parameter, when the caller knows it (a sweep's overrides).
    where : callable, optional
        ``where(experiment, rows) -> str``: the location printed under each sweep.
    """
    texts, verdict_tables, point_tables = [], [], []
    for experiment, folder in rows.groupby("experiment_name", sort=True):
        for name, varied, part in split_sweeps(folder, swept):
            fig, origin, verdicts, points = analyse_sweep(name, str(experiment), varied, part, figures)
            place = where(str(experiment), part) if where else str(experiment)
            texts.append(render_sweep(name, varied, part, fig, origin, verdicts, points, place))
            verdict_tables.append(verdicts.assign(sweep=name))
            point_tables.append(points.assign(sweep=name))
    verdicts = pd.concat([v for v in verdict_tables if len(v)], ignore_index=True) \
        if any(len(v) for v in verdict_tables) else pd.DataFrame()
    points = pd.concat([p for p in point_tables if len(p)], ignore_index=True) \
        if any(len(p) for p in point_tables) else pd.DataFrame()
    return "\n\n".join(texts), verdicts, points


def _override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def summarize_sweep(sweeper, jobs: list[list[str]]) -> None:
    """Print the summary of a finished multirun and write its tables beside its job outputs.

    Called once at the end of :meth:`theory_check.sweep.Sweeper.sweep`. Every job's run file is
    read, so a resumed sweep is summarized whole, not only its new runs; rows of estimators the
    sweep did not select (stored under the same key by another sweep) are left out.
    """
    if sweeper.config.get("quiet"):
        return
    try:
        _summarize_sweep(sweeper, jobs)
    except Exception as exc:  # the rows are stored: a summary that fails must not fail the sweep
        log.warning(f"the sweep's rows are stored, but its summary failed: {type(exc).__name__}: {exc}")


def _summarize_sweep(sweeper, jobs: list[list[str]]) -> None:
    from hydra.core.utils import filter_overrides

    from .sweep import _varying

    # The run files and estimators of every job, as the sweeper's plan found them: composing
    # every job's config again took as long as the sweep's own runs of the small sizes. The
    # files its jobs stored come back with the jobs: only those stored before are read.
    files = dict(sweeper.run_files)
    rows = read_runs(files, getattr(sweeper, "stored_tables", None))
    if rows is not None:
        selected = {(path.stem, name) for path, names in files.items() for name in names}
        keep = [pair in selected for pair in zip(rows["run_key"], rows["estimator"])]
        rows = rows[keep].reset_index(drop=True) if not all(keep) else rows
    if rows is None or rows.empty:
        print("theory-check: the sweep stored no rows")
        return
    shown = [filter_overrides(job) for job in jobs]
    varied = _varying(shown)
    # In the order the overrides were given: the first varied one is the sweep's x.
    moving = [_override_key(o) for o in shown[0]
              if o.partition("=")[0] in varied and _override_key(o) not in NOT_SWEPT
              and _override_key(o) in rows]  # design._target_ is no column: the rows tell
    declared = str(rows["sweep"].iloc[0])
    swept = declared if declared in moving or (declared in rows and not moving) else (
        moving[0] if moving else None)
    folder = Path(sweeper.config.results_dir)
    text, verdicts, points = summarize(
        rows, _figures(), swept,
        where=lambda experiment, part: f"{part['run_key'].nunique()} run files in {folder / experiment}/")
    out = Path(sweeper.config.hydra.sweep.dir)
    out.mkdir(parents=True, exist_ok=True)
    verdicts.to_csv(out / "summary_verdicts.csv", index=False)
    points.to_csv(out / "summary_points.csv", index=False)
    print(text)
    print(f"tables: {out / 'summary_points.csv'}, {out / 'summary_verdicts.csv'}")


# ----- theory-check-summary -------------------------------------------------------------------

def raw_folder(results: Path) -> Path:
    """The folder of experiment folders: ``results`` itself, or its ``raw/``."""
    results = Path(results)
    return results / "raw" if (results / "raw").is_dir() else results


def plot_sweeps(points: pd.DataFrame, verdicts: pd.DataFrame, path: Path) -> Path:
    """Mean MSE against the rate, log-log, one panel per sweep, with the theorem's line C·rate
    (slope 1) through the judged estimator's points and its fitted exponent in the title. Bars
    run from the 10% to the 90% quantile over seeds, as in the report's figures."""
    import matplotlib.ticker

    from .plots import labelled_ticks, plt  # plots selects the Agg backend

    sweeps = list(dict.fromkeys(points["sweep"]))
    ncols = min(len(sweeps), 3)
    nrows = math.ceil(len(sweeps) / ncols)
    f, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.2 * nrows), squeeze=False,
                           layout="constrained")
    for ax, sweep in zip(axes.flat, sweeps):
        pts = points[points["sweep"] == sweep].sort_values("rate")
        for est, e in pts.groupby("estimator", sort=True):
            bars = np.clip(np.vstack([e["mse_mean"] - e["mse_q10"], e["mse_q90"] - e["mse_mean"]]), 0, None)
            ax.errorbar(e["rate"], e["mse_mean"], yerr=bars, fmt="o-", ms=4, capsize=2, label=est)
        v = verdicts[(verdicts["sweep"] == sweep) & (verdicts["role"] == "estimator")]
        title = sweep
        if len(v):
            v = v.iloc[0]
            own = pts[pts["estimator"] == v["estimator"]]
            if len(own):  # the theorem's line, slope 1, through the estimator's points
                c = float(np.exp(np.mean(np.log(own["mse_mean"] / own["rate"]))))
                ax.plot(own["rate"], c * own["rate"], "--", color="0.3", label=f"{c:.2g}·rate")
            status = verdict_text(v)[0]
            title += (f"\n{v['estimator']}: b = {_fmt(v['fitted_exponent'], '.2f')} "
                      f"[{_fmt(v['ci_low'], '.2f')}, {_fmt(v['ci_high'], '.2f')}]"
                      + (f", {status}" if status else ""))
        xs = np.sort(pts["rate"].unique())
        ax.set(xscale="log", yscale="log", xlabel=f"rate ({pts['varied'].iloc[0]} swept)", ylabel="MSE")
        shown = labelled_ticks(xs)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(shown))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter([f"{x:.2g}" for x in shown]))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(sweeps):]:
        ax.set_visible(False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f.savefig(path, dpi=100)
    plt.close(f)
    return path


def render_tables(verdicts: pd.DataFrame, points: pd.DataFrame, where: str) -> str:
    """The summary of each sweep of a results root that keeps only the report's tables
    (``verdicts.csv``, ``tables/points.csv``: the committed results): points with their 10–90%
    range over seeds (the tables keep no per-seed rows for an interval), then the verdicts."""
    texts = []
    for sweep in dict.fromkeys([*points.get("sweep", []), *verdicts["sweep"]]):
        pts = points[points["sweep"] == sweep] if len(points) else points
        ver = verdicts[verdicts["sweep"] == sweep]
        varied = pts["varied"].iloc[0] if len(pts) else (ver["varied"].iloc[0] if len(ver) else "x")
        figure = (ver["figure"].iloc[0] if len(ver) else pts["figure"].iloc[0])
        lines = [f"== {sweep}: Theorem {ver['theorem'].iloc[0] if len(ver) else '?'}, {varied} swept "
                 f"(experiments/{figure}.yaml)"]
        if len(pts):
            ratio = "reference_ratio" in pts and pts["reference_ratio"].notna().any()
            body = [[p["estimator"], _fmt(p["x"], "g"), _fmt(p["n_seeds"], "g"), _fmt(p["mse_mean"]),
                     f"[{_fmt(p['mse_q10'], '.3g')}, {_fmt(p['mse_q90'], '.3g')}]",
                     _fmt(p["constant"], ".3g")] + ([_fmt(p["reference_ratio"], ".3g")] if ratio else [])
                    for p in pts.sort_values(["estimator", "x"]).to_dict("records")]
            lines.append(tabulate(body, ["estimator", varied, "seeds", "mean MSE", "10–90%",
                                         "MSE/rate"] + (["MSE/reference"] if ratio else []),
                                  tablefmt="simple", disable_numparse=True))
        if len(ver):
            lines.append("")
            lines.append(_verdict_table(ver))
        lines.append(f"tables: {where}")
        texts.append("\n".join(lines))
    return "\n\n".join(texts)


def main(argv=None) -> int:
    """``theory-check-summary RESULTS_DIR [--experiment NAME] [--plot FILE]``."""
    parser = argparse.ArgumentParser(
        prog="theory-check-summary",
        description="Fit and judge every sweep found in a results folder (its raw rows), as the "
                    "report does; sweeps no experiments/*.yaml file describes are judged with "
                    "the claim and rate of their theorem's figure.")
    parser.add_argument("results", type=Path, help="a results folder (results/ or results/raw/)")
    parser.add_argument("--experiment", action="append",
                        help="only this experiment folder (repeatable)")
    parser.add_argument("--plot", type=Path, help="draw mean MSE against the rate to this PNG")
    parser.add_argument("--csv", type=Path, help="write the verdicts and points to <CSV>_verdicts.csv "
                        "and <CSV>_points.csv")
    args = parser.parse_args(argv)
    raw = raw_folder(args.results)
    if not raw.is_dir():
        parser.error(f"RESULTS_DIR {args.results} is not a folder")
    if any(raw.glob("*/*.parquet")):
        if args.experiment:
            missing = [e for e in args.experiment if not (raw / e).is_dir()]
            if missing:
                known = sorted(p.name for p in raw.iterdir() if p.is_dir())
                parser.error(f"--experiment {', '.join(missing)}: no such folder in {raw} (it has {known})")
        rows = load_results(raw, args.experiment)
        text, verdicts, points = summarize(
            rows, _figures(),
            where=lambda experiment, part: f"{part['run_key'].nunique()} run files in {raw / experiment}/")
    elif (args.results / "verdicts.csv").is_file():  # committed results: the report's tables only
        verdicts = pd.read_csv(args.results / "verdicts.csv")
        points_file = args.results / "tables" / "points.csv"
        points = pd.read_csv(points_file) if points_file.is_file() else pd.DataFrame(columns=["sweep"])
        if args.experiment:
            verdicts = verdicts[verdicts["sweep"].isin(args.experiment)]
            points = points[points["sweep"].isin(args.experiment)]
            if verdicts.empty and points.empty:
                parser.error(f"--experiment {', '.join(args.experiment)}: no such sweep in "
                             f"{args.results / 'verdicts.csv'}")
        text = render_tables(verdicts, points, f"{points_file}, {args.results / 'verdicts.csv'}")
    else:
        parser.error(f"no result rows in {raw} (<experiment>/<run key>.parquet) and no "
                     f"verdicts.csv in {args.results}")
    print(text)
    if args.csv:
        verdicts.to_csv(f"{args.csv}_verdicts.csv", index=False)
        points.to_csv(f"{args.csv}_points.csv", index=False)
    if args.plot:
        if points.empty:
            print("no sweep with a rate to plot", file=sys.stderr)
            return 1
        print(f"plot: {plot_sweeps(points, verdicts, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
