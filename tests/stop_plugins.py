"""A design for the tests of stops and claims (``tests/test_stops.py``, ``tests/test_claims.py``):
isotropic, but each draw first waits ``THEORY_CHECK_TEST_PAUSE`` seconds and appends a line to
the file ``THEORY_CHECK_TEST_DRAWS``, when set. Neither is part of the config, so a paused run
and a plain one have the same key: a test can stop a slow sweep and resume it quickly, and
count how many times each run's data were drawn."""

import os
import time

from theory_check.validation import check_int


def paused_isotropic(rng, n, d):
    check_int("n", n, low=1)
    check_int("d", d, low=1)
    X = rng.standard_normal((n, d))  # the validation's dry run stops at this first draw
    time.sleep(float(os.environ.get("THEORY_CHECK_TEST_PAUSE", "0")))
    if os.environ.get("THEORY_CHECK_TEST_DRAWS"):
        with open(os.environ["THEORY_CHECK_TEST_DRAWS"], "a") as fh:
            fh.write(f"{os.getpid()}\n")
    return X
