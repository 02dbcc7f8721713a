r"""Mode strengths, learning times and full-matrix mean dynamics of deep linear networks.

Seed 001 (Saxe, McClelland & Ganguli 2014).  Every formula is lambdified from
:mod:`theory.deep_linear`:

* :func:`mode_strength` — :math:`u(t)` of a mode with target singular value :math:`s`
  under :math:`\tau\dot u = D u^{2-2/D}(s-u)`: seed eq. (5) for ``depth=1`` (shallow),
  eq. (4) for ``depth=2`` (one hidden layer), and for ``depth >= 3`` the numerical inverse
  of the closed-form :math:`t(u)` (hypergeometric, :func:`theory.deep_linear.time_to_strength`);
* :func:`mode_learning_time` — time from :math:`u_0` to :math:`u_f`;
* :func:`flow_rhs`, :func:`euler_dynamics`, :func:`integrate_dynamics` — the full-matrix
  gradient flow :math:`\tau\dot W_l = (W_D\cdots W_{l+1})^\top(\Sigma^{yx}-W\Sigma^x)
  (W_{l-1}\cdots W_1)^\top` (seed eqs. (1)-(3)), lambdified from matrix symbols;
* :func:`track_modes` — singular values of :math:`W_D\cdots W_1` (sorted) and, for target
  singular values that are distinct, the aligned projections :math:`u_\alpha^\top W v_\alpha`;
* :func:`decoupled_init`, :func:`random_init`, :func:`exercise_problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from numerics.checks import as_covariance, as_positive
from numerics.compile import compile_scalar
from numerics.integrate import integrate
from theory import deep_linear as th

__all__ = ["mode_strength", "mode_learning_time", "mode_rate", "euler_mode_map",
           "exercise_problem", "flow_rhs",
           "euler_dynamics", "integrate_dynamics", "MatrixTrajectory", "track_modes",
           "ModeTrack", "decoupled_init", "random_init", "product", "MAX_CLOSED_FORM_DEPTH"]

_S = th.SYMBOLS
#: logit bound: x = 1/(1 + e^-36) is 1 - 2.3e-16, i.e. x = 1 in double precision
_LOGIT_MAX = 36.0


#: deepest network :func:`mode_strength` and :func:`mode_learning_time` accept: the
#: root-of-unity form has D/2 terms, so a call costs about 0.8 s per 1000 layers (D = 1000:
#: 1 s, D = 10^4: 8 s) and the inverse loses digits (relative error 1e-10 at D = 10^4)
MAX_CLOSED_FORM_DEPTH = 10_000


def _closed_form_depth(depth) -> int:
    depth = _depth(depth)
    if depth > MAX_CLOSED_FORM_DEPTH:
        raise ValueError(
            f"depth must be <= {MAX_CLOSED_FORM_DEPTH} for the closed-form mode solution, got "
            f"{depth}: its sums over the D-th roots of unity cost time in proportion to D "
            "(about 8 s at the limit) and lose accuracy; integrate mode_rate instead")
    return depth


def _depth(depth) -> int:
    try:
        return th.check_depth(depth)
    except TypeError as err:
        raise TypeError(str(err)) from None


@lru_cache(maxsize=8)
def _closed_form(depth: int):
    """Lambdified seed eq. (5) / eq. (4) and the cancellation-free forms of
    :func:`theory.deep_linear.mode_solution_stable` (for u0 >= s and for u0 < s)."""
    args = [_S.t, _S.s, _S.tau, _S.u0]
    return (compile_scalar(th.mode_solution(depth), args),
            compile_scalar(th.mode_solution_stable(depth), args),
            compile_scalar(th.mode_solution_stable(depth, start_below=True), args))


@lru_cache(maxsize=16)
def _antiderivative(depth: int, above: bool):
    """Lambdified :math:`T_D(x)`: logarithms for depth 1, 2 (per branch); for depth >= 3 the
    root-of-unity form of :func:`theory.deep_linear.antiderivative_elementary`, one
    expression for both branches (SciPy's 2F1 at c = a + b loses accuracy as x -> 1); above
    :data:`theory.deep_linear.EXPLICIT_MAX_DEPTH` its sums stay sums (no cse)."""
    if depth >= 3:
        return compile_scalar(th.antiderivative_elementary(depth), [th.SYMBOLS.x],
                              cse=depth <= th.EXPLICIT_MAX_DEPTH)
    return compile_scalar(th.antiderivative(depth, above), [th.SYMBOLS.x])


@lru_cache(maxsize=16)
def _far_above(depth: int):
    """Lambdified :math:`H_D(u; s)` (:func:`theory.deep_linear.antiderivative_far_above`)."""
    return compile_scalar(th.antiderivative_far_above(depth), [_S.u, _S.s])


#: x = u/s beyond which the far-above form H_D is used (its 2F1 argument s/u <= 1/2 there);
#: between 1 and FAR the root-of-unity form, accurate near x = 1
_FAR = 2.0


@lru_cache(maxsize=16)
def _integrand(depth: int):
    return compile_scalar(th.integrand(depth), [th.SYMBOLS.x])


@lru_cache(maxsize=16)
def _time_scale(depth: int):
    return compile_scalar(th.time_scale(depth), [_S.s, _S.tau])


@lru_cache(maxsize=16)
def _rate(depth: int):
    return compile_scalar(th.rate(depth), [_S.u, _S.s])


@lru_cache(maxsize=16)
def _layer_rate(depth: int):
    return compile_scalar(th.layer_rate(depth), [th.LAYER, _S.s])


def euler_mode_map(s, tau, a0, depth: int, dt: float, steps: int) -> np.ndarray:
    r"""Forward Euler of a balanced decoupled mode, per layer:
    :math:`c_{n+1} = c_n + (\Delta t/\tau)\,c_n^{D-1}(s - c_n^D)` (lambdified
    :func:`theory.deep_linear.layer_rate`), :math:`c_0 = a_0^{1/D}`; returns
    :math:`u_n = c_n^D`, shape ``(steps + 1,) + broadcast(s, a0).shape``.

    This is what :func:`euler_dynamics` computes on the weight matrices from
    :func:`decoupled_init` (seed 001 Exercise 1.1): the discrete-time counterpart of
    :func:`mode_strength`, which it approaches as :math:`O(\Delta t)`."""
    depth = _depth(depth)
    s = _as_array(s, "s", positive=True)
    tau = float(as_positive(tau, "tau"))
    dt = float(as_positive(dt, "dt"))
    a0 = _as_array(a0, "a0", positive=depth > 1)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    s, a0 = np.broadcast_arrays(s, a0)
    f = _layer_rate(depth)
    c = np.sign(a0) * np.abs(a0) ** (1.0 / depth)
    out = np.empty((steps + 1,) + s.shape)
    out[0] = c**depth
    for n in range(steps):
        c = c + dt / tau * f(c, s)
        out[n + 1] = c**depth
    return out


def mode_rate(u, s, tau, depth: int):
    r""":math:`\dot u = D u^{2-2/D}(s-u)/\tau` (lambdified mode ODE), vectorised."""
    depth = _depth(depth)
    return _rate(depth)(np.asarray(u, dtype=float), np.asarray(s, dtype=float)) \
        / as_positive(tau, "tau")


def _as_array(value, name: str, *, positive: bool = False, nonneg: bool = False) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array, got {value!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name} must be in (0, inf), got min {np.min(a):.6g}")
    if nonneg and np.any(a < 0):
        raise ValueError(f"{name} must be in [0, inf), got min {np.min(a):.6g}")
    return a


def mode_strength(t, s, tau, a0, depth: int = 2) -> np.ndarray:
    r"""Strength :math:`u(t)` of a singular mode with target :math:`s` (seed 001).

    :math:`\tau\dot u = D u^{2-2/D}(s-u)`, :math:`u(0) = a_0`: ``depth=1`` is the shallow network,
    seed eq. (5) :math:`s(1-e^{-t/\tau}) + a_0e^{-t/\tau}`; ``depth=2`` one hidden layer,
    seed eq. (4) :math:`s e^{2st/\tau}/(e^{2st/\tau}-1+s/a_0)`; ``depth >= 3`` inverts the
    closed-form :math:`t(u)` (:func:`theory.deep_linear.time_to_strength`, root-of-unity form)
    by bisection in :math:`\operatorname{logit}(u/s)` (growth from below) or
    :math:`-\ln(u/s - 1)` (decay from above), polished by Newton steps.  ``t``, ``s``,
    ``tau``, ``a0`` broadcast.  Constraints: t >= 0, s > 0, tau > 0, a0 > 0 (any finite a0
    for depth 1).
    """
    depth = _closed_form_depth(depth)
    t = _as_array(t, "t", nonneg=True)
    s = _as_array(s, "s", positive=True)
    tau = _as_array(tau, "tau", positive=True)
    a0 = _as_array(a0, "a0", positive=depth > 1)
    t, s, tau, a0 = np.broadcast_arrays(t, s, tau, a0)
    if depth == 1:
        return np.asarray(_closed_form(1)[0](t, s, tau, a0), dtype=float) + 0.0 * t
    if depth == 2:
        _check_resolvable(s, a0, depth)
        # eq. (4) rearranged (theory.deep_linear.mode_solution_stable): no overflow, and no
        # cancellation in 1 - e^{-2st/tau} at tiny s (the printed form gives s/0 = inf there)
        _, from_above, from_below = _closed_form(2)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            u = np.where(a0 < s, from_below(t, s, tau, a0), from_above(t, s, tau, a0))
        return np.asarray(u, dtype=float) + 0.0 * t
    _check_resolvable(s, a0, depth)
    return _invert(t, s, tau, a0, depth)


def _check_resolvable(s, a0, depth: int) -> None:
    """Below s the closed forms work with a0/s: refuse a ratio that is not a normal double."""
    ratio = np.divide(a0, s)
    bad = (a0 < s) & ~(ratio >= np.finfo(float).tiny)
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(
            f"a0/s must be >= {np.finfo(float).tiny:.3g} (the smallest normal double) at "
            f"depth {depth}, got a0 = {a0.ravel()[i]:.6g}, s = {s.ravel()[i]:.6g}: the mode is "
            "then frozen at a0 to double precision for any representable time")


def _bisect(f, lo, hi, target, iterations: int = 90):
    """Bisection for increasing ``f`` on arrays: ``f(z) = target`` with ``lo <= z <= hi``."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        before = f(mid) < target
        lo = np.where(before, mid, lo)
        hi = np.where(before, hi, mid)
    return lo, hi


def _invert(t, s, tau, a0, depth: int) -> np.ndarray:
    """Solve T_D(x) = T_D(a0/s) + t / time_scale for x between a0/s and 1, return u = s x.

    Far above s (a0 > 2s) first the far-above form: (tau/D)[H_D(u) - H_D(a0)] = t for u in
    [2s, a0], by bisection in ln u; a mode that reaches u = 2s continues from there in the
    root-of-unity form for the remaining time.  T_D increases along the flow on both branches.
    Bisection runs in a variable z that increases with t and maps onto (x0, 1):
    z = logit(x) below s, z = -ln(x - 1) above; z = 36 is x = 1 to double precision.
    """
    out = s.astype(float).copy()  # a0 = s stays at s
    t = t.astype(float).copy()
    a0 = a0.astype(float).copy()
    far = a0 > _FAR * s
    if np.any(far):
        H = _far_above(depth)
        sf, af, tf = s[far], a0[far], t[far]
        rate = depth / tau[far]  # dH/dt = D / tau
        # u^-p overflows near u = 2s only at tiny s, where H = inf is the right limit (the
        # mode never gets there)
        with np.errstate(over="ignore", divide="ignore"):
            h0 = H(af, sf)
            t_far = (H(_FAR * sf, sf) - h0) / rate  # time to decay from a0 to 2s (inf if huge)
            stay = tf <= t_far
            target = h0 + tf * rate
            # H decreases with u: bisection on -ln u between -ln a0 and -ln(2s)
            lo, hi = _bisect(lambda z: H(np.exp(-z), sf), -np.log(af), -np.log(_FAR * sf),
                             target)
        u_far = np.exp(-0.5 * (lo + hi))
        idx = np.flatnonzero(far)
        done = idx[stay]
        out.flat[done] = np.where(tf[stay] == 0, af[stay], u_far[stay])
        moved = idx[~stay]
        a0.flat[moved] = _FAR * sf[~stay]
        t.flat[moved] = (tf - t_far)[~stay]
        far_done = np.zeros(s.shape, dtype=bool)
        far_done.flat[done] = True
    else:
        far_done = np.zeros(s.shape, dtype=bool)
    T = _antiderivative(depth, False)
    dT = _integrand(depth)
    x0 = a0 / s
    with np.errstate(over="ignore", divide="ignore"):
        # s^p under/overflows only at extreme s, where k = 0 or inf is the right limit
        k = t / _time_scale(depth)(s, tau)
    for below in (True, False):
        mask = ((x0 < 1.0) if below else (x0 > 1.0)) & ~far_done
        if not np.any(mask):
            continue
        xm, km = x0[mask], k[mask]
        target = T(xm) + km

        def x_of(z, below=below):
            return 1.0 / (1.0 + np.exp(-z)) if below else 1.0 + np.exp(-z)

        lo = np.log(xm / (1.0 - xm)) if below else -np.log(xm - 1.0)
        hi = np.maximum(np.full(xm.shape, _LOGIT_MAX), lo)
        lo, hi = _bisect(lambda z, x_of=x_of: T(x_of(z)), lo, hi, target, iterations=80)
        x = x_of(0.5 * (lo + hi))
        # Newton polish in x, kept inside the final bisection bracket (a step across x = 1
        # would land on the other branch)
        x_lo, x_hi = np.sort([x_of(lo), x_of(hi)], axis=0)
        for _ in range(2):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                step = (T(x) - target) / dT(x)
            x = np.where(np.isfinite(step) & (km > 0), np.clip(x - step, x_lo, x_hi), x)
        out[mask] = np.where(km == 0, xm, x) * s[mask]
    return out


def mode_learning_time(s, tau, u0, uf, depth: int = 2) -> float:
    r"""Time for a mode to go from :math:`u_0` to :math:`u_f` (seed 001 mode ODE, any depth).

    :math:`t = \tfrac{\tau}{D s^{2-2/D}}[T_D(u_f/s) - T_D(u_0/s)]` with the closed-form
    antiderivative :math:`T_D` (logarithms for depth 1 and 2, the root-of-unity form of
    :func:`theory.deep_linear.antiderivative_elementary` for depth >= 3, and far above
    :math:`s` the form :func:`theory.deep_linear.antiderivative_far_above`).  Any depth is
    fast: above depth 12 the sums over the roots of unity stay symbolic sums (depth 1000
    takes about a second, most of it building the expression once; relative error against
    30-digit quadrature below 1e-11); depths above :data:`MAX_CLOSED_FORM_DEPTH` are
    refused (cost grows in proportion to the depth).  Requires
    :math:`0 < u_0 < u_f < s` (learning from below) or :math:`s < u_f < u_0` (decay from
    above); at depth 1 :math:`u_0` may be <= 0.
    """
    depth = _closed_form_depth(depth)
    s = as_positive(s, "s")
    tau = as_positive(tau, "tau")
    try:
        u0 = float(u0)
        uf = float(uf)
    except (TypeError, ValueError):
        raise TypeError(f"u0 and uf must be real numbers, got {u0!r}, {uf!r}") from None
    if not (np.isfinite(u0) and np.isfinite(uf)):
        raise ValueError("u0 and uf must be finite")
    if depth > 1 and u0 <= 0:
        raise ValueError(f"u0 must be in (0, s) or (s, inf) for depth > 1, got {u0}")
    if u0 < s:
        if not (u0 < uf < s):
            raise ValueError(f"uf must be in (u0, s) = ({u0:.6g}, {s:.6g}) when u0 < s, got {uf}")
        above = False
    elif u0 > s:
        if not (s < uf < u0):
            raise ValueError(f"uf must be in (s, u0) = ({s:.6g}, {u0:.6g}) when u0 > s, got {uf}")
        above = True
    else:
        raise ValueError(f"u0 must differ from s (a mode at u0 = s never moves), got {u0}")
    if depth >= 3:
        _check_resolvable(np.float64(s), np.float64(u0), depth)
        if above and u0 > _FAR * s:
            # far above: (tau/D)[H(u) - H(u0)], exact at any s; the part below 2s (if any) in
            # the root-of-unity form, accurate near s
            H = _far_above(depth)
            u_mid = max(uf, _FAR * s)
            t = tau / depth * float(H(u_mid, s) - H(u0, s))
            if uf < u_mid:
                T = _antiderivative(depth, True)
                t += float(_time_scale(depth)(s, tau) * (T(uf / s) - T(u_mid / s)))
            return t
    T = _antiderivative(depth, above)
    return float(_time_scale(depth)(s, tau) * (T(uf / s) - T(u0 / s)))


# ----------------------------------------------------------------------------------------
# full-matrix dynamics
# ----------------------------------------------------------------------------------------

def exercise_problem() -> tuple[np.ndarray, np.ndarray]:
    r"""Seed 001, Exercise 1: :math:`\Sigma^x = I_4` and the 7x4 :math:`\Sigma^{yx}`
    (singular values :math:`\sqrt7, \sqrt3, 1, 1`)."""
    Syx = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 0, 0],
                    [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    return np.eye(4), Syx


@lru_cache(maxsize=8)
def _flow(depth: int):
    weights, Syx, Sx, tau = th.matrix_symbols(depth)
    rhs = th.gradient_flow(weights, Syx, Sx, tau)
    return sp.lambdify([weights, Syx, Sx, tau], rhs, modules="numpy", cse=True)


def flow_rhs(weights: Sequence[np.ndarray], Syx, Sx, tau: float) -> list[np.ndarray]:
    r""":math:`\dot W_l` of the full-matrix gradient flow (seed eqs. (1)-(3)), any depth."""
    ws, Syx, Sx = _check_problem(weights, Syx, Sx)
    return _flow(len(ws))(ws, Syx, Sx, as_positive(tau, "tau"))


def product(weights: Sequence[np.ndarray]) -> np.ndarray:
    """:math:`W_D \\cdots W_1` (``weights`` = [W_1, ..., W_D])."""
    out = weights[0]
    for W in weights[1:]:
        out = W @ out
    return out


def _check_problem(weights, Syx, Sx):
    """Finite Syx, a symmetric PSD Sx of matching size, weights chaining input to output."""
    Syx = np.asarray(Syx, dtype=float)
    if Syx.ndim != 2:
        raise ValueError(f"Syx must be a matrix, got shape {Syx.shape}")
    if not np.all(np.isfinite(Syx)):
        raise ValueError("Syx contains NaN or inf")
    Sx = np.asarray(Sx, dtype=float)
    if Sx.shape != (Syx.shape[1], Syx.shape[1]):
        raise ValueError(f"Sx must have shape {(Syx.shape[1],) * 2}, got {Sx.shape}")
    Sx = as_covariance(Sx, "Sx")
    ws = [np.array(w, dtype=float) for w in weights]
    if not ws:
        raise ValueError("weights must hold at least one matrix")
    for l, w in enumerate(ws):
        if w.ndim != 2:
            raise ValueError(f"weights[{l}] must be a matrix, got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights[{l}] contains NaN or inf")
    if ws[0].shape[1] != Syx.shape[1] or ws[-1].shape[0] != Syx.shape[0]:
        raise ValueError("weights must map the input dimension of Syx to its output dimension")
    for l in range(1, len(ws)):
        if ws[l].shape[1] != ws[l - 1].shape[0]:
            raise ValueError(f"weights[{l}] has {ws[l].shape[1]} columns, weights[{l - 1}] "
                             f"{ws[l - 1].shape[0]} rows")
    return ws, Syx, Sx


@dataclass(frozen=True)
class MatrixTrajectory:
    """Full-matrix dynamics: times (T,), products ``W_D...W_1`` (T, n_out, n_in), final weights."""

    t: np.ndarray
    products: np.ndarray
    final_weights: tuple

    def to_dict(self) -> dict:
        return {"t": self.t.tolist(), "products": self.products.tolist(),
                "final_weights": [w.tolist() for w in self.final_weights]}


def euler_dynamics(weights0, Syx, Sx, tau: float, dt: float, t_max: float) -> MatrixTrajectory:
    r"""Forward Euler :math:`W_l \leftarrow W_l + \Delta t\,\dot W_l` (seed Exercise 1.1-1.2).

    Records the product after every step; ``round(t_max/dt)`` steps.
    """
    ws, Syx, Sx = _check_problem(weights0, Syx, Sx)
    tau = as_positive(tau, "tau")
    dt = as_positive(dt, "dt")
    t_max = as_positive(t_max, "t_max")
    steps = int(round(t_max / dt))
    f = _flow(len(ws))
    prods = np.empty((steps + 1,) + Syx.shape)
    prods[0] = product(ws)
    for n in range(steps):
        d = f(ws, Syx, Sx, tau)
        ws = [w + dt * dw for w, dw in zip(ws, d)]
        prods[n + 1] = product(ws)
        if not np.all(np.isfinite(prods[n + 1])):
            raise FloatingPointError(f"Euler dynamics diverged at t = {(n + 1) * dt:.4g}")
    return MatrixTrajectory(np.arange(steps + 1) * dt, prods, tuple(ws))


def integrate_dynamics(weights0, Syx, Sx, tau: float, t_eval, *, rtol: float = 1e-10,
                       atol: float = 1e-12, method: str = "DOP853") -> MatrixTrajectory:
    """The same flow with ``solve_ivp`` (via :func:`numerics.integrate.integrate`)."""
    ws, Syx, Sx = _check_problem(weights0, Syx, Sx)
    tau = as_positive(tau, "tau")
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or t_eval.size < 1 or np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0:
        raise ValueError("t_eval must be an increasing 1-D array of times >= 0")
    shapes = [w.shape for w in ws]
    sizes = [w.size for w in ws]
    f = _flow(len(ws))

    def unpack(y):
        out, k = [], 0
        for shp, n in zip(shapes, sizes):
            out.append(y[k:k + n].reshape(shp))
            k += n
        return out

    def rhs(t, y):
        return np.concatenate([d.ravel() for d in f(unpack(y), Syx, Sx, tau)])

    y0 = np.concatenate([w.ravel() for w in ws])
    traj = integrate(rhs, (0.0, float(t_eval[-1])), y0, t_eval=t_eval, method=method,
                     rtol=rtol, atol=atol)
    Y = traj.y if traj.y.shape[0] == t_eval.size else traj.y.T
    prods = np.stack([product(unpack(y)) for y in Y])
    return MatrixTrajectory(t_eval, prods, tuple(unpack(Y[-1])))


@dataclass(frozen=True)
class ModeTrack:
    """Singular values of the products, sorted descending (T, k), and aligned projections.

    ``projections[:, a]`` is :math:`u_a^\\top W v_a` with the target's singular vectors; it is
    NaN for target singular values that are degenerate (their vectors are not unique), where
    only the sorted values are comparable.  ``target`` holds the target's singular values.
    """

    singular_values: np.ndarray
    projections: np.ndarray
    target: np.ndarray
    distinct: np.ndarray

    def to_dict(self) -> dict:
        return {"singular_values": self.singular_values.tolist(),
                "projections": np.where(np.isnan(self.projections), None,
                                        self.projections).tolist(),
                "target": self.target.tolist(), "distinct": self.distinct.tolist()}


def track_modes(products, Syx, *, rtol: float = 1e-8) -> ModeTrack:
    r"""Track modes of :math:`W(t)` against the SVD :math:`\Sigma^{yx} = USV^\top`.

    Sorted singular values of every product; where a target singular value is distinct
    (relative gap > ``rtol`` to its neighbours) the projection :math:`u_a^\top W v_a` too.
    """
    P = np.asarray(products, dtype=float)
    Syx = np.asarray(Syx, dtype=float)
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(Syx))):
        raise ValueError("products and Syx must be finite (no NaN or inf)")
    if P.ndim == 2:
        P = P[None]
    if P.shape[1:] != Syx.shape:
        raise ValueError(f"products must have shape (T, {Syx.shape[0]}, {Syx.shape[1]}), "
                         f"got {P.shape}")
    U, s, Vt = np.linalg.svd(Syx, full_matrices=False)
    k = s.size
    distinct = np.ones(k, dtype=bool)
    for a in range(k):
        for b in range(k):
            if a != b and abs(s[a] - s[b]) <= rtol * max(s[a], s[b], 1e-300):
                distinct[a] = False
    sv = np.linalg.svd(P, compute_uv=False)[:, :k]
    proj = np.einsum("ia,tij,ja->ta", U, P, Vt.T)
    proj[:, ~distinct] = np.nan
    return ModeTrack(sv, proj, s, distinct)


