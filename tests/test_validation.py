"""Validate once: library checks name their own parameters and raise TypeError for wrong types;
the plug-in layer adds the config path."""

import pytest

from theory_check.config import config_problems, with_config_path
from theory_check.validation import ParameterTypeError, check_int, check_matrix, check_real


@pytest.mark.parametrize("check, args", [
    (check_int, ("n", "ten")), (check_int, ("n", 2.5)), (check_real, ("alpha", "one")),
    (check_matrix, ("X", [[1j, 2.0]])), (check_matrix, ("X", [["a", "b"]])),
])
def test_a_wrong_type_is_a_type_error_that_value_error_handlers_still_catch(check, args):
    with pytest.raises(TypeError, match=f"{args[0]} must be"):
        check(*args)
    assert issubclass(ParameterTypeError, ValueError)


def test_a_wrong_value_stays_a_value_error_only():
    with pytest.raises(ValueError) as err:
        check_real("alpha", -1.0, low=0.0, low_open=True)
    assert not isinstance(err.value, TypeError)


def test_the_plug_in_layer_puts_a_parameter_at_its_config_path():
    assert with_config_path("model", ["alpha", "q"], "alpha must be > 0") == "model.alpha must be > 0"
    assert with_config_path("model", ["alpha"], "model.alpha must be > 0") == "model.alpha must be > 0"
    assert with_config_path("model", ["alpha"], "alphabet soup") == "alphabet soup"


def test_a_plug_in_naming_its_own_parameter_is_reported_with_the_config_path(make_cfg):
    cfg = make_cfg("design._target_=sweep_plugins.scaled_design", "+design.scale=-2", "n=abc")
    assert config_problems(cfg) == ["n must be an integer, got 'abc'"]
    cfg = make_cfg("design._target_=sweep_plugins.scaled_design", "+design.scale=-2")
    assert config_problems(cfg) == ["design 'isotropic': design.scale must be > 0.0, got -2.0"]


def test_a_model_names_its_own_parameter_and_the_config_layer_adds_the_path(make_cfg):
    """A library function says ``alpha``; checking the config puts it at ``model.alpha``."""
    import numpy as np

    from theory_check import designs, noise
    from theory_check.models import approx

    with pytest.raises(ValueError, match="^alpha must be > 0"):
        approx.low_rank(np.random.default_rng(0), n=8, d=8, N=8, r=1, sigma=1.0,
                        design=designs.isotropic, noise=noise.uniform, alpha=0.0)
    cfg = make_cfg("+experiment=thm44_low_rank_n", "model.alpha=0.0")
    assert any("model.alpha must be > 0" in p for p in config_problems(cfg))
