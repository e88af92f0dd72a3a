"""Benchmarks (``make bench``): each module has ``run(out_dir) -> DataFrame`` writing its table
with :func:`write_table`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3g")


def write_table(out_dir, name: str, table: pd.DataFrame, caption: str, body: str | None = None) -> None:
    """Write ``<name>.csv`` (the table) and ``<name>.md`` (``caption``, then ``body``, by default
    the table in markdown) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / f"{name}.csv", index=False, float_format="%.4g")
    (out_dir / f"{name}.md").write_text(f"{caption}\n\n{markdown(table) if body is None else body}\n")
