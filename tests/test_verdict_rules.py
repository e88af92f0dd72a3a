"""Size and power of the verdict rules, measured (issue 21.5).

The verdict code is fed constructed sweeps whose truth is known: MSE / rate saturating like the
hard family's 0.18 → 0.29, above the constant, growing through it inside the sweep, flat, noisy
flat with 5 points × 3 seeds, rising without slowing. Each must get the right status. Then the
rates over many seeded repetitions: how often "violated" is said where a proven bound holds by
construction (false alarms), and how often it is said where MSE / rate exceeds the constant
(detection). ``python tests/test_verdict_rules.py`` prints the table of rates the README quotes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from theory_check.analysis import (Trend, analyze, bound_claim, falling_trend, growing_shape,
                                   ratio_points, render_verdict)
from theory_check.experiments import Figure, Sweep

C = 0.5
#: n of a default-scale n sweep: rate ∝ n^-½ spans 0.6 decades over 5 points.
N_VALUES = (32, 64, 128, 256, 512)
#: The hard family's n sweep (issue 21.1, α = σ = 1, r = 2): measured mean MSE / rate 0.18,
#: 0.24, 0.27, 0.27, 0.29, 0.29 at these n; a fit ρ = A − B·rate^γ gives A ≈ 0.36. The smooth
#: curve through them: 0.18, 0.22, 0.26, 0.27, 0.28, 0.29.
HARD_N = (8, 32, 128, 288, 512, 800)
HARD_RATIOS = tuple(0.36 - 0.18 * (8 / np.asarray(HARD_N)) ** 0.205)


def rate_of(n):
    """√(r(n+N)/(nN)) at n = N, r = 2: falls as n grows."""
    return np.sqrt(4.0 / np.asarray(n, float))


def sweep_rows(ratios, n_values=N_VALUES, *, seeds=10, cv=0.03, rng=None, name="sw",
               varied="n") -> pd.DataFrame:
    """Result rows of one sweep whose mean MSE / rate at each point is ``ratios``: MSE = rate ×
    ratio × a log-normal factor of mean 1 and log-sd ``cv`` (independent per seed)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for n, ratio in zip(n_values, ratios):
        rate = float(rate_of(n)) if varied == "n" else float(n) ** 0.5 / 10
        factor = np.exp(cv * rng.standard_normal(seeds) - cv**2 / 2)
        rows += [dict(experiment_name=name, sweep=varied, **{varied: n}, seed=s,
                      estimator="convex_linear", status="ok", rate_thm44=rate,
                      mse=rate * ratio * f, assumption="within")
                 for s, f in enumerate(factor)]
    return pd.DataFrame(rows)


def figure(names=("sw",), claim="tight", constant=C) -> Figure:
    return Figure(figure="f", title="t", theorem="4.4", rate="rate_thm44",
                  estimator="convex_linear", sweeps=tuple(Sweep(n, claim) for n in names),
                  constant={"value": constant, "source": "stated for the test"})


def verdict_of(rows, claim="tight") -> pd.Series:
    return analyze(rows, [figure(claim=claim)])[0].iloc[0]


def status_of(rows, claim="tight", direction=-1.0) -> str:
    """The status :func:`bound_claim` gives a sweep's rows (the fast path of :func:`analyze`)."""
    varied = rows["sweep"].iloc[0]
    return bound_claim(ratio_points(rows, varied, "rate_thm44"), claim, direction=direction,
                       bound=C, fit=(1.0, 0.9, 1.1), varied=varied).status


# --- constructed sweeps with a known truth --------------------------------------------------

def test_a_saturating_ratio_like_the_hard_family_is_pre_asymptotic_not_violated():
    v = verdict_of(sweep_rows(HARD_RATIOS, HARD_N))
    assert v["status"] == "pre-asymptotic", v["verdict"]
    assert v["local_growth_low"] > 0 and v["upper_growth"] > v["local_growth_high"]
    # The exponent over the whole sweep is below 0.9, the pattern once called "violated".
    assert v["ci_high"] < 0.9


