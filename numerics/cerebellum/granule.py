r"""Mossy-fibre inputs and the expanded granule layer (seed 000).

Mossy fibre :math:`i` carries the reference a little ahead, :math:`m_i(t) = r(t+\tau_i)`, with
``n_mossy`` lookahead times evenly spaced in :math:`[0, \tau_{\max}]` (the authors' public
code: 10 inputs, :math:`\tau_{\max} = 0.2/f_c = 2` s, a fifth of the fastest period).
Granule cell :math:`j` sums ``k`` randomly chosen mossy fibres,

.. math:: h_j(t) = \tanh\Big(\sum_i Z_{ji} m_i(t) + b_j\Big),

with :math:`Z_{ji}\sim N(0, 1/k)` on its ``k`` inputs (the authors' ``createZ``) and biases
:math:`b_j\sim U(-b_{\max}, b_{\max})`.  Units are drawn one after another from one random
stream, so the layer of expansion :math:`q` (``10 q`` units) contains the layer of every
smaller expansion drawn with the same seed as its first units (the authors also expand a net
by keeping the smaller net's units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_nonnegative, as_positive

__all__ = ["GranuleLayer", "granule_layer"]


@dataclass(frozen=True)
class GranuleLayer:
    """``lookahead`` (n_mossy,) seconds; ``Z`` (N, n_mossy) sparse weights; ``bias`` (N,)."""

    lookahead: np.ndarray
    Z: np.ndarray
    bias: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.Z.shape[0])

    def mossy(self, reference, times) -> np.ndarray:
        """Mossy-fibre rates :math:`r(t + \\tau_i)` at ``times``: ``(len(times), n_mossy)``."""
        t = np.asarray(times, dtype=float)
        return np.asarray(reference(np.add.outer(t, self.lookahead)), dtype=float)

    def activity(self, mossy: np.ndarray) -> np.ndarray:
        """Granule activity ``tanh(mossy @ Z.T + bias)``: ``(..., N)``."""
        return np.tanh(mossy @ self.Z.T + self.bias)

    def to_dict(self) -> dict:
        return {"lookahead": self.lookahead.tolist(), "Z": self.Z.tolist(),
                "bias": self.bias.tolist()}


def granule_layer(n_units: int, seed=0, *, n_mossy: int = 10, k: int = 4,
                  lookahead_s: float = 2.0, bias_scale: float = 0.5) -> GranuleLayer:
    """Draw a granule layer of ``n_units`` cells (nested in ``n_units``, see module doc)."""
    n_units = as_int(n_units, "n_units", 1)
    n_mossy = as_int(n_mossy, "n_mossy", 1)
    k = as_int(k, "k", 1)
    if k > n_mossy:
        raise ValueError(f"k (inputs per granule cell) must be <= n_mossy = {n_mossy}, got {k}")
    lookahead_s = as_positive(lookahead_s, "lookahead_s")
    bias_scale = as_nonnegative(bias_scale, "bias_scale")
    if isinstance(seed, np.random.SeedSequence):
        rng = np.random.Generator(np.random.PCG64(seed))
    else:
        rng = np.random.default_rng(seed)
    Z = np.zeros((n_units, n_mossy))
    bias = np.empty(n_units)
    for j in range(n_units):  # one unit at a time: nested layers
        idx = rng.choice(n_mossy, size=k, replace=False)
        Z[j, idx] = rng.normal(0.0, 1.0 / np.sqrt(k), size=k)
        bias[j] = rng.uniform(-bias_scale, bias_scale) if bias_scale > 0 else 0.0
    return GranuleLayer(np.linspace(0.0, lookahead_s, n_mossy), Z, bias)
