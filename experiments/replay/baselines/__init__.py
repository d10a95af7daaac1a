"""Classical baselines of the replay bench.

Popularity, item transitions (first and second order), position-aware co-occurrence
kNN, EASE, SLIST, a tuned blend of transitions, kNN, EASE and popularity, and the offline
twins of two simulator policies: implicit ALS matrix factorisation (``mf``) and i.i.d.
random scores (``random``, the chance level).
"""

from experiments.replay.baselines.blend import Blend
from experiments.replay.baselines.chance import RandomScores
from experiments.replay.baselines.ease import EASE
from experiments.replay.baselines.knn import CoocKNN
from experiments.replay.baselines.mf import ImplicitMF
from experiments.replay.baselines.popularity import Popularity
from experiments.replay.baselines.slist import SLIST
from experiments.replay.baselines.transition import Transition

__all__ = [
    "EASE",
    "SLIST",
    "Blend",
    "CoocKNN",
    "ImplicitMF",
    "Popularity",
    "RandomScores",
    "Transition",
]
