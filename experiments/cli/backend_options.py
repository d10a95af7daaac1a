"""The ``--backend`` / ``--address`` options shared by ``onefeed run`` and ``onefeed compare``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

__all__ = ["backend_options"]

Command = TypeVar("Command", bound=Callable[..., object])


def backend_options(backend_help: str, address_help: str) -> Callable[[Command], Command]:
    """Decorate a click command with ``--backend local|ray`` and ``--address ADDR``.

    Args:
        backend_help: Help text of ``--backend`` (what runs where).
        address_help: Help text of ``--address`` (which Ray cluster).

    Returns:
        A decorator adding both options; the command receives ``backend`` (``"local"``
        or ``"ray"``) and ``address`` (``None`` unless given).
    """

    def decorate(command: Command) -> Command:
        command = click.option("--address", default=None, help=address_help)(command)
        return click.option(
            "--backend",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help=backend_help,
        )(command)

    return decorate
