r"""First-order finite-learning-rate theory, evaluated: lambdify and integrate the system of
:mod:`theory.finite_lr`.

For a rule :math:`w \leftarrow w + \eta f` with drift :math:`F` and update covariance
:math:`\Sigma` (small explicit :math:`n`, SymPy), :func:`first_order_flow` integrates

.. math:: \dot{\bar w} = F(\bar w),\quad
          \dot\delta = J\delta - \tfrac12JF + \tfrac12\textstyle\sum_{kl}\Gamma_{kl}
          \partial_k\partial_lF,\quad
          \dot\Gamma = J\Gamma + \Gamma J^\top + \Sigma(\bar w)

from :math:`\delta(0) = 0`, :math:`\Gamma(0) = 0` (the right-hand side lambdified as one vector
function with ``cse``), so that :math:`E[w_n] = \bar w(t) + \eta\delta(t) + O(\eta^2)` and
:math:`\operatorname{Cov}(w_n) = \eta\Gamma(t) + O(\eta^2)` at :math:`t = \eta n`.
:func:`stationary_values` evaluates a :class:`theory.finite_lr.StationaryExpansion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from numerics.checks import as_positive, as_vector
from numerics.compile import compile_expressions
from numerics.integrate import integrate
from theory.finite_lr import FiniteLrSystem, StationaryExpansion

__all__ = ["FirstOrderFlow", "first_order_flow", "compile_first_order", "stationary_values",
           "check_params"]


def check_params(symbols, params: Mapping) -> list[float]:
    """Values for ``symbols`` from ``params`` (keys: names or Symbols), in order; a clear
    ``ValueError`` names a missing or non-finite one and ``TypeError`` a non-number."""
    by_name = {str(k): v for k, v in params.items()}
    unknown = set(by_name) - {str(s) for s in symbols}
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}; the system has "
                         f"{[str(s) for s in symbols]}")
    out = []
    for s in symbols:
        if str(s) not in by_name:
            raise ValueError(f"parameter {str(s)!r} is missing (the system has "
                             f"{[str(x) for x in symbols]})")
        try:
            v = float(by_name[str(s)])
        except (TypeError, ValueError):
            raise TypeError(f"parameter {str(s)!r} must be a real number, got "
                            f"{by_name[str(s)]!r}") from None
        if not np.isfinite(v):
            raise ValueError(f"parameter {str(s)!r} must be finite, got {v}")
        out.append(v)
    return out


def compile_first_order(system: FiniteLrSystem):
    """``rhs(t, y, p)`` of the state (flow, delta, Gamma upper triangle) for parameters in the
    order of ``system.params``; ``rhs.state_symbols``/``rhs.param_symbols`` carry the orders."""
    t = sp.Symbol("t", real=True)
    state, params = system.state_symbols, system.params
    f = compile_expressions(list(system.state_rhs), [t, state, params])
    n_state = len(state)

    def rhs(tv, y, p=()):
        return f(tv, y, np.atleast_1d(p)).reshape((n_state,) + np.shape(y)[1:])

    rhs.state_symbols = state
    rhs.param_symbols = params
    return rhs


@dataclass(frozen=True)
class FirstOrderFlow:
    r"""The flow :math:`\bar w` (T, n), the mean shift :math:`\delta` (T, n) and the covariance
    coefficient :math:`\Gamma` (T, n, n) at times ``t``."""

    t: np.ndarray
    flow: np.ndarray
    delta: np.ndarray
    Gamma: np.ndarray

    def mean(self, eta: float) -> np.ndarray:
        r""":math:`\bar w + \eta\delta`, the mean at learning rate ``eta`` to first order."""
        return self.flow + as_positive(eta, "eta") * self.delta

    def covariance(self, eta: float) -> np.ndarray:
        r""":math:`\eta\Gamma`, the covariance at learning rate ``eta`` to first order."""
        return as_positive(eta, "eta") * self.Gamma

    def to_dict(self) -> dict:
        return {"t": self.t.tolist(), "flow": self.flow.tolist(), "delta": self.delta.tolist(),
                "Gamma": self.Gamma.tolist()}


def first_order_flow(system: FiniteLrSystem, w0, t_eval, params: Mapping | None = None, *,
                     method: str = "LSODA", rtol: float = 1e-10,
                     atol: float = 1e-12) -> FirstOrderFlow:
    """Integrate the first-order system from the deterministic start ``w0`` (delta = 0,
    Gamma = 0) and return it at ``t_eval`` (increasing, >= 0).  ``params`` maps every symbol
    of ``system.params`` (by name or Symbol) to a number."""
    n = system.n
    w0 = as_vector(w0, "w0", n)
    t = np.asarray(t_eval, dtype=float).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t_eval must be a non-empty, strictly increasing array of times >= 0")
    p = check_params(system.params, params or {})
    rhs = compile_first_order(system)
    m = n * (n + 1) // 2
    y0 = np.concatenate([w0, np.zeros(n + m)])
    iu = np.triu_indices(n)
    if t[-1] == 0:
        Y = np.repeat(y0[:, None], t.size, axis=1)
    else:
        traj = integrate(rhs, (0.0, float(t[-1])), y0, args=(p,), t_eval=t, method=method,
                         rtol=rtol, atol=atol,
                         state_names=[str(s) for s in system.state_symbols])
        Y = traj.y
    G = np.zeros((t.size, n, n))
    G[:, iu[0], iu[1]] = Y[2 * n:].T
    G[:, iu[1], iu[0]] = Y[2 * n:].T
    return FirstOrderFlow(t=t, flow=Y[:n].T.copy(), delta=Y[n:2 * n].T.copy(), Gamma=G)


def stationary_values(expansion: StationaryExpansion, params: Mapping | None = None) -> dict:
    """Numbers of a stationary expansion: ``{"mean0", "delta1", "K1"[, "delta2", "K2"]}`` for
    the given parameter values (every free symbol of the expansion except eta)."""
    exprs = {"mean0": sp.Matrix([expansion.point[x] for x in expansion.weights]),
             "delta1": expansion.delta1, "K1": expansion.K1}
    if expansion.order >= 2:
        exprs.update({"delta2": expansion.delta2, "K2": expansion.K2})
    free = set().union(*(sp.Matrix(e).free_symbols for e in exprs.values())) - {expansion.eta}
    symbols = sorted(free, key=str)
    vals = check_params(symbols, params or {})
    sub = dict(zip(symbols, vals))
    out = {}
    for k, e in exprs.items():
        arr = np.array(sp.Matrix(e).subs(sub).evalf().tolist(), dtype=float)
        out[k] = arr[:, 0] if not k.startswith("K") else arr
    return out
