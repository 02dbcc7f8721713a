r"""Half-time of a deep-linear mode at a finite learning rate (seed 001; modified equations).

Gradient descent with step :math:`\Delta t` on a balanced decoupled mode steps, per layer,
the map :math:`c \leftarrow c + h\,g(c)`, :math:`g(c) = c^{D-1}(s - c^D)`, :math:`h =
\Delta t/\tau` (:func:`numerics.deep_linear.euler_mode_map`; :func:`theory.deep_linear.layer_rate`).
Its modified equation :math:`\dot c = g - \tfrac h2 g'g + O(h^2)` (Li, Tai & E 2017, the
deterministic part; :func:`theory.finite_lr.mode_map_half_time`,
:func:`theory.finite_lr_deep_linear.half_time_shift`) gives the time from
:math:`u_0 = a_0` to half the target :math:`u = s/2`:

.. math:: t_{1/2}(\Delta t) = t_{1/2}^{(0)} + \Delta t\,T_1 + O(\Delta t^2), \qquad
          T_1 = \tfrac12\ln\frac{g(c_{1/2})}{g(c_0)},\quad c_0 = a_0^{1/D},\;
          c_{1/2} = (s/2)^{1/D},

with :math:`t_{1/2}^{(0)}` the continuous half-time
(:func:`numerics.deep_linear.mode_learning_time`).  The relative lag is
:math:`\Delta t\,T_1/t_{1/2}^{(0)}`: for :math:`a_0 \ll s`, :math:`T_1 \approx
\tfrac12\ln(s/(2a_0))` grows with the depth of the plateau.  ``T1`` is lambdified from the
derived expression, never retyped.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics.checks import as_positive
from numerics.compile import compile_scalar
from numerics.deep_linear import euler_mode_map, mode_learning_time
from theory.deep_linear import SYMBOLS, check_depth
from theory.finite_lr_deep_linear import half_time_shift

__all__ = ["half_time_coefficients", "map_half_time", "relative_lag"]


@lru_cache(maxsize=16)
def _t1(depth: int):
    T1, c0, c1 = half_time_shift(depth)
    return compile_scalar(T1, [c0, c1, SYMBOLS.s])


def half_time_coefficients(s: float, tau: float, a0: float, depth: int) -> tuple[float, float]:
    r"""``(t0, T1)``: the continuous half-time from :math:`a_0` to :math:`s/2` and the
    coefficient of :math:`\Delta t` in its small-step expansion (module docstring)."""
    depth = check_depth(depth)
    s, tau, a0 = (float(as_positive(v, n)) for v, n in ((s, "s"), (tau, "tau"), (a0, "a0")))
    if not a0 < s / 2:
        raise ValueError(f"a0 must be below half the target s/2 = {s / 2:g}, got {a0:g}")
    t0 = mode_learning_time(s, tau, a0, s / 2, depth)
    T1 = float(_t1(depth)(a0 ** (1.0 / depth), (s / 2) ** (1.0 / depth), s))
    return float(t0), T1


def relative_lag(s: float, tau: float, a0: float, depth: int, dt) -> np.ndarray:
    r"""First-order relative lag :math:`\Delta t\,T_1/t_{1/2}^{(0)}` at each ``dt``."""
    t0, T1 = half_time_coefficients(s, tau, a0, depth)
    return np.asarray(dt, dtype=float) * T1 / t0


def map_half_time(s: float, tau: float, a0: float, depth: int, dt: float) -> float:
    r"""The half-time of the exact gradient-descent mode map at step ``dt``: the first
    :math:`n\Delta t` with :math:`u_n \ge s/2`, linearly interpolated between steps.  Raises
    ``FloatingPointError`` where the map overshoots or diverges before reaching half."""
    t0, _ = half_time_coefficients(s, tau, a0, depth)
    dt = float(as_positive(dt, "dt"))
    steps = int(np.ceil(3.0 * t0 / dt)) + 10
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        u = euler_mode_map(s, tau, a0, depth, dt, steps)
    if not np.all(np.isfinite(u)):
        raise FloatingPointError(f"the mode map diverged at dt = {dt:g} (s = {s:g})")
    above = np.flatnonzero(u >= s / 2)
    if above.size == 0:
        raise FloatingPointError(f"the mode map did not reach s/2 within {steps} steps "
                                 f"(dt = {dt:g})")
    k = int(above[0])
    return float((k - 1) * dt + (s / 2 - u[k - 1]) * dt / (u[k] - u[k - 1]))
