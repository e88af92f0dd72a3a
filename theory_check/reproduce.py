"""``make reproduce-figures``: check every definition, run every sweep of ``experiments/*.yaml``,
then fit, plot and publish the report set.

1. Every figure file and every sweep config they use is checked first, at every point of its
   grids (:mod:`theory_check.preflight`): one message lists every problem, before any run.
2. Sweeps run as Hydra multiruns (``python -m theory_check -m +experiment=<sweep>``) with the
   joblib launcher; rows already in the results are skipped, so an interrupted reproduction
   resumes where it stopped.
3. Everything after the runs reads the stored tables only. The report set (REPORT.md,
   verdicts.csv, tables/, figures/, sections/) is built in a staging folder and published as a
   whole (:mod:`theory_check.publish`): a kill leaves the previous set or the new one.

``--only`` and ``--skip-runs`` rebuild part of the set: the figures rebuilt are the selected
ones whose rows are all stored; every other figure keeps its section, verdicts, points and PNG
as published (a fresh clone, whose raw tables are not committed, keeps the committed report).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import pandas as pd

from . import processes
from .analysis import analyze
from .diff import COMPACT_ROWS, compact_rows, write_compact
from .experiments import EXPERIMENTS_DIR, Figure
from .paths import REPO_ROOT
from .plots import PLOTS
from .preflight import DefinitionError, check_everything
from .publish import Staging, recover
from .report import provenance_table, write_report
from .slack import publish_slack
from .results import load_results, quarantined_files


class Refused(ValueError):
    """The command cannot do what it was asked (a partial rebuild without the rows it needs)."""


SCALES = ("default", "paper")


def results_root(scale: str) -> Path:
    return REPO_ROOT / "results" if scale == "default" else REPO_ROOT / "results" / scale


def run_sweep(sweep: str, overrides: list[str], raw_dir: Path, log_dir: Path, jobs: int) -> None:
    """One Hydra multirun. Its progress bar (stderr) shows on the terminal; Hydra's log lines
    go to ``log_dir/<sweep>.<UTC time>.<pid>.log``, one file per run of this command, so that
    two reproductions at once do not write over each other's log.

    The sweep stops with this process: SIGINT, SIGTERM or SIGHUP here stop it (SIGTERM, then
    SIGKILL after :data:`theory_check.processes.GRACE` seconds) and exit with 128 + the signal;
    if this process is killed, the sweep gets SIGTERM (a parent-death signal) and its workers
    notice that it is gone (:mod:`theory_check.processes`). The runs it finished are stored, so
    the same command resumes.
    """
    # quiet: the report analyses every sweep; its own summary would only go to the log.
    cmd = [sys.executable, "-m", "theory_check", "-m", f"+experiment={sweep}",
           f"results_dir={raw_dir}", "quiet=true", *overrides]
    if jobs > 1:
        cmd += ["hydra/launcher=parallel", f"jobs={jobs}"]
    log, fh = processes.new_log(log_dir, sweep)
    with fh, processes.interrupt_on_signals():
        proc = None
        try:
            proc = processes.start(cmd, cwd=REPO_ROOT, stdout=fh)
            proc.wait()
        except KeyboardInterrupt as exc:
            if proc is not None:
                processes.stop(proc)
            print(f"stopped ({exc or 'SIGINT'}) during sweep {sweep}: its finished runs are stored, "
                  f"the same command resumes; its log: {log}", file=sys.stderr, flush=True)
            raise SystemExit(processes.exit_status(exc)) from None
    if proc.returncode != 0:
        raise SystemExit(f"sweep {sweep} failed (exit {proc.returncode}); its log: {log}")


def run_runner(fig: Figure, scale: str, root: Path, jobs: int) -> str:
    module, _, func = fig.runner.partition(":")
    return getattr(importlib.import_module(module), func)(scale=scale, results_root=root, jobs=jobs)


def rate_column_problems(figures: list[Figure], results) -> list[str]:
    """Figures whose stored rows lack the ``rate`` (or ``reference``) column they name: the
    models of their sweeps do not declare it (``Problem.rates``)."""
    problems = []
    for fig in figures:
        for sweep in fig.sweeps:
            rows = results[results["experiment_name"] == sweep.name] if len(results) else results
            if rows.empty:
                continue
            for key, column in (("rate", fig.rate), ("reference", fig.reference)):
                if column and (column not in rows or rows[column].isna().any()):
                    declared = sorted(c for c in rows if c.startswith(("rate_", "dof_"))
                                      and rows[c].notna().all())
                    problems.append(f"experiments/{fig.figure}.yaml: {key} {column!r} is missing "
                                    f"from rows of sweep {sweep.name}; their model declares "
                                    f"{declared}")
    return problems


def stored_sweeps(raw: Path, figures: list[Figure]) -> set[str]:
    """The sweeps of ``figures`` with at least one stored result file."""
    return {s.name for f in figures for s in f.sweeps
            if (raw / s.name).is_dir() and any((raw / s.name).glob("*.parquet"))}


def _published_table(path: Path, dtype=None) -> pd.DataFrame:
    return pd.read_csv(path, dtype=dtype) if path.is_file() and path.stat().st_size else pd.DataFrame()


def merged(old: pd.DataFrame, new: pd.DataFrame, column: str, replaced, keep) -> pd.DataFrame:
    """``old`` without its rows whose ``column`` is in ``replaced`` or not in ``keep``, then
    ``new``; the rows in the order of ``keep``."""
    if len(old) and column in old:
        old = old[~old[column].isin(replaced) & old[column].isin(keep)]
    parts = [t for t in (old, new) if len(t)]
    if not parts:
        return new
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(keep)}
    return table.sort_values(column, key=lambda c: c.map(order), kind="stable", ignore_index=True)


def select(figures: list[Figure], only, skip_runs: bool, raw: Path) -> list[Figure]:
    """The figures to (re)build. ``--only`` with ``--skip-runs`` needs the stored rows of every
    sweep of the figures it names: refused otherwise, before anything is written."""
    unknown = set(only or ()) - {f.figure for f in figures}
    if unknown:
        raise Refused(f"--only: unknown figures {sorted(unknown)}; "
                      f"available: {[f.figure for f in figures]}")
    selected = [f for f in figures if not only or f.figure in only]
    if skip_runs and only:
        stored = stored_sweeps(raw, selected)
        missing = {f.figure: [s.name for s in f.sweeps if s.name not in stored]
                   for f in selected if f.sweeps}
        missing = {k: v for k, v in missing.items() if v}
        if missing:
            raise Refused(
                "--skip-runs --only: no stored rows in " + str(raw) + " for "
                + "; ".join(f"{fig}: sweeps {sweeps}" for fig, sweeps in missing.items())
                + ". Without them the figure cannot be rebuilt (a fresh clone has no raw "
                "tables): run it without --skip-runs, or leave it out of --only.")
    return selected


def reproduce(scale: str = "default", jobs: int = 2, only: list[str] | None = None,
              skip_runs: bool = False) -> Path:
    """Check every definition, run the selected figures' sweeps and runners, and publish the
    report set with the selected figures rebuilt (see the module docstring)."""
    figures = check_everything(EXPERIMENTS_DIR)
    root = results_root(scale)
    selected = select(figures, only, skip_runs, root / "raw")
    for note in recover(root):
        print(f"    {note}", flush=True)
    stage = Staging(root)
    try:
        report, drawn, kept = _build(figures, selected, stage, scale, jobs, skip_runs)
    except BaseException:  # an error or Ctrl-C while building: the published set stays
        stage.discard()
        raise
    stage.publish()  # past its commit point, an interrupted publication is finished by recover
    runners = [f.figure for f in selected if f.runner and not skip_runs]
    print(f"wrote {report}, {root.relative_to(REPO_ROOT)}/verdicts.csv; drew {len(drawn)} sweep "
          f"figures ({', '.join(drawn) or 'none'})"
          + (f" and {len(runners)} runner figures ({', '.join(runners)})" if runners else "")
          + f", kept {len(kept)} as they were" + (f" ({', '.join(kept)})" if kept else ""),
          flush=True)
    return root / "REPORT.md"


def _build(figures, selected, stage: Staging, scale: str, jobs: int, skip_runs: bool):
    """Run what ``selected`` needs and write the new report set into ``stage``."""
    root = stage.root
    raw, logs = root / "raw", root / "logs"
    start = time.perf_counter()
    for i, fig in enumerate(selected, 1):
        print(f"[{i}/{len(selected)}] {fig.figure}: {fig.title}", flush=True)
        if fig.runner:
            if skip_runs:
                continue
            t = time.perf_counter()
            # A runner writes its tables and figure under the root it is given: the staging
            # folder (whose raw/ and logs/ are the real ones), so they are published with the rest.
            section = run_runner(fig, scale, stage.dir, jobs)
            stage.path(f"sections/{fig.figure}.md").write_text(section)
            print(f"    done in {time.perf_counter() - t:.0f} s", flush=True)
            continue
        configs = list(dict.fromkeys(sweep.run for sweep in fig.sweeps))  # shared multiruns once
        for j, config in enumerate(configs, 1):
            if skip_runs:
                continue
            t = time.perf_counter()
            print(f"    sweep {j}/{len(configs)} {config}", flush=True)
            run_sweep(config, fig.overrides(config, scale), raw, logs, jobs)
            print(f"    sweep {j}/{len(configs)} {config} done in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)

    # A selected figure is rebuilt when every sweep of it has rows; the others keep what the
    # published set says of them.
    sweep_figs = [f for f in figures if f.sweeps]
    # Every stored sweep is read, so that damaged files are moved aside and reported whichever
    # figure they belong to; the rows of the rebuilt figures' sweeps are analysed.
    every = load_results(raw, sorted(stored_sweeps(raw, sweep_figs)))
    stored = set(every["experiment_name"]) if len(every) else set()
    rebuilt = [f for f in selected if f.sweeps and all(s.name in stored for s in f.sweeps)]
    partial = [f.figure for f in selected if f.sweeps and f not in rebuilt
               and any(s.name in stored for s in f.sweeps)]
    if partial:
        print(f"    kept as published, some of their sweeps have no stored rows: "
              f"{', '.join(partial)}", flush=True)
    sweep_names = sorted({s.name for f in rebuilt for s in f.sweeps})
    results = (every[every["experiment_name"].isin(sweep_names)].reset_index(drop=True)
               if sweep_names else pd.DataFrame())
    problems = rate_column_problems(rebuilt, results)
    if problems:  # rows made by older code: fix the definition and rerun with --skip-runs
        raise Refused("figures name columns their rows do not have:\n  " + "\n  ".join(problems))
    verdicts, points = analyze(results, rebuilt, scale=scale)

    names = [f.figure for f in sweep_figs]
    replaced = [f.figure for f in rebuilt]
    verdicts = merged(_published_table(root / "verdicts.csv", dtype={"theorem": str}), verdicts,
                      "figure", replaced, names)
    points = merged(_published_table(root / "tables" / "points.csv"), points, "figure",
                    replaced, names)
    kept_sweeps = [s.name for f in sweep_figs if f.figure not in replaced for s in f.sweeps]
    provenance = merged(_published_table(root / "tables" / "provenance.csv"),
                        provenance_table(results), "sweep", sweep_names,
                        list(dict.fromkeys([*kept_sweeps, *sweep_names])))
    if len(results):
        results.to_parquet(stage.path("tables/results.parquet"), index=False)
    # Committed with the report (the raw rows are not), so that theory-check-diff can compare a
    # fresh reproduction with the committed results row by row.
    compact = merged(_published_table(root / COMPACT_ROWS, dtype={"seed": "Int64"}),
                     compact_rows(results) if len(results) else pd.DataFrame(),
                     "experiment_name", sweep_names, list(dict.fromkeys([*kept_sweeps, *sweep_names])))
    if len(compact):
        write_compact(compact, stage.path(str(COMPACT_ROWS)))
    points.to_csv(stage.path("tables/points.csv"), index=False, float_format="%.6g")
    provenance.to_csv(stage.path("tables/provenance.csv"), index=False)
    # Full precision: a partial rebuild regenerates the kept sections from these numbers, and
    # they must read as they did when they were published.
    verdicts.to_csv(stage.path("verdicts.csv"), index=False)
    drawn = []
    for fig in rebuilt:
        fig_points = points[points["figure"] == fig.figure] if len(points) else points
        rel = f"figures/{fig.figure}.png"
        if len(fig_points):
            PLOTS[fig.plot](fig, fig_points, verdicts, stage.path(rel))
            drawn.append(fig.figure)
        else:
            stage.remove(rel)  # no point to draw: an old PNG would show rows that are gone
    with_png = {f.figure for f in sweep_figs if stage.current(f"figures/{f.figure}.png")}
    slack = publish_slack(stage, figures, results)  # per sweep: the unloaded ones kept
    runner_sections = {}
    for fig in (f for f in figures if f.runner):
        section = stage.current(f"sections/{fig.figure}.md")
        if section is not None:
            runner_sections[fig.figure] = section.read_text()
    bench = {p.stem: p.read_text() for p in sorted((root / "bench").glob("*.md"))} \
        if (root / "bench").exists() else {}
    partial_build = len(rebuilt) < len(sweep_figs)
    write_report(stage.path("REPORT.md"), scale=scale, figures=figures, verdicts=verdicts,
                 provenance=provenance, runner_sections=runner_sections, bench_tables=bench,
                 drawn=with_png, rebuilt=replaced if partial_build else None,
                 quarantined=quarantined_files(raw), slack=slack)
    kept = [f.figure for f in sweep_figs if f.figure not in replaced]
    print(f"    report built in {time.perf_counter() - start:.0f} s", flush=True)
    return (root / "REPORT.md").relative_to(REPO_ROOT), drawn, kept


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="default")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs (joblib workers)")
    parser.add_argument("--only", nargs="*",
                        help="figure names to (re)build (default: all); every other figure "
                             "keeps its published section, verdicts and PNG")
    parser.add_argument("--skip-runs", action="store_true",
                        help="run nothing: rebuild the selected figures from the stored rows "
                             "(figures without stored rows, and runner figures, keep their "
                             "published tables, figure and report section)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    try:
        reproduce(args.scale, args.jobs, args.only, args.skip_runs)
    except (DefinitionError, Refused) as exc:  # the message alone, not a traceback
        sys.exit(f"reproduce: {exc}")


if __name__ == "__main__":
    main()
