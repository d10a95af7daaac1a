"""Echo chambers on the user co-consumption graph (networkx).

Per episode, users are nodes; two users are linked when they consumed (feed or search
click) at least one common item, the link weighted by the number of distinct items they
share. Each user keeps only the links to their ``ECHO_NEIGHBOURS`` strongest neighbours
(a kNN sparsification, ties broken by user id, so one blockbuster item does not make the
graph complete). Above ``ECHO_MAX_USERS`` consuming users, a uniform sample of that many
users (named stream ``metrics/echo_chamber``, episode) is used.

Registered here (family ``feedback_loop``):

* ``echo_chamber_modularity`` — modularity of the communities users form: Louvain
  communities (``networkx.community.louvain_communities``, weighted, seeded from the
  named stream) and their weighted modularity ``Q = Σ_c [w_c / W − (s_c / 2W)²]``, in
  [−½, 1); high when consumption splits users into separate groups.
* ``echo_chamber_topic_assortativity`` — assortativity of the graph by each user's
  dominant latent topic (argmax of the interests at the end of the episode, ground truth),
  ``networkx.attribute_assortativity_coefficient``, in [−1, 1]; 1 when links only join
  users of the same dominant topic (topic echo chambers), 0 when linking ignores topic.

Both are ``NaN`` with fewer than three linked users (and assortativity without ground
truth or when every linked user has the same dominant topic).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse

from experiments.metrics.common import clicked_mask
from experiments.metrics.registry import MetricContext, metric
from sim.rng import stable_key

__all__ = [
    "ECHO_MAX_USERS",
    "ECHO_NEIGHBOURS",
    "FAMILY",
    "co_consumption_graph",
    "echo_chamber_modularity",
    "echo_chamber_rng",
    "echo_chamber_topic_assortativity",
]

FAMILY = "feedback_loop"
#: Links kept per user: the strongest co-consumption neighbours.
ECHO_NEIGHBOURS = 10
#: Above this many consuming users, a uniform sample of this many is used.
ECHO_MAX_USERS = 2000


def echo_chamber_rng(episode: int) -> np.random.Generator:
    """The named generator of the user sample and Louvain seed: ``metrics/echo_chamber``."""
    entropy = [int(episode), *stable_key("metrics/echo_chamber")]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def co_consumption_graph(
    users: np.ndarray,
    items: np.ndarray,
    rng: np.random.Generator | None = None,
    *,
    neighbours: int = ECHO_NEIGHBOURS,
    max_users: int = ECHO_MAX_USERS,
) -> nx.Graph:
    """The sparsified user co-consumption graph of one episode.

    Args:
        users: Shape ``(n,)`` user of each consumption.
        items: Shape ``(n,)`` item of each consumption (repeats allowed).
        rng: Generator of the user sample (needed only above ``max_users`` users).
        neighbours: Links kept per user (its strongest; an edge stays if either end
            keeps it).
        max_users: Largest number of users used as they are.

    Returns:
        An undirected graph on user ids with integer ``weight`` = distinct shared items;
        users without any link are not in it.
    """
    users = np.asarray(users, np.int64)
    items = np.asarray(items, np.int64)
    graph = nx.Graph()
    if users.size == 0:
        return graph
    u_ids, u_idx = np.unique(users, return_inverse=True)
    if u_ids.shape[0] > max_users:
        if rng is None:
            raise ValueError("rng is needed to sample users")
        keep_users = np.sort(rng.choice(u_ids.shape[0], size=max_users, replace=False))
        keep = np.isin(u_idx, keep_users)
        u_ids = u_ids[keep_users]
        u_idx = np.searchsorted(keep_users, u_idx[keep])
        items = items[keep]
    _, i_idx = np.unique(items, return_inverse=True)
    consumed = sparse.csr_matrix(
        (np.ones(u_idx.shape[0]), (u_idx, i_idx)), shape=(u_ids.shape[0], int(i_idx.max()) + 1)
    )
    consumed.sum_duplicates()
    consumed.data[:] = 1.0  # distinct items
    shared = (consumed @ consumed.T).tocsr()
    shared.setdiag(0)
    shared.eliminate_zeros()
    for row in range(shared.shape[0]):
        start, end = shared.indptr[row], shared.indptr[row + 1]
        if start == end:
            continue
        cols, weights = shared.indices[start:end], shared.data[start:end]
        order = np.lexsort((cols, -weights))[:neighbours]  # strongest, then lowest id
        graph.add_weighted_edges_from(
            (int(u_ids[row]), int(u_ids[c]), int(w))
            for c, w in zip(cols[order], weights[order], strict=True)
        )
    return graph


def _episode_graph(events: pd.DataFrame, context: MetricContext) -> nx.Graph:
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return co_consumption_graph(users[keep], items[keep], echo_chamber_rng(context.episode))


@metric("echo_chamber_modularity", FAMILY, unit="[−½, 1)")
def echo_chamber_modularity(events: pd.DataFrame, context: MetricContext) -> float:
    """Weighted modularity of the Louvain communities of the user co-consumption graph."""
    graph = _episode_graph(events, context)
    if graph.number_of_nodes() < 3:
        return float("nan")
    seed = int(echo_chamber_rng(context.episode).integers(2**31 - 1))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    return float(nx.community.modularity(graph, communities, weight="weight"))


@metric("echo_chamber_topic_assortativity", FAMILY, unit="[−1, 1]")
def echo_chamber_topic_assortativity(events: pd.DataFrame, context: MetricContext) -> float:
    """Assortativity of the co-consumption graph by users' dominant latent topic."""
    if context.interests is None:
        return float("nan")
    graph = _episode_graph(events, context)
    if graph.number_of_nodes() < 3:
        return float("nan")
    dominant = np.asarray(context.interests).argmax(axis=1)
    topics = {user: int(dominant[user]) for user in graph.nodes}
    if len(set(topics.values())) < 2:
        return float("nan")
    nx.set_node_attributes(graph, topics, "topic")
    return float(nx.attribute_assortativity_coefficient(graph, "topic"))