def test_a_ratio_above_the_constant_is_violated():
    v = verdict_of(sweep_rows([1.5 * C] * 5))
    assert v["status"] == "violated" and v["constant_low"] > C


def test_a_ratio_growing_through_the_constant_inside_the_sweep_is_violated():
    v = verdict_of(sweep_rows(np.geomspace(0.6 * C, 1.6 * C, 5)))
    assert v["status"] == "violated", v["verdict"]


def test_a_flat_ratio_is_tight_and_an_upper_bound_holds():
    rows = sweep_rows([0.3] * 5)
    assert verdict_of(rows)["status"] == "tight"
    assert verdict_of(rows, "upper_bound")["status"] == "holds"


def test_a_ratio_rising_without_slowing_asks_for_a_longer_sweep():
    rows = sweep_rows(0.1 * (rate_of(N_VALUES)[0] / rate_of(N_VALUES)) ** 0.3)
    v = verdict_of(rows)
    assert v["status"] == "rising" and "extend the sweep" in v["verdict"]


def test_a_ratio_falling_with_the_rate_holds_with_room():
    v = verdict_of(sweep_rows(0.3 * (rate_of(N_VALUES) / rate_of(N_VALUES)[0]) ** 0.3))
    assert v["status"] == "holds" and v["local_growth_high"] < 0


def test_noisy_flat_with_5_points_and_3_seeds_is_never_violated():
    rates = status_rates(lambda rng: sweep_rows([0.3] * 5, seeds=3, cv=0.3, rng=rng), reps=200)
    assert rates.get("violated", 0) == 0
    # A flat truth read as rising or falling only as often as an interval misses.
    assert rates.get("rising", 0) + rates.get("pre-asymptotic", 0) <= 0.05
    assert rates.get("tight", 0) + rates.get("unresolved", 0) >= 0.9


def test_a_growing_rate_sweep_is_described_by_its_shape_and_a_turn_gets_no_exponent():
    sigmas = (0.125, 0.25, 0.5, 1, 2, 4, 8)
    peaked = sweep_rows([0.02, 0.05, 0.1, 0.15, 0.12, 0.09, 0.07], sigmas, varied="sigma")
    v = verdict_of(peaked, "upper_bound")
    assert (v["status"], v["shape"]) == ("holds", "peaked")
    assert "no single exponent describes it" in v["verdict"] and "∝" not in v["verdict"]
    rising = sweep_rows([0.05, 0.08, 0.12, 0.18, 0.25, 0.3, 0.35], sigmas, varied="sigma")
    v = verdict_of(rising, "upper_bound")
    assert (v["status"], v["shape"]) == ("holds", "rising") and "MSE ∝ sigma^" in v["verdict"]


def test_shapes_of_a_growing_rate():
    pts = lambda ratios: pd.DataFrame({"x": range(len(ratios)), "ratio": ratios,  # noqa: E731
                                       "ratio_low": np.subtract(ratios, 0.01),
                                       "ratio_high": np.add(ratios, 0.01)})
    assert growing_shape(pts([0.1, 0.2, 0.1])) == "peaked"
    assert growing_shape(pts([0.3, 0.1, 0.3])) == "dipped"
    assert growing_shape(pts([0.1, 0.15, 0.2])) == "rising"
    assert growing_shape(pts([0.2, 0.15, 0.1])) == "falling"
    assert growing_shape(pts([0.1, 0.105, 0.1])) == "flat"


def test_outside_the_assumptions_is_described_never_judged():
    rows = sweep_rows([3 * C] * 5)
    rows["assumption"] = "outside: heavy tails (t, 2.5 dof)"
    v = verdict_of(rows)
    assert v["status"] == "outside" and "violated" not in v["verdict"]
    assert v["verdict"].startswith("outside: heavy tails (t, 2.5 dof), not a test of Theorem 4.4")
    rows["assumption"] = "outside: heavy tails (t, 1.5 dof, infinite variance)"
    rows["rate_thm31"] = rows["rate_thm44"]
    fig = Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", estimator="convex_linear",
                 sweeps=(Sweep("sw", "sharp"),), constant={"value": 1.25, "source": "test"})
    v = analyze(rows, [fig])[0].iloc[0]
    # σ is a scale under infinite variance: no comparison with σ²·rate.
    assert v["status"] == "outside" and "MSE / rate" not in v["reason"]


