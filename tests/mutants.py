"""Deliberately broken estimators, for the mutation tests of the verdicts
(``tests/test_verdict_mutations.py``).

Each one takes the place of a theorem's estimator under that estimator's own name (its config's
``_target_`` is overridden on the command line), so the real pipeline runs, fits and judges it
exactly as it would the real one; the verdict must then turn. They live here, not in the
package, so that the package's estimators stay free of test-only entries.
"""

from theory_check.estimators import ConvexLinear, DataSVD, ReluMLE, WeightSVD
from theory_check.estimators.base import Estimator


class WeightOnly(Estimator):
    """Returns the data-agnostic ``[W]_r`` instead of the data-driven estimate; accepts and
    ignores the replaced estimator's settings."""

    def __init__(self, **settings):
        pass

    def __call__(self, problem, r):
        return WeightSVD()(problem, r)


class WrongAlpha(ConvexLinear):
    """The convex estimator over K(4α, r) instead of K(α, r)."""

    def __call__(self, problem, r):
        self.alpha = 4 * problem.meta["alpha"]
        return super().__call__(problem, r)


class WrongAlphaTobit(ReluMLE):
    """The Tobit estimator of Theorem 4.9 over K(4α, r) instead of K(α, r)."""

    def __call__(self, problem, r):
        self.alpha = 4 * problem.meta["alpha"]
        return super().__call__(problem, r)


class WrongRank(DataSVD):
    """The data-driven SVD truncated at rank 2r instead of r."""

    def __call__(self, problem, r):
        return super().__call__(problem, 2 * r)