def decoupled_init(Syx, a0, hidden_units: Sequence[int], *, seed=0) -> list[np.ndarray]:
    r"""Balanced, decoupled weights: every mode :math:`\alpha` of :math:`\Sigma^{yx}=USV^\top`
    starts at product strength ``a0`` (scalar or per mode), each layer carrying
    :math:`c = a_0^{1/D}` on it: :math:`W_1 = R_1 C V^\top`, :math:`W_l = R_l C R_{l-1}^\top`,
    :math:`W_D = U C R_{D-1}^\top` with random orthonormal frames :math:`R_l` (from ``seed``).
    Requires :math:`\Sigma^x = I` for the modes to stay decoupled, and every hidden width
    >= rank.  Then the full flow reduces exactly to the mode ODE (seed 001; Saxe et al. 2014).
    """
    Syx = np.asarray(Syx, dtype=float)
    U, s, Vt = np.linalg.svd(Syx, full_matrices=False)
    r = s.size
    a0 = np.broadcast_to(_as_array(a0, "a0", positive=True), (r,))
    hidden = list(hidden_units)
    for i, h in enumerate(hidden):
        if h < r:
            raise ValueError(f"hidden_units[{i}] must be >= rank {r} of Syx, got {h}")
    D = len(hidden) + 1
    c = np.diag(a0 ** (1.0 / D))
    rng = np.random.default_rng(seed)
    frames = [np.linalg.qr(rng.standard_normal((h, h)))[0][:, :r] for h in hidden]
    left = [*frames, U]
    right = [Vt.T, *frames]
    return [left[l] @ c @ right[l].T for l in range(D)]


def random_init(sizes: Sequence[int], var: float, *, seed=0) -> list[np.ndarray]:
    """Gaussian weights N(0, ``var``) (seed 001 Exercise 1.2 uses var = 0.01); ``sizes`` are
    the layer widths, input first."""
    var = as_positive(var, "var")
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer))
                             or n < 1 for n in sizes):
        raise ValueError(f"sizes must list at least two positive integer widths, got {sizes}")
    rng = np.random.default_rng(seed)
    return [np.sqrt(var) * rng.standard_normal((sizes[l + 1], sizes[l]))
            for l in range(len(sizes) - 1)]
