"""The report set (REPORT.md, verdicts.csv, tables/, figures/, sections/) replaced as a whole.

A reproduction builds every new file of the set in a staging folder beside it,
``<results>/.staging-<pid>/``, then publishes: it writes the list of staged files (and of
files to delete) to ``MANIFEST.json`` in the staging folder, by a rename (the commit point),
and then moves each file into place with ``os.replace``, which replaces a file atomically.

A kill before the commit point leaves the published set as it was (the next reproduction
deletes the abandoned staging folder); a kill after it, during the few renames that follow,
leaves a staging folder with its manifest, which the next reproduction (or :func:`recover`)
finishes moving before it reads anything. A reader never sees a half-written file, and the
set on disk is always one reproduction's, once recovered.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

MANIFEST = "MANIFEST.json"
PREFIX = ".staging-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _apply(staging: Path, root: Path) -> list[str]:
    """Move the files a committed staging folder lists into ``root``; delete those it lists
    for deletion; remove the folder. Safe to repeat after a kill (moved files are skipped)."""
    manifest = json.loads((staging / MANIFEST).read_text())
    for rel in manifest["files"]:
        source, target = staging / rel, root / rel
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for rel in manifest["remove"]:
        (root / rel).unlink(missing_ok=True)
    shutil.rmtree(staging)
    return manifest["files"]


def recover(root: Path) -> list[str]:
    """Finish a publication a kill interrupted after its commit point, and delete staging
    folders of dead reproductions that never got there. Returns what was done, in words."""
    done = []
    for staging in sorted(Path(root).glob(f"{PREFIX}*")):
        pid = staging.name.removeprefix(PREFIX)
        if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
            continue  # another reproduction at work
        if (staging / MANIFEST).exists():
            files = _apply(staging, Path(root))
            done.append(f"finished publishing {len(files)} files of an interrupted reproduction")
        else:
            shutil.rmtree(staging)
            done.append(f"deleted {staging.name}, the unfinished build of an interrupted reproduction")
    return done


class Staging:
    """A new report set, built file by file beside the published one, then published at once.

    Parameters
    ----------
    root : Path
        The published set's folder (``results`` or ``results/paper``).
    shared : tuple of str
        Folders of ``root`` the builders read and write in place (the raw result tables, the
        logs): linked into the staging folder, never published or deleted by it.
    """

    def __init__(self, root: Path, shared: tuple[str, ...] = ("raw", "logs")):
        self.root = Path(root)
        self.dir = self.root / f"{PREFIX}{os.getpid()}"
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.removed: set[str] = set()
        for name in shared:
            (self.root / name).mkdir(parents=True, exist_ok=True)
            (self.dir / name).symlink_to((self.root / name).resolve(), target_is_directory=True)
        self.shared = set(shared)

    def path(self, rel: str) -> Path:
        """Where to write the new version of ``root/rel`` (its folder made)."""
        self.removed.discard(rel)
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self, rel: str) -> None:
        """Delete ``root/rel`` when the set is published (a figure with no rows left)."""
        self.removed.add(rel)

    def current(self, rel: str) -> Path | None:
        """``rel`` as it will be once published: the staged file, else the published one."""
        for path in (self.dir / rel, self.root / rel):
            if rel not in self.removed and path.is_file():
                return path
        return None

    def staged(self) -> list[str]:
        files = []
        for folder, dirs, names in os.walk(self.dir):  # does not enter the shared links
            here = Path(folder)
            dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
            files += [str((here / n).relative_to(self.dir)) for n in names
                      if n != MANIFEST and not (here / n).is_symlink()]
        return sorted(files)

    def publish(self) -> list[str]:
        """Replace the published set by the staged one; return the files published."""
        files = self.staged()
        for rel in files:
            _fsync(self.dir / rel)
        for name in self.shared:
            (self.dir / name).unlink()
        manifest = self.dir / f"{MANIFEST}.tmp"
        manifest.write_text(json.dumps({"files": files, "remove": sorted(self.removed - set(files))}))
        _fsync(manifest)
        os.replace(manifest, self.dir / MANIFEST)  # the commit point
        return _apply(self.dir, self.root)

    def discard(self) -> None:
        """Drop the staged files: the published set stays as it was."""
        shutil.rmtree(self.dir, ignore_errors=True)
