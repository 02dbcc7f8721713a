r"""A learning rule written once, as SymPy data, from which the theory is derived and the
simulator generated.

A :class:`LearningRule` holds

* the **weights** :math:`w_0, \ldots, w_{n-1}` (SymPy symbols);
* the **random variables** of one update: Gaussian blocks (:class:`Normal`, e.g. inputs
  :math:`x \sim N(\mu, \Sigma)` or output noise :math:`\xi \sim N(0, s^2)`), Gaussian mixtures
  with a label (:class:`Mixture`: :math:`x\,|\,y \sim N(\mu_y, \Sigma_y)`), and discrete
  variables whose probabilities may depend on the weights and inputs (:class:`Choice`: the
  sampled action of REINFORCE);
* the declared **parameters** (with default values) and the learning rate :math:`\eta`;
* the **update** :math:`f(w, x, \xi, \ldots)`, a SymPy column: :math:`w \leftarrow w + \eta f`.

:func:`derive` takes, from that one object, the drift :math:`\langle f\rangle(w)` and the
second moment :math:`\langle f f^\top\rangle(w)` (:mod:`theory.rule_expectation`: Isserlis for
polynomial rules, the Gaussian table for erf sigmoids, quadrature otherwise; the result
records the path of each), the moment equations of Schmid & Murray's eqs. (10)-(11) with the
:math:`O(\eta)` diffusion term (:func:`theory.moments.derive_moments`), and their discrete
form with the time step :math:`\eta` kept (:meth:`DerivedRule.moment_map`):

.. math::

    m' &= m + \eta\,\bar f, \qquad \bar f = \langle f\rangle(m) + \tfrac12\sum_{kl} C_{kl}\,
          \partial_k\partial_l\langle f\rangle(m), \\
    C' &= C + \eta\,(JC + CJ^\top) + \eta^2\Big(\langle ff^\top\rangle(m) + \tfrac12\sum_{kl}
          C_{kl}\,\partial_k\partial_l\langle ff^\top\rangle(m) - \bar f\bar f^\top\Big),

the one-step map of the mean and covariance of :math:`w \leftarrow w + \eta f` to second order
in :math:`w - m` (:math:`w` averaged over a distribution with mean :math:`m` and covariance
:math:`C`; the third and higher cumulants dropped, as in eqs. (10)-(11)).  Its
:math:`\eta \to 0` limit is eqs. (10)-(11) with the diffusion term; for a rule affine in the
weights (LMS, Hebb with decay) it is exact (tested against :func:`exact_moment_map`).
Iterating it removes the :math:`O(\eta)` time-discretisation bias of the ODE, which is as
large as the standard error of an ensemble mean of :math:`R \gtrsim 1/\eta` replicas, and the
:math:`O(\eta)` relative bias of the ODE's covariance.

:mod:`numerics.sim.generated` lambdifies the same update into a batched simulator that draws
its random variables from the same definitions, so that the model simulated and the model
whose expectations the theory takes are one object.

Bad input is refused here, by name: a symbol in the update that is neither a weight, a random
variable nor a declared parameter; a numeric covariance that is not positive semidefinite;
probabilities that do not sum to one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex
from theory.moments import MomentSystem, derive_moments
from theory.rule_expectation import (
    GaussianAverage,
    averages_in,
    combine_paths,
    gaussian_average,
)

__all__ = ["Normal", "Component", "Mixture", "Choice", "LearningRule", "DerivedRule",
           "MomentMap", "derive", "expectation", "exact_moment_map", "rule_latex_model",
           "RuleError"]


class RuleError(ValueError):
    """A learning rule that cannot be defined as given (the message names the culprit)."""


def _symbols(value, what: str) -> tuple[sp.Symbol, ...]:
    if isinstance(value, sp.Symbol):
        value = (value,)
    if isinstance(value, sp.MatrixBase):
        value = tuple(value)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{what} must be a SymPy Symbol or a sequence of them, got "
                        f"{type(value).__name__}") from None
    if not out or not all(isinstance(s, sp.Symbol) for s in out):
        raise TypeError(f"{what} must be a non-empty sequence of SymPy Symbols, got {value!r}")
    if len(set(out)) != len(out):
        raise RuleError(f"{what} must be distinct symbols, got {out}")
    return out


def _column(value, k: int, what: str) -> sp.ImmutableMatrix:
    if value is None:
        return sp.ImmutableMatrix.zeros(k, 1)
    if isinstance(value, (int, float)) or (isinstance(value, sp.Basic) and
                                           not isinstance(value, sp.MatrixBase)):
        value = [value]
    m = sp.ImmutableMatrix(sp.Matrix(value))
    if m.shape == (1, k):
        m = m.T
    if m.shape != (k, 1):
        raise RuleError(f"{what} must have {k} entries, got shape {m.shape}")
    return m


def _square(value, k: int, what: str) -> sp.ImmutableMatrix:
    if value is None:
        return sp.ImmutableMatrix.eye(k)
    if isinstance(value, (int, float)) or (isinstance(value, sp.Basic) and
                                           not isinstance(value, sp.MatrixBase)):
        value = [[value]]
    m = sp.ImmutableMatrix(sp.Matrix(value))
    if m.shape != (k, k):
        raise RuleError(f"{what} must be {k}x{k}, got shape {m.shape}")
    if (m - m.T).applyfunc(sp.simplify) != sp.zeros(k, k):
        raise RuleError(f"{what} must be symmetric")
    if not m.free_symbols:
        ev = [complex(e).real for e in sp.Matrix(m).evalf().eigenvals(multiple=True)] \
            if k <= 4 else None
        if ev is None:
            import mpmath

            ev = [float(e) for e in mpmath.eigsy(mpmath.matrix(m.tolist()))[0]]
        scale = max(1e-300, max(abs(float(x)) for x in m))
        if min(ev) < -1e-10 * scale * k:
            raise RuleError(f"{what} must be positive semidefinite (smallest eigenvalue "
                            f"{min(ev):.3g})")
    return m


def _is_one(total) -> bool:
    """A sum of probabilities equal to 1 (exactly, or to 1e-12 when it is a float)."""
    if total.is_Number:
        return abs(float(total) - 1.0) <= 1e-12
    return sp.simplify(total - 1) == 0


def _name(symbols) -> str:
    return ", ".join(map(str, symbols))


@dataclass(frozen=True, eq=False)
class Normal:
    """A Gaussian block: ``symbols ~ N(mean, cov)`` (mean default 0, covariance default I);
    entries may be numbers or declared parameters, not weights."""

    symbols: tuple
    mean: object = None
    cov: object = None

    def __post_init__(self):
        syms = _symbols(self.symbols, "Normal symbols")
        object.__setattr__(self, "symbols", syms)
        what = f"the covariance of ({_name(syms)})"
        object.__setattr__(self, "mean", _column(self.mean, len(syms), f"the mean of "
                                                 f"({_name(syms)})"))
        object.__setattr__(self, "cov", _square(self.cov, len(syms), what))

    @property
    def random(self) -> tuple[sp.Symbol, ...]:
        return self.symbols


@dataclass(frozen=True, eq=False)
class Component:
    """One component of a :class:`Mixture`: probability, mean, covariance and the value the
    mixture's label takes in it."""

    probability: object
    mean: object = None
    cov: object = None
    label: object = None


