"""A sweep's per-run bookkeeping, made cheaper (issue 23) without losing what it promises: one
atomic, durable record per run, rows a crash tore found as damaged, launcher workers that write
rows without pandas, and a summary read from the tables the jobs return."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from theory_check import results as results_io
from theory_check import run as run_module
from theory_check.results import (DamagedResultWarning, load_results, read_run, read_runs,
                                   write_rows_atomic)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["n=40", "d=12", "N=10", "r=2"]


def batch_file(tmp_path: Path, make_cfg, seeds=(0, 1, 2)) -> Path:
    """A batch file as the sweeper writes it: the runs' resolved configs."""
    configs = [run_module.resolved(make_cfg(*SMALL, f"seed={seed}")) for seed in seeds]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(configs))
    return path


@pytest.fixture
def sync_calls(monkeypatch):
    """Every fsync and syncfs of a result write, in order, as ``(kind, path)``."""
    calls = []
    real_fsync = results_io.os.fsync

    def fsync(fd):
        calls.append(("fsync", Path(f"/proc/self/fd/{fd}").resolve()))
        real_fsync(fd)

    def syncfs(fd):
        calls.append(("syncfs", Path(f"/proc/self/fd/{fd}").resolve()))
        return 0

    monkeypatch.setattr(results_io.os, "fsync", fsync)
    monkeypatch.setattr(results_io, "_syncfs", syncfs)
    return calls


def test_a_file_written_alone_is_fsynced_before_its_rename(tmp_path, sync_calls):
    write_rows_atomic(tmp_path / "exp" / "a.parquet", [{"key": "a", "mse": 1.0}])
    assert [kind for kind, _ in sync_calls] == ["fsync"]


@pytest.mark.parametrize("syncfs", [True, False])
def test_deferred_files_are_synced_together_when_the_block_ends(tmp_path, sync_calls, monkeypatch,
                                                                syncfs):
    if not syncfs:  # no syncfs (not Linux): each file, then its folder
        monkeypatch.setattr(results_io, "_syncfs", None)
    paths = [tmp_path / "exp" / f"{i}.parquet" for i in range(3)]
    with results_io.deferred_sync(interval=3600):
        for i, path in enumerate(paths):
            write_rows_atomic(path, [{"key": str(i), "mse": float(i)}])
        assert sync_calls == []  # nothing waits for the disk while the runs go on
        assert [read_run(p)["mse"].item() for p in paths] == [0.0, 1.0, 2.0]  # all readable
    folder = (tmp_path / "exp").resolve()
    if syncfs:
        assert sync_calls == [("syncfs", folder)]
    else:
        assert sync_calls == [("fsync", p.resolve()) for p in paths] + [("fsync", folder)]


def test_deferred_files_are_synced_at_least_every_interval(tmp_path, sync_calls):
    with results_io.deferred_sync(interval=0.0):  # every write is due
        write_rows_atomic(tmp_path / "exp" / "a.parquet", [{"key": "a"}])
        assert len(sync_calls) == 1
        with results_io.deferred_sync(interval=3600):  # an inner block defers to the outer one
            write_rows_atomic(tmp_path / "exp" / "b.parquet", [{"key": "b"}])
        assert len(sync_calls) == 2


def test_deferred_files_are_synced_when_the_block_is_interrupted(tmp_path, sync_calls):
    with pytest.raises(KeyboardInterrupt), results_io.deferred_sync(interval=3600):
        write_rows_atomic(tmp_path / "exp" / "a.parquet", [{"key": "a"}])
        raise KeyboardInterrupt
    assert [kind for kind, _ in sync_calls] == ["syncfs"]


def test_a_run_file_garbled_by_a_crash_is_damaged_not_read_as_numbers(tmp_path):
    # Without an fsync per file, a power cut can leave a renamed file whose pages never reached
    # the disk. Garbled values must be caught by the page checksums, never read as results.
    path = tmp_path / "exp" / "run.parquet"
    write_rows_atomic(path, [{"key": "a", "mse": 0.125}, {"key": "b", "mse": 0.25}])
    data = bytearray(path.read_bytes())
    at = data.find(np.float64(0.125).tobytes())
    assert at > 0
    data[at:at + 8] = np.float64(99.0).tobytes()  # a plausible number in place of the stored one
    path.write_bytes(bytes(data))
    with pytest.warns(DamagedResultWarning, match="moved to"):
        assert read_run(path) is None
    assert not path.exists()


def test_a_batch_returns_the_tables_it_stored(tmp_path, make_cfg):
    stored = run_module.run_batch(batch_file(tmp_path, make_cfg))
    files = sorted((tmp_path / "raw" / "adhoc").glob("*.parquet"))
    assert sorted(stored) == [str(f) for f in files] and len(files) == 3
    for name, table in stored.items():
        pd.testing.assert_frame_equal(table.to_pandas(), read_run(Path(name)))
    # Run again, every run is found stored: the tables come from the files.
    again = run_module.run_batch(batch_file(tmp_path, make_cfg))
    assert all(again[name].equals(pq.read_table(name)) for name in stored)


def test_a_summary_reads_only_the_files_it_was_not_given(tmp_path, monkeypatch):
    paths = [tmp_path / "exp" / f"{i}.parquet" for i in range(3)]
    given = {str(p): write_rows_atomic(p, [{"key": str(i), "mse": i / 4}]) for i, p in enumerate(paths)}
    want = read_runs(paths)
    read = []
    real = results_io.read_table
    monkeypatch.setattr(results_io, "read_table", lambda p: read.append(Path(p)) or real(p))
    got = read_runs(paths, {k: v for k, v in given.items() if not k.endswith("2.parquet")})
    assert read == [paths[2]]
    pd.testing.assert_frame_equal(got, want)


