import math

import numpy as np
import pytest

from experiments.metrics.health import (
    codebook_collapse,
    codebook_entropy,
    codebook_usage,
    collect_health,
    collision_rate,
    distinct_n,
    label_shift,
)

# 4 items, 2 levels, codebook of 4: level 0 uses codes 0,1,2,3 once each (uniform);
# level 1 uses code 0 three times and code 1 once.
CODES = np.array([[0, 0], [1, 0], [2, 0], [3, 1]])


def test_codebook_entropy_and_collapse():
    # level 0: log2 4 = 2 bits; level 1: -(3/4 log2 3/4 + 1/4 log2 1/4) = 0.811278
    assert codebook_entropy(CODES, 4) == pytest.approx([2.0, 0.811278], abs=1e-6)
    # collapse = 1 - H / log2(4): 0 and 1 - 0.811278 / 2
    assert codebook_collapse(CODES, 4) == pytest.approx([0.0, 1 - 0.811278 / 2], abs=1e-6)
    # usage: 4/4 and 2/4 codes used
    assert codebook_usage(CODES, 4).tolist() == [1.0, 0.5]
    with pytest.raises(ValueError):
        codebook_entropy(np.array([[5]]), 4)


def test_collision_rate():
    # tuples (1,2), (1,2), (3,4): two of three items share their tuple
    assert collision_rate(np.array([[1, 2], [1, 2], [3, 4]])) == pytest.approx(2 / 3)
    assert collision_rate(CODES) == 0.0


def test_distinct_n():
    # unigrams red, shoes, red, hat: 3 distinct / 4; bigrams (red shoes), (red hat): 2 / 2
    assert distinct_n(["red shoes", "Red hat"], 1) == pytest.approx(3 / 4)
    assert distinct_n(["red shoes", "red hat"], 2) == pytest.approx(1.0)
    assert math.isnan(distinct_n(["one"], 2))


def test_label_shift():
    # counts (2, 0) vs (0, 5): disjoint distributions -> 1 bit
    assert label_shift([2, 0], [0, 5]) == pytest.approx(1.0)
    # (1, 1) vs (4,) padded to (4, 0): JS((1/2,1/2),(1,0)) = 0.311278 bits
    assert label_shift([1, 1], [4]) == pytest.approx(0.311278, abs=1e-6)
    assert label_shift({"a": 1, "b": 1}, {"a": 3}) == pytest.approx(0.311278, abs=1e-6)
    assert label_shift({"a": 2}, {"a": 7}) == pytest.approx(0.0)
    assert math.isnan(label_shift([0, 0], [1, 0]))


def test_collect_health_side_channel():
    class Model:
        def health_metrics(self):
            return {"collision_rate": 0.25}

    assert collect_health(Model()) == {"health_collision_rate": 0.25}
    assert collect_health(object()) == {}