@dataclass(frozen=True, eq=False)
class Mixture:
    r"""A Gaussian mixture with a label: with probability :math:`p_k`, ``label = label_k`` and
    ``symbols ~ N(mean_k, cov_k)`` (the perceptron's classes :math:`x|y \sim N(\mu_y,
    \Sigma_y)`)."""

    symbols: tuple
    components: tuple
    label: sp.Symbol | None = None

    def __post_init__(self):
        syms = _symbols(self.symbols, "Mixture symbols")
        object.__setattr__(self, "symbols", syms)
        k = len(syms)
        comps = []
        for i, c in enumerate(self.components):
            if not isinstance(c, Component):
                c = Component(*c) if isinstance(c, (tuple, list)) else c
            if not isinstance(c, Component):
                raise TypeError(f"mixture component {i} must be a Component, got {c!r}")
            p = sp.sympify(c.probability)
            comps.append(Component(p, _column(c.mean, k, f"the mean of component {i}"),
                                   _square(c.cov, k, f"the covariance of ({_name(syms)}) "
                                           f"in component {i}"),
                                   None if c.label is None else sp.sympify(c.label)))
        if not comps:
            raise RuleError("a Mixture needs at least one component")
        total = sp.simplify(sum(c.probability for c in comps))
        if not _is_one(total):
            raise RuleError(f"the probabilities of the mixture of ({_name(syms)}) must sum to 1, "
                            f"got {total}")
        if self.label is not None and not isinstance(self.label, sp.Symbol):
            raise TypeError(f"a Mixture's label must be a Symbol, got {self.label!r}")
        if self.label is not None and any(c.label is None for c in comps):
            raise RuleError(f"every component must give the label {self.label} a value")
        object.__setattr__(self, "components", tuple(comps))

    @property
    def random(self) -> tuple[sp.Symbol, ...]:
        return self.symbols + ((self.label,) if self.label is not None else ())


@dataclass(frozen=True, eq=False)
class Choice:
    r"""A discrete random variable: ``symbol = values[k]`` with probability
    ``probabilities[k]``, which may depend on the weights, the Gaussian variables, labels and
    earlier choices (REINFORCE's action :math:`\hat y = \pm 1` with
    :math:`P(\hat y) = \phi(\hat y\, w\cdot x)`)."""

    symbol: sp.Symbol
    values: tuple
    probabilities: tuple

    def __post_init__(self):
        if not isinstance(self.symbol, sp.Symbol):
            raise TypeError(f"a Choice's symbol must be a Symbol, got {self.symbol!r}")
        vals = tuple(sp.sympify(v) for v in self.values)
        probs = tuple(sp.sympify(p) for p in self.probabilities)
        if len(vals) < 2 or len(vals) != len(probs):
            raise RuleError(f"Choice {self.symbol}: give two or more values and one probability "
                            f"per value, got {len(vals)} and {len(probs)}")
        if not _is_one(sp.simplify(sp.expand(sum(probs)))):
            raise RuleError(f"the probabilities of Choice {self.symbol} must sum to 1, got "
                            f"{sp.simplify(sum(probs))}")
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "probabilities", probs)

    @property
    def random(self) -> tuple[sp.Symbol, ...]:
        return (self.symbol,)


