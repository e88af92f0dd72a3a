"""Results I/O: stable keys, atomic per-run parquet files, and tidy tables read back.

Layout: ``<results_dir>/<experiment_name>/<run_key>.parquet``, one file per (config, seed)
holding one row per estimator. A file appears complete or not at all (written to a temporary
name in the same folder, then renamed), so a killed sweep never leaves half a table, and many
processes can write at once without sharing a file.

A file that cannot be read all the same (a disk that filled up, a copy cut short, a sync
conflict) is *damaged*: the first reader that meets it moves it aside to
``<experiment>/quarantine/<name>.<UTC>-<pid>-<n>.damaged`` with a ``.reason`` file beside it,
warns once with :class:`DamagedResultWarning`, and reads on as if the run had never finished,
so the next sweep recomputes it. Nothing is deleted: the quarantine folder is for a person to
look at.

Concurrent sweeps of the same runs (two ``make reproduce-figures`` at once) compute each run
once: a process *claims* a run before computing its missing rows, by a file
``<experiment>/.claims/<run key>.claim`` naming its host, pid and process start
(:func:`claim_run`); another process skips a run claimed by a live owner and comes back to it
later (:func:`theory_check.run.run` waits until its owner released it or is gone). A claim
whose owner is dead (same host: no process with its pid and start; another host: the claim not
refreshed for :data:`STALE_CLAIM_AGE` seconds) is stale and taken over.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import itertools
import json
import logging
import numbers
import os
import sys
import tempfile
import time
import warnings
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import processes

if TYPE_CHECKING:  # imported where needed: a launcher worker writes rows without pandas
    import pandas as pd

log = logging.getLogger(__name__)

#: Sub-folder of an experiment folder that holds damaged result files.
QUARANTINE = "quarantine"
#: Lock taken to replace or move a result file, so a reader never moves aside a file that a
#: writer has just replaced with a good one.
REPLACE_LOCK = ".replace.lock"
#: A temporary file younger than this may belong to a write still going on in another process.
STALE_TMP_AGE = 600.0
#: Sub-folder of an experiment folder that holds the claims of rows being computed.
CLAIMS = ".claims"
#: Seconds between two refreshes of the claims a process holds (for readers on other hosts).
CLAIM_HEARTBEAT = 60.0
#: A claim of another host not refreshed for this long belongs to a process that is gone.
STALE_CLAIM_AGE = 600.0
#: An unreadable claim older than this was cut short (its owner was killed while writing it).
UNREADABLE_CLAIM_AGE = 10.0
#: Within :func:`deferred_sync`, the longest a written result file waits for its fsync (s).
SYNC_INTERVAL = 5.0
#: How result files are written: a run's file holds a few rows and is always read whole, so
#: column statistics, dictionary pages and compression only cost time (half the write). Page
#: checksums let a reader tell a file torn by a crash from a good one (:func:`_try_read`).
PARQUET_WRITE = {"compression": "none", "use_dictionary": False, "write_statistics": False,
                 "write_page_checksum": True}


class DamagedResultWarning(UserWarning):
    """A result file could not be read; it was moved aside and its runs count as not done."""


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


@contextlib.contextmanager
def file_lock(path: Path):
    """Exclusive ``flock`` on ``path`` (created if missing); the kernel releases it if the
    process dies. Locks are per open file: do not nest two locks on one path in one process."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. Lustre mounted without -o flock
            if exc.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            warnings.warn(f"{path.parent} does not support file locks: processes writing or "
                          f"moving the same file at once may race ({exc})", stacklevel=3)
        yield


def current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only be read by setting
    it, which races with threads creating files meanwhile)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (not Linux): the racy way is the only one
    os.umask(mask)
    return mask


#: A key a row lacks: pandas fills it with NaN.
_ABSENT = float("nan")
#: Python and numpy scalar types of the columns :func:`_fast_column` builds.
_BOOLS, _INTS, _FLOATS = {bool, np.bool_}, {int, np.int64}, {float, np.float64}


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _bitmap(bits: list[bool]) -> pa.Buffer:
    return pa.py_buffer(np.packbits(np.array(bits, dtype=bool), bitorder="little"))


