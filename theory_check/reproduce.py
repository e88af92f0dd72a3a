"""``make reproduce-figures``: run every sweep of ``experiments/*.yaml``, then fit, plot, report.

Sweeps run as Hydra multiruns (``python -m theory_check -m +experiment=<sweep>``) with the
joblib launcher; rows already in the results are skipped, so an interrupted reproduction
resumes where it stopped. Everything after the runs reads the stored tables only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from . import processes
from .analysis import analyze
from .experiments import EXPERIMENTS_DIR, Figure, load_figures
from .paths import REPO_ROOT
from .plots import PLOTS
from .report import write_report
from .results import load_results, quarantined_files

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
    cmd = [sys.executable, "-m", "theory_check", "-m", f"+experiment={sweep}",
           f"results_dir={raw_dir}", *overrides]
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


def reproduce(scale: str = "default", jobs: int = 2, only: list[str] | None = None,
              skip_runs: bool = False) -> Path:
    figures = load_figures(EXPERIMENTS_DIR)
    unknown = set(only or ()) - {f.figure for f in figures}
    if unknown:
        raise ValueError(f"only: unknown figures {sorted(unknown)}; "
                         f"available: {[f.figure for f in figures]}")
    selected = [f for f in figures if not only or f.figure in only]
    root = results_root(scale)
    raw, logs = root / "raw", root / "logs"
    sections = root / "sections"  # runner figures' report sections, kept for later reports
    sections.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, fig in enumerate(selected, 1):
        print(f"[{i}/{len(selected)}] {fig.figure}: {fig.title}", flush=True)
        if fig.runner:
            if skip_runs:
                continue
            t = time.perf_counter()
            (sections / f"{fig.figure}.md").write_text(run_runner(fig, scale, root, jobs))
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

    # Fits, figures and the report cover every figure with stored results, not only `only`.
    sweep_names = sorted({s.name for f in figures for s in f.sweeps})
    results = load_results(raw, [s for s in sweep_names if (raw / s).exists()])
    sweep_figs = [f for f in figures if f.sweeps]
    runner_sections = {f.figure: (sections / f"{f.figure}.md").read_text()
                       for f in figures if f.runner and (sections / f"{f.figure}.md").exists()}
    problems = rate_column_problems(sweep_figs, results)
    if problems:  # the runs are stored: fix the definition and rerun with --skip-runs
        raise ValueError("figures name columns their rows do not have:\n  " + "\n  ".join(problems))
    verdicts, points = analyze(results, sweep_figs, scale=scale)
    tables = root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    if len(results):
        results.to_parquet(tables / "results.parquet", index=False)
    points.to_csv(tables / "points.csv", index=False, float_format="%.6g")
    verdicts.to_csv(root / "verdicts.csv", index=False, float_format="%.6g")
    for fig in sweep_figs:
        fig_points = points[points["figure"] == fig.figure] if len(points) else points
        if len(fig_points):
            PLOTS[fig.plot](fig, fig_points, verdicts, root / "figures" / f"{fig.figure}.png")
    bench = {p.stem: p.read_text() for p in sorted((root / "bench").glob("*.md"))} \
        if (root / "bench").exists() else {}
    report = write_report(root / "REPORT.md", scale=scale, figures=figures, verdicts=verdicts,
                          results=results, runner_sections=runner_sections, bench_tables=bench,
                          quarantined=quarantined_files(raw))
    print(f"wrote {report.relative_to(REPO_ROOT)}, {root.relative_to(REPO_ROOT)}/verdicts.csv and "
          f"{len(sweep_figs)} sweep figures in {time.perf_counter() - start:.0f} s", flush=True)
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="default")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs (joblib workers)")
    parser.add_argument("--only", nargs="*", help="figure names to (re)build; default: all")
    parser.add_argument("--skip-runs", action="store_true",
                        help="only fit, plot and report from the stored tables (runner figures "
                             "keep their last tables, figure and report section)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    reproduce(args.scale, args.jobs, args.only, args.skip_runs)


if __name__ == "__main__":
    main()
