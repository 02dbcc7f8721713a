r"""Kramers–Moyal moment engine: from an online update rule to moment ODEs.

An online rule :math:`w \leftarrow w + \eta f(w)` with random :math:`f` (random
inputs, output noise) defines a Markov chain.  With continuous time
:math:`t = \eta \times \text{updates}` and an expansion of the drift in
:math:`\hat w = w - \langle w\rangle` to second order (Schmid & Murray, seed 002,
eqs. (10)-(11) and appendix eq. (31)) the first two moments obey

.. math::

    \frac{d\langle w_i\rangle}{dt} = \langle f_i\rangle(\langle w\rangle)
        + c \sum_{kl} C_{kl}\,\partial_k\partial_l \langle f_i\rangle(\langle w\rangle),
    \qquad
    \frac{dC}{dt} = C J^\top + J C \;\big[+\;\eta\,(\langle f f^\top\rangle
        - \langle f\rangle\langle f\rangle^\top)\big],

with :math:`J_{ik} = \partial_k \langle f_i\rangle` evaluated at the mean.
The seed prints eq. (10) as ":math:`d\langle w_i\rangle/dt = 1 + \ldots`"; that is a
typo for the form above.  The second-order Taylor coefficient is :math:`c = 1/2`;
the authors' reference code used :math:`c = 1`, so ``correction`` is a parameter.

The bracketed diffusion term (``finite_lr=True``) is the :math:`O(\eta)` part of the
covariance of one update, :math:`\operatorname{Cov}(w_{n+1}) = \operatorname{Cov}(w_n)
+ \eta(CJ^\top + JC) + \eta^2 \operatorname{Cov}(f)`; it sets the stationary
fluctuations at a finite learning rate, which the :math:`\eta\to 0` limit drops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from theory.serialize import dumps, loads

__all__ = ["MomentSystem", "derive_moments", "covariance_symbols"]


def covariance_symbols(n: int, name: str = "C") -> sp.ImmutableMatrix:
    """Symmetric matrix of covariance symbols ``C_i_j`` (i <= j), shared across the diagonal."""
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    entries = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            s = sp.Symbol(f"{name}_{i}_{j}", real=True)
            entries[i][j] = entries[j][i] = s
    return sp.ImmutableMatrix(entries)


@dataclass(frozen=True)
class MomentSystem:
    r"""Mean and covariance ODEs of an online learning rule (seed 002, eqs. (10)-(11)).

    Attributes
    ----------
    weights:
        The weight symbols :math:`w_0..w_{n-1}`; in ``mean_rhs`` they stand for
        :math:`\langle w\rangle`.
    params:
        Every other free symbol of the right-hand sides, sorted by name.
    drift:
        :math:`\langle f\rangle(w)`, an ``n x 1`` matrix.
    covariance:
        Symmetric matrix of covariance symbols :math:`C_{ij}` (upper triangle is the state).
    mean_rhs:
        :math:`d\langle w\rangle/dt`, ``n x 1``.
    cov_rhs:
        :math:`dC/dt`, ``n x n`` and symmetric.
    correction:
        Coefficient :math:`c` of the second-order term (1/2 by default).
    finite_lr:
        Whether ``cov_rhs`` contains :math:`\eta\,\mathrm{Cov}(f)`.
    eta:
        The learning-rate symbol (appears only when ``finite_lr``).
    """

    weights: tuple[sp.Symbol, ...]
    drift: sp.ImmutableMatrix
    covariance: sp.ImmutableMatrix
    mean_rhs: sp.ImmutableMatrix
    cov_rhs: sp.ImmutableMatrix
    correction: sp.Expr
    finite_lr: bool
    eta: sp.Symbol
    second_moment: sp.ImmutableMatrix | None = None
    name: str = "moment system"
    params: tuple[sp.Symbol, ...] = field(default=())

    @property
    def n(self) -> int:
        """Number of weights."""
        return len(self.weights)

    @property
    def state_symbols(self) -> tuple[sp.Symbol, ...]:
        """State order of the flat ODE: ``w_0..w_{n-1}`` then ``C_i_j`` for ``i <= j`` row-major."""
        cov = [self.covariance[i, j] for i in range(self.n) for j in range(i, self.n)]
        return tuple(self.weights) + tuple(cov)

    @property
    def state_rhs(self) -> tuple[sp.Expr, ...]:
        """Right-hand sides in the order of :attr:`state_symbols`."""
        mean = [self.mean_rhs[i, 0] for i in range(self.n)]
        cov = [self.cov_rhs[i, j] for i in range(self.n) for j in range(i, self.n)]
        return tuple(mean) + tuple(cov)

    @property
    def jacobian(self) -> sp.ImmutableMatrix:
        r""":math:`J_{ik} = \partial \langle f_i\rangle / \partial w_k`."""
        return sp.ImmutableMatrix(self.drift.jacobian(sp.Matrix(self.weights)))

    def latex(self) -> str:
        """Both moment equations as a LaTeX ``align*`` environment."""
        lines = []
        for i, w in enumerate(self.weights):
            lines.append(
                rf"\frac{{d\langle {sp.latex(w)}\rangle}}{{dt}} &= {sp.latex(self.mean_rhs[i, 0])}"
            )
        for i in range(self.n):
            for j in range(i, self.n):
                c = self.covariance[i, j]
                lines.append(rf"\frac{{d {sp.latex(c)}}}{{dt}} &= {sp.latex(self.cov_rhs[i, j])}")
        return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"

    def to_dict(self) -> dict:
        """A JSON-able dictionary of ``srepr`` strings (no pickling)."""
        return {
            "name": self.name,
            "weights": [dumps(w) for w in self.weights],
            "params": [dumps(p) for p in self.params],
            "drift": dumps(self.drift),
            "covariance": dumps(self.covariance),
            "mean_rhs": dumps(self.mean_rhs),
            "cov_rhs": dumps(self.cov_rhs),
            "correction": dumps(self.correction),
            "finite_lr": self.finite_lr,
            "eta": dumps(self.eta),
            "second_moment": None if self.second_moment is None else dumps(self.second_moment),
        }

    @classmethod
    def from_dict(cls, data: dict) -> MomentSystem:
        """Inverse of :meth:`to_dict`; strings are parsed by the restricted ``srepr`` reader."""
        sm = data.get("second_moment")
        return cls(
            name=str(data["name"]),
            weights=tuple(loads(s) for s in data["weights"]),
            params=tuple(loads(s) for s in data["params"]),
            drift=loads(data["drift"]),
            covariance=loads(data["covariance"]),
            mean_rhs=loads(data["mean_rhs"]),
            cov_rhs=loads(data["cov_rhs"]),
            correction=loads(data["correction"]),
            finite_lr=bool(data["finite_lr"]),
            eta=loads(data["eta"]),
            second_moment=None if sm is None else loads(sm),
        )

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> MomentSystem:
        """Read a file written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _as_column(drift, n_hint: int | None = None, what: str = "drift") -> sp.ImmutableMatrix:
    """``drift`` as a column (a row is transposed); ValueError for any other shape and, with
    ``n_hint``, for a row count other than the number of weights."""
    m = sp.ImmutableMatrix(drift)
    if m.shape[1] != 1:
        if m.shape[0] == 1:
            m = m.T
        else:
            raise ValueError(f"{what} must be a column Matrix, got shape {m.shape}")
    if n_hint is not None and m.shape[0] != n_hint:
        raise ValueError(f"{what} has {m.shape[0]} rows but there are {n_hint} weights")
    return m


