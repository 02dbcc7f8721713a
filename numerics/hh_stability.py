r"""Equilibria, linear stability, Hopf points and the RK4 step limit of the HH cell.

Everything is evaluated from :mod:`theory.hh` expressions (lambdified, never retyped):

* the rest state for a constant current :math:`I` solves :math:`I_\infty(V) = I`
  (:func:`theory.hh.steady_state_current`, strictly increasing for the standard constants,
  so the equilibrium is unique — Rinzel 1978, *Fed. Proc.* 37:2793);
* its stability from the eigenvalues of the derived Jacobian (:func:`theory.hh.jacobian`);
* Hopf points where the leading complex pair crosses the imaginary axis (root of
  :math:`\max\operatorname{Re}\lambda(I)`), with the first Lyapunov coefficient
  (:func:`numerics.hopf.first_lyapunov_coefficient`) from the derived second and third
  derivatives; :math:`l_1 > 0` means subcritical.  Published: :math:`I_1 \approx 9.78`
  (subcritical) and :math:`I_2 \approx 154.5\ \mu A/cm^2` (Hassard 1978, *J. Theor. Biol.*
  71:401; Rinzel & Miller 1980, *Math. Biosci.* 49:27);
* the stationary covariance of the linearised cell under weak additive current noise
  (:func:`linear_noise_covariance`, a Lyapunov equation with the derived Jacobian);
* the largest RK4 step that keeps every decaying mode of the linearisation stable along
  the model's orbits (:func:`rk4_dt_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from numerics.hopf import first_lyapunov_coefficient
from theory import hh as th

__all__ = ["Equilibrium", "HopfPoint", "equilibrium", "rest_state", "jacobian_at",
           "hopf_points", "rk4_dt_limit", "rk4_stability_function", "V_RANGE",
           "linear_noise_covariance"]

#: voltage bracket (mV) for equilibria
V_RANGE = (-200.0, 100.0)


@dataclass(frozen=True)
class Equilibrium:
    """The equilibrium for current ``current``: state (V, m, h, n, s) and eigenvalues of the
    4x4 neuron Jacobian (the synapse adds the eigenvalue -(alpha_s T + beta_s) < 0)."""

    current: float
    state: np.ndarray
    eigenvalues: np.ndarray

    @property
    def stable(self) -> bool:
        return bool(np.max(self.eigenvalues.real) < 0)

    def to_dict(self) -> dict:
        return {"current": self.current, "state": self.state.tolist(),
                "eigenvalues_re": self.eigenvalues.real.tolist(),
                "eigenvalues_im": self.eigenvalues.imag.tolist(), "stable": self.stable}


@dataclass(frozen=True)
class HopfPoint:
    """A Hopf point: current, voltage, frequency (rad/ms and Hz), first Lyapunov coefficient."""

    current: float
    V: float
    omega: float
    l1: float

    @property
    def frequency_hz(self) -> float:
        return self.omega / (2 * np.pi) * 1000.0

    @property
    def subcritical(self) -> bool:
        return self.l1 > 0

    def to_dict(self) -> dict:
        return {"current": self.current, "V": self.V, "omega_per_ms": self.omega,
                "frequency_hz": self.frequency_hz, "l1": self.l1, "subcritical": self.subcritical}


@lru_cache(maxsize=8)
def _functions(constants: th.HHConstants):
    subs = constants.subs()
    V = th.V
    I_inf = sp.lambdify([V], th.steady_state_current().subs(subs), "numpy")
    ss = th.steady_state_gating()
    gates = sp.lambdify([V], [ss["m"], ss["h"], ss["n"]], "numpy")
    T = th.transmitter(V).subs(subs)
    s_inf = sp.lambdify([V], (subs[th.alpha_s] * T / (subs[th.alpha_s] * T
                                                       + subs[th.beta_s])), "numpy")
    J = sp.lambdify(list(th.STATE), th.jacobian().subs(subs), "numpy")
    f = sp.lambdify([*th.STATE, th.I], list(th.neuron_rhs().subs(subs)), "numpy")
    J5 = sp.lambdify(list(th.CELL_STATE), th.jacobian(True).subs(subs), "numpy")
    return I_inf, gates, s_inf, J, f, J5


@lru_cache(maxsize=8)
def _tensors(constants: th.HHConstants):
    """Lambdified second and third derivative tensors (only the Hopf coefficient needs them)."""
    subs = constants.subs()
    Bt, Ct = th.derivative_tensors()
    B = sp.lambdify(list(th.STATE), [[[e.subs(subs) for e in row] for row in mat] for mat in Bt],
                    "numpy")
    C = sp.lambdify(list(th.STATE),
                    [[[[e.subs(subs) for e in r3] for r3 in r2] for r2 in r1] for r1 in Ct],
                    "numpy")
    return B, C


def _call(fn, *args):
    with np.errstate(invalid="ignore", divide="ignore"):  # unselected Piecewise branch
        return fn(*args)


def equilibrium(current: float, constants: th.HHConstants = th.DEFAULT_CONSTANTS
                ) -> Equilibrium:
    """The unique equilibrium for constant ``current`` (uA/cm^2)."""
    I_inf, gates, s_inf, J, *_ = _functions(constants)
    current = float(current)
    if not np.isfinite(current):
        raise ValueError(f"current must be finite, got {current}")
    lo, hi = V_RANGE
    g = lambda v: float(_call(I_inf, v)) - current  # noqa: E731
    if g(lo) > 0 or g(hi) < 0:
        raise ValueError(f"current={current} uA/cm^2 has no equilibrium in V in {V_RANGE} mV")
    V = brentq(g, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)
    m, h, n = (float(x) for x in _call(gates, V))
    state = np.array([V, m, h, n, float(_call(s_inf, V))])
    ev = np.linalg.eigvals(np.asarray(_call(J, V, m, h, n), dtype=float))
    return Equilibrium(current, state, ev)


def rest_state(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> np.ndarray:
    """(V, m, h, n, s) at rest (I = 0): V = -65.00 mV for the default constants."""
    return equilibrium(0.0, constants).state


def jacobian_at(state, constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> np.ndarray:
    """The 4x4 neuron Jacobian at (V, m, h, n[, s])."""
    J = _functions(constants)[3]
    return np.asarray(_call(J, *np.asarray(state, dtype=float)[:4]), dtype=float)


def _leading_real(current, constants):
    eq = equilibrium(current, constants)
    ev = eq.eigenvalues
    cplx = ev[np.abs(ev.imag) > 1e-9]
    return float(np.max(cplx.real)) if cplx.size else float(np.max(ev.real))


def hopf_points(constants: th.HHConstants = th.DEFAULT_CONSTANTS,
                current_range=(0.0, 250.0), grid: int = 251) -> tuple[HopfPoint, ...]:
    """All Hopf points of the equilibrium branch for currents in ``current_range``.

    A grid brackets the sign changes of the leading complex pair's real part; ``brentq``
    refines each to ~1e-10 uA/cm^2; :math:`l_1` from the derived derivative tensors."""
    J = _functions(constants)[3]
    B, C = _tensors(constants)
    I = np.linspace(*current_range, grid)
    re = np.array([_leading_real(c, constants) for c in I])
    out = []
    for k in np.flatnonzero(np.sign(re[:-1]) != np.sign(re[1:])):
        Ih = brentq(lambda c: _leading_real(c, constants), I[k], I[k + 1], xtol=1e-11)
        st = equilibrium(Ih, constants).state[:4]
        A = np.asarray(_call(J, *st), dtype=float)
        Bt = np.asarray(_call(B, *st), dtype=float)
        Ct = np.asarray(_call(C, *st), dtype=float)
        # tiny residual real part at the root: project it out for the formula
        ev = np.linalg.eigvals(A)
        shift = ev[np.argmin(np.abs(ev.real) + (np.abs(ev.imag) < 1e-9) * 1e9)].real
        l1, omega = first_lyapunov_coefficient(A - shift * np.eye(4), Bt, Ct)
        out.append(HopfPoint(float(Ih), float(st[0]), omega, l1))
    return tuple(out)


def rk4_stability_function(z):
    r"""Stability function of classical RK4: :math:`R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24`."""
    z = np.asarray(z, dtype=complex)
    return 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24


def _max_stable_step(lam: complex) -> float:
    """Largest h with |R(h lam)| <= 1 on (0, h] for an eigenvalue with Re lam < 0."""
    r = abs(lam)
    hs = np.linspace(0, 3.0 / r, 3001)[1:]
    bad = np.abs(rk4_stability_function(hs * lam)) > 1 + 1e-12
    if not bad.any():
        return float(hs[-1])
    k = int(np.argmax(bad))
    lo = hs[k - 1] if k > 0 else 0.0
    return float(brentq(lambda h: abs(rk4_stability_function(h * lam)) - 1, lo, hs[k]))


@lru_cache(maxsize=8)
def rk4_dt_limit(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> tuple[float, dict]:
    r"""The largest RK4 step (ms) that is linearly stable along the model's orbits.

    Orbits sampled: 60 ms from rest at I = 0, 10, 50, 150 and 300 uA/cm^2, and from
    V = -100 mV (gating at rest) at I = 0 (LSODA, rtol 1e-8), plus the equilibria for
    I in [0, 300].  At every sampled state each eigenvalue of the derived Jacobian with
    negative real part must satisfy :math:`|R(\lambda\,dt)| \le 1`; the limit is the
    smallest such dt.  Returns ``(dt_max, info)``; ``info`` names where it is attained.
    """
    f = _functions(constants)[4]
    J_flat = sp.lambdify(list(th.STATE), list(th.jacobian().subs(constants.subs())), "numpy")
    rest = rest_state(constants)[:4]
    starts = [(c, rest) for c in (0.0, 10.0, 50.0, 150.0, 300.0)]
    starts.append((0.0, np.array([-100.0, *rest[1:]])))
    states = []
    for c, y0 in starts:
        sol = solve_ivp(lambda t, y, c=c: _call(f, *y, c), (0, 60.0), y0, method="LSODA",
                        rtol=1e-8, atol=1e-10, max_step=0.1)
        states.append(sol.y.T)
    states.append(np.array([equilibrium(c, constants).state[:4]
                            for c in np.linspace(0, 300, 61)]))
    st = np.concatenate(states)
    flat = _call(J_flat, *st.T)
    Js = np.stack([np.broadcast_to(np.asarray(e, dtype=float), st.shape[:1]) for e in flat],
                  axis=-1).reshape(-1, 4, 4)
    lam = np.linalg.eigvals(Js)  # (S, 4)
    idx = np.argwhere(lam.real < 0)
    mags = np.abs(lam[lam.real < 0])
    best, where = np.inf, None
    for k in np.argsort(mags)[::-1][:200]:  # the stiffest modes decide
        s_i, e_i = idx[k]
        h = _max_stable_step(complex(lam[s_i, e_i]))
        if h < best:
            best, where = h, (st[s_i].tolist(), complex(lam[s_i, e_i]))
    return float(best), {"state": where[0], "eigenvalue_re": where[1].real,
                         "eigenvalue_im": where[1].imag}


def linear_noise_covariance(current: float, sigma: float,
                            constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> np.ndarray:
    r"""Stationary covariance of (V, m, h, n, s) around the stable equilibrium for weak
    additive current noise: the linearisation :math:`d\xi = A\xi\,dt + b\,dW` with
    :math:`A` the derived 5x5 Jacobian and :math:`b = (\sigma/C_m, 0, 0, 0, 0)` has the
    stationary covariance solving :math:`A\Sigma + \Sigma A^\top + bb^\top = 0`
    (e.g. Gardiner, *Handbook of Stochastic Methods*, eq. (4.4.51)); valid to leading order
    in :math:`\sigma`.  ``sigma`` in uA cm^-2 ms^1/2."""
    from scipy.linalg import solve_continuous_lyapunov

    eq = equilibrium(current, constants)
    if not eq.stable:
        raise ValueError(f"the equilibrium at current={current} is unstable: no stationary "
                         "linear-noise covariance")
    A = np.asarray(_call(_functions(constants)[5], *eq.state), dtype=float)
    b = np.zeros(5)
    b[0] = float(sigma) / constants.C_m
    return solve_continuous_lyapunov(A, -np.outer(b, b))
