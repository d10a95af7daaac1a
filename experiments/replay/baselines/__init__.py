"""Classical baselines of the replay bench: popularity, transitions, co-occurrence kNN, EASE."""

from experiments.replay.baselines.ease import EASE
from experiments.replay.baselines.knn import CoocKNN
from experiments.replay.baselines.popularity import Popularity
from experiments.replay.baselines.transition import Transition

__all__ = ["EASE", "CoocKNN", "Popularity", "Transition"]
