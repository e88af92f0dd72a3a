"""Where a result came from: package version and git commit, looked up once per process."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from . import __version__


@functools.cache
def git_commit() -> str:
    """HEAD's commit of the checkout the package was imported from (``+dirty`` if modified)."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def provenance() -> dict:
    return {"version": __version__, "git_commit": git_commit()}
