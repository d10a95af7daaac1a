import math

import numpy as np
import pytest

from experiments.metrics.common import gini, js_divergence_bits, kl_divergence_nats, tv_distance


def test_gini_hand_values():
    # sorted [0, 0, 1, 1], n = 4: (2*3 - 5)*1 + (2*4 - 5)*1 = 4; 4 / (4 * 2) = 0.5
    assert gini(np.array([1, 0, 1, 0])) == pytest.approx(0.5)
    assert gini(np.array([3, 3, 3])) == pytest.approx(0.0)
    assert math.isnan(gini(np.zeros(3)))


def test_divergences_hand_values():
    # disjoint supports: m = (1/2, 1/2), JS = 1 bit; TV = 1
    assert js_divergence_bits([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert tv_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4)
    # KL(p||m) = 1/2 log2(2/3) + 1/2 log2(2) = 0.20752; KL(q||m) = log2(4/3) = 0.41504
    # JS = (0.20752 + 0.41504) / 2 = 0.31128
    assert js_divergence_bits([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.311278, abs=1e-6)
    # KL((1/2,1/2) || (1/4,3/4)) = 1/2 ln 2 + 1/2 ln(2/3)
    expected = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    assert kl_divergence_nats([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