@dataclass(frozen=True, eq=False)
class LearningRule:
    r"""An online learning rule :math:`w \leftarrow w + \eta f(w, \text{random})`.

    ``weights``: the weight symbols. ``update``: :math:`f`, one expression per weight.
    ``random``: :class:`Normal`, :class:`Mixture` and :class:`Choice` variables of one update
    (independent across updates). ``params``: declared parameters, a mapping ``symbol ->
    default value`` (``None``: no default) or a sequence of symbols. ``eta``: the learning-rate
    symbol. ``defaults``: suggested settings of a check (``w0``, ``eta``, ``t_end``,
    ``replicas``). ``symbols``: :class:`theory.latex.Sym` entries for LaTeX (missing ones are
    generated from the roles).
    """

    name: str
    weights: tuple
    update: object
    random: tuple = ()
    params: object = field(default_factory=dict)
    eta: sp.Symbol = sp.Symbol("eta", positive=True)
    description: str = ""
    source: str = ""
    defaults: Mapping = field(default_factory=dict)
    symbols: tuple = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z][\w\-]*", self.name):
            raise RuleError(f"a rule's name must be a word (letters, digits, _ or -), got "
                            f"{self.name!r}")
        w = _symbols(self.weights, f"rule {self.name!r}: weights")
        object.__setattr__(self, "weights", w)
        upd = self.update
        if isinstance(upd, sp.Basic) and not isinstance(upd, sp.MatrixBase):
            upd = [upd]
        upd = sp.ImmutableMatrix(sp.Matrix(list(upd) if not isinstance(upd, sp.MatrixBase)
                                           else upd))
        if upd.shape == (1, len(w)) and len(w) > 1:
            upd = upd.T
        if upd.shape != (len(w), 1):
            raise RuleError(f"rule {self.name!r}: the update must have one entry per weight "
                            f"({len(w)}), got shape {upd.shape}")
        object.__setattr__(self, "update", upd)
        rand = self.random
        if isinstance(rand, (Normal, Mixture, Choice)):
            rand = (rand,)
        rand = tuple(rand)
        for r in rand:
            if not isinstance(r, (Normal, Mixture, Choice)):
                raise TypeError(f"rule {self.name!r}: random variables must be Normal, Mixture "
                                f"or Choice, got {type(r).__name__}")
        object.__setattr__(self, "random", rand)
        params = self.params
        if not isinstance(params, Mapping):
            params = dict.fromkeys(_symbols(params, "params") if params else ())
        clean = {}
        for k, v in params.items():
            if not isinstance(k, sp.Symbol):
                raise TypeError(f"rule {self.name!r}: parameters must be SymPy Symbols, got {k!r}")
            if v is not None:
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise TypeError(f"rule {self.name!r}: the default of parameter {k} must be a "
                                    f"number, got {v!r}") from None
                if v != v or v in (float("inf"), float("-inf")):
                    raise RuleError(f"rule {self.name!r}: the default of parameter {k} must be "
                                    f"finite, got {v}")
            clean[k] = v
        object.__setattr__(self, "params", dict(clean))
        if not isinstance(self.eta, sp.Symbol):
            raise TypeError(f"eta must be a Symbol, got {self.eta!r}")
        object.__setattr__(self, "defaults", dict(self.defaults))
        object.__setattr__(self, "symbols", tuple(self.symbols))
        self._check_symbols()

    # ------------------------------------------------------------------ roles
    @property
    def n(self) -> int:
        return len(self.weights)

    @property
    def gaussian(self) -> tuple[sp.Symbol, ...]:
        """All Gaussian symbols, blocks in declaration order."""
        return tuple(s for r in self.random if not isinstance(r, Choice) for s in r.symbols)

    @property
    def labels(self) -> tuple[sp.Symbol, ...]:
        return tuple(r.label for r in self.random if isinstance(r, Mixture) and r.label is not None)

    @property
    def choices(self) -> tuple[Choice, ...]:
        return tuple(r for r in self.random if isinstance(r, Choice))

    @property
    def mixtures(self) -> tuple[Mixture, ...]:
        return tuple(r for r in self.random if isinstance(r, Mixture))

    @property
    def normals(self) -> tuple[Normal, ...]:
        return tuple(r for r in self.random if isinstance(r, Normal))

    @property
    def random_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(s for r in self.random for s in r.random)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sorted(self.params, key=lambda s: s.name))

    def _check_symbols(self) -> None:
        w, rnd, par = set(self.weights), self.random_symbols, set(self.params)
        seen: dict = {}
        for s in (*self.weights, *rnd, *self.params, self.eta):
            if s in seen:
                raise RuleError(f"rule {self.name!r}: symbol {s} is declared twice")
            seen[s] = True

        def roles() -> str:
            return (f"neither a weight ({_name(self.weights)}), a random variable "
                    f"({_name(rnd) or 'none'}) nor a declared parameter "
                    f"({_name(self.param_symbols) or 'none'})")

        unknown = self.update.free_symbols - w - set(rnd) - par
        if self.eta in unknown:
            raise RuleError(f"rule {self.name!r}: the update f must not contain the learning "
                            f"rate {self.eta} (the rule is w <- w + {self.eta} f)")
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise RuleError(f"rule {self.name!r}: the update uses {names}, which is {roles()}; "
                            "declare it in params= or fix the expression")
        for r in self.random:
            blocks = ([(r.mean, r.cov, "")] if isinstance(r, Normal) else
                      [(c.mean, c.cov, f" (component {i})") for i, c in enumerate(r.components)]
                      if isinstance(r, Mixture) else [])
            for mean, cov, where in blocks:
                bad = (mean.free_symbols | cov.free_symbols) - par
                if bad:
                    raise RuleError(f"rule {self.name!r}: the distribution of "
                                    f"({_name(r.symbols)}){where} uses "
                                    f"{', '.join(sorted(map(str, bad)))}, which is not a declared "
                                    "parameter (means and covariances may depend on parameters "
                                    "only)")
            if isinstance(r, Mixture):
                for c in r.components:
                    bad = c.probability.free_symbols - par
                    if bad:
                        raise RuleError(f"rule {self.name!r}: a mixture probability uses "
                                        f"{', '.join(sorted(map(str, bad)))}, not a parameter")
        earlier: set = set()
        allowed = w | set(self.gaussian) | set(self.labels) | par
        for ch in self.choices:
            bad = set().union(*(p.free_symbols for p in ch.probabilities)) - allowed - earlier
            if bad:
                raise RuleError(f"rule {self.name!r}: the probabilities of Choice {ch.symbol} use "
                                f"{', '.join(sorted(map(str, bad)))}, which is {roles()} "
                                "(or an earlier Choice)")
            earlier.add(ch.symbol)