def _fast_column(values: list, present: list) -> pa.Array | None:
    """The column ``pa.array(values, from_pandas=True)`` makes of text, numbers or booleans
    (with gaps), built from its buffers; None for other values. ``pa.array`` imports pandas
    (pyarrow checks every input for a pandas object), which took a launcher worker, which
    needs no pandas otherwise, a quarter of a second."""
    n, kinds = len(values), {type(v) for v in present}
    gaps = n - len(present)
    valid = _bitmap([not _is_missing(v) for v in values]) if gaps else None
    if kinds == {str}:
        encoded = [b"" if _is_missing(v) else v.encode() for v in values]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return pa.Array.from_buffers(pa.large_string(), n, [valid, pa.py_buffer(offsets),
                                                            pa.py_buffer(b"".join(encoded))], gaps)
    if kinds <= _BOOLS:
        data = _bitmap([bool(v) and not _is_missing(v) for v in values])
        return pa.Array.from_buffers(pa.bool_(), n, [valid, data], gaps)
    try:
        if kinds <= _INTS and not gaps:
            return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(np.array(values, dtype=np.int64))])
        if kinds <= _INTS | _FLOATS:  # pandas makes numbers with a gap a float column
            data = np.array([np.nan if _is_missing(v) else v for v in values], dtype=np.float64)
            return pa.Array.from_buffers(pa.float64(), n, [valid, pa.py_buffer(data)], gaps)
    except OverflowError:  # an integer beyond int64: pa.array decides
        pass
    return None


def _arrow_table(rows: list[dict]) -> pa.Table:
    """``rows`` as an Arrow table read back as ``pd.DataFrame(rows)`` (columns in order of first
    appearance, a key a row lacks missing, NaN stored as null, a column mixing text with numbers
    as text, so that parquet's one type per column loses no row), built column by column
    without pandas: through pandas a run's rows took 5 ms to convert, a third of a small run's
    bookkeeping (``tests/test_results.py`` checks both ways give one schema and one frame)."""
    names = list(dict.fromkeys(key for row in rows for key in row))
    columns = {}
    for name in names:
        values = [row.get(name, _ABSENT) for row in rows]
        present = [v for v in values if not _is_missing(v)]
        kinds = {isinstance(v, str) for v in present}
        if len(kinds) > 1:
            values = [None if _is_missing(v) else str(v) for v in values]
            present = [v for v in values if v is not None]
        if not present:  # gaps only: pandas makes a float column with a NaN or an absent key
            columns[name] = pa.nulls(len(values), pa.float64() if any(
                v is not None for v in values) else pa.null())  # of None only, an object one
            continue
        column = _fast_column(values, present)
        if column is None:  # other values (lists, numpy's other types): as pa.array makes them
            column = pa.array(values, type=pa.large_string() if True in kinds else None,
                              from_pandas=True)
            if len(present) < len(values) and pa.types.is_integer(column.type):
                column = column.cast(pa.float64())
        columns[name] = column
    return pa.table(columns)


