"""Adam(W) over a dictionary of named parameter arrays."""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class Adam:
    """Adam with decoupled weight decay, updating parameters in place.

    Args:
        lr: Learning rate.
        betas: Exponential decay rates of the first and second moments.
        eps: Numerical stabiliser.
        weight_decay: Decoupled L2 decay applied to every parameter.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = lr
        self.b1, self.b2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.m: Params = {}
        self.v: Params = {}
        self.t = 0

    def step(self, params: Params, grads: Params) -> None:
        """Apply one update for every parameter that has a gradient (in place, one buffer)."""
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for name, g in grads.items():
            p = params[name]
            if name not in self.m:
                self.m[name] = np.zeros_like(p)
                self.v[name] = np.zeros_like(p)
            m, v = self.m[name], self.v[name]
            tmp = np.multiply(g, 1.0 - self.b1, dtype=p.dtype)
            m *= self.b1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - self.b2
            v *= self.b2
            v += tmp
            # p -= lr / c1 * m / (sqrt(v / c2) + eps)
            np.sqrt(v, out=tmp)
            tmp *= 1.0 / np.sqrt(c2)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / c1
            if self.weight_decay:
                p *= 1.0 - self.lr * self.weight_decay
            p -= tmp