# ----------------------------------------------------------------------- expectations


def expectation(rule: LearningRule, expr) -> tuple[sp.Expr, str]:
    """``(E[expr], path)`` over one update's random variables: the choices by exact sums
    (last declared first), the mixtures by their components, the Gaussians by
    :func:`theory.rule_expectation.gaussian_average`."""
    expr = sp.sympify(expr)
    for ch in reversed(rule.choices):
        if expr.has(ch.symbol):
            expr = sum((p * expr.xreplace({ch.symbol: v})
                        for v, p in zip(ch.values, ch.probabilities)), sp.S.Zero)
    mixtures = rule.mixtures
    total, paths = sp.S.Zero, []
    for combo in itertools.product(*(m.components for m in mixtures)):
        prob = sp.Mul(*(c.probability for c in combo))
        e = expr.xreplace({m.label: c.label for m, c in zip(mixtures, combo)
                           if m.label is not None})
        g, means, covs = [], [], []
        blocks = [(b.symbols, b.mean, b.cov) for b in rule.normals] + \
                 [(m.symbols, c.mean, c.cov) for m, c in zip(mixtures, combo)]
        for syms, mean, cov in blocks:
            if e.free_symbols & set(syms):  # blocks are independent: drop unused ones
                g += syms
                means.append(mean)
                covs.append(cov)
        if not g:
            val, path = e, "wick"
        else:
            val, path = gaussian_average(e, g, sp.Matrix.vstack(*means), sp.diag(*covs))
        total += prob * val
        paths.append(path)
    return total, combine_paths(*paths)


# ----------------------------------------------------------------------- derivation


@dataclass(frozen=True)
class MomentMap:
    """The discrete moment map (module docstring): ``state`` (means, then the covariance upper
    triangle, as in :class:`theory.moments.MomentSystem`) to ``next_state``; ``params`` the
    rule's parameters, ``eta`` the learning rate."""

    state: tuple[sp.Symbol, ...]
    next_state: tuple[sp.Expr, ...]
    params: tuple[sp.Symbol, ...]
    eta: sp.Symbol


@dataclass(frozen=True, eq=False)
class DerivedRule:
    """What :func:`derive` takes from a :class:`LearningRule`: the drift and second moment, the
    path each took, and the quadrature functions they use (if any)."""

    rule: LearningRule
    drift: sp.ImmutableMatrix
    second_moment: sp.ImmutableMatrix
    paths: Mapping[str, str]
    averages: tuple = ()

    @property
    def weights(self) -> tuple[sp.Symbol, ...]:
        return self.rule.weights

    @property
    def path(self) -> str:
        """The least exact path of the drift and second moment."""
        return combine_paths(*self.paths.values())

    def moments(self, correction=sp.Rational(1, 2)) -> MomentSystem:
        """Seed 002 eqs. (10)-(11) with the :math:`O(\\eta)` diffusion term (finite_lr)."""
        return _moments(self, sp.nsimplify(correction))

    def moment_map(self, correction=sp.Rational(1, 2)) -> MomentMap:
        """The discrete one-step moment map (module docstring)."""
        return _moment_map(self, sp.nsimplify(correction))

    def to_dict(self) -> dict:
        from theory.serialize import dumps

        return {"rule": self.rule.name, "paths": dict(self.paths),
                "weights": [str(w) for w in self.weights],
                "drift": [str(e) for e in self.drift],
                "second_moment": [[str(e) for e in row] for row in self.second_moment.tolist()],
                "drift_srepr": None if self.averages else dumps(self.drift)}