def derive_moments(
    drift,
    weights,
    second_moment=None,
    *,
    correction=sp.Rational(1, 2),
    finite_lr: bool = False,
    eta: sp.Symbol | None = None,
    name: str = "moment system",
) -> MomentSystem:
    r"""Derive the moment ODEs (seed 002 eqs. (10)-(11)) of the rule ``w <- w + eta f(w)``.

    Parameters
    ----------
    drift:
        :math:`\langle f\rangle(w)` as a SymPy column Matrix (length ``n``) in ``weights``
        and parameters.
    weights:
        The ``n`` weight symbols.
    second_moment:
        :math:`\langle f f^\top\rangle(w)`, ``n x n``; required when ``finite_lr``.
    correction:
        Coefficient of :math:`\sum_{kl} C_{kl}\partial_k\partial_l\langle f\rangle`; 1/2 is the
        Taylor coefficient (use 1 to reproduce the seed authors' reference code).
    finite_lr:
        Add the :math:`O(\eta)` diffusion term :math:`\eta(\langle ff^\top\rangle -
        \langle f\rangle\langle f\rangle^\top)` to the covariance ODE.
    eta:
        Learning-rate symbol (default ``Symbol('eta', positive=True)``).
    """
    weights = tuple(weights)
    if not weights or not all(isinstance(w, sp.Symbol) for w in weights):
        raise TypeError("weights must be a non-empty sequence of sympy Symbols")
    if len(set(weights)) != len(weights):
        raise ValueError("weights must be distinct symbols")
    f = _as_column(drift)
    n = len(weights)
    if f.shape[0] != n:
        raise ValueError(f"drift has {f.shape[0]} rows but there are {n} weights")
    eta = sp.Symbol("eta", positive=True) if eta is None else eta
    correction = sp.sympify(correction)
    if finite_lr and second_moment is None:
        raise ValueError("second_moment <f f^T> is required when finite_lr=True")
    if second_moment is not None:
        second_moment = sp.ImmutableMatrix(second_moment)
        if second_moment.shape != (n, n):
            raise ValueError(f"second_moment must be {n}x{n}, got {second_moment.shape}")

    w = sp.Matrix(weights)
    C = covariance_symbols(n)
    clash = set(C.free_symbols) & (f.free_symbols | {eta})
    if clash:
        raise ValueError(f"symbols {sorted(map(str, clash))} clash with covariance names C_i_j")
    J = f.jacobian(w)

    mean = []
    for i in range(n):
        hess = sp.hessian(f[i, 0], w)
        term = sum(C[k, l] * hess[k, l] for k in range(n) for l in range(n))
        mean.append(f[i, 0] + correction * term)
    mean_rhs = sp.ImmutableMatrix(n, 1, mean)

    cov = C * J.T + J * C
    if finite_lr:
        cov = cov + eta * (sp.Matrix(second_moment) - f * f.T)
    # Symmetrise exactly so that only the upper triangle needs to be integrated.
    cov_rhs = sp.ImmutableMatrix(n, n, lambda i, j: cov[min(i, j), max(i, j)])

    exclude = set(weights) | set(C.free_symbols)
    free = set(mean_rhs.free_symbols) | set(cov_rhs.free_symbols)
    params = tuple(sorted(free - exclude, key=lambda s: s.name))
    return MomentSystem(
        weights=weights,
        drift=f,
        covariance=C,
        mean_rhs=mean_rhs,
        cov_rhs=cov_rhs,
        correction=correction,
        finite_lr=finite_lr,
        eta=eta,
        second_moment=second_moment,
        name=name,
        params=params,
    )
