"""A pinned digest of the event log of a small world that exercises the whole engine.

Engine work (serving, wake-up queue, population storage, responder, log) must not
change what is simulated: this digest was computed before the engine's performance
work (issue 13) and must stay the same. A change of the world's *behaviour* on purpose
(user model, random streams) changes it too: then update the digests in the same commit
and say why in its message.
"""

import hashlib
import io

import pyarrow as pa

from .helpers import make_world, small_config

#: sha256 (first 16 hex digits) of each episode's events as an Arrow IPC stream.
PINNED = ["66651980b6fee555", "0d3fa4149ef4b86f"]


def _digest(table: pa.Table) -> str:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue()).hexdigest()[:16]


def episode_digests() -> list[str]:
    cfg = small_config(
        400,
        catalog={"new_items_rate_per_day": 40, "release_interval_hours": 3},
        choice={"idiosyncratic_sd": 0.5},
        suggestions={"n_suggestions": 3},
        serving={"batch_window_s": 20.0, "max_batch_size": 9},
    )
    world = make_world(cfg, seed=11, policy="popularity")
    out = []
    for episode in range(2):
        result = world.run_episode(episode)
        out.append(_digest(result.events))
        world.policy.update(result.events.to_pandas())
    return out


def test_event_log_digest_is_pinned():
    assert episode_digests() == PINNED