@lru_cache(maxsize=64)
def _moments(derived: DerivedRule, correction) -> MomentSystem:
    return derive_moments(derived.drift, derived.weights, derived.second_moment,
                          correction=correction, finite_lr=True, eta=derived.rule.eta,
                          name=derived.rule.name)


@lru_cache(maxsize=64)
def _moment_map(derived: DerivedRule, correction) -> MomentMap:
    system = _moments(derived, correction)
    n, eta, c = system.n, system.eta, correction
    w = sp.Matrix(system.weights)
    J = sp.Matrix(system.jacobian)
    C = sp.Matrix(system.covariance)
    fbar = sp.Matrix(system.mean_rhs)
    S = derived.second_moment
    mean = [w[i] + eta * fbar[i] for i in range(n)]
    cov = []
    for i in range(n):
        for j in range(i, n):
            hess = sp.hessian(S[i, j], w)
            ES = S[i, j] + c * sum(C[k, l] * hess[k, l] for k in range(n) for l in range(n))
            drift_part = sum(J[i, k] * C[k, j] + C[i, k] * J[j, k] for k in range(n))
            cov.append(C[i, j] + eta * drift_part + eta**2 * (ES - fbar[i] * fbar[j]))
    params = tuple(derived.rule.param_symbols)
    return MomentMap(state=system.state_symbols, next_state=tuple(mean + cov), params=params,
                     eta=eta)


@lru_cache(maxsize=16)
def exact_moment_map(rule: LearningRule) -> MomentMap:
    r"""The **exact** one-step map of the mean :math:`m = E[w]` and second moment
    :math:`K = E[ww^\top]` of a rule whose update is affine in the weights
    (:math:`f = A(\text{random})\,w + b(\text{random})`: LMS, Hebb with decay): the weights
    before an update are independent of its random variables, so

    .. math:: m' = m + \eta\,E[f](m), \qquad
              K' = E\big[(w + \eta f)(w + \eta f)^\top\big]
                 \big|_{w_i w_j \to K_{ij},\; w_i \to m_i},

    taken by Isserlis' theorem.  State: ``m_0..``, then ``K_i_j`` (i <= j).  ``RuleError`` if
    the update is not affine in the weights (the moments do not close)."""
    w = list(rule.weights)
    n = len(w)
    for i in range(n):
        e = rule.update[i, 0]
        if not e.is_polynomial(*w) or sp.Poly(e, *w).total_degree() > 1:
            raise RuleError(f"rule {rule.name!r}: update entry {i} is not affine in the weights, "
                            "so the exact moments do not close; use derive(rule).moment_map()")
    eta = rule.eta
    m = sp.symbols(f"m0:{n}", real=True)
    K = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"K_{min(i, j)}_{max(i, j)}", real=True))
    wn = sp.Matrix(w) + eta * rule.update

    def close(expr):
        expr, _ = expectation(rule, sp.expand(expr))
        poly = sp.Poly(sp.expand(expr), *w)
        out = sp.S.Zero
        for exps, coeff in poly.terms():
            idx = [i for i, k in enumerate(exps) for _ in range(k)]
            out += coeff * (1 if not idx else m[idx[0]] if len(idx) == 1 else K[idx[0], idx[1]])
        return sp.expand(out)

    mean = [close(wn[i, 0]) for i in range(n)]
    second = [close(wn[i, 0] * wn[j, 0]) for i in range(n) for j in range(i, n)]
    state = tuple(m) + tuple(K[i, j] for i in range(n) for j in range(i, n))
    return MomentMap(state=state, next_state=tuple(mean + second),
                     params=tuple(rule.param_symbols), eta=eta)


#: a polynomial expectation in at most this many symbols is expanded (what a reader expects to
#: see); beyond it, it stays in the linear forms' means and covariances, whose expansion grows as
#: n^4 for a second moment in n weights (LMS: 2 s at n = 4, 27 s at n = 8 when expanded)
EXPAND_SYMBOLS = 12


def _tidy(e: sp.Expr) -> sp.Expr:
    if isinstance(e, GaussianAverage) or e.atoms(GaussianAverage) or e.has(sp.erf):
        return e
    if len(e.free_symbols) > EXPAND_SYMBOLS:
        return e
    return sp.expand(e)