def test_rows_out_of_the_proofs_order_are_flagged_counted_and_kept_out_of_the_fits():
    rows = sweep_rows([0.3] * 5)
    rows["proof.in_order"] = True
    assert verdict_of(rows)["status"] == "tight"
    bad = rows.index[:2]
    rows.loc[bad, "proof.in_order"] = False
    rows.loc[bad, "mse"] = 1e3  # kept out of the fits: the constant does not see them
    v = verdict_of(rows)
    assert v["status"] == "violated" and v["n_out_of_order"] == 2
    assert v["n_ok"] == len(rows) - 2 and v["constant"] < C
    assert "2 of 50 rows break the proof's chain" in v["verdict"]
    # A chain not evaluated on a row (a missing value) is not a break.
    rows = sweep_rows([0.3] * 5)
    rows["proof.in_order"] = pd.array([True, None] * 25, dtype="boolean")
    assert verdict_of(rows)["status"] == "tight"


def test_an_n_sweep_that_cannot_separate_the_log_factor_says_so():
    # MSE / rate flat against rate·√log(nN), rising against the log-free rate (issue 21.2).
    pts = ratio_points(sweep_rows([0.3] * 5), "n", "rate_thm44")
    alternative = Trend("rising", 0.15, 0.1, 0.2)
    v = bound_claim(pts, "tight", bound=C, fit=(1.0, 0.95, 1.05), alternative=alternative,
                    alternative_name="the log-free rate")
    assert v.status == "unresolved" and "cannot tell the two apart" in render_verdict(v)


def test_falling_trend_needs_three_points():
    assert falling_trend(ratio_points(sweep_rows([0.3] * 2, (32, 64)), "n", "rate_thm44")).kind \
        == "unresolved"


# --- rates over seeded repetitions ----------------------------------------------------------

def status_rates(make_rows, reps: int = 200, seed: int = 0, claim: str = "tight") -> dict[str, float]:
    """Fraction of ``reps`` sweeps ``make_rows(rng)`` given each status (fast path of analyze)."""
    rng = np.random.default_rng(seed)
    counts = pd.Series([status_of(make_rows(rng), claim) for _ in range(reps)]).value_counts()
    return (counts / reps).to_dict()


def bounded_rows(rng, seeds=3):
    """A sweep where a proven bound holds by construction, as Theorem 4.4's chain guarantees
    MSE ≤ proof bound on every row: each row's MSE / rate is C times a factor ≤ 1, along a random
    shape (saturating, rising without slowing, flat or falling) whose mean sits up to C."""
    u = np.log(rate_of(N_VALUES)[0] / rate_of(N_VALUES))  # 0 … log 4 as the rate falls
    shape = rng.choice(["saturating", "rising", "flat", "falling"])
    top = rng.uniform(0.6, 0.98)
    mean = {"saturating": top * (1 - 0.5 * np.exp(-2 * u)), "rising": top * np.exp(0.3 * (u - u[-1])),
            "flat": np.full_like(u, top), "falling": top * np.exp(-0.3 * u)}[shape]
    rows = sweep_rows(mean * C, seeds=seeds, cv=0.3, rng=rng)
    rows["proof.bound"] = C * rows["rate_thm44"]
    rows["mse"] = np.minimum(rows["mse"], rows["proof.bound"])  # the chain: MSE ≤ bound
    return rows


def false_alarm_rate(reps: int = 200, seed: int = 1) -> float:
    """Fraction of :func:`bounded_rows` sweeps called "violated", end to end through
    :func:`analyze` (all repetitions in one table, one sweep each)."""
    rng = np.random.default_rng(seed)
    names = [f"null{i}" for i in range(reps)]
    rows = pd.concat([bounded_rows(rng).assign(experiment_name=name) for name in names])
    verdicts, _ = analyze(rows, [figure(names)])
    return float((verdicts["status"] == "violated").mean())


