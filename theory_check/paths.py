"""Where the project's folders are, defined once: ``conf/`` and ``experiments/`` (read) and
``results/`` (written).

- ``THEORY_CHECK_ROOT`` set: that folder holds all three (a copy of ``conf/`` and
  ``experiments/`` with plug-ins of one's own, say).
- Otherwise, the checkout the package is imported from (``make install`` installs it editable).
- A non-editable install (``pip install .``) has no checkout: it reads the ``conf/`` and
  ``experiments/`` it was built with (shipped in the wheel, ``theory_check/_project``) and
  writes ``results/`` under the current working folder.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_VARIABLE = "THEORY_CHECK_ROOT"
#: conf/ and experiments/ as packaged in a wheel (links to the checkout's folders in a checkout).
PACKAGED_ROOT = Path(__file__).resolve().parent / "_project"
_CHECKOUT = Path(__file__).resolve().parent.parent

if os.environ.get(ROOT_VARIABLE):
    REPO_ROOT = CONFIG_ROOT = Path(os.environ[ROOT_VARIABLE]).resolve()
elif (_CHECKOUT / "conf" / "config.yaml").is_file():
    REPO_ROOT = CONFIG_ROOT = _CHECKOUT
else:
    REPO_ROOT, CONFIG_ROOT = Path.cwd().resolve(), PACKAGED_ROOT


def conf_dir(root: Path | None = None) -> Path:
    """``<root>/conf`` (default: the project's); a ``FileNotFoundError`` saying how to point at
    one when it is missing."""
    path = Path(root or CONFIG_ROOT) / "conf"
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(
            f"no {path / 'config.yaml'}: theory_check reads conf/ and experiments/ from the "
            f"project's root folder. Install it from a checkout (make install), or set "
            f"{ROOT_VARIABLE} to a folder that has conf/ and experiments/.")
    return path


def experiments_dir() -> Path:
    """The project's ``experiments/`` (one YAML file per figure)."""
    return CONFIG_ROOT / "experiments"
