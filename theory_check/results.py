"""Results I/O: stable keys, atomic per-run parquet files, and tidy tables read back.

Layout: ``<results_dir>/<experiment_name>/<run_key>.parquet``, one file per (config, seed)
holding one row per estimator. A file appears complete or not at all (written to a temporary
name in the same folder, then renamed), so a killed sweep never leaves half a table, and many
processes can write at once without sharing a file.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _canonical(obj):
    """Numbers as floats, recursively, so that ``sigma=1`` and ``sigma=1.0`` hash alike."""
    if isinstance(obj, dict):
        return {k: _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, numbers.Real) and not isinstance(obj, bool):
        return float(obj)
    return obj


def stable_hash(obj) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj`` (sorted keys, numbers as floats): equal
    configs, equal hashes."""
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_path(results_dir, experiment_name: str, run_key: str) -> Path:
    return Path(results_dir) / experiment_name / f"{run_key}.parquet"


def write_rows_atomic(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` as parquet, atomically (temp file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_run(path: Path) -> pd.DataFrame | None:
    """The rows of one run file, or None when it does not exist."""
    if not path.exists():
        return None
    return pq.read_table(path).to_pandas()


def load_results(results_dir, experiment_names=None) -> pd.DataFrame:
    """All rows under ``results_dir`` (or only the given experiments) as one tidy DataFrame.

    Temporary files of interrupted writes (``.*.tmp``) are ignored.
    """
    root = Path(results_dir)
    if experiment_names is None:
        folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    else:
        folders = [root / name for name in experiment_names]
    frames = [
        pq.read_table(f).to_pandas()
        for folder in folders
        for f in sorted(folder.glob("*.parquet"))
    ]
    if not frames:
        return pd.DataFrame()
    frames = [f.dropna(axis=1, how="all") for f in frames]
    return pd.concat(frames, ignore_index=True, sort=False)