@lru_cache(maxsize=64)
def derive(rule: LearningRule) -> DerivedRule:
    """Drift :math:`\\langle f\\rangle(w)` and second moment :math:`\\langle ff^\\top\\rangle(w)`
    of ``rule`` (exact where Isserlis or the table apply, quadrature otherwise)."""
    if not isinstance(rule, LearningRule):
        raise TypeError(f"derive needs a LearningRule, got {type(rule).__name__}")
    n = rule.n
    f = rule.update
    drift, paths_d = [], []
    for i in range(n):
        v, p = expectation(rule, f[i, 0])
        drift.append(_tidy(v))
        paths_d.append(p)
    second = [[None] * n for _ in range(n)]
    paths_s = []
    for i in range(n):
        for j in range(i, n):
            v, p = expectation(rule, f[i, 0] * f[j, 0])
            second[i][j] = second[j][i] = _tidy(v)
            paths_s.append(p)
    drift_m = sp.ImmutableMatrix(n, 1, drift)
    second_m = sp.ImmutableMatrix(second)
    averages = tuple(dict.fromkeys(averages_in(drift_m) + averages_in(second_m)))
    return DerivedRule(rule=rule, drift=drift_m, second_moment=second_m,
                       paths={"drift": combine_paths(*paths_d),
                              "second_moment": combine_paths(*paths_s)},
                       averages=averages)


# ----------------------------------------------------------------------- LaTeX

_PATH_WORDS = {
    "wick": "exactly, by Isserlis' theorem",
    "gaussian-table": "exactly, by the table of Gaussian identities (Owen 1980)",
    "quadrature": r"by Gaussian quadrature ($\mathcal{Q}$ below)",
}

_FAMILY = re.compile(r"^([A-Za-z]+?)_?(\d+)$")


def _auto_symbols(rule: LearningRule, extra: Sequence[tuple[sp.Symbol, str]]) -> list[Sym]:
    """Symbol-table entries for every symbol of ``rule`` that ``rule.symbols`` lacks: families
    ``w0, w1, ...`` become one entry ``w_i``."""
    given = list(rule.symbols)

    def covered(name: str) -> bool:
        return any(s.tex_for(name) is not None for s in given)

    roles: list[tuple[sp.Symbol, str]] = [(w, "a weight") for w in rule.weights]
    for r in rule.random:
        if isinstance(r, Normal):
            roles += [(s, "a Gaussian random variable of one update (distribution below)")
                      for s in r.symbols]
        elif isinstance(r, Mixture):
            roles += [(s, "a Gaussian-mixture random variable of one update (distribution "
                       "below)") for s in r.symbols]
            if r.label is not None:
                roles.append((r.label, "the label of the mixture component"))
        else:
            roles.append((r.symbol, "a discrete random variable of one update"))
    roles += [(p, "a parameter") for p in rule.param_symbols]
    roles += [(rule.eta, "the learning rate")]
    roles += list(extra)
    out = list(given)
    families: dict[str, list] = {}
    for s, meaning in roles:
        if covered(s.name):
            continue
        m = _FAMILY.match(s.name)
        if m:
            families.setdefault((m.group(1), meaning), []).append(s)
        else:
            out.append(Sym(s.name, sp.latex(s), meaning))
    for (prefix, meaning), syms in families.items():
        base = sp.latex(sp.Symbol(prefix))
        if len(syms) == 1:
            s = syms[0]
            out.append(Sym(s.name, sp.latex(s), meaning))
        else:
            sep = "_" if any("_" in s.name for s in syms) else ""
            out.append(Sym(rf"{prefix}{sep}(\d+)", f"{base}_{{#1}}", meaning,
                           generic=f"{base}_{{i}}"))
    return out


def _distribution_lines(rule: LearningRule) -> list:
    lines = []

    def block(syms, mean, cov, note=None):
        out = []
        for i, s in enumerate(syms):
            out.append(Rel(Tex(rf"E[{sp.latex(s)}]", (s.name,)), mean[i, 0], note=note))
        for i in range(len(syms)):
            for j in range(i, len(syms)):
                if i != j and cov[i, j] == 0:
                    continue
                lhs = (rf"\operatorname{{Var}}({sp.latex(syms[i])})" if i == j else
                       rf"\operatorname{{Cov}}({sp.latex(syms[i])}, {sp.latex(syms[j])})")
                out.append(Rel(Tex(lhs, (syms[i].name, syms[j].name)), cov[i, j], note=note))
        return out

    for r in rule.random:
        if isinstance(r, Normal):
            lines += block(r.symbols, r.mean, r.cov)
        elif isinstance(r, Mixture):
            for k, c in enumerate(r.components):
                if r.label is not None:
                    which = rf"{sp.latex(r.label)} = {sp.latex(c.label)}"
                    names = (r.label.name,)
                else:
                    which, names = f"k = {k + 1}", ()
                lines.append(Rel(Tex(f"P({which})", names), c.probability))
                lines += block(r.symbols, c.mean, c.cov, Tex(f"({which})", names))
        else:
            for v, p in zip(r.values, r.probabilities):
                lines.append(Rel(Tex(rf"P({sp.latex(r.symbol)} = {sp.latex(v)})",
                                     (r.symbol.name,)), p))
    return lines



