"""Result files that survive damage: quarantine of unreadable files, locks, permissions that
follow the umask, and temporary files of killed writes cleaned up."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from theory_check import reproduce as reproduce_module
from theory_check import results as results_io
from theory_check.report import provenance_md
from theory_check.results import DamagedResultWarning, load_results, quarantined_files, read_run
from theory_check.run import run, run_key

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["n=40", "d=12", "N=10", "r=2"]


def damage(path: Path) -> bytes:
    """Cut ``path`` to half its size, as a full disk or an interrupted copy would; return the
    bytes left."""
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    return data


def two_runs(folder: Path) -> tuple[Path, Path]:
    good, bad = folder / "exp" / "good.parquet", folder / "exp" / "bad.parquet"
    results_io.write_rows_atomic(good, [{"key": "g", "mse": 1.0}])
    results_io.write_rows_atomic(bad, [{"key": "b", "mse": 2.0}])
    return good, bad


def quarantine_of(path: Path) -> list[Path]:
    return sorted((path.parent / "quarantine").glob("*"))


def test_load_results_moves_a_damaged_file_aside_once_and_reads_the_rest(tmp_path):
    good, bad = two_runs(tmp_path)
    left = damage(bad)
    with pytest.warns(DamagedResultWarning, match=f"{bad}.*Parquet magic bytes.*moved to"):
        rows = load_results(tmp_path)
    assert rows["key"].tolist() == ["g"]
    assert not bad.exists() and good.exists()
    moved, reason = quarantine_of(bad)
    assert re.fullmatch(rf"bad\.parquet\.\d{{8}}T\d{{6}}Z-{os.getpid()}-\d+\.damaged", moved.name)
    assert moved.read_bytes() == left  # kept as found
    assert reason.suffix == ".reason" and str(bad) in reason.read_text()
    assert "ArrowInvalid" in reason.read_text()
    assert quarantined_files(tmp_path) == [moved]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once: the next read finds nothing wrong
        assert load_results(tmp_path)["key"].tolist() == ["g"]


def test_read_run_quarantines_and_returns_none(tmp_path):
    _, bad = two_runs(tmp_path)
    bad.write_bytes(b"")  # an empty file: a copy that never started
    with pytest.warns(DamagedResultWarning, match=str(bad)):
        assert read_run(bad) is None
    assert [p.suffix for p in quarantine_of(bad)] == [".damaged", ".reason"]


def test_a_file_rewritten_before_the_lock_is_read_not_moved(tmp_path, monkeypatch):
    # A reader sees a damaged file, but by the time it holds the lock a writer has replaced it
    # with a good one: the good one must stay.
    good, _ = two_runs(tmp_path)
    real_open = results_io.pq.ParquetFile
    calls = []

    def first_read_fails(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise results_io.pa.ArrowInvalid("Parquet magic bytes not found in footer")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(results_io.pq, "ParquetFile", first_read_fails)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_run(good)["key"].tolist() == ["g"]
    assert good.exists() and quarantine_of(good) == []


def test_os_errors_are_raised_not_taken_for_damage(tmp_path, monkeypatch):
    # A file the OS will not give (no permission, an I/O error) is not damaged: it stays, and
    # the error is raised; a damaged file beside it is still moved aside.
    good, bad = two_runs(tmp_path)
    damage(bad)
    real_open = results_io.pq.ParquetFile

    def denied(path, *args, **kwargs):
        if Path(path) == good:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(results_io.pq, "ParquetFile", denied)
    with pytest.warns(DamagedResultWarning):
        assert read_run(bad) is None
    with pytest.raises(PermissionError):
        read_run(good)
    assert good.exists() and quarantine_of(good) == quarantine_of(bad) != []


def test_a_damaged_file_that_cannot_be_moved_is_skipped_with_a_warning(tmp_path, monkeypatch):
    _, bad = two_runs(tmp_path)
    damage(bad)

    def read_only(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(results_io.os, "replace", read_only)
    with pytest.warns(DamagedResultWarning, match="could not be moved aside"):
        assert load_results(tmp_path)["key"].tolist() == ["g"]
    assert bad.exists()


def _load_keys(folder: str) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedResultWarning)
        return load_results(folder)["key"].tolist()


def test_concurrent_readers_move_a_damaged_file_once(tmp_path):
    _, bad = two_runs(tmp_path)
    damage(bad)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        keys = pool.map(_load_keys, [str(tmp_path)] * 3)
    assert keys == [["g"]] * 3
    assert [p.suffix for p in quarantine_of(bad)] == [".damaged", ".reason"]


def test_a_writer_waits_for_the_replace_lock(tmp_path):
    path = tmp_path / "exp" / "k.parquet"
    results_io.write_rows_atomic(path, [{"key": "old"}])
    with results_io.file_lock(path.parent / results_io.REPLACE_LOCK):
        writer = threading.Thread(target=results_io.write_rows_atomic, args=(path, [{"key": "new"}]))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive(), "the file was replaced while the lock was held"
        assert pd.read_parquet(path)["key"].tolist() == ["old"]
    writer.join(timeout=10)
    assert pd.read_parquet(path)["key"].tolist() == ["new"]


def test_a_damaged_run_is_recomputed_by_the_next_run(make_cfg, tmp_path):
    cfg = make_cfg(*SMALL)
    first = pd.DataFrame(run(cfg)).drop(columns="wall_time")
    path = results_io.run_path(cfg.results_dir, "adhoc", run_key(cfg))
    damage(path)
    with pytest.warns(DamagedResultWarning, match=path.name):
        again = pd.DataFrame(run(cfg)).drop(columns="wall_time")
    pd.testing.assert_frame_equal(first, again)
    assert read_run(path)["estimator"].tolist() == first["estimator"].tolist()
    assert len(quarantined_files(tmp_path / "raw")) == 1


def test_force_replaces_a_damaged_run(make_cfg, tmp_path):
    cfg = make_cfg(*SMALL)
    run(cfg)
    path = results_io.run_path(cfg.results_dir, "adhoc", run_key(cfg))
    damage(path)
    with pytest.warns(DamagedResultWarning):
        rows = run(make_cfg(*SMALL, "force=true"))
    assert len(rows) == 2 and len(read_run(path)) == 2
    assert len(quarantined_files(tmp_path / "raw")) == 1


def test_a_sweep_over_a_damaged_file_recomputes_it(tmp_path):
    command = [sys.executable, "-m", "theory_check", "-m", *SMALL, "seed=0,1",
               f"results_dir={tmp_path / 'raw'}", f"hydra.sweep.dir={tmp_path / 'outputs'}"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    files = sorted((tmp_path / "raw" / "adhoc").glob("*.parquet"))
    damage(files[0])
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("DamagedResultWarning") == 1 and files[0].name in proc.stderr
    assert "2 runs: 1 already in the results, 1 to run" in proc.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_results(tmp_path / "raw")) == 4


def test_reproduce_skip_runs_reports_damaged_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reproduce_module, "REPO_ROOT", tmp_path)
    raw = tmp_path / "results" / "raw" / "thm31_n"
    results_io.write_rows_atomic(raw / "bad.parquet", [{"key": "b"}])
    damage(raw / "bad.parquet")
    with pytest.warns(DamagedResultWarning):
        reproduce_module.main(["--skip-runs"])
    report = (tmp_path / "results" / "REPORT.md").read_text()
    assert f"**1 damaged result files** were moved aside, unread, to {raw / 'quarantine'}" in report


def test_provenance_line_counts_quarantined_files():
    rows = pd.DataFrame({"git_commit": ["abc"], "version": ["0.1.0"]})
    files = [Path("r/exp/quarantine/a.damaged"), Path("r/exp/quarantine/b.damaged")]
    assert "**2 damaged result files** were moved aside, unread, to r/exp/quarantine" \
        in provenance_md(rows, files)
    assert "damaged" not in provenance_md(rows)


def test_provenance_line_keeps_the_modified_checkout_mark():
    sha = "0123456789abcdef0123456789abcdef01234567"
    rows = pd.DataFrame({"git_commit": [sha + "+dirty", sha], "version": ["0.1.0"] * 2})
    line = provenance_md(rows)
    assert "git commit 0123456789ab, 0123456789ab+dirty." in line
    assert "0123456789ab+dirty: 1" in line


# Permissions (issue 10.6) -------------------------------------------------------------------

@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(mask):
        os.umask(mask)

    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o002, 0o664), (0o022, 0o644)])
def test_result_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert results_io.current_umask() == mask
    path = tmp_path / "exp" / "k.parquet"
    results_io.write_rows_atomic(path, [{"key": "a"}])
    assert path.stat().st_mode & 0o777 == mode
    results_io.write_rows_atomic(path, [{"key": "b"}])  # a rewrite too
    assert path.stat().st_mode & 0o777 == mode


# Temporary files of killed writes (issue 10.7) ----------------------------------------------

def make_tmp(folder: Path, name: str, age: float) -> Path:
    tmp = folder / name
    tmp.write_bytes(b"half a parquet file")
    stamp = time.time() - age
    os.utime(tmp, (stamp, stamp))
    return tmp


def test_stale_tmp_files_are_cleaned_but_recent_ones_kept(tmp_path, monkeypatch):
    folder = tmp_path / "exp"
    folder.mkdir()
    monkeypatch.setattr(results_io, "_process_start", lambda: time.time() - 1200)
    before_start = make_tmp(folder, ".k1.abc.tmp", 1800)
    after_start = make_tmp(folder, ".k2.abc.tmp", 900)  # maybe a slow write of a later process
    recent = make_tmp(folder, ".k3.abc.tmp", 60)
    other = make_tmp(folder, "notes.txt", 1800)
    assert results_io.clean_stale_tmp(folder) == [before_start]
    assert not before_start.exists() and after_start.exists() and recent.exists() and other.exists()


def test_a_run_cleans_tmp_files_left_by_a_killed_write(make_cfg, tmp_path):
    folder = tmp_path / "raw" / "adhoc"
    folder.mkdir(parents=True)
    stale = make_tmp(folder, f".{run_key(make_cfg(*SMALL))}.x1y2.tmp", 3600)
    fresh = make_tmp(folder, ".other.x1y2.tmp", 5)
    run(make_cfg(*SMALL))
    assert not stale.exists() and fresh.exists()
    assert len(load_results(tmp_path / "raw")) == 2


def test_a_column_mixing_numbers_and_text_is_stored_as_text_not_lost(tmp_path):
    from theory_check.results import read_run, write_rows_atomic

    path = tmp_path / "exp" / "run.parquet"
    rows = [{"estimator": "convex_linear", "estimator.alpha": 1.0, "mse": 0.1},
            {"estimator": "convex_linear_cv", "estimator.alpha": "cv", "mse": 0.2},
            {"estimator": "data_svd", "estimator.alpha": None, "mse": 0.3}]
    write_rows_atomic(path, rows)
    stored = read_run(path)
    assert list(stored["estimator.alpha"][:2]) == ["1.0", "cv"]
    assert pd.isna(stored["estimator.alpha"][2])
    assert list(stored["mse"]) == [0.1, 0.2, 0.3]


@pytest.mark.parametrize("rows", [
    [{"a": 1, "b": True, "c": "x", "d": 1.5}, {"a": None, "b": None, "c": None, "d": float("nan"), "e": 3}],
    [{"alpha": 1.0, "s": "cv"}, {"alpha": "cv", "s": 2}],  # text beside numbers: stored as text
    [{"x": np.float64(2.0), "i": np.int64(3), "n": None}, {"x": np.nan, "i": 4, "n": None}],
    [{"z": None, "w": None}, {"z": np.nan}],  # gaps only: float with a NaN or absent key, else null
    [{"q": True, "m": ""}, {"q": np.nan, "m": "failed"}],
])
def test_rows_written_without_pandas_read_back_as_through_pandas(tmp_path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from theory_check.results import write_rows_atomic

    write_rows_atomic(tmp_path / "new.parquet", rows)
    frame = pd.DataFrame(rows)  # the way rows were written through pandas before
    for column in frame.columns[frame.dtypes == object]:
        if len({isinstance(v, str) for v in frame[column].dropna()}) > 1:
            frame[column] = frame[column].astype(str).where(~frame[column].isna(), None)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "old.parquet")
    new, old = (pq.read_table(tmp_path / f"{name}.parquet") for name in ("new", "old"))
    assert new.schema.remove_metadata().equals(old.schema.remove_metadata())
    pd.testing.assert_frame_equal(new.to_pandas(), old.to_pandas())
