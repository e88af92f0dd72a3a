"""Where a result came from: package version, git commit and the versions of the packages that
compute it, looked up once per process."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from . import __version__

#: Packages whose version can change a result's numbers or how it is stored; each row records
#: them as ``pkg.<name>`` (``requirements.lock`` pins them all, see ``make lock``).
KEY_PACKAGES = ("numpy", "scipy", "cvxpy", "osqp", "clarabel", "scs", "scikit-learn", "pandas",
                "pyarrow", "hydra-core", "threadpoolctl")


@functools.cache
def git_commit() -> str:
    """HEAD's commit of the checkout the package was imported from (``+dirty`` if modified)."""
    return checkout_commit(Path(__file__).resolve().parent)


def checkout_commit(directory: Path) -> str:
    """HEAD's commit of the git checkout holding ``directory``, ``+dirty`` if a tracked file
    outside ``results/`` is modified ("unknown" outside a checkout). The committed results
    are excluded: a sweep rewrites them as it goes (REPORT.md, figures, tables), and counting
    them marked every row after the first figure of a clean checkout as modified."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--",
             ":(top)", ":(top,exclude)results"],
            cwd=directory, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


@functools.cache
def package_versions() -> dict[str, str]:
    """``{"python": ..., "pkg.<name>": version}`` for :data:`KEY_PACKAGES` ("not installed"
    for one that is missing, e.g. a solver cvxpy can do without)."""
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[f"pkg.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[f"pkg.{name}"] = "not installed"
    return versions


def provenance() -> dict:
    return {"version": __version__, "git_commit": git_commit(), **package_versions()}