def test_a_launcher_worker_writes_rows_without_importing_pandas(tmp_path, make_cfg):
    # pandas took a quarter of a second of each worker's start, and a worker only writes rows.
    path = batch_file(tmp_path, make_cfg, seeds=(0,))
    code = ("import sys, theory_check.run as r; stored = r.run_batch(sys.argv[1]); "
            "r.run_batch(sys.argv[1]); print(len(stored), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.stdout.split() == ["1", "False"], out.stderr


def test_batched_runs_store_the_rows_of_single_runs(tmp_path, make_cfg):
    # A batch reads its configs as plain dicts, never as OmegaConf configs: same rows.
    stored = run_module.run_batch(batch_file(tmp_path, make_cfg, seeds=(4,)))
    (batched,) = stored.values()
    single = run_module.run(make_cfg(*SMALL, "seed=4", f"results_dir={tmp_path / 'single'}"))
    stored = read_run(tmp_path / "single" / "adhoc" / f"{run_module.run_key(make_cfg(*SMALL, 'seed=4'))}.parquet")
    assert stored is not None and len(single) == len(stored) == 2
    drop = ["wall_time"]
    pd.testing.assert_frame_equal(batched.to_pandas().drop(columns=drop), stored.drop(columns=drop),
                                  check_exact=True)


def test_the_composer_scratch_config_gives_hydras_configs():
    # Overrides applied again and again to one kept config (scratch=True) must give what Hydra
    # composes for each job, also after a job whose override failed half-way.
    from hydra.core.global_hydra import GlobalHydra

    from theory_check.overrides import UnknownParameter
    from theory_check.sweep import Composer

    jobs = [["+experiment=thm31_base_isotropic", "n=200", "seed=0", "sigma=0.5"],
            ["+experiment=thm31_base_isotropic", "n=400", "seed=1", "sigma=0.5"],
            ["+experiment=thm31_base_isotropic", "n=400", "seed=2", "sigmaa=0.5"],
            ["+experiment=thm31_base_isotropic", "n=800", "seed=3", "sigma=2"],
            ["+experiment=thm31_base_isotropic", "n=800", "seed=4"],
            ["+experiment=thm31_base_isotropic", "+nn=3", "seed=5"],
            ["+experiment=thm31_base_isotropic", "+nn=4", "seed=6"]]
    with initialize_config_dir(config_dir=run_module.CONF_DIR, version_base=None):
        master = compose("config", return_hydra_config=True)
        composer = Composer(GlobalHydra.instance().config_loader(), master)
        for job in jobs:
            try:
                ours = OmegaConf.to_container(composer(job, scratch=True), resolve=True)
            except UnknownParameter:
                assert "sigmaa=0.5" in job
                continue
            hydras = OmegaConf.to_container(compose("config", overrides=job), resolve=True)
            assert ours == hydras, job
    assert len(composer.scratch) == 2  # (n, seed, sigma) and (n, seed); added keys are copied


def _per_file_join(folder: Path) -> pd.DataFrame:
    """What load_results made until issue 23: each file converted, its empty columns dropped,
    the frames joined by pandas."""
    frames = [read_run(f).dropna(axis=1, how="all") for f in sorted(folder.glob("*.parquet"))]
    return pd.concat(frames, ignore_index=True, sort=False)


def test_results_joined_as_arrow_tables_equal_the_per_file_join(tmp_path):
    folder = tmp_path / "raw" / "exp"
    rows = [
        [{"key": "a", "mse": 0.5, "noise.dof": 3, "message": "", "solver.gap": None}],
        [{"key": "b", "mse": np.nan, "noise.dof": 2.5, "message": "failed", "solver.gap": 1e-9}],
        [{"key": "c", "mse": 0.25, "message": None, "extra": "only here"},
         {"key": "d", "mse": 0.125, "message": "", "extra": None}],
    ]
    for i, file_rows in enumerate(rows):
        write_rows_atomic(folder / f"{i}.parquet", file_rows)
    got = load_results(tmp_path / "raw")
    pd.testing.assert_frame_equal(got, _per_file_join(folder))
    assert got["noise.dof"].dtype == np.float64  # integers in one file, floats in another
    # Each text column in one piece: a column in one piece per file made every selection slow.
    pieces = getattr(got["message"].array, "_pa_array", None)  # text stored by Arrow (pandas 3)
    assert pieces is None or pieces.num_chunks == 1


def test_results_whose_files_disagree_on_a_column_type_are_joined_as_pandas_joins_them(tmp_path):
    folder = tmp_path / "raw" / "exp"
    write_rows_atomic(folder / "0.parquet", [{"key": "a", "solver.exit": 3.0}])
    write_rows_atomic(folder / "1.parquet", [{"key": "b", "solver.exit": "max_iter"}])
    got = load_results(tmp_path / "raw")
    pd.testing.assert_frame_equal(got, _per_file_join(folder))
    assert got["solver.exit"].tolist() == [3.0, "max_iter"]


def test_a_sweep_whose_files_hold_integers_and_floats_in_one_column_is_summarized(tmp_path):
    # The summary's join once raised ArrowTypeError here (int64 vs double) instead of joining.
    paths = [tmp_path / "exp" / "0.parquet", tmp_path / "exp" / "1.parquet"]
    write_rows_atomic(paths[0], [{"key": "a", "noise.dof": 3}])
    write_rows_atomic(paths[1], [{"key": "b", "noise.dof": 2.5}])
    got = read_runs(paths)
    assert got["noise.dof"].tolist() == [3.0, 2.5] and got["noise.dof"].dtype == np.float64
