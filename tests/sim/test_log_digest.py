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
import pytest

from .helpers import make_world, small_config

#: sha256 (first 16 hex digits) of each episode's events as an Arrow IPC stream, per
#: world model version. v1: the rows are those computed before issue 13's engine work
#: (then "66651980b6fee555", "0d3fa4149ef4b86f"); the digests changed once, when issue 12
#: added provenance names to the ``origin`` column's dictionary (sid_beam, content,
#: popular; code 2 renamed query_expansion), with every row's values unchanged
#: (tests/sim/test_world_versions.py checks the values of a v1 world against the commit
#: before world model v2). v2: when world model v2 became the default. Both re-pinned
#: (were v1 "09ab0bf45a1fe47f", "41b20a4746242c84"; v2 "a38c9d4a5d17f24e",
#: "12dee007bfd2579d") when issue 13 made the log independent of batch composition, for
#: runs split by users: behaviour draws per (user, request) counter streams
#: (sim.crn.UserDraws) instead of sequential generators, session and query ids per user,
#: batch windows on a fixed grid served in user order, a fresh clock per episode.
PINNED = {
    1: ["5fc1f11e32572f29", "7f3b9b2b9653fc28"],
    2: ["69f0b3ffcd4141e8", "2bc63879ee8b16de"],
}


def _digest(table: pa.Table) -> str:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue()).hexdigest()[:16]


def episode_digests(model_version: int) -> list[str]:
    cfg = small_config(
        400,
        model_version=model_version,
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


@pytest.mark.parametrize("model_version", [1, 2])
def test_event_log_digest_is_pinned(model_version):
    assert episode_digests(model_version) == PINNED[model_version]
