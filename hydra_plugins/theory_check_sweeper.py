"""Registers theory_check's sweeper with Hydra, which accepts plugins only from the
``hydra_plugins`` namespace. The code and its documentation are in :mod:`theory_check.sweep`."""

from theory_check.sweep import Sweeper


class TheoryCheckSweeper(Sweeper):
    """:class:`theory_check.sweep.Sweeper` under a name Hydra accepts as a plugin."""
