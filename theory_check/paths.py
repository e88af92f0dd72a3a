"""The project's root folder, defined once: its ``conf/``, ``experiments/`` and ``results/``.

The root is the checkout the package is imported from (``make install`` installs it editable),
or the folder the environment variable ``THEORY_CHECK_ROOT`` names: set it for a non-editable
install (``pip install .`` copies the package, not ``conf/``), or to run a copy of ``conf/`` and
``experiments/`` with plug-ins of one's own.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_VARIABLE = "THEORY_CHECK_ROOT"
REPO_ROOT = Path(os.environ.get(ROOT_VARIABLE) or Path(__file__).resolve().parent.parent).resolve()


def conf_dir(root: Path | None = None) -> Path:
    """``<root>/conf``; a ``FileNotFoundError`` saying how to point at one when it is missing."""
    path = Path(root or REPO_ROOT) / "conf"
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(
            f"no {path / 'config.yaml'}: theory_check reads conf/ and experiments/ from the "
            f"project's root folder. Install it editable from a checkout (make install), or set "
            f"{ROOT_VARIABLE} to a folder that has conf/ and experiments/.")
    return path
