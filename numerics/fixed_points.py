"""Fixed points of compiled flows: root finding with a convergence check and stability."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import root

__all__ = ["FixedPoint", "ConvergenceError", "find_fixed_point"]


class ConvergenceError(RuntimeError):
    """Root finding did not converge to the requested tolerance."""


@dataclass(frozen=True)
class FixedPoint:
    """A point ``x`` with ``f(x) ~ 0``, its residual, Jacobian eigenvalues and stability."""

    x: np.ndarray
    residual: float
    eigenvalues: np.ndarray
    stable: bool
    nfev: int

    def to_dict(self) -> dict:
        return {"x": self.x.tolist(), "residual": self.residual,
                "eigenvalues_real": self.eigenvalues.real.tolist(),
                "eigenvalues_imag": self.eigenvalues.imag.tolist(),
                "stable": self.stable, "nfev": self.nfev}


def _numeric_jacobian(f, x, eps=1e-7):
    x = np.asarray(x, float)
    f0 = np.asarray(f(x), float)
    J = np.empty((f0.size, x.size))
    for k in range(x.size):
        h = eps * max(1.0, abs(x[k]))
        xp = x.copy()
        xp[k] += h
        xm = x.copy()
        xm[k] -= h
        J[:, k] = (np.asarray(f(xp), float) - np.asarray(f(xm), float)) / (2 * h)
    return J


def find_fixed_point(
    f: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    jac: Callable | None = None,
    tol: float = 1e-10,
    method: str = "hybr",
) -> FixedPoint:
    """Solve ``f(x) = 0`` from ``x0``; raise :class:`ConvergenceError` unless ``|f(x)| <= tol``.

    Stability is read off the eigenvalues of the Jacobian (analytic ``jac`` if given,
    central differences otherwise): stable when every real part is negative.
    """
    x0 = np.atleast_1d(np.asarray(x0, dtype=float))
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 contains NaN or inf")
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    sol = root(lambda x: np.atleast_1d(f(x)), x0, jac=jac, method=method, tol=tol * 1e-2)
    x = np.atleast_1d(sol.x)
    res = float(np.max(np.abs(np.atleast_1d(f(x)))))
    if not np.isfinite(res) or res > tol:
        raise ConvergenceError(
            f"no fixed point found from x0={x0.tolist()}: residual {res:.3g} > tol {tol:g} "
            f"({sol.message})")
    J = np.atleast_2d(jac(x)) if jac is not None else _numeric_jacobian(f, x)
    eig = np.linalg.eigvals(J)
    return FixedPoint(x=x, residual=res, eigenvalues=eig, stable=bool(np.all(eig.real < 0)),
                      nfev=int(getattr(sol, "nfev", 0)))
