r"""Expectations over independent uniformly random unit vectors (isotropic moments).

For :math:`n` uniform on the unit sphere :math:`S^{N-1}` the moments are isotropic tensors,

.. math:: E[n_{i_1}\cdots n_{i_{2m}}] = \frac{\sum_{\text{pairings}}\prod_{(a,b)}\delta_{i_a i_b}}
          {N(N+2)\cdots(N+2m-2)},

odd moments vanish (write :math:`n = z/|z|` with :math:`z\sim N(0, I_N)`; :math:`|z|` and
:math:`n` are independent, so the Isserlis sum for :math:`z` divided by
:math:`E|z|^{2m} = N(N+2)\cdots(N+2m-2)` gives the sphere moment).

The expressions met in learning-rate theory are polynomials in *bilinear forms*
:math:`a^\top H^k b` where :math:`a, b` are either a fixed unit vector :math:`\hat g` or one of
several independent random unit vectors, and :math:`H` is a fixed symmetric matrix.  Pairing
the random end points of the forms joins them into closed loops, worth
:math:`\operatorname{tr} H^K`, and open chains from :math:`\hat g` to :math:`\hat g`, worth
:math:`\hat g^\top H^K\hat g`, with :math:`K` the total power along the loop or chain.
:func:`sphere_expectation` does exactly that, monomial by monomial, and returns a SymPy
expression in the invariants

* :math:`\operatorname{tr}H^0 = N`, :math:`\tau = \operatorname{tr}H`,
  :math:`\theta = \operatorname{tr}H^2` (``t_K`` for higher powers);
* :math:`\hat g^\top\hat g = 1`, :math:`\kappa = \hat g^\top H\hat g`,
  :math:`\eta = \hat g^\top H^2\hat g` (``m_K`` for higher powers).

It is the sphere analogue of :mod:`theory.wick` and is used by :mod:`theory.learning_bounds`
to derive the mean and the variance of the learning rate k over random plasticity
directions, instead of typing them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import sympy as sp

__all__ = ["FIXED", "Invariants", "INVARIANTS", "LinearForm", "Poly", "vector", "bilinear",
           "sphere_expectation", "pairings"]

#: name of the fixed unit vector (the normalised gradient direction)
FIXED = "g"


@dataclass(frozen=True)
class Invariants:
    """The scalar invariants an isotropic expectation reduces to."""

    N: sp.Symbol
    tau: sp.Symbol
    theta: sp.Symbol
    kappa: sp.Symbol
    eta: sp.Symbol

    def trace_power(self, K: int) -> sp.Expr:
        r""":math:`\operatorname{tr} H^K`."""
        return {0: self.N, 1: self.tau, 2: self.theta}.get(K, sp.Symbol(f"t_{K}", real=True))

    def fixed_power(self, K: int) -> sp.Expr:
        r""":math:`\hat g^\top H^K \hat g` (:math:`\hat g` is a unit vector)."""
        return {0: sp.S.One, 1: self.kappa, 2: self.eta}.get(K, sp.Symbol(f"m_{K}", real=True))


#: invariants: N (dimension), tau = tr H, theta = tr H^2, kappa = g.H.g, eta = g.H^2.g
INVARIANTS = Invariants(
    N=sp.Symbol("N", positive=True),
    tau=sp.Symbol("tau", real=True),
    theta=sp.Symbol("theta", nonnegative=True),
    kappa=sp.Symbol("kappa", real=True),
    eta=sp.Symbol("eta", nonnegative=True),
)

#: a linear combination of vectors: {vector name: SymPy coefficient}
LinearForm = Mapping[str, sp.Expr]
#: a factor a^T H^k b, stored as (a, k, b) with a <= b (H is symmetric)
Factor = tuple[str, int, str]


def vector(name: str) -> dict[str, sp.Expr]:
    """The linear form of a single vector."""
    return {str(name): sp.S.One}


class Poly:
    """A polynomial in bilinear forms: {sorted tuple of factors: coefficient}."""

    __slots__ = ("terms",)

    def __init__(self, terms: Mapping[tuple[Factor, ...], sp.Expr] | None = None):
        self.terms: dict[tuple[Factor, ...], sp.Expr] = {}
        for k, v in (terms or {}).items():
            self._add(k, v)

    def _add(self, key, coeff) -> None:
        c = self.terms.get(key, sp.S.Zero) + coeff
        if c == 0:
            self.terms.pop(key, None)
        else:
            self.terms[key] = c

    @classmethod
    def constant(cls, c) -> Poly:
        return cls({(): sp.sympify(c)})

    def __add__(self, other) -> Poly:
        other = other if isinstance(other, Poly) else Poly.constant(other)
        out = Poly(self.terms)
        for k, v in other.terms.items():
            out._add(k, v)
        return out

    __radd__ = __add__

    def __neg__(self) -> Poly:
        return Poly({k: -v for k, v in self.terms.items()})

    def __sub__(self, other) -> Poly:
        return self + (-(other if isinstance(other, Poly) else Poly.constant(other)))

    def __mul__(self, other) -> Poly:
        if not isinstance(other, Poly):
            c = sp.sympify(other)
            return Poly({k: c * v for k, v in self.terms.items()})
        out = Poly()
        for k1, v1 in self.terms.items():
            for k2, v2 in other.terms.items():
                out._add(tuple(sorted(k1 + k2)), v1 * v2)
        return out

    __rmul__ = __mul__

    def __pow__(self, n: int) -> Poly:
        out = Poly.constant(1)
        for _ in range(int(n)):
            out = out * self
        return out


def bilinear(a: LinearForm, b: LinearForm, power: int = 1) -> Poly:
    r"""The polynomial :math:`a^\top H^{\text{power}} b` for linear forms ``a`` and ``b``."""
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    out = Poly()
    for va, ca in a.items():
        for vb, cb in b.items():
            x, y = sorted((va, vb))
            out._add(((x, int(power), y),), sp.sympify(ca) * sp.sympify(cb))
    return out


@cache
def pairings(n: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """All perfect matchings of ``range(n)`` (empty for odd ``n``)."""
    if n % 2:
        return ()
    if n == 0:
        return ((),)
    out = []
    for k in range(1, n):
        rest = [i for i in range(1, n) if i != k]
        for p in pairings(n - 2):
            out.append(((0, k),) + tuple((rest[a], rest[b]) for a, b in p))
    return tuple(out)


def _contract(factors: tuple[Factor, ...], partner: dict[tuple[int, int], tuple[int, int]],
              inv: Invariants) -> sp.Expr:
    """Join the factors through the pairing ``partner`` into chains and loops."""
    visited = [False] * len(factors)
    value = sp.S.One

    def walk(i: int, side: int) -> tuple[int, tuple[int, int] | None]:
        """Enter factor i at end ``side``; follow until a fixed end or back to the start."""
        total = 0
        start = (i, side)
        while True:
            visited[i] = True
            a, k, b = factors[i]
            total += k
            out_side = 1 - side
            end_name = (a, b)[out_side]
            if end_name == FIXED:
                return total, None
            nxt = partner[(i, out_side)]
            if nxt == start:
                return total, start
            i, side = nxt
            if visited[i]:  # closed a loop that did not start at an end point
                return total, start

    # open chains start at a fixed end
    for i, (a, _k, b) in enumerate(factors):
        for side, name in enumerate((a, b)):
            if name == FIXED and not visited[i]:
                K, closed = walk(i, side)
                if closed is not None:
                    raise AssertionError("a chain from the fixed vector closed into a loop")
                value *= inv.fixed_power(K)
    for i in range(len(factors)):
        if not visited[i]:
            K, _ = walk(i, 0)
            value *= inv.trace_power(K)
    return value


def sphere_expectation(poly: Poly, random: Iterable[str], inv: Invariants = INVARIANTS,
                       dims: Mapping[str, sp.Expr] | None = None) -> sp.Expr:
    r"""Expectation of ``poly`` over independent uniform unit vectors named in ``random``.

    Every other vector name must be :data:`FIXED` (the unit vector :math:`\hat g`).
    ``dims`` may give a random vector's dimension (default: :attr:`Invariants.N`, all in
    the same space as :math:`H`).
    """
    random = tuple(random)
    if FIXED in random:
        raise ValueError(f"{FIXED!r} is the fixed vector and cannot be random")
    dims = dict(dims or {})
    total = sp.S.Zero
    for factors, coeff in poly.terms.items():
        names = Counter()
        slots: dict[str, list[tuple[int, int]]] = {r: [] for r in random}
        for i, (a, _k, b) in enumerate(factors):
            for side, name in enumerate((a, b)):
                if name in slots:
                    slots[name].append((i, side))
                elif name != FIXED:
                    raise ValueError(f"vector {name!r} is neither random nor the fixed vector")
                names[name] += 1
        if any(len(s) % 2 for s in slots.values()):
            continue
        norm = sp.S.One
        for r, s in slots.items():
            Nr = dims.get(r, inv.N)
            for j in range(len(s) // 2):
                norm *= Nr + 2 * j
        # all combinations of pairings, one per random vector
        combos: list[dict] = [{}]
        for _r, s in slots.items():
            new = []
            for p in pairings(len(s)):
                for c in combos:
                    d = dict(c)
                    for x, y in p:
                        d[s[x]] = s[y]
                        d[s[y]] = s[x]
                    new.append(d)
            combos = new
        acc = sp.S.Zero
        for partner in combos:
            acc += _contract(factors, partner, inv)
        total += coeff * acc / norm
    return sp.together(sp.expand(total))
