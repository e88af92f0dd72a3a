"""The network sections' prose quotes numbers and names from conf/network/*.yaml `report`."""

import pytest

from theory_check.networks import experiment


def _with_report(monkeypatch, **changes):
    original = experiment.load_config

    def load(name, scale):
        cfg = original(name, scale)
        cfg["report"] = {**cfg["report"], **changes}
        return cfg

    monkeypatch.setattr(experiment, "load_config", load)


def _no_training(monkeypatch):
    def refuse(*args):
        raise AssertionError("trained before the report config was checked")

    monkeypatch.setattr(experiment, "_parallel", refuse)


@pytest.mark.parametrize("runner, changes, match", [
    ("run_synthetic", {"baseline": "weight_svdd"}, r"report\.baseline must be one of"),
    ("run_digits", {"compared": "nope"}, r"report\.compared must be one of"),
    ("run_digits", {"regularised": "data_svd"}, r"report\.regularised .* 'rcond'"),
    ("run_digits", {"low_rank": 0}, r"report\.low_rank"),
    ("run_digits", {"table_ranks": [2, 0]}, r"report\.table_ranks"),
    ("run_digits", {"accuracy_gap": -0.1}, r"report\.accuracy_gap"),
])
def test_a_bad_report_config_is_refused_before_training(tmp_path, monkeypatch, runner, changes,
                                                         match):
    _with_report(monkeypatch, **changes)
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=match):
        getattr(experiment, runner)("test", tmp_path, 1)


def test_a_missing_report_key_is_named(tmp_path, monkeypatch):
    original = experiment.load_config

    def load(name, scale):
        cfg = original(name, scale)
        del cfg["report"]["erratic_error"]
        return cfg

    monkeypatch.setattr(experiment, "load_config", load)
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"report is missing \['erratic_error'\]"):
        experiment.run_digits("test", tmp_path, 1)


def test_the_digits_prose_and_table_follow_the_report_config(tmp_path, monkeypatch):
    _with_report(monkeypatch, low_rank=2, accuracy_gap=1.0, table_ranks=[24])
    markdown = experiment.run_digits("test", tmp_path, 1)
    assert "At rank 2 (" in markdown
    assert "does not hold (threshold: 100 points)" in markdown  # no gap exceeds 100 points
    rows = [line.split("|")[1].strip() for line in markdown.splitlines()
            if line.startswith("|") and "fraction kept" not in line and "---" not in line]
    assert rows[0] == "24"  # the accuracy table's only rank (layers follow in the spectra table)
    assert "|      2 |" not in markdown.split("Spectra")[0]