def _name_quadrature_arguments(exprs, averages):
    r"""Replace the long arguments of the quadrature functions in ``exprs`` by named symbols
    :math:`\bar s_k`, :math:`\sigma_{s,k}` (so that every printed line can break at a + or -),
    collect each expression over the quadrature functions and factor their coefficients.
    Returns the new expressions, the substitution (function application -> named form) and the
    defining lines of the names (:math:`\sigma_{s,k}^2 = \ldots` for a square root)."""
    apps: set = set()
    for e in exprs:
        for cls in averages:
            apps |= e.atoms(cls)
    names: dict = {}
    lines = []

    def name(arg, kind):
        if arg.is_Symbol or arg.is_Number:
            return arg
        if arg not in names:
            k = sum(1 for v in names.values() if v.name.startswith(kind)) + 1
            sym = (sp.Symbol(f"ssd_{k}", positive=True) if kind == "ssd"
                   else sp.Symbol(f"sbar_{k}", real=True))
            names[arg] = sym
            if kind == "ssd" and isinstance(arg, sp.Pow) and arg.exp == sp.Rational(1, 2):
                lines.append(Rel(sym**2, sp.expand(arg.base)))
            else:
                lines.append(Rel(sym, sp.expand(arg)))
        return names[arg]

    sub = {}
    for app in sorted(apps, key=sp.default_sort_key):
        j, mean, sd, *rest = app.args
        sub[app] = app.func(j, name(mean, "sbar"), name(sd, "ssd"), *rest)
    if not sub:
        return list(exprs), sub, lines
    heads = list(sub.values())
    out = []
    for e in exprs:
        e = sp.expand(e.xreplace(sub))
        parts = sp.collect(e, heads, evaluate=False)
        out.append(sp.Add(*[sp.factor(c) * (1 if k == 1 else k) for k, c in parts.items()]))
    return out, sub, lines


