"""The ``onefeed`` command line (entry point ``experiments.cli:main``).

Layout: :mod:`~experiments.cli.commands` (the group and ``run``, ``check``, ``schema``,
``plot``, ``list``), :mod:`~experiments.cli.compare` (``compare``); ``replay`` lives with
the bench in :mod:`experiments.replay.cli`. Subcommands outside ``main`` load lazily.
"""

from experiments.cli.commands import main

__all__ = ["main"]
