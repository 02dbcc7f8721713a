r"""Numbers from a derived learning rule (:mod:`theory.rules`): drift, second moment, the
moment map and its trajectory, all lambdified from the derivation.

* :func:`quadrature_modules` — the NumPy implementations lambdify uses for the quadrature
  functions :math:`\mathcal{Q}^{(j)}(\mu, \sigma) = E[u^j H(\mu + \sigma u)]` of
  :mod:`theory.rule_expectation`: composite Gauss–Legendre, ``nodes`` (12) nodes on each of 40
  panels of :math:`u \in [-10, 10]` (the Gaussian mass outside is below 1e-22), a panel split
  at each kink of :math:`H`.  Gauss–Hermite, the textbook choice, was measured first and
  dropped: across the jump of ``sign`` it converges like :math:`1/N` (error 4e-2 at 320
  nodes), and for ``tanh`` with :math:`\sigma = 2` (poles :math:`\pi/4` from the real
  :math:`u` axis) its error is 5e-4 at 48 nodes; the composite rule is at 1e-16 for both, and
  1e-10 for ``tanh`` at :math:`\sigma = 10`.  The integrand :math:`H` and its kinks are
  lambdified from the theory.
* :class:`CompiledRule` — a :class:`theory.rules.DerivedRule` with parameter values: vectorised
  ``drift(w)``, ``second_moment(w)`` and ``covariance(w)`` (of one update), and the one-step
  moment map.
* :func:`moment_trajectory` — iterates the discrete moment map (seed 002 eqs. (10)-(11) with
  the time step :math:`\eta` kept; see :mod:`theory.rules`) from :math:`(w_0, C_0)`; stops with
  :class:`numerics.integrate.DivergenceError` naming the update when it leaves the finite
  region.
* :meth:`CompiledRule.quadrature_error` — the stated error of the quadrature path:
  :math:`\max|\langle f\rangle_N - \langle f\rangle_{2N}|` over given weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from numerics.checks import as_int, as_positive
from numerics.compile import DEFAULT_MODULES, compile_expressions, compile_scalar
from numerics.integrate import DivergenceError
from theory.rule_expectation import U_RANGE, averages_in
from theory.rules import DerivedRule, LearningRule

__all__ = ["DEFAULT_NODES", "quadrature_modules", "average_impl", "resolve_values",
           "CompiledRule", "compiled_rule", "MomentTrajectory", "moment_trajectory",
           "exact_moment_trajectory"]

#: Gauss–Legendre nodes per panel, and panels on u in [-10, 10] (the defaults)
DEFAULT_NODES = 12
PANELS = 40


@lru_cache(maxsize=16)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def average_impl(cls: type, nodes: int = DEFAULT_NODES, panels: int = PANELS):
    r"""NumPy ``f(j, mu, sigma, *extra)`` for the quadrature function class ``cls``
    (:math:`\mathcal{Q}^{(j)} = E[\mathrm{He}_j(u)H(\mu+\sigma u)]/\sigma^j`), vectorised
    over ``mu``, ``sigma`` and the extras: composite Gauss–Legendre with ``nodes`` nodes on each
    of ``panels`` equal panels of :math:`u \in [-10, 10]`, each panel that holds a kink of the
    integrand split there.  For a smooth integrand the average of its j-th derivative
    :math:`E[H^{(j)}(\mu + \sigma u)]` (lambdified from the theory) is integrated, which is
    finite and accurate down to :math:`\sigma = 0`; for one with kinks the Hermite moment
    divided by :math:`\sigma^j` (which needs :math:`\sigma > 0`)."""
    nodes = as_int(nodes, "nodes", 2)
    panels = as_int(panels, "panels", 1)
    tq, *es = cls.integrand.variables
    smooth = not cls.kink_points
    derivs: dict[int, object] = {}

    def H(j):
        if j not in derivs:
            expr = sp.diff(cls.integrand.expr, tq, j) if smooth and j else cls.integrand.expr
            derivs[j] = compile_scalar(expr, [tq, *es])
        return derivs[j]

    kink_fns = [compile_scalar(k, es) for k in cls.kink_points]
    x, wx = _gauss_legendre(nodes)
    grid = np.linspace(-U_RANGE, U_RANGE, panels + 1)

    def average(j, m, s, *extra):
        j = int(j)
        m, s = np.asarray(m, dtype=float), np.asarray(s, dtype=float)
        shape = np.broadcast_shapes(m.shape, s.shape, *(np.shape(e) for e in extra))
        m, s = np.broadcast_to(m, shape), np.broadcast_to(s, shape)
        ex = [np.broadcast_to(np.asarray(e, dtype=float), shape) for e in extra]
        cuts = []
        for k in kink_fns:
            tk = np.broadcast_to(np.asarray(k(*ex), dtype=float), shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                uk = np.where(s > 0, (tk - m) / np.where(s > 0, s, 1.0), U_RANGE)
            cuts.append(np.clip(uk, -U_RANGE, U_RANGE)[..., None])
        edges = np.broadcast_to(grid, shape + grid.shape)
        if cuts:
            edges = np.sort(np.concatenate([edges, *cuts], -1), -1)
        a, b = edges[..., :-1, None], edges[..., 1:, None]
        half = 0.5 * (b - a)
        uu = a + half * (x + 1.0)
        weight = half * wx * np.exp(-0.5 * uu * uu) / np.sqrt(2.0 * np.pi)
        t = m[..., None, None] + s[..., None, None] * uu
        vals = np.broadcast_to(H(j)(t, *[e[..., None, None] for e in ex]), t.shape)
        if smooth or j == 0:
            return (vals * weight).sum((-1, -2))
        he = np.polynomial.hermite_e.hermeval(uu, [0] * j + [1])
        with np.errstate(divide="ignore", invalid="ignore"):
            return (vals * weight * he).sum((-1, -2)) / s**j

    return average


def quadrature_modules(expr, nodes: int = DEFAULT_NODES) -> list:
    """lambdify modules for ``expr``: its quadrature functions, then
    :data:`numerics.compile.DEFAULT_MODULES`."""
    impls = {cls.__name__: average_impl(cls, nodes) for cls in averages_in(expr)}
    return [impls, *DEFAULT_MODULES] if impls else list(DEFAULT_MODULES)


def resolve_values(rule: LearningRule, values: Mapping | None = None) -> dict:
    """Parameter values of ``rule``: its defaults updated by ``values`` (keys: symbols or their
    names).  ``ValueError`` names an unknown parameter, one without a value, or a non-finite
    value."""
    by_name = {p.name: p for p in rule.params}
    out = {p: v for p, v in rule.params.items() if v is not None}
    for k, v in dict(values or {}).items():
        p = by_name.get(k.name if isinstance(k, sp.Symbol) else str(k))
        if p is None:
            raise ValueError(f"rule {rule.name!r} has no parameter {k!s}; its parameters are "
                             f"{', '.join(sorted(by_name)) or '(none)'}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"parameter {p} of rule {rule.name!r} must be a number, got "
                            f"{v!r}") from None
        if not np.isfinite(v):
            raise ValueError(f"parameter {p} of rule {rule.name!r} must be finite, got {v}")
        out[p] = v
    missing = [p.name for p in rule.param_symbols if p not in out]
    if missing:
        raise ValueError(f"rule {rule.name!r}: parameter(s) {', '.join(missing)} have no value; "
                         "give them (e.g. --param NAME=VALUE)")
    return out


class CompiledRule:
    """``derived`` with numeric parameter ``values`` (defaults filled in): vectorised drift,
    second moment, update covariance and the moment map, all lambdified from the theory."""

    def __init__(self, derived: DerivedRule, values: Mapping | None = None, *,
                 nodes: int = DEFAULT_NODES, correction: float = 0.5):
        if not isinstance(derived, DerivedRule):
            raise TypeError(f"expected a theory.rules.DerivedRule, got {type(derived).__name__}")
        self.derived = derived
        self.rule = derived.rule
        self.values = resolve_values(self.rule, values)
        self.nodes = as_int(nodes, "nodes", 2)
        self.correction = float(correction)
        self.n = self.rule.n
        self._params = self.rule.param_symbols
        self._p = np.array([self.values[p] for p in self._params], dtype=float)
        mods = quadrature_modules(sp.Matrix([*derived.drift, *derived.second_moment]),
                                  self.nodes)
        self._drift = compile_expressions(derived.drift, [self.rule.weights, self._params],
                                          modules=mods)
        self._second = compile_expressions(derived.second_moment,
                                           [self.rule.weights, self._params], modules=mods)
        self._map = None
        self._jac = None

    @property
    def uses_quadrature(self) -> bool:
        return bool(self.derived.averages)

    def _w(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=float)
        if w.shape[-1] != self.n:
            raise ValueError(f"w must have {self.n} entries along its last axis, got {w.shape}")
        return w

    def drift(self, w) -> np.ndarray:
        r""":math:`\langle f\rangle(w)` for ``w`` of shape ``(..., n)`` -> ``(..., n)``."""
        w = self._w(w)
        out = self._drift(np.moveaxis(w, -1, 0), self._p)
        return np.moveaxis(np.asarray(out).reshape((self.n,) + w.shape[:-1]), 0, -1)

    def second_moment(self, w) -> np.ndarray:
        r""":math:`\langle ff^\top\rangle(w)`: ``(..., n)`` -> ``(..., n, n)``."""
        w = self._w(w)
        out = np.asarray(self._second(np.moveaxis(w, -1, 0), self._p))
        out = out.reshape((self.n, self.n) + w.shape[:-1])
        return np.moveaxis(np.moveaxis(out, 0, -1), 0, -1)

    def covariance(self, w) -> np.ndarray:
        r"""The covariance of one update, :math:`\langle ff^\top\rangle - \langle f\rangle
        \langle f\rangle^\top`."""
        d = self.drift(w)
        return self.second_moment(w) - d[..., :, None] * d[..., None, :]

    def quadrature_error(self, ws) -> float:
        """Max |drift with ``nodes`` - drift with ``2 nodes``| over the weights ``ws`` (..., n);
        0.0 when the rule needs no quadrature."""
        if not self.uses_quadrature:
            return 0.0
        fine = CompiledRule(self.derived, self.values, nodes=2 * self.nodes,
                            correction=self.correction)
        return float(np.max(np.abs(self.drift(ws) - fine.drift(ws))))

    def jacobian(self, w) -> np.ndarray:
        r""":math:`J_{ik} = \partial_k\langle f_i\rangle(w)` (from the theory's symbolic
        Jacobian) for ``w`` of shape ``(n,)`` -> ``(n, n)``."""
        if self._jac is None:
            J = self.derived.moments(self.correction).jacobian
            self._jac = compile_expressions(J, [self.rule.weights, self._params],
                                            modules=quadrature_modules(J, self.nodes))
        return np.asarray(self._jac(self._w(w), self._p), dtype=float).reshape(self.n, self.n)

    def fixed_point(self, w_start, *, tol: float = 1e-12) -> np.ndarray:
        r"""A zero of the drift :math:`\langle f\rangle(w) = 0` near ``w_start`` (Newton's
        method with the theory's Jacobian, :func:`scipy.optimize.root`); ``ValueError`` if it
        does not converge."""
        from scipy.optimize import root

        sol = root(lambda w: self.drift(w), np.asarray(w_start, dtype=float),
                   jac=self.jacobian, method="hybr", tol=tol)
        if not sol.success or not np.all(np.isfinite(sol.x)):
            raise ValueError(f"rule {self.rule.name!r}: no fixed point of the drift found near "
                             f"{w_start!r} ({sol.message})")
        return sol.x

    # ---------------------------------------------------------------- the moment map
    def _compiled_map(self):
        if self._map is None:
            mm = self.derived.moment_map(self.correction)
            mods = quadrature_modules(sp.Matrix(mm.next_state), self.nodes)
            self._map = compile_expressions(list(mm.next_state),
                                            [mm.state, mm.params, mm.eta], modules=mods)
        return self._map

    def map_step(self, state, eta: float) -> np.ndarray:
        """One update of the state (means, then the covariance upper triangle)."""
        return np.asarray(self._compiled_map()(state, self._p, eta), dtype=float)


@lru_cache(maxsize=32)
def _compiled_cached(derived, values: tuple, nodes: int, correction: float) -> CompiledRule:
    return CompiledRule(derived, dict(values), nodes=nodes, correction=correction)


def compiled_rule(derived: DerivedRule, values: Mapping | None = None, *,
                  nodes: int = DEFAULT_NODES, correction: float = 0.5) -> CompiledRule:
    """:class:`CompiledRule` of ``derived`` with these values, compiled once per process
    (repeated checks of one rule, e.g. a calibration over seeds, reuse it)."""
    vals = resolve_values(derived.rule, values)
    key = tuple(sorted(((p.name, float(v)) for p, v in vals.items())))
    return _compiled_cached(derived, key, int(nodes), float(correction))


@dataclass(frozen=True)
class MomentTrajectory:
    """Means ``(m, n)`` and covariances ``(m, n, n)`` after ``steps`` updates
    (``times = eta * steps``) from the discrete moment map."""

    steps: np.ndarray
    times: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    eta: float

    def to_dict(self) -> dict:
        return {"steps": self.steps.tolist(), "times": self.times.tolist(),
                "mean": self.mean.tolist(), "cov": self.cov.tolist(), "eta": self.eta}


def _pack(m: np.ndarray, C: np.ndarray) -> np.ndarray:
    n = m.size
    iu = np.triu_indices(n)
    return np.concatenate([m, C[iu]])


def _unpack(state: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    m = state[:n]
    C = np.zeros((n, n))
    iu = np.triu_indices(n)
    C[iu] = state[n:]
    C = C + np.triu(C, 1).T
    return m, C


def moment_trajectory(compiled: CompiledRule, w0, eta: float, steps: int, *,
                      record_steps=None, C0=None) -> MomentTrajectory:
    """Iterate the moment map ``steps`` times from mean ``w0`` and covariance ``C0``
    (default 0: every learner starts at ``w0``), recording at ``record_steps``."""
    n = compiled.n
    eta = as_positive(eta, "eta")
    steps = as_int(steps, "steps", 1)
    m0 = np.asarray(w0, dtype=float)
    if m0.shape != (n,) or not np.all(np.isfinite(m0)):
        raise ValueError(f"w0 must be {n} finite numbers, got {w0!r}")
    C = np.zeros((n, n)) if C0 is None else np.asarray(C0, dtype=float)
    if C.shape != (n, n):
        raise ValueError(f"C0 must be {n}x{n}, got {C.shape}")
    rec = np.arange(steps + 1) if record_steps is None else \
        np.unique(np.asarray(record_steps, dtype=np.int64))
    if rec.size == 0 or rec[0] < 0 or rec[-1] > steps:
        raise ValueError(f"record_steps must lie in [0, {steps}]")
    means = np.empty((rec.size, n))
    covs = np.empty((rec.size, n, n))
    state = _pack(m0, C)
    k = 0
    for step in range(steps + 1):
        if step > 0:
            state = compiled.map_step(state, eta)
            if not np.all(np.isfinite(state)) or np.max(np.abs(state)) > 1e150:
                raise DivergenceError(
                    f"the moment map of rule {compiled.rule.name!r} left the finite region at "
                    f"update {step} (t = {eta * step:.6g}): the mean or covariance became "
                    "NaN/inf; the learning rate may be beyond the stability bound or the "
                    "weights left the domain of the drift", eta * step)
        while k < rec.size and rec[k] == step:
            means[k], covs[k] = _unpack(state, n)
            k += 1
    return MomentTrajectory(steps=rec, times=eta * rec.astype(float), mean=means, cov=covs,
                            eta=eta)


@lru_cache(maxsize=16)
def _exact_map(rule: LearningRule):
    from theory.rules import exact_moment_map

    mm = exact_moment_map(rule)
    return mm, compile_expressions(list(mm.next_state), [mm.state, mm.params, mm.eta])


def exact_moment_trajectory(rule: LearningRule, values: Mapping | None, w0, eta: float,
                            steps: int, *, record_steps=None) -> MomentTrajectory:
    """The exact mean and covariance of a rule affine in the weights
    (:func:`theory.rules.exact_moment_map`), every learner starting at ``w0``."""
    vals = resolve_values(rule, values)
    mm, fn = _exact_map(rule)
    p = np.array([vals[s] for s in mm.params], dtype=float)
    n = rule.n
    eta = as_positive(eta, "eta")
    steps = as_int(steps, "steps", 1)
    rec = np.arange(steps + 1) if record_steps is None else \
        np.unique(np.asarray(record_steps, dtype=np.int64))
    m0 = np.asarray(w0, dtype=float)
    if m0.shape != (n,):
        raise ValueError(f"w0 must have {n} entries, got {m0.shape}")
    state = _pack(m0, np.outer(m0, m0))
    means = np.empty((rec.size, n))
    covs = np.empty((rec.size, n, n))
    k = 0
    for step in range(steps + 1):
        if step > 0:
            state = np.asarray(fn(state, p, eta), dtype=float)
            if not np.all(np.isfinite(state)):
                raise DivergenceError(f"the exact moments of rule {rule.name!r} diverged at "
                                      f"update {step}", eta * step)
        while k < rec.size and rec[k] == step:
            m, K = _unpack(state, n)
            means[k], covs[k] = m, K - np.outer(m, m)
            k += 1
    return MomentTrajectory(steps=rec, times=eta * rec.astype(float), mean=means, cov=covs,
                            eta=eta)