def rule_latex_model(derived: DerivedRule, *, explicit_limit: int = 600) -> LatexModel:
    """The derivation of ``derived`` for ``learndyn latex``: update, distributions, drift and
    second moment (with their paths), the moment equations, and the quadrature functions."""
    rule = derived.rule
    n = rule.n
    E, en = sp.latex(rule.eta), rule.eta.name  # the learning rate (eta, or e.g. LMS's gamma)
    system = derived.moments()
    t = sp.Symbol("t", positive=True)
    eqs = [Equation(rf"The update, $w \leftarrow w + {E} f$:",
                    [Rel(Tex(f"f_{{{i}}}", ("f",)), rule.update[i, 0]) for i in range(n)])]
    dist = _distribution_lines(rule)
    if dist:
        eqs.append(Equation("The random variables of one update (independent across updates):",
                            dist))
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    shown, sub, arg_lines = _name_quadrature_arguments(
        list(derived.drift) + [derived.second_moment[i, j] for i, j in pairs], derived.averages)
    eqs.append(Equation(f"Drift, derived {_PATH_WORDS[derived.paths['drift']]}:",
                        [Rel(Tex(rf"\langle f_{{{i}}}\rangle", ("f",)), shown[i])
                         for i in range(n)]))
    eqs.append(Equation(f"Second moment, derived {_PATH_WORDS[derived.paths['second_moment']]}:",
                        [Rel(Tex(rf"\langle f_{{{i}}} f_{{{j}}}\rangle", ("f",)), shown[n + k])
                         for k, (i, j) in enumerate(pairs)]))
    if arg_lines:
        eqs.append(Equation("Arguments of the quadrature functions above, at the weights $w$:",
                            arg_lines))
    mean_rhs = [e.xreplace(sub) for e in system.mean_rhs]
    drift_part, diffusion = [], True
    for i, j in pairs:
        rhs = system.cov_rhs[i, j].xreplace(sub)
        base = rhs.subs(rule.eta, 0)
        drift_part.append(base)
        eta_term = sp.expand((rhs - base) / rule.eta)
        want = sp.expand((derived.second_moment[i, j] - derived.drift[i] * derived.drift[j])
                         .xreplace(sub))
        diffusion = diffusion and sp.expand(eta_term - want) == 0
    size = sum(sp.count_ops(e) for e in mean_rhs + drift_part)
    if diffusion and size <= explicit_limit:
        mean = [Rel(Tex(rf"\frac{{d\langle {sp.latex(w)}\rangle}}{{dt}}", (w.name, "t")),
                    mean_rhs[i]) for i, w in enumerate(rule.weights)]
        cov = [Rel(sp.Derivative(system.covariance[i, j], t),
                   drift_part[k] + rule.eta * sp.Symbol(f"D_{i}_{j}"))
               for k, (i, j) in enumerate(pairs)]
        eqs.append(Equation("Moment equations (Schmid and Murray, eqs. (10)-(11)) with the "
                            rf"$O({E})$ diffusion term ${E} D_{{ij}}$, the weights standing for "
                            "their means:", mean + cov))
    else:
        eqs.append(Equation(
            f"Moment equations (Schmid and Murray, eqs. (10)-(11), with the $O({E})$ diffusion "
            "term), evaluated from the drift and second moment above:",
            [Rel(Tex(r"\frac{d\langle w_i\rangle}{dt}", ("t",) + (rule.weights[0].name,)),
                 Tex(r"\langle f_i\rangle(\langle w\rangle) + \frac{1}{2}\sum_{kl} C_{kl}\,"
                     r"\partial_k\partial_l\langle f_i\rangle(\langle w\rangle)", ("f", "C_0_0"))),
             Rel(Tex(r"\frac{dC}{dt}", ("C_0_0",)),
                 Tex(r"JC + CJ^\top + " + E + r"\left(\langle ff^\top\rangle - \langle f\rangle"
                     r"\langle f\rangle^\top\right)", ("J", en, "f")))]))
    eqs.append(Equation(
        rf"Discrete moment map (one update, time step ${E}$), iterated by the checks:",
        [Rel(Tex(r"\langle w\rangle'", (rule.weights[0].name,)),
             Tex(r"\langle w\rangle + " + E + r"\,\frac{d\langle w\rangle}{dt}", (en, "t"))),
         Rel(Tex("C'", ("C_0_0",)),
             Tex(r"C + " + E + r"\,\frac{dC}{dt} + " + E + r"^2 JCJ^\top", (en, "t", "J")))]))
    for cls in derived.averages:
        tq, *es = cls.integrand.variables
        eqs.append(Equation(
            rf"Quadrature function $\mathcal{{Q}}_{{{cls.index}}}$ (composite Gauss--Legendre, "
            "panels split at the kinks of its integrand; error stated by the check):",
            [Rel(Tex(rf"\mathcal{{Q}}_{{{cls.index}}}^{{(j)}}(\bar s, \sigma_s)", (cls.__name__,
                                                                             "s_mean", "s_sd")),
                 Tex(rf"E\left[u^j H_{{{cls.index}}}(\bar s + \sigma_s u)\right]",
                     ("u", "H", "s_mean", "s_sd"))),
             Rel(Tex(rf"H_{{{cls.index}}}(t)", ("H", "t")), cls.integrand.expr)]))
    extra = [(sp.Symbol("t", positive=True), f"continuous time (${E}$ times the number of "
              "updates)")]
    symbols = _auto_symbols(rule, extra)
    names = {s.name for s in symbols}
    std = [Sym("f", "f", "the update"),
           Sym(r"C_(\d+)_(\d+)", "C_{#1#2}", "the covariance of the weights over the ensemble "
               "of learners", generic="C_{ij}"),
           Sym("J", "J", r"$= \partial\langle f\rangle/\partial w$ at the mean weights"),
           Sym("owens_t", "T(h, a)", r"Owen's T function, $\frac{1}{2\pi}\int_0^a "
               r"e^{-h^2(1+x^2)/2}/(1+x^2)\,dx$"),
           Sym("u", "u", "a standard normal variable"),
           Sym("H", "H_k", "the integrand of a quadrature function"),
           Sym("s_mean", r"\bar s", "the mean of the linear combination of the Gaussian variables "
               "that the non-polynomial part of the update depends on"),
           Sym("s_sd", r"\sigma_s", "its standard deviation"),
           Sym("e_(\\d+)", "e_{#1}", "an extra argument of a quadrature integrand",
               generic="e_k"),
           Sym(r"D_(\d+)_(\d+)", "D_{#1#2}", r"$= \langle f_i f_j\rangle - \langle f_i\rangle"
               r"\langle f_j\rangle$, the covariance of the update (the diffusion), at the "
               "mean weights", generic="D_{ij}"),
           Sym(r"sbar_(\d+)", r"\bar s_{#1}", "the mean of the linear combination of the "
               "Gaussian variables that a quadrature function's integrand depends on (given "
               "below)", generic=r"\bar s_k"),
           Sym(r"ssd_(\d+)", r"\sigma_{s,#1}", "the standard deviation of the linear "
               "combination of the Gaussian variables that a quadrature function's integrand "
               "depends on (given below)", generic=r"\sigma_{s,k}")]
    for s in std:
        if s.name not in names:
            symbols.append(s)
    for cls in derived.averages:
        symbols.append(Sym(cls.__name__, rf"\mathcal{{Q}}_{{{cls.index}}}",
                           rf"$E[u^j H_{{{cls.index}}}(\bar s + \sigma_s u)]$ for "
                           r"$u \sim N(0, 1)$, evaluated by quadrature"))
    return LatexModel(
        title=f"Learning rule {rule.name}",
        summary=(rule.description + " " if rule.description else "") +
        rf"Update $w \leftarrow w + {E} f$; continuous time $t = {E} \times$ updates. The "
        "drift, second moment and moment equations are derived by SymPy from the one "
        "definition of the rule that the simulator also runs.",
        source=rule.source or "moment equations: Schmid and Murray, eqs. (10)-(11)",
        equations=eqs, symbols=symbols)
