r"""Expectations of polynomials in zero-mean Gaussian variables (Isserlis / Wick).

For a zero-mean Gaussian vector with covariance :math:`R`,

.. math::  E[x_{i_1}\cdots x_{i_{2m}}] = \sum_{\text{pairings}} \prod_{(a,b)} R_{i_a i_b},

and odd moments vanish (Isserlis 1918).  :func:`gaussian_expectation` expands a SymPy
polynomial in the variables and applies this monomial by monomial; everything else
(weights, parameters) is treated as a constant.  This is how the LMS drift, its
second moment and the exact discrete-time recursion are derived rather than typed.

:func:`expect_forms` applies the same theorem to products of *linear forms*
:math:`a^\top\varepsilon` and *quadratic forms* :math:`\varepsilon^\top M\varepsilon` of a
standard Gaussian :math:`\varepsilon \sim N(0, I_d)` in a **symbolic** dimension :math:`d`:
each pairing of the forms' legs contracts them into chains :math:`a^\top M_1\cdots M_k b`
and cycles :math:`\operatorname{tr}(M_1\cdots M_k)` (:math:`\operatorname{tr} I = d`), e.g.
:math:`E[(\varepsilon^\top H\varepsilon)(\varepsilon^\top\varepsilon)] = d\operatorname{tr}H
+ 2\operatorname{tr}H`.  The gradient-estimator theory (:mod:`theory.estimators`) is derived
with it; the tests check it against :func:`isserlis_moment` in explicit dimensions.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["gaussian_expectation", "isserlis_moment", "expect_forms", "expect_polynomial",
           "form_invariant"]


@lru_cache(maxsize=4096)
def _pairings(indices: tuple[int, ...]) -> tuple[tuple[tuple[int, int], ...], ...]:
    if not indices:
        return ((),)
    first, rest = indices[0], indices[1:]
    out = []
    for k in range(len(rest)):
        pair = (first, rest[k])
        remaining = rest[:k] + rest[k + 1:]
        for p in _pairings(remaining):
            out.append((pair,) + p)
    return tuple(out)


def isserlis_moment(indices, cov) -> sp.Expr:
    """:math:`E[\\prod_a x_{i_a}]` for zero-mean Gaussian ``x`` with covariance ``cov``."""
    indices = tuple(sorted(indices))
    if len(indices) % 2:
        return sp.S.Zero
    total = sp.S.Zero
    for pairing in _pairings(indices):
        term = sp.S.One
        for a, b in pairing:
            term *= cov[a, b]
        total += term
    return total


def gaussian_expectation(expr, variables, cov) -> sp.Expr:
    """Expectation of a polynomial ``expr`` in zero-mean Gaussian ``variables``.

    ``cov`` is the covariance Matrix of ``variables`` (symbolic entries allowed).
    Works element-wise on matrices.
    """
    variables = list(variables)
    cov = sp.Matrix(cov)
    if cov.shape != (len(variables), len(variables)):
        raise ValueError(f"cov must be {len(variables)}x{len(variables)}, got {cov.shape}")
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: gaussian_expectation(e, variables, cov))
    poly = sp.Poly(sp.expand(expr), *variables)
    total = sp.S.Zero
    cache: dict[tuple[int, ...], sp.Expr] = {}
    for exponents, coeff in poly.terms():
        idx = tuple(i for i, k in enumerate(exponents) for _ in range(k))
        if idx not in cache:
            cache[idx] = isserlis_moment(idx, cov)
        total += coeff * cache[idx]
    return sp.expand(total)


# ----------------------------------------------------------------------------- forms, symbolic d

def _canonical_chain(a: str, word: tuple, b: str) -> tuple:
    """``a^T M_1...M_k b`` with symmetric M: equal to its transpose ``b^T M_k...M_1 a``."""
    return min(("chain", a, tuple(word), b), ("chain", b, tuple(reversed(word)), a))


def _canonical_cycle(word: tuple) -> tuple:
    """``tr(M_1...M_k)`` with symmetric M: invariant under rotation and reversal."""
    word = tuple(word)
    if not word:
        return ("trace", ())
    cands = []
    for w in (word, tuple(reversed(word))):
        cands.extend(w[i:] + w[:i] for i in range(len(w)))
    return ("trace", min(cands))


def form_invariant(key: tuple, dim) -> sp.Expr:
    """Default SymPy symbol of a contracted invariant: ``("trace", ())`` -> ``dim``;
    ``("trace", ("H", "H"))`` -> ``tr_HH``; ``("chain", "g", ("H",), "g")`` -> ``g_H_g``."""
    if key[0] == "trace":
        return sp.sympify(dim) if not key[1] else sp.Symbol("tr_" + "".join(key[1]))
    _, a, word, b = key
    return sp.Symbol(f"{a}_{''.join(word)}_{b}" if word else f"{a}_{b}")


def expect_forms(forms, dim, invariants=None) -> sp.Expr:
    r""":math:`E[\prod_f F_f(\varepsilon)]` for :math:`\varepsilon\sim N(0, I_d)`, ``dim`` = d
    (a symbol or an integer), by Isserlis' theorem on the forms' legs.

    ``forms``: a sequence of ``("lin", "a")`` (:math:`a^\top\varepsilon`, ``a`` a vector's
    name) and ``("quad", ("M1", "M2", ...))`` (:math:`\varepsilon^\top M_1M_2\cdots
    \varepsilon`, symmetric matrices by name; ``()`` is the identity, :math:`|\varepsilon|^2`).
    Each perfect pairing of the legs (one per linear form, two per quadratic form) joins the
    forms into chains :math:`a^\top M\cdots b` and cycles :math:`\operatorname{tr}(M\cdots)`;
    ``invariants`` maps their canonical keys (see :func:`form_invariant`) to SymPy expressions
    (a dict, missing keys falling back to :func:`form_invariant`, or a callable
    ``key -> expr``).  The words are products of *symmetric* matrices (a word read backwards
    is its transpose).
    """
    forms = [tuple(f) for f in forms]
    legs = []
    for i, f in enumerate(forms):
        if f[0] == "lin":
            legs.append((i, 0))
        elif f[0] == "quad":
            legs.extend([(i, "L"), (i, "R")])
        else:
            raise ValueError(f"a form is ('lin', name) or ('quad', word), got {f!r}")
    if len(legs) % 2:
        return sp.S.Zero

    if invariants is None:
        def inv(key):
            return form_invariant(key, dim)
    elif callable(invariants):
        inv = invariants
    else:
        table = dict(invariants)

        def inv(key):
            return table[key] if key in table else form_invariant(key, dim)

    def word_of(i):
        return tuple(forms[i][1])

    total = sp.S.Zero
    cache: dict = {}
    for pairing in _pairings(tuple(range(len(legs)))):
        partner = {}
        for x, y in pairing:
            partner[legs[x]] = legs[y]
            partner[legs[y]] = legs[x]
        seen = set()
        keys = []
        for i, f in enumerate(forms):  # chains start and end at linear forms
            if f[0] != "lin" or (i, 0) in seen:
                continue
            seen.add((i, 0))
            word: list = []
            cur = partner[(i, 0)]
            while cur[1] != 0:
                q, side = cur
                exit_leg = (q, "R" if side == "L" else "L")
                word.extend(word_of(q) if side == "L" else reversed(word_of(q)))
                seen.update({cur, exit_leg})
                cur = partner[exit_leg]
            seen.add(cur)
            keys.append(_canonical_chain(f[1], tuple(word), forms[cur[0]][1]))
        for i, f in enumerate(forms):  # what is left are cycles of quadratic forms
            if f[0] != "quad" or (i, "L") in seen:
                continue
            word = []
            cur = (i, "L")
            while True:
                q, side = cur
                exit_leg = (q, "R" if side == "L" else "L")
                word.extend(word_of(q) if side == "L" else reversed(word_of(q)))
                seen.update({cur, exit_leg})
                cur = partner[exit_leg]
                if cur == (i, "L"):
                    break
            keys.append(_canonical_cycle(tuple(word)))
        term = sp.S.One
        for k in keys:
            if k not in cache:
                cache[k] = sp.sympify(inv(k))
            term *= cache[k]
        total += term
    return sp.expand(total)


def expect_polynomial(expr, forms: dict, dim, invariants=None) -> sp.Expr:
    r"""Expectation of a polynomial in placeholder symbols that stand for forms of one standard
    Gaussian: ``forms = {symbol: ("lin", "a") or ("quad", word)}``; every other symbol is a
    constant.  Each monomial is expanded into its product of forms (:func:`expect_forms`)."""
    syms = list(forms)
    poly = sp.Poly(sp.expand(expr), *syms)
    total = sp.S.Zero
    for exponents, coeff in poly.terms():
        prod = [forms[s] for s, k in zip(syms, exponents) for _ in range(k)]
        total += coeff * expect_forms(prod, dim, invariants)
    return sp.expand(total)
