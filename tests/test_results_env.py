"""An environment that can be rebuilt: requirements.lock pins every package, `make install`
installs exactly those pins, and every result row records the versions it was computed with."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from theory_check.provenance import KEY_PACKAGES, checkout_commit, package_versions
from theory_check.report import provenance_md
from theory_check.run import run

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
SMALL = ["n=40", "d=12", "N=10", "r=2"]


def lock_pins() -> dict[str, tuple[str, str]]:
    """``{name: (version, marker)}`` of every line of the lock; a name pinned twice fails."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, _, marker = line.partition(";")
        name, sep, version = spec.strip().partition("==")
        assert sep and re.fullmatch(r"[\w.+!]+", version), f"not an exact pin: {line!r}"
        name = canonicalize_name(name)
        assert name not in pins, f"{name} pinned twice: one version per package (fork strategy)"
        pins[name] = (version, marker.strip())
    return pins


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for reqs in project["optional-dependencies"].values() for r in reqs]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_the_lock_pins_every_requirement_within_its_bounds():
    pins = lock_pins()
    for req in project_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: make lock"
        assert req.specifier.contains(pins[name][0]), \
            f"{name}=={pins[name][0]} is outside pyproject.toml's {req.specifier}: make lock"
    for name in KEY_PACKAGES:
        assert canonicalize_name(name) in pins, name


def test_the_installed_packages_are_the_locked_ones():
    wrong = {}
    for name, (version, marker) in lock_pins().items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            wrong[name] = f"{installed}, locked {version}"
    assert not wrong, f"the environment differs from requirements.lock (make install): {wrong}"


def test_make_install_uses_the_lock_and_make_lock_refreshes_it():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(VENV\)/\.installed: .*requirements\.lock", makefile, re.M)
    assert "pip install --quiet -c requirements.lock -e '.[dev]'" in makefile
    assert re.search(r"^lock:", makefile, re.M)
    assert "uv pip compile pyproject.toml --extra dev" in makefile
    assert "make lock" in LOCK.read_text().splitlines()[1]


def test_every_row_records_the_key_package_versions(make_cfg):
    rows = run(make_cfg(*SMALL))
    for row in rows:
        assert row["pkg.numpy"] == metadata.version("numpy")
        assert row["pkg.cvxpy"] == metadata.version("cvxpy")
        assert row["pkg.hydra-core"] == metadata.version("hydra-core")
        assert row["python"].count(".") == 2
    assert {f"pkg.{name}" for name in KEY_PACKAGES} <= set(rows[0])


def test_the_provenance_line_names_the_versions_and_flags_a_mix():
    pkgs = package_versions()
    rows = pd.DataFrame([{"git_commit": "abc", "version": "0.1.0", **pkgs}] * 2)
    line = provenance_md(rows)
    assert f"numpy {pkgs['pkg.numpy']}" in line and f"scipy {pkgs['pkg.scipy']}" in line
    assert "more than one version" not in line
    rows.loc[1, "pkg.numpy"] = "1.26.0"
    assert "**The rows were computed with more than one version of numpy.**" in provenance_md(rows)
    old = pd.DataFrame([{"git_commit": "abc", "version": "0.1.0"}])
    assert "Package versions were not recorded" in provenance_md(old)


def test_package_versions_are_looked_up_once(monkeypatch):
    package_versions()
    monkeypatch.setattr(metadata, "version", lambda *_: pytest.fail("looked up again"))
    assert package_versions()["pkg.numpy"] == metadata.distribution("numpy").version


def test_the_commit_is_marked_modified_by_code_changes_not_by_the_results(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "results" / "REPORT.md").write_text("old report\n")
    (tmp_path / "pkg" / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    clean = checkout_commit(tmp_path / "pkg")
    assert len(clean) == 40 and "+" not in clean
    (tmp_path / "results" / "REPORT.md").write_text("new report\n")  # what a sweep writes
    assert checkout_commit(tmp_path / "pkg") == clean
    (tmp_path / "pkg" / "code.py").write_text("x = 2\n")
    assert checkout_commit(tmp_path / "pkg") == clean + "+dirty"
