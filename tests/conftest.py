import os

import pytest
from hypothesis import settings

# The same examples on every run: `make test` (and CI) gives the same result for the same code,
# and a failure found by a property test is kept as an explicit regression test instead of
# turning up at random (see test_projection_with_a_basis_and_a_small_alpha_converges).
# `make test-explore` draws fresh examples, twenty times as many, to look for new failures.
settings.register_profile("theory_check", derandomize=True, max_examples=30, deadline=None)
settings.register_profile("explore", derandomize=False, max_examples=600, deadline=None)
settings.load_profile(os.environ.get("THEORY_CHECK_HYPOTHESIS_PROFILE", "theory_check"))
from hydra import compose, initialize_config_dir

from theory_check.run import CONF_DIR


@pytest.fixture
def make_cfg(tmp_path):
    """Compose the project config with overrides; results go to a temporary folder."""

    def _make(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            return compose("config", overrides=[f"results_dir={tmp_path / 'raw'}", *overrides])

    return _make
