"""Progress display: one tqdm bar over episodes, with finished sessions as its postfix."""

from __future__ import annotations

import time
from typing import IO

from tqdm import tqdm

__all__ = ["EpisodeProgress"]


class EpisodeProgress:
    """A progress bar over episodes; the world reports finished sessions within one.

    Args:
        total_episodes: Number of episodes planned.
        description: Text in front of the bar (e.g. the scenario id).
        enabled: ``False`` shows nothing; ``None`` shows the bar only on a terminal.
        file: Stream to draw on (standard error by default).
        min_interval_s: Minimum seconds between postfix refreshes.
    """

    def __init__(
        self,
        total_episodes: int,
        description: str = "",
        enabled: bool | None = None,
        file: IO[str] | None = None,
        min_interval_s: float = 0.2,
    ) -> None:
        self._bar = tqdm(
            total=total_episodes,
            desc=description,
            unit="episode",
            disable=None if enabled is None else not enabled,
            file=file,
            dynamic_ncols=True,
        )
        self._sessions = 0
        self._min_interval_s = min_interval_s
        self._last_refresh = 0.0

    def skip(self, episodes: int) -> None:
        """Count ``episodes`` as already done (a resumed run)."""
        if episodes:
            self._bar.update(int(episodes))

    def start_episode(self, episode: int) -> None:
        """Reset the session count at the start of ``episode``."""
        self._sessions = 0
        self._show(episode, force=True)

    def sessions(self, delta: int) -> None:
        """Callback for the world: ``delta`` more sessions have finished."""
        self._sessions += int(delta)
        self._show(None)

    def end_episode(self) -> None:
        """Advance the bar by one episode."""
        self._bar.update(1)

    def close(self) -> None:
        """Close the bar (leaves it on screen)."""
        self._bar.close()

    def _show(self, episode: int | None, force: bool = False) -> None:
        if self._bar.disable:
            return
        now = time.monotonic()
        if not force and now - self._last_refresh < self._min_interval_s:
            return
        self._last_refresh = now
        postfix = {"sessions": self._sessions}
        if episode is not None:
            self._episode = episode
        self._bar.set_postfix(episode=getattr(self, "_episode", 0), **postfix, refresh=True)

    def __enter__(self) -> EpisodeProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
