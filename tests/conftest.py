import pytest
from hydra import compose, initialize_config_dir

from theory_check.run import CONF_DIR


@pytest.fixture
def make_cfg(tmp_path):
    """Compose the project config with overrides; results go to a temporary folder."""

    def _make(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            return compose("config", overrides=[f"results_dir={tmp_path / 'raw'}", *overrides])

    return _make