def boundary_size(reps: int = 400, seed: int = 2, at_c: int = 1) -> float:
    """Fraction called "violated" when the mean MSE / rate equals C exactly at the last
    ``at_c`` points (0.6 C elsewhere), 3 seeds, log-sd 0.3: the size of the rule at its edge."""
    ratios = np.r_[[0.6 * C] * (5 - at_c), [C] * at_c]
    return status_rates(lambda rng: sweep_rows(ratios, seeds=3, cv=0.3, rng=rng), reps, seed) \
        .get("violated", 0.0)


def detection_rate(excess: float, cv: float, reps: int = 400, seed: int = 3, at: int = 1) -> float:
    """Fraction called "violated" when the last ``at`` points' mean MSE / rate is ``excess`` × C
    (0.6 C elsewhere), 5 points × 3 seeds with log-sd ``cv``."""
    ratios = np.r_[[0.6 * C] * (5 - at), [excess * C] * at]
    return status_rates(lambda rng: sweep_rows(ratios, seeds=3, cv=cv, rng=rng), reps, seed) \
        .get("violated", 0.0)


def fast_false_alarm_rate(reps: int = 200, seed: int = 1) -> float:
    """:func:`false_alarm_rate` on the fast path (:func:`status_of`, no bootstrap, no table)."""
    return status_rates(bounded_rows, reps, seed).get("violated", 0.0)


def test_no_false_alarm_where_a_proven_bound_holds_by_construction():
    assert fast_false_alarm_rate(reps=200) == 0.0


@pytest.mark.slow
def test_no_false_alarm_end_to_end():
    assert false_alarm_rate(reps=200) == 0.0


def test_power_to_find_an_excess_of_the_constant():
    # Twice C at one point of 5 × 3 seeds is found nearly always.
    assert detection_rate(2.0, cv=0.1, reps=100) >= 0.95
    assert detection_rate(1.5, cv=0.1, reps=100) >= 0.75


@pytest.mark.slow
def test_the_rule_at_its_edge():
    # A mean exactly at C at one point: a one-sided 2.5% test there.
    assert boundary_size(reps=400, at_c=1) <= 0.05
    assert detection_rate(1.2, cv=0.3, reps=200) < 0.5


def rate_table() -> pd.DataFrame:
    """The measured rates the README quotes."""
    rows = [("false alarm: bound holds by construction (200 sweeps, end to end)", false_alarm_rate())]
    rows += [(f"size at the edge: mean = C at {k} of 5 points, 3 seeds, log-sd 0.3",
              boundary_size(at_c=k)) for k in (1, 5)]
    rows += [(f"detection: {e:g} C at {at} of 5 points, 3 seeds, log-sd {cv:g}",
              detection_rate(e, cv, at=at))
             for cv in (0.1, 0.3) for e in (1.2, 1.5, 2.0) for at in (1, 5)]
    rows += [("noisy flat (5 × 3, log-sd 0.3): " + ", ".join(
        f"{k} {v:.3f}" for k, v in sorted(status_rates(
            lambda rng: sweep_rows([0.3] * 5, seeds=3, cv=0.3, rng=rng), reps=400).items())), np.nan)]
    return pd.DataFrame(rows, columns=["case", "rate of violated"])


if __name__ == "__main__":
    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        print(rate_table().to_string(index=False))


def test_the_report_summary_shows_the_status_and_its_reason():
    from theory_check.report import summary_table_md

    verdicts = analyze(sweep_rows([1.5 * C] * 5), [figure()])[0]
    table = summary_table_md(verdicts)
    assert "| status | reason |" in table.splitlines()[0]
    row = verdicts.iloc[0]
    assert f"| **violated** | {row['reason']} | 0 |" in table
    # A verdict table from before the status column: the old table.
    assert "fitted exponent" in summary_table_md(verdicts.drop(columns=["status", "reason"]))