def _libc_syncfs():
    """Linux ``syncfs(fd)`` (flush one filesystem: its dirty data and journal, at once), or
    None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


_syncfs = _libc_syncfs()


def _fsync(target: Path) -> None:
    """fsync the file or folder ``target`` (gone: nothing to keep; a folder some filesystems
    cannot fsync: skipped)."""
    try:
        fd = os.open(target, os.O_RDONLY)
    except FileNotFoundError:  # moved aside as damaged meanwhile
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


class _Unsynced:
    """The result files written within :func:`deferred_sync` and not yet on disk."""

    def __init__(self, interval: float):
        self.interval, self.paths, self.since = interval, [], time.monotonic()
        self.lock = threading.Lock()

    def add(self, path: Path) -> None:
        with self.lock:
            self.paths.append(path)
            due = time.monotonic() - self.since >= self.interval
        if due:
            self.sync()

    def sync(self) -> None:
        """Put the files written on disk, with their folders (the renames): one ``syncfs`` per
        filesystem where there is one (measured: 6 ms for a sweep's 100 files, against 30 to
        400 ms for one fsync each, which waited for the journal of every other writer of the
        disk), else fsync each file (the one now at its path: another process may have
        replaced it since, and then it is that one's) and each folder."""
        with self.lock:
            paths, self.paths, self.since = list(dict.fromkeys(self.paths)), [], time.monotonic()
        folders = list(dict.fromkeys(p.parent for p in paths))
        if _syncfs is not None:
            devices = {}
            for folder in folders:
                with contextlib.suppress(FileNotFoundError):
                    devices.setdefault(os.stat(folder).st_dev, folder)
            for folder in devices.values():
                fd = os.open(folder, os.O_RDONLY)
                try:
                    if _syncfs(fd) == 0:
                        continue
                finally:
                    os.close(fd)
                break  # syncfs failed (errno in ctypes): fall back to fsync
            else:
                return
        for target in [*paths, *folders]:
            _fsync(target)


_unsynced: _Unsynced | None = None


@contextlib.contextmanager
def deferred_sync(interval: float = SYNC_INTERVAL):
    """Within the block, :func:`write_rows_atomic` does not fsync each file before renaming
    it: the files written are fsynced together at least every ``interval`` seconds and when
    the block ends (also by an exception). One fsync per file took a tenth of a small sweep;
    one ``syncfs`` for all of them costs about as much as one fsync (:meth:`_Unsynced.sync`).

    What is kept: every file is still renamed into place complete, so a killed process (the
    kernel keeps what it wrote) loses only the run it was computing. An OS crash or a power
    loss may lose the files of the last ``interval`` seconds: such a file is then missing, or
    torn, which its reader finds (a footer that does not parse, a page that fails its
    checksum) and moves aside (:func:`_quarantine`); either way the run counts as not done,
    and the next sweep computes it again. A block inside another defers to the outer one.
    """
    global _unsynced
    if _unsynced is not None:
        yield
        return
    _unsynced = _Unsynced(interval)
    try:
        yield
    finally:
        pending, _unsynced = _unsynced, None
        pending.sync()


def write_rows_atomic(path: Path, rows: list[dict]) -> pa.Table:
    """Write ``rows`` to ``path`` as parquet, atomically (temp file + ``os.replace``), with the
    permissions the umask gives a new file (``mkstemp`` alone makes it owner-only); return the
    table written. The file is fsynced before its rename, or later within
    :func:`deferred_sync`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _arrow_table(rows)
    unsynced = _unsynced
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            pq.write_table(table, fh, **PARQUET_WRITE)
            if unsynced is None:
                fh.flush()
                os.fsync(fh.fileno())
        with file_lock(path.parent / REPLACE_LOCK):
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if unsynced is not None:
        unsynced.add(path)
    return table


def store_rows(path: Path, rows: list[dict]) -> tuple[list[dict], pa.Table]:
    """:func:`merge_rows`, returning also the table stored in ``path``."""
    with file_lock(path.parent / ".lock"):
        current = read_run(path)
        if current is not None:
            new = {row["estimator"] for row in rows}
            rows = current[~current["estimator"].isin(new)].to_dict("records") + rows
        table = write_rows_atomic(path, rows)
    return rows, table


def merge_rows(path: Path, rows: list[dict]) -> list[dict]:
    """Store a run's new ``rows`` in its file ``path`` beside the rows already there, and
    return all of them. One row per estimator name: a stored row of an estimator in ``rows``
    (computed with other settings) is replaced, so fits never mix two settings under one name.

    The file is re-read under a lock on its folder: another run with the same key (a sweep over
    ``estimator``) may have written since this one looked, and neither loses the other's rows.
    """
    return store_rows(path, rows)[0]


def _is_damage(exc: BaseException) -> bool:
    """A read error that says the file's content is bad, not that the OS could not give it
    (missing, no permission, an I/O error: those are raised as they are)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return False
    return isinstance(exc, (pa.ArrowException, OSError, ValueError))


_quarantine_count = itertools.count()


def _quarantine(path: Path, reason: str) -> Path:
    """Move the damaged ``path`` to ``quarantine/`` beside it with a ``.reason`` file, and warn;
    return the new path. Call under :data:`REPLACE_LOCK`."""
    folder = path.parent / QUARANTINE
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{path.name}.{stamp}-{os.getpid()}-{next(_quarantine_count)}.damaged"
    os.replace(path, target)
    target.with_suffix(".reason").write_text(f"{path}\n{reason}\n")
    warnings.warn(f"damaged result file {path} ({reason}) moved to {target}; its runs will be "
                  f"recomputed by the next sweep", DamagedResultWarning, stacklevel=3)
    return target


def _try_read(path: Path) -> tuple[pa.Table | None, str | None]:
    """The file's rows (None if missing) and, if it is damaged, why."""
    try:
        # ParquetFile, not read_table: read_table's dataset machinery took twice as long on
        # files of a few rows, and a sweep's summary reads every run's file.
        with pq.ParquetFile(path, page_checksum_verification=True) as file:
            return file.read(use_pandas_metadata=True), None
    except FileNotFoundError:
        return None, None
    except Exception as exc:
        if not _is_damage(exc):
            raise
        return None, f"{type(exc).__name__}: {exc}"


def read_table(path: Path) -> pa.Table | None:
    """:func:`read_run` as an Arrow table."""
    _clean_stale_tmp_once(path.parent)
    table, reason = _try_read(path)
    if reason is None:
        return table
    # Read again under the lock writers take to replace the file: it may have been rewritten
    # or moved aside since, and only a file still damaged under the lock is moved.
    with file_lock(path.parent / REPLACE_LOCK):
        table, reason = _try_read(path)
        if reason is not None:
            try:
                _quarantine(path, reason)
            except OSError as exc:  # e.g. a shared folder this user may not write to
                warnings.warn(f"damaged result file {path} ({reason}) skipped; it could not be "
                              f"moved aside: {exc}", DamagedResultWarning, stacklevel=3)
    return table


def read_run(path: Path) -> pd.DataFrame | None:
    """The rows of one run file, or None when it does not exist or is damaged (then it is
    moved aside, see :func:`_quarantine`)."""
    table = read_table(path)
    return None if table is None else table.to_pandas()


def stored_keys(path: Path) -> set[str]:
    """The row keys stored in a run file (none when it is missing or damaged), read without
    converting the rows."""
    table = read_table(path)
    if table is None or "key" not in table.column_names:
        return set()
    return set(table.column("key").to_pylist())


def read_runs(paths, tables: dict | None = None) -> pd.DataFrame | None:
    """The rows of many run files (:func:`read_run` each, missing and damaged ones left out)
    as one table, or None when there are none. ``tables``: ``{path: table}`` of files whose
    stored table the caller has (a sweep's jobs return theirs): those are not read again.

    The files' Arrow tables are joined before one conversion to pandas: at a sweep's end that
    took a third of the time of a conversion per file. Files whose columns differ in type
    (a column of numbers in one, of text in another) are joined as pandas joins them.
    """
    known = {str(path): table for path, table in (tables or {}).items()}

    def table_of(path) -> pa.Table | None:
        return known[str(path)] if str(path) in known else read_table(Path(path))

    tables = [table for path in paths if (table := table_of(path)) is not None]
    return _joined(tables) if tables else None


def quarantined_files(results_dir, experiment_names=None) -> list[Path]:
    """Every damaged file moved aside under ``results_dir`` (or the given experiments)."""
    return sorted(p for folder in _experiment_folders(results_dir, experiment_names)
                  for p in (folder / QUARANTINE).glob("*.damaged"))


def _process_start() -> float:
    """When this process started (epoch seconds), from /proc; the import time elsewhere."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()
_cleaned: set[Path] = set()


def clean_stale_tmp(folder: Path, *, min_age: float = STALE_TMP_AGE) -> list[Path]:
    """Delete temporary files of killed writes (``.<key>.*.tmp``) in ``folder``: those last
    changed before this process started and at least ``min_age`` seconds ago, so a write still
    going on in another process keeps its file."""
    cutoff = min(_process_start(), time.time() - min_age)
    removed = []
    for tmp in Path(folder).glob(".*.*.tmp"):  # mkstemp names: .<key>.<random>.tmp
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # another process cleaned it first
            pass
    if removed:
        log.info("removed %d temporary files of interrupted writes in %s", len(removed), folder)
    return removed


def _clean_stale_tmp_once(folder: Path) -> None:
    """:func:`clean_stale_tmp` once per folder and process: a sweep reads many runs of one
    folder, and one listing of it is enough."""
    folder = Path(folder)
    if folder not in _cleaned and folder.is_dir():
        _cleaned.add(folder)
        clean_stale_tmp(folder)


def _experiment_folders(results_dir, experiment_names=None) -> list[Path]:
    root = Path(results_dir)
    if experiment_names is None:
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    return [root / name for name in experiment_names]


def load_results(results_dir, experiment_names=None) -> pd.DataFrame:
    """All rows under ``results_dir`` (or only the given experiments) as one tidy DataFrame.

    Temporary files of interrupted writes (``.*.tmp``) are ignored (and removed once stale);
    damaged files are moved aside with a :class:`DamagedResultWarning` and left out.
    """
    tables = [
        table
        for folder in _experiment_folders(results_dir, experiment_names)
        for f in sorted(folder.glob("*.parquet"))
        if (table := read_table(f)) is not None
    ]
    if not tables:
        import pandas as pd

        return pd.DataFrame()
    return _joined([_without_empty_columns(t) for t in tables], drop_empty=True)


def _without_empty_columns(table: pa.Table) -> pa.Table:
    """The table without its columns that have no value (other experiments' columns, or this
    estimator's info keys a run did not fill): their type says nothing about the column's."""
    return table.drop_columns([name for name, column in zip(table.column_names, table.columns)
                               if column.null_count == len(column)])


def _joined(tables: list[pa.Table], drop_empty: bool = False) -> pd.DataFrame:
    """Many files' tables (at least one) as one DataFrame; ``drop_empty``: without the columns
    no table fills.

    Joined as Arrow tables and converted once: converting each of the paper scale's 8010 files
    and joining the frames took 107 s against 17 s, and left every text column in 8010 pieces,
    which then made each row selection of the analysis slow (55 s more).
    """
    try:
        # "permissive": integers in one file and floats in another become floats, as in pandas.
        return _dropped(pa.concat_tables(tables, promote_options="permissive").combine_chunks()
                        .to_pandas(), drop_empty)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. numbers in one file, text in another
        import pandas as pd

        frames = [_dropped(t.to_pandas(), drop_empty) for t in tables]
        return _dropped(pd.concat(frames, ignore_index=True, sort=False), drop_empty)


def _dropped(frame: pd.DataFrame, drop_empty: bool) -> pd.DataFrame:
    return frame.dropna(axis=1, how="all") if drop_empty else frame


@functools.cache
def _owner() -> dict:
    """This process as a claim names it (cached: neither changes while it runs)."""
    return {"host": processes.host(), "pid": os.getpid(), "start": processes.start_ticks(os.getpid())}


def claim_owner(path: Path) -> dict | None:
    """The owner recorded in a claim file (``host``, ``pid``, ``start``, ``time``), or None when
    there is no claim. An unreadable one (being written, or cut short) has no pid or host."""
    try:
        text = Path(path).read_text()
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    try:
        owner = dict(json.loads(text))
    except (ValueError, TypeError):
        owner = {}
    return {**owner, "mtime": mtime}


def owner_alive(owner: dict) -> bool:
    """Whether a claim's owner still runs: on this host, a process with its pid and start; on
    another host, a claim refreshed in the last :data:`STALE_CLAIM_AGE` seconds; unreadable, a
    claim written in the last :data:`UNREADABLE_CLAIM_AGE` seconds (a write still going on)."""
    age = time.time() - owner["mtime"]
    if "pid" not in owner or "host" not in owner:
        return age < UNREADABLE_CLAIM_AGE
    if owner["host"] == processes.host():
        return processes.is_alive(int(owner["pid"]), owner.get("start"))
    return age < STALE_CLAIM_AGE


_held: set[Path] = set()
_heartbeat: threading.Thread | None = None


def _refresh_held_claims() -> None:
    while True:
        time.sleep(CLAIM_HEARTBEAT)
        for path in list(_held):
            with contextlib.suppress(OSError):
                os.utime(path)


def _hold(path: Path) -> None:
    global _heartbeat
    _held.add(path)
    if _heartbeat is None or not _heartbeat.is_alive():
        _heartbeat = threading.Thread(target=_refresh_held_claims, name="claims-heartbeat",
                                      daemon=True)
        _heartbeat.start()


def _write_claim(path: Path, exclusive: bool) -> None:
    record = json.dumps({**_owner(), "time": time.time()}).encode()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o666)  # the umask applies
    try:
        os.write(fd, record)
    finally:
        os.close(fd)


def _try_claim(path: Path) -> bool:
    """Take the claim ``path`` for this process: True when it was free or stale."""
    try:  # O_EXCL: of two processes creating it at once, one succeeds
        _write_claim(path, exclusive=True)
        return True
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _try_claim(path)
    except FileExistsError:
        pass
    # Held, or left by a dead owner: decide under the lock, so that of two processes finding
    # it stale only one takes it over.
    with file_lock(path.parent / ".lock"):
        owner = claim_owner(path)
        if owner is not None and owner_alive(owner):
            return False
        _write_claim(path, exclusive=False)
    if owner is not None:
        log.info("took over the claim %s of process %s on %s, which is gone",
                 path.name, owner.get("pid"), owner.get("host"))
    return True


def release_claim(path: Path) -> None:
    """Remove this process's claim ``path`` (unless another process has taken it over since,
    finding this one gone)."""
    _held.discard(path)
    owner = claim_owner(path)
    if owner is not None and owner.get("pid") == os.getpid() and owner.get("host") == processes.host():
        path.unlink(missing_ok=True)


def claim_path(run_file: Path) -> Path:
    """The claim file of the run stored in ``run_file``: ``<experiment>/.claims/<run key>.claim``."""
    run_file = Path(run_file)
    return run_file.parent / CLAIMS / f"{run_file.stem}.claim"


@contextlib.contextmanager
def claim_run(run_file: Path):
    """Claim the run stored in ``run_file`` for as long as the block runs; yields whether this
    process holds it (False: a live process does, and computes its rows). The claim is released
    when the block ends, also by an exception or an interrupt."""
    path = claim_path(run_file)
    held = _try_claim(path)
    try:
        if held:
            _hold(path)
        yield held
    finally:
        if held:
            release_claim(path)
