"""Benchmarks (``make bench``): each module has ``run(out_dir) -> DataFrame`` writing its table
with :func:`write_table`."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import pandas as pd

from ..provenance import git_commit, package_versions


def markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measured_on(commit: str | None = None) -> str:
    """One line naming what a table was measured with: the times are only comparable within it.
    ``commit``: the code measured, when it is not this checkout's (a fresh clone's)."""
    versions = package_versions()
    commit = (commit or git_commit())[:12]
    return (f"Measured at commit {commit} on {datetime.date.today().isoformat()}, "
            f"{cpu_model()}, {os.cpu_count()} cores, Python {versions['python']}, "
            f"numpy {versions['pkg.numpy']}, scipy {versions['pkg.scipy']}.")


def write_table(out_dir, name: str, table: pd.DataFrame, caption: str, body: str | None = None,
                commit: str | None = None) -> None:
    """Write ``<name>.csv`` (the table) and ``<name>.md`` (``caption``, the commit and machine it
    was measured on, then ``body``, by default the table in markdown) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / f"{name}.csv", index=False, float_format="%.4g")
    text = f"{caption}\n\n{measured_on(commit)}\n\n{markdown(table) if body is None else body}\n"
    (out_dir / f"{name}.md").write_text(text)
