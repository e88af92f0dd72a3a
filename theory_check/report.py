"""``results/REPORT.md``: verdict tables, figures and one paragraph per verdict, from tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from .experiments import Figure, theorem_titles
from .slack import CHAINS, SlackSet, slack_sentence


def _fmt(x, spec=".3g") -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def verdict_table_md(rows: pd.DataFrame) -> str:
    lines = ["| sweep | estimator | varied | fitted exponent [95% CI] | C = max MSE/rate | "
             "MSE/reference | failed | verdict |", "|---|---|---|---|---|---|---|---|"]
    for v in rows.itertuples():
        ref = (f"{_fmt(v.reference_ratio_min, '.2f')}–{_fmt(v.reference_ratio_max, '.2f')}"
               if np.isfinite(v.reference_ratio_min) else "–")
        failed = v.n_not_converged + v.n_error
        lines.append(
            f"| {v.sweep} | {v.estimator} | {v.varied} {_fmt(v.x_min, 'g')}…{_fmt(v.x_max, 'g')} | "
            f"{_fmt(v.fitted_exponent, '.2f')} [{_fmt(v.ci_low, '.2f')}, {_fmt(v.ci_high, '.2f')}] | "
            f"{_fmt(v.constant)} | {ref} | {failed} | {v.verdict} |")
    return "\n".join(lines)


def summary_table_md(rows: pd.DataFrame) -> str:
    """The report's summary: per sweep, the verdict's status code and its one short reason
    (the full verdict stays in each figure's table below). Verdict tables written before the
    ``status`` column existed are shown as :func:`verdict_table_md` shows them."""
    if "status" not in rows:
        return verdict_table_md(rows)
    lines = ["| sweep | estimator | varied | status | reason | failed |", "|---|---|---|---|---|---|"]
    for v in rows.itertuples():
        failed = v.n_not_converged + v.n_error + getattr(v, "n_out_of_order", 0)
        lines.append(f"| {v.sweep} | {v.estimator} | {v.varied} {_fmt(v.x_min, 'g')}…"
                     f"{_fmt(v.x_max, 'g')} | **{v.status}** | {v.reason} | {failed} |")
    return "\n".join(lines)


def fit_interval_text(v) -> str:
    """The exponent's intervals, the sweep's span and the margin to the ±0.1 band, in words.
    Tolerant of verdict tables written before these columns existed."""
    get = lambda name: getattr(v, name, np.nan)  # noqa: E731
    text = (f"95% t interval on the {v.n_points} point means [{_fmt(v.ci_low, '.2f')}, "
            f"{_fmt(v.ci_high, '.2f')}], which includes the points' scatter about the line")
    if np.isfinite(get("boot_low")):
        text += (f"; a bootstrap over seeds alone would say [{get('boot_low'):.2f}, "
                 f"{get('boot_high'):.2f}]")
    text += "; predicted 1"
    if np.isfinite(get("band_margin")) and v.role == "estimator":
        band = "±0.1 band" if v.claim in ("sharp", "tight") else "lower edge 0.9"
        side = "inside" if get("band_margin") >= 0 else "outside"
        text += f"; the interval is {abs(get('band_margin')):.2f} {side} the {band}"
    if np.isfinite(get("rate_decades")):
        text += f"; the sweep covers {get('rate_decades'):.2f} decades of rate"
    return text


def constant_text(v, fig: Figure) -> str:
    """The pre-registered constant, where it comes from, and (Theorem 3.1) the SNR regime."""
    text = ""
    bound = getattr(v, "constant_bound", np.nan)
    if fig.constant and np.isfinite(bound):
        text += (f" Pre-registered constant C = {bound:.3g} ({fig.constant['source']}); the "
                 f"largest mean MSE/rate is {_fmt(v.constant)} at {v.varied} = "
                 f"{_fmt(getattr(v, 'constant_at', np.nan), 'g')}.")
    if fig.theorem == "4.9" and fig.rate == "rate_thm49":
        text += (" The constant α(α+σ) in the rate is this suite's choice (mirroring Theorem "
                 "4.4), not the paper's, which leaves C_{α,σ} unspecified.")
    if fig.theorem == "3.1":
        low, high = getattr(v, "snr_min", np.nan), getattr(v, "snr_max", np.nan)
        text += (f" SNR s_r/(σ(kN)^¼) from {low:.2g} to {high:.2g} (s_r the r-th singular value "
                 f"of Z*; the DoF prediction is sharp when it is well above 1)."
                 if np.isfinite(low) else " The SNR s_r/(σ(kN)^¼) is not recorded in these rows.")
    return text


def verdict_paragraph(v, fig: Figure) -> str:
    """What one verdict row's numbers say, in words."""
    head = (f"**{v.sweep} / {v.estimator}** ({v.varied} from {_fmt(v.x_min, 'g')} to "
            f"{_fmt(v.x_max, 'g')}, {v.n_points} points × {v.n_seeds} seeds, {v.n_ok} rows kept")
    failed = v.n_not_converged + v.n_error
    head += f", {failed} failed or not converged and left out)" if failed else ")"
    if not np.isfinite(v.fitted_exponent):
        return head + f": no exponent could be fitted. Verdict: {v.verdict}."
    text = (f"{head}: MSE scales as ({fig.rate})^{v.fitted_exponent:.2f} "
            f"({fit_interval_text(v)}). "
            f"MSE/rate goes from {_fmt(v.constant_first)} at the first point to "
            f"{_fmt(v.constant_last)} at the last (largest {_fmt(v.constant)}).")
    if v.role == "estimator":
        text += constant_text(v, fig)
    if (v.role == "estimator" and v.claim != "sharp" and v.fitted_exponent > 1.1
            and v.constant_last < v.constant_first):
        text += (f" The MSE falls faster than the bound: MSE/rate shrinks by a factor "
                 f"{v.constant_first / v.constant_last:.2g} over the sweep.")
    if np.isfinite(v.reference_ratio_min):
        text += (f" MSE / {fig.reference} stays within [{v.reference_ratio_min:.2f}, "
                 f"{v.reference_ratio_max:.2f}].")
    if v.role == "baseline" and np.isfinite(v.mse_ratio_to_estimator):
        text += (f" Its MSE is {v.mse_ratio_to_estimator:.2g}× that of {fig.estimator} "
                 f"(geometric mean over the sweep).")
    if isinstance(v.log_exponent_fits, str) and v.log_exponent_fits:
        text += f" Log factor log(nN)^p: {v.log_exponent_fits}"
        text += (f"; flattest MSE/rate at p = {v.best_log_exponent:g}."
                 if np.isfinite(v.best_log_exponent) else ".")
    return text + f" Verdict: **{v.verdict}**."


def theorem_synthesis(rows: pd.DataFrame) -> str:
    """One paragraph per theorem: how many sweeps got which verdict, and the baselines' story."""
    main = rows[rows["role"] == "estimator"]
    if main.empty:
        return ""
    if "status" in main:
        kinds = main["status"].value_counts()
    else:  # verdicts written before the status codes: the head of the prose, "bound holds with …"
        kinds = main["verdict"].str.split(r":|;| with | \(", regex=True).str[0].value_counts()
    text = (f"{len(main)} sweeps of {', '.join(sorted(main['estimator'].unique()))}: "
            + ", ".join(f"{k} × {v}" for v, k in kinds.items()) + ".")
    failed = (rows["n_error"] + rows["n_not_converged"]).groupby(rows["estimator"]).sum()
    failed = failed[failed > 0]
    text += (" Runs that failed or hit their iteration limit, left out of the fits: "
             + ", ".join(f"{est} {int(k)}" for est, k in failed.items()) + "."
             if len(failed) else " No run failed or hit its iteration limit.")
    base = rows[rows["role"] == "baseline"]
    if len(base):
        worst = base.loc[base["mse_ratio_to_estimator"].idxmax()]
        plateaus = base[base["verdict"].str.startswith("does not follow")]
        text += (f" Largest baseline gap: {worst.estimator} on {worst.sweep}, "
                 f"{worst.mse_ratio_to_estimator:.2g}× the MSE of the theorem's estimator.")
        if len(plateaus):
            text += (" Baselines that plateau: "
                     + ", ".join(f"{p.estimator} on {p.sweep}" for p in plateaus.itertuples()) + ".")
    return text


def _slack_move(first, last) -> str:
    return f"×{_fmt(first)} → ×{_fmt(last)}"


def slack_table_md(table: pd.DataFrame) -> str:
    """The loosest-steps table (:func:`theory_check.slack.loosest_steps`) of one theorem."""
    lines = ["| sweep | family | varied | loosest step | loosest deterministic step | "
             "moves most | deterministic chain | rows (out of order) |",
             "|---|---|---|---|---|---|---|---|"]
    for v in table.itertuples():
        lines.append(
            f"| {v.sweep} | {v.family} | {v.varied} {_fmt(v.x_first, 'g')}…{_fmt(v.x_last, 'g')} | "
            f"{v.loosest_step} {_slack_move(v.loosest_first, v.loosest_last)} | "
            f"{v.loosest_deterministic_step} "
            f"{_slack_move(v.loosest_deterministic_first, v.loosest_deterministic_last)} | "
            f"{v.moving_step} {_slack_move(v.moving_first, v.moving_last)} | "
            f"{_slack_move(v.total_first, v.total_last)} | {v.n_rows} ({v.n_out_of_order}) |")
    return "\n".join(lines)


def slack_section(theorem: str, slack: SlackSet, verdicts: pd.DataFrame) -> list[str]:
    """The report's lines on where theorem ``theorem``'s proof is loose: the rows out of
    order, the slack figure, the loosest-steps table and one sentence per sweep from it."""
    if theorem not in CHAINS:
        return []
    mine = verdicts[(verdicts["theorem"].astype(str) == theorem)
                    & (verdicts["role"] == "estimator")] if len(verdicts) else verdicts
    out = [f"### Where the proof of Theorem {theorem} is loose", ""]
    if len(mine) and "n_out_of_order" in mine:
        counts = mine.groupby("sweep", sort=False)["n_out_of_order"].sum()
        counts = counts[counts > 0]
        out += [f"Rows of the theorem's estimator whose deterministic chain is out of order "
                f"(`proof.in_order` false, kept out of the fits): **{int(counts.sum())}**"
                + (" (" + ", ".join(f"{s} {int(k)}" for s, k in counts.items()) + ")."
                   if len(counts) else "."), ""]
    table = slack.table[slack.table["theorem"].astype(str) == theorem] \
        if len(slack.table) else slack.table
    if table.empty and mine.empty:  # nothing of the theorem has run
        return []
    if table.empty:
        return out + ["The rows of the theorem's estimator in this set carry no proof chain.", ""]
    steps = "; ".join(f"{s.name} {s.label}" + ("" if s.deterministic else " (in expectation)")
                      for s in CHAINS[theorem])
    out += [f"Each step's slack factor is its bound over the previous one, from MSE up "
            f"(docs/PROOFS.md): {steps}. The deterministic chain is their product over the "
            f"deterministic steps, the proof's own bound on the run over its MSE; values are "
            f"means over seeds at the first → last swept value (`tables/proof_slack.csv`, per "
            f"point with intervals in `tables/proof_slack_points.csv`).", ""]
    if theorem in slack.drawn:
        out += [f"![proof slack, Theorem {theorem}](figures/proof_slack_{theorem}.png)", "",
                "_The figure shows the sweeps over n within the theorem's assumptions (every "
                "sweep where the theorem has none); the table covers every sweep._", ""]
    out += [slack_table_md(table), ""]
    out += [slack_sentence(v) + "\n" for v in table.itertuples()]
    return out


#: Columns of the provenance table that say what computed a row (besides the package versions).
PROVENANCE_COLUMNS = ("git_commit", "version", "python")


def rows_digest(rows: pd.DataFrame) -> str:
    """A digest of result rows (their keys, statuses and MSEs), independent of their order:
    two report sets built from the same rows share it."""
    cols = [c for c in ("key", "status", "mse") if c in rows] or sorted(rows.columns)
    lines = sorted("\t".join(repr(v) for v in row) for row in rows[cols].itertuples(index=False))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def provenance_table(results: pd.DataFrame) -> pd.DataFrame:
    """How many rows of each sweep were computed by which commit, package version and packages
    (one row per combination, count in ``rows``), with each sweep's :func:`rows_digest`.
    Kept in ``tables/provenance.csv``, so that a partial rebuild can state the rows of the
    sections it keeps."""
    if results.empty:
        return pd.DataFrame(columns=["sweep", "rows", "digest"])
    results = results.assign(sweep=results["experiment_name"] if "experiment_name" in results
                             else "")
    keys = ["sweep"] + [c for c in results.columns
                        if c in PROVENANCE_COLUMNS or c.startswith("pkg.")]
    table = (results[keys].astype(object).where(results[keys].notna(), None)
             .groupby(keys, dropna=False, sort=True).size().rename("rows").reset_index())
    digests = {sweep: rows_digest(group) for sweep, group in results.groupby("sweep")}
    return table.assign(digest=table["sweep"].map(digests))


def set_digest(table: pd.DataFrame) -> str:
    """One digest of every sweep's rows in a provenance table."""
    pairs = sorted(set(zip(table["sweep"].astype(str), table["digest"].astype(str))))
    return hashlib.sha256("\n".join(f"{s}:{d}" for s, d in pairs).encode()).hexdigest()[:12]


def _package_md(table: pd.DataFrame) -> str:
    """The key package versions the rows were computed with, flagged when they differ."""
    cols = [c for c in table.columns if c.startswith("pkg.") or c == "python"]
    if not cols:
        return " Package versions were not recorded in these rows."
    parts, mixed = [], []
    for col in cols:
        values = sorted(table.loc[table[col].notna() & (table["rows"] > 0), col].astype(str).unique())
        parts.append(f"{col.removeprefix('pkg.')} {', '.join(values)}")
        if len(values) > 1:
            mixed.append(col.removeprefix("pkg."))
    text = " Packages: " + "; ".join(parts) + "."
    missing = int(table.loc[table[cols[0]].isna(), "rows"].sum())
    if missing:
        text += f" {missing} rows do not record their package versions."
    if mixed:
        text += f" **The rows were computed with more than one version of {', '.join(mixed)}.**"
    return text


def _short(commit: str) -> str:
    """A commit as its first 12 hex digits, keeping a ``+dirty`` mark (modified checkout)."""
    sha, plus, mark = commit.partition("+")
    return sha[:12] + plus + mark


def provenance_md(results: pd.DataFrame, quarantined=()) -> str:
    """The rows a report was built from: how many, their digest, commits and package versions.
    ``results``: the result rows, or their :func:`provenance_table`."""
    table = results if "rows" in results else provenance_table(results)
    total = int(table["rows"].sum()) if len(table) else 0
    if not total:
        text = "No result rows."
    else:
        commits = table.groupby(table["git_commit"].astype(str))["rows"].sum() \
            if "git_commit" in table else pd.Series(dtype=int)
        versions = sorted(table["version"].dropna().astype(str).unique()) if "version" in table else []
        text = (f"{total} result rows (digest {set_digest(table)}), package version "
                f"{', '.join(versions) or 'not recorded'}, git commit "
                f"{', '.join(_short(c) for c in sorted(commits.index)) or 'not recorded'}.")
        if len(commits) > 1:
            counts = commits.sort_values(ascending=False, kind="stable")
            text += (" **The tables come from more than one commit** (rows per commit: "
                     + ", ".join(f"{_short(c)}: {int(k)}" for c, k in counts.items()) + ").")
        text += _package_md(table)
    if len(quarantined):
        folders = sorted({str(Path(q).parent) for q in quarantined})
        text += (f" **{len(quarantined)} damaged result files** were moved aside, unread, to "
                 f"{', '.join(folders)}; their runs are recomputed by the next sweep.")
    return text


def figure_rows_md(fig: Figure, provenance: pd.DataFrame) -> str:
    """The rows one figure's section was built from, in one line."""
    names = [s.name for s in fig.sweeps]
    mine = provenance[provenance["sweep"].isin(names)] if len(provenance) else provenance
    if mine.empty:
        return "_The rows of this section were not recorded (it predates tables/provenance.csv)._"
    commits = sorted({_short(str(c)) for c in mine.get("git_commit", pd.Series(dtype=str)).dropna()})
    return (f"_Built from {int(mine['rows'].sum())} result rows of {mine['sweep'].nunique()} "
            f"sweeps (digest {set_digest(mine)}"
            + (f", git commit {', '.join(commits)}" if commits else "") + ")._")


def runner_groups(runners: list[Figure]) -> list[tuple[str, list[Figure]]]:
    """``(heading, figures)`` per ``section`` of the runner figures, in ``section_order``."""
    groups: dict[str, list[Figure]] = {}
    for fig in sorted(runners, key=lambda f: f.section_order):  # stable: file order within
        groups.setdefault(f"## {fig.section or fig.title}", []).append(fig)
    return list(groups.items())


def write_report(path: Path, *, scale: str, figures: list[Figure], verdicts: pd.DataFrame,
                 provenance: pd.DataFrame, runner_sections: dict[str, str],
                 bench_tables: dict[str, str], drawn=(), rebuilt=None, quarantined=(),
                 slack: SlackSet | None = None) -> Path:
    """Assemble REPORT.md; figure links are relative to the report's folder.

    ``provenance``: the rows behind the verdicts (:func:`provenance_table`); ``drawn``: the
    figures whose PNG is in the set (no other is embedded); ``rebuilt``: with a partial
    rebuild, the figures built by this run (the others kept from the previous report);
    ``quarantined``: the damaged result files moved aside
    (:func:`theory_check.results.quarantined_files`); ``slack``: the proof-slack tables and
    figures of the set (:func:`theory_check.slack.publish_slack`), one section per theorem."""
    rows = provenance_md(provenance, quarantined)
    if (provenance.empty or not provenance["rows"].sum()) and len(verdicts):
        rows = rows.replace("No result rows.", "The rows behind these sections were not recorded "
                            "(they predate tables/provenance.csv).")
    header = ("Generated by `make reproduce-figures"
              + ("" if scale == "default" else f" SCALE={scale}") + "` from the results tables. "
              + rows)
    if rebuilt is not None:
        kept = [f.figure for f in figures if f.sweeps and f.figure not in rebuilt]
        header += (f" This run rebuilt {', '.join(rebuilt) or 'no sweep figure'}; "
                   f"{len(kept)} sweep figures were kept from the previous report"
                   + (", each with the rows it states." if kept else "."))
    out = [f"# theory_check report ({scale} scale)", "", header, ""]
    main = verdicts[verdicts["role"] == "estimator"]
    if len(main):
        out += ["## Summary", "", summary_table_md(main), ""]
    for theorem, title in theorem_titles(figures).items():
        out += [f"## {title}", "",
                theorem_synthesis(verdicts[verdicts["theorem"].astype(str) == theorem]), ""]
        for fig in (f for f in figures if f.theorem == theorem and f.sweeps):
            rows = verdicts[verdicts["figure"] == fig.figure]
            out += [f"### {fig.title}", ""]
            if rows.empty:
                out += ["No rows: the sweeps of this figure have not run.", ""]
                continue
            if fig.figure in drawn:
                out += [f"![{fig.figure}](figures/{fig.figure}.png)", ""]
            out += [figure_rows_md(fig, provenance), "", verdict_table_md(rows), ""]
            out += [verdict_paragraph(v, fig) + "\n" for v in rows.itertuples()]
        if slack is not None:
            out += slack_section(theorem, slack, verdicts)
    for heading, group in runner_groups([f for f in figures if f.runner]):
        out += [heading, ""]
        for fig in group:
            out += [runner_sections.get(fig.figure, f"### {fig.title}\n\nNot run yet."), ""]
    if bench_tables:
        out += ["## Benchmarks (`make bench`)", ""]
        for name, table in bench_tables.items():
            out += [f"### {name}", "", table, ""]
    path.write_text("\n".join(out).rstrip() + "\n")
    return path
